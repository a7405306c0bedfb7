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


def external_835_files() -> list[Path]:
    """Every real 835 file in ../shared/data/external (other parsers' test suites)."""
    if not EXTERNAL.is_dir():
        raise RuntimeError(f"{EXTERNAL} is missing: the tests read the real 835 files there "
                           "(CI and every developer have ../shared beside the checkout)")
    files = sorted(EXTERNAL.glob("*/835/*"))
    files += [EXTERNAL / "pyx12" / "835_mult_loops.txt"]
    return files


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
