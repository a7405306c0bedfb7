"""Fixtures of the browser tests: Debian's Chromium through Playwright, the real server.

Every test here is marked ``browser``. Without Chromium or the playwright package they
skip, all for one reason that says what is missing and who installs it (``make test`` as
root with apt-get, .ci/run always); under .ci/run a skip fails the run.

Each test gets its own copy of the store built once per session (``make demo``'s run plus
a claim waiting in needs_review, :mod:`tests.web.browser.harness`) and its own server on
127.0.0.1. Every page a test opens reports its console errors, script errors and Content
Security Policy violations; the test fails at its end if there was any it did not expect.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agent.letters.unfinished import approval_problems
from agent.store.records import LetterRecord
from agent.store.sqlite import SqliteStore
from tests.practice import practice_config
from tests.web.browser import harness

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

HERE = Path(__file__).resolve().parent

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " +
                (event.blockedURI || "inline"));
});
"""
"""Run in every page before its own scripts (through the DevTools protocol, which the
page's CSP does not govern): each violation becomes a console error."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """The tests skipped for want of a browser are reported at one place, so the summary
    says why in one line however many they are."""
    report = yield
    reason = harness.missing()
    if report.skipped and reason and isinstance(report.longrepr, tuple) and \
            reason in str(report.longrepr[2]):
        report.longrepr = (__file__, None, reason)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Chromium, headless, for the whole session (each test opens its own contexts)."""
    reason = harness.missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = harness.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def browser_run(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return harness.build_run(tmp_path_factory.mktemp("browser-run"))


@dataclass
class Server:
    """A workbench server over a test's own copy of the run."""

    url: str
    run: Path

    def store(self) -> SqliteStore:
        """A connection of the test's own to the server's store (close it)."""
        return SqliteStore(self.run / "appeals.db")

    def letters(self, status: str = "pending_review") -> list[LetterRecord]:
        store = self.store()
        try:
            return store.list_letters(status)  # type: ignore[arg-type]
        finally:
            store.close()

    def letter(self, letter_id: str) -> LetterRecord:
        store = self.store()
        try:
            found = store.get_letter(letter_id)
        finally:
            store.close()
        assert found is not None
        return found

    def markdown(self, letter: LetterRecord) -> str:
        return (self.run / "out" / letter.markdown).read_text(encoding="utf-8")

    def approvable(self, letter: LetterRecord) -> bool:
        """Whether the letter could be approved as it stands (no placeholder left)."""
        return not approval_problems(self.markdown(letter), practice_config().letter)


@pytest.fixture
def server(browser: Browser, browser_run: Path, tmp_path: Path) -> Iterator[Server]:
    run = tmp_path / "run"
    shutil.copytree(browser_run, run, ignore=shutil.ignore_patterns("fhir"))
    with harness.serve(run) as url:
        yield Server(url, run)


@dataclass
class Browsing:
    """Pages of the test, each in its own browser context (its own cookies)."""

    browser: Browser
    server: Server
    problems: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)
    """Console errors the test expects (a 403 page it asked for)."""

    def open(self, user: str | None = None) -> Page:
        """A new page (signed in as ``user`` when given), reporting its problems."""
        context = self.browser.new_context(base_url=self.server.url, accept_downloads=True,
                                           viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        context.add_init_script(REPORT_VIOLATIONS)
        page = context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        if user is not None:
            harness.sign_in(page, user)
        return page

    def expect_console(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(e.search(p) for e in self.expected)]

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")


@pytest.fixture
def browsing(browser: Browser, server: Server) -> Iterator[Browsing]:
    opened = Browsing(browser, server)
    yield opened
    for context in browser.contexts:
        context.close()
    assert opened.unexpected() == []
