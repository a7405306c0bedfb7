"""Shared test fixtures: where the repository, its fixtures and ../shared are."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared"
EXTERNAL = SHARED / "data" / "external"


@pytest.fixture(autouse=True)
def _no_real_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real model: the developer's OPENAI_* / APPEALS_LLM_* settings are
    hidden, and a connection or a name lookup anywhere but loopback fails loudly."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "APPEALS_LLM_", "AZURE_OPENAI_")):
            monkeypatch.delenv(name)
    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and \
                host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"tests may not reach the network ({host})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    real_getaddrinfo = socket.getaddrinfo

    def loopback_names_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost") and not _is_address(host):  # connect() vets IPs
            raise RuntimeError(f"tests may not look up network names ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_names_only)


def _is_address(host: Any) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


REQUIRE_SHARED = "APPEALS_REQUIRE_SHARED"
"""Set (as .ci/run does) to run every test: a test whose files are missing fails rather
than skips, and any test skipped for any reason fails the run at its end, named."""

SHARED_SKIP = "these tests read the real files of the shared folder beside the checkout"
"""Every skip for a missing ../shared says this; :func:`pytest_runtest_makereport` folds
them into one line of the summary."""

_SKIPPED_IN_RUN: list[tuple[str, str]] = []
"""(test id, reason) of every test skipped in this session."""


def _without_shared(path: Path) -> str:
    return f"{path} is missing: {SHARED_SKIP} (../shared), which CI has"


def require_shared(path: Path = EXTERNAL) -> Path:
    """``path`` under ../shared, or skip the test that needs it (fail it when
    APPEALS_REQUIRE_SHARED is set: CI has the folder and runs every test)."""
    if not path.exists():
        if os.environ.get(REQUIRE_SHARED):
            pytest.fail(_without_shared(path))
        pytest.skip(_without_shared(path))
    return path


def pytest_configure(config: pytest.Config) -> None:
    _SKIPPED_IN_RUN.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``needs_shared`` are skipped when ../shared is absent (a fresh clone),
    and fail the run when APPEALS_REQUIRE_SHARED says it must be there."""
    if EXTERNAL.is_dir():
        return
    marked = [item for item in items if item.get_closest_marker("needs_shared")]
    if marked and os.environ.get(REQUIRE_SHARED):
        raise pytest.UsageError(_without_shared(EXTERNAL))
    for item in marked:
        item.add_marker(pytest.mark.skip(reason=_without_shared(EXTERNAL)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test skipped because ../shared is absent is reported at one place with one
    reason, so the summary says it in one line however many tests that is (a
    ``needs_shared`` test with an empty parameter set included)."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and not EXTERNAL.is_dir() and (
            item.get_closest_marker("needs_shared") or SHARED_SKIP in report.longrepr[2]):
        # Line None: pytest folds skips by (file, line, reason) and gives a skip mark's
        # setup-time report no line; all of these must share one key.
        report.longrepr = (__file__, None, _without_shared(EXTERNAL))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else \
            str(report.longrepr)
        _SKIPPED_IN_RUN.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under APPEALS_REQUIRE_SHARED (CI) a skipped test fails the run: CI has every file
    and runs every test, so a skip there is a test that did not run."""
    if os.environ.get(REQUIRE_SHARED) and _SKIPPED_IN_RUN and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if os.environ.get(REQUIRE_SHARED) and _SKIPPED_IN_RUN:
        terminalreporter.section(f"{REQUIRE_SHARED}: skipped tests fail the run", red=True,
                                 bold=True)
        for nodeid, reason in _SKIPPED_IN_RUN:
            terminalreporter.write_line(f"SKIPPED (not allowed in CI) {nodeid}: {reason}")


def external_835_files() -> list[Path]:
    """Every real 835 file in ../shared/data/external (other parsers' test suites); none
    when the shared folder is absent (the tests that read them are then skipped)."""
    if not EXTERNAL.is_dir():
        return []
    files = sorted(EXTERNAL.glob("*/835/*"))
    files += [EXTERNAL / "pyx12" / "835_mult_loops.txt"]
    return files


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
