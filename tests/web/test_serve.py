"""`appeals serve`: its help, its one-line refusals, and a real server on 127.0.0.1 that
logs one line per request, with no query string and no PHI."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.store.sqlite import SqliteStore
from tests.conftest import ROOT
from tests.practice import PRACTICE_TOML
from tests.web.conftest import PASSWORD


def test_serve_help_works() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--db", "--out", "--host", "--port", "--config", "--idle-minutes"):
        assert option in result.output
    assert "127.0.0.1" in result.output
    listed = CliRunner().invoke(app, ["--help"])
    assert "serve" in listed.output


def test_serve_without_a_database_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2
    assert "no database" in result.output and "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_real_server_logs_no_query_string_and_no_phi(demo_run: Path, tmp_path: Path
                                                       ) -> None:
    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    store = SqliteStore(run / "appeals.db")
    ids = [r[0] for r in store.connection.execute("SELECT id FROM appeal_denials")]
    records = store.get_denials(ids)
    letter = store.list_letters()[0]
    store.close()
    phi = sorted({x for r in records for x in (r.denial.patient.last_name,
                                                r.denial.patient.member_id,
                                                r.denial.claim_id,
                                                r.denial.payer_claim_number) if x})
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--db", str(run / "appeals.db"), "--out",
         str(run / "out"), "--port", str(port), "--config", str(PRACTICE_TOML)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    login = client.get("/login")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.communicate()
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert token
            signed_in = client.post("/login", data={"username": "ann", "password": PASSWORD,
                                                    "csrf_token": token.group(1)})
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
            cookie = signed_in.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite" in cookie
            target = records[0].denial
            found = client.get("/", params={"q": target.claim_id})
            assert found.status_code == 200 and target.denial_id in found.text
            assert client.get(f"/letters/{letter.letter_id}").status_code == 200
            assert client.get(f"/{target.patient.last_name}").status_code == 404
            assert "server" not in {k.lower() for k in found.headers}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            out, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
    logged = out + err
    assert "GET / 200" in logged and "GET /letters/{letter_id} 200" in logged
    assert "POST /login 303" in logged
    assert "?" not in "\n".join(line for line in logged.splitlines() if " GET " in line
                                or " POST " in line)
    assert not [x for x in phi if x.lower() in logged.lower()]
