"""The web workbench over a real run: the pipeline on the bundled fixtures (as `make demo`
runs it), three users, and a TestClient per test on a copy of that run."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.application.accounts import AccountService
from agent.application.workbench import Workbench
from agent.application.workflow import Workflow, open_workflow, run_batch
from agent.store.records import DenialRecord
from agent.store.sqlite import SqliteStore
from agent.web.app import create_app
from tests.conftest import FIXTURES
from tests.practice import practice_config
from tests.test_supply_evidence import CARE
from tests.test_workflow import THIN_NOTE

AS_OF = date(2026, 9, 20)
PASSWORD = "correct horse battery"
USERS = {"ann": "auditor", "lee": "lead", "ada": "admin"}
INPUTS = [*sorted((FIXTURES / "835").glob("*.835")),
          *sorted((FIXTURES / "queue").glob("*.csv"))]
NEEDS_REVIEW_NOTE = THIN_NOTE.replace("No prior tx.", f"Pain 7/10 \N{PERSEVERING FACE}. {CARE}")
"""A thin knee note whose conservative care (``CARE``) the extractors miss, after an emoji:
its offsets in code points (as Python and the server count) are not a browser's UTF-16 ones."""


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make demo`'s run (fixtures, practice.toml, --as-of 2026-09-20) plus three users."""
    root = tmp_path_factory.mktemp("demo")
    with open_workflow(root / "appeals.db", root / "out", f"fhir-dir:{FIXTURES / 'fhir'}",
                       practice_config(), today=AS_OF) as workflow:
        run_batch(workflow, [str(p) for p in INPUTS])
        for name, role in USERS.items():
            workflow.ctx.store.add_user(name, role, PASSWORD)  # type: ignore[arg-type]
    return root


class Clock:
    """The accounts' clock, moved by hand (idle logout)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 9, 21, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    """A workbench over its own copy of the demo run."""

    client: TestClient
    workflow: Workflow
    store: SqliteStore
    out: Path
    clock: Clock

    def login(self, name: str, password: str = PASSWORD) -> str:
        """Sign in; the session's CSRF token."""
        token = login_token(self.client)
        response = self.client.post("/login", data={"username": name, "password": password,
                                                    "csrf_token": token})
        assert response.status_code == 303, response.text
        return session_token(self.client.get("/").text)

    def denials(self) -> list[DenialRecord]:
        ids = [r[0] for r in self.store.connection.execute("SELECT id FROM appeal_denials")]
        return self.store.get_denials(ids)


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page.text)
    assert match, page.text
    return match.group(1)


def session_token(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, html[:500]
    return match.group(1)


def open_site(run: Path, base_url: str = "http://testserver") -> Iterator[Site]:
    clock = Clock()
    with open_workflow(run / "appeals.db", run / "out", None, practice_config(),
                       today=AS_OF) as workflow:
        store = workflow.ctx.store
        assert isinstance(store, SqliteStore)
        accounts = AccountService(store, idle=timedelta(minutes=15), clock=clock)
        app = create_app(Workbench.over(workflow, accounts, today=lambda: AS_OF), accounts)
        with TestClient(app, base_url=base_url, follow_redirects=False) as client:
            yield Site(client, workflow, store, run / "out", clock)


@pytest.fixture
def site(demo_run: Path, tmp_path: Path) -> Iterator[Site]:
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    yield from open_site(run)


@pytest.fixture
def https_site(demo_run: Path, tmp_path: Path) -> Iterator[Site]:
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    yield from open_site(run, "https://testserver")


class Elements(HTMLParser):
    """Every element's tag and attributes, and the text inside each <mark>."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.marks: list[tuple[dict[str, str], str]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._mark: tuple[dict[str, str], list[str]] | None = None
        self._script: tuple[dict[str, str], list[str]] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "mark":
            self._mark = (attributes, [])
        if tag == "script":
            self._script = (attributes, [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._mark is not None:
            self.marks.append((self._mark[0], "".join(self._mark[1])))
            self._mark = None
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._mark is not None:
            self._mark[1].append(data)
        if self._script is not None:
            self._script[1].append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.elements if "id" in a}

    def urls(self) -> list[str]:
        names = ("href", "action", "src", "formaction", "hx-get", "hx-post")
        return [a[n] for _, a in self.elements for n in names if n in a]
