"""The real workbench in a real browser: a store, a server on 127.0.0.1, Debian's Chromium.

Used by the browser tests (tests/web/browser) and by ``python -m tools.web_screenshots``.

- :func:`build_run` runs the pipeline as ``make demo`` does (the bundled fixtures,
  fixtures/practice.toml, as of 2026-09-20), plus one more claim (:data:`EXTRA_CLAIM`)
  whose thin knee note documents conservative care in words the extractors miss, after an
  emoji: it waits in needs_review for the auditor to supply that fact. Three users sign in
  with :data:`PASSWORD`.
- :func:`serve` runs the app factory (:func:`agent.web.app.create_app`, as ``appeals
  serve`` builds it) under uvicorn in a thread, on a free port of 127.0.0.1.
- :func:`launch` starts the system's Chromium through Playwright (never ``playwright
  install``: its browser downloads are out of reach here), with the flags that keep it off
  the network.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from agent.application.accounts import AccountService
from agent.application.workbench import Workbench
from agent.application.workflow import open_workflow, run_batch
from agent.web.app import create_app
from tests.charts import encounter, note, patient, write_chart
from tests.conftest import FIXTURES
from tests.practice import practice_config
from tests.web.conftest import AS_OF, INPUTS, NEEDS_REVIEW_NOTE, PASSWORD, USERS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

__all__ = ["AS_OF", "EXTRA_CLAIM", "PASSWORD", "USERS", "build_run", "chromium_path",
           "drag_over", "launch", "missing", "serve", "sign_in"]

CHROMIUM_ENV = "APPEALS_CHROMIUM"
"""Set to a Chromium executable to use instead of the one on PATH."""

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""Headless, as root (no sandbox), and none of Chromium's own background connections,
which fail on a closed network. Playwright adds a fresh profile (user-data-dir) per launch."""

EXTRA_CLAIM = "LOM26-10699"
"""The claim added to the demo's: medical necessity of a knee injection, in needs_review."""

_EXTRA_ROW = {
    "claim_id": EXTRA_CLAIM, "payer_name": "HARBOR MUTUAL INSURANCE", "payer_id": "HMI77",
    "payer_claim_number": "HM2609110099", "member_id": "HMX40099001",
    "patient_last_name": "QUINN", "patient_first_name": "ROSA", "patient_dob": "1961-02-14",
    "service_date": "2026-08-27", "procedure_code": "20610", "modifiers": "LT", "units": "1",
    "original_procedure_code": "", "billed": "350.00", "paid": "0",
    "adjustments": "CO-50:350.00", "remarks": "N661", "rendering_npi": "1765432103",
    "rendering_name": "REYES, MARCO", "claim_filing_indicator": "CI",
    "remittance_date": "2026-09-11", "line_control_number": "1"}


def chromium_path() -> str | None:
    """The Chromium to drive: $APPEALS_CHROMIUM, else Debian's ``chromium`` on PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    absent = []
    if chromium_path() is None:
        absent.append("Chromium (Debian's chromium package)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        absent.append("the playwright package")
    if not absent:
        return None
    return (f"browser tests need {' and '.join(absent)}: `make test` installs chromium when "
            "it runs as root with apt-get (playwright is a dev dependency); .ci/run always "
            "does")


def launch(playwright: Playwright) -> Browser:
    """The system's Chromium, headless and off the network."""
    path = chromium_path()
    if path is None:
        raise RuntimeError(missing() or "no Chromium")
    return playwright.chromium.launch(executable_path=path, headless=True,
                                      args=CHROMIUM_ARGS)


def _extra_chart(fhir: Path) -> None:
    """The extra claim's patient, encounter and note, beside the demo's FHIR files."""
    write_chart(fhir / "needs-review", [
        patient("lom-pt-699", _EXTRA_ROW["member_id"],
                name=[{"family": "QUINN", "given": ["ROSA"]}], birthDate="1961-02-14"),
        encounter("lom-enc-10699", EXTRA_CLAIM, "lom-pt-699"),
        note("lom-doc-10699-clinic", "lom-pt-699", NEEDS_REVIEW_NOTE, "2026-08-27",
             encounter_id="lom-enc-10699", title="Knee clinic note"),
    ])


def build_run(root: Path) -> Path:
    """``make demo``'s run plus :data:`EXTRA_CLAIM`, with three users, under ``root``."""
    fhir = root / "fhir"
    shutil.copytree(FIXTURES / "fhir", fhir, ignore=shutil.ignore_patterns("_source"))
    _extra_chart(fhir)
    queue = root / "extra-worklist.csv"
    with queue.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(_EXTRA_ROW))
        writer.writeheader()
        writer.writerow(_EXTRA_ROW)
    with open_workflow(root / "appeals.db", root / "out", f"fhir-dir:{fhir}",
                       practice_config(), today=AS_OF) as workflow:
        run_batch(workflow, [*(str(p) for p in INPUTS), str(queue)])
        for name, role in USERS.items():
            workflow.ctx.store.add_user(name, role, PASSWORD)  # type: ignore[arg-type]
    return root


@contextmanager
def serve(run: Path) -> Iterator[str]:
    """The workbench over ``run`` on 127.0.0.1 (a free port) until the block ends; its URL.

    Opened as ``appeals serve --config fixtures/practice.toml`` opens it: no EHR, the
    demo's practice (so finished letters can be approved), today 2026-09-20.
    """
    with open_workflow(run / "appeals.db", run / "out", None, practice_config(),
                       today=AS_OF) as workflow:
        accounts = AccountService(workflow.ctx.store, idle=timedelta(minutes=15))
        app = create_app(Workbench.over(workflow, accounts, today=lambda: AS_OF), accounts)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_config=None,
                                               server_header=False, lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]},
                                  name="workbench-server", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the workbench server did not start")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            listener.close()


def sign_in(page: Page, name: str) -> None:
    """Sign in through the form, by keyboard; the worklist follows."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("#signed-in-user")).to_have_text(name)


def drag_over(page: Page, words: str) -> None:
    """Select ``words`` in the page's first chart document by dragging the mouse over them."""
    box = page.evaluate("""(words) => {
      const pre = document.querySelector("pre.document-text");
      const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.data.indexOf(words);
        if (at < 0) continue;
        const first = document.createRange();
        first.setStart(node, at); first.setEnd(node, at + 1);
        const last = document.createRange();
        last.setStart(node, at + words.length - 1); last.setEnd(node, at + words.length);
        first.startContainer.parentElement.scrollIntoView({block: "center"});
        const a = first.getClientRects()[0], b = last.getClientRects()[0];
        return {x1: a.left + 1, y1: (a.top + a.bottom) / 2,
                x2: b.right - 1, y2: (b.top + b.bottom) / 2};
      }
      return null;
    }""", words)
    if not box:
        raise ValueError("the words are not in the page's first chart document")
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move(box["x2"], box["y2"], steps=12)
    page.mouse.up()
