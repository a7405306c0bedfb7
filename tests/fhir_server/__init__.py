"""Start and drive the loopback FHIR server of server.mjs (Medplum's fhir-router under Node).

Used by tests/test_ehr_fhir_rest.py and benchmarks/fhir_rest.py. The Node packages are
installed by ``make test`` (``npm ci --prefix tests/fhir_server``), never by the tests:
:func:`unavailable` says what is missing, and the tests skip saying so.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SERVER_DIR = Path(__file__).resolve().parent
ROUTER_PACKAGE = SERVER_DIR / "node_modules" / "@medplum" / "fhir-router" / "package.json"


def unavailable() -> str | None:
    """Why the server cannot start here (None: it can)."""
    if shutil.which("node") is None:
        return "node is not installed (the FHIR REST tests run Medplum's fhir-router on it)"
    if not ROUTER_PACKAGE.is_file():
        return ("tests/fhir_server/node_modules is missing: run `npm ci --prefix "
                "tests/fhir_server` (make test does)")
    return None


@dataclass(frozen=True)
class Client:
    """A SMART backend client the token endpoint knows: its private key file and key id."""

    client_id: str
    key_id: str
    private_key: Path
    public_pem: str
    token_lifetime: int | None = None


def make_client(directory: Path, client_id: str, key_id: str, kind: str = "rsa",
                token_lifetime: int | None = None) -> Client:
    """A new key pair (RSA 2048 or EC P-384) written as PEM under ``directory``."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
        else ec.generate_private_key(ec.SECP384R1()))
    path = directory / f"{client_id}-{key_id}-{secrets.token_hex(4)}.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return Client(client_id, key_id, path, public.decode("ascii"), token_lifetime)


@dataclass
class FhirTestServer:
    """One server.mjs process: the FHIR base URL, the proxy in front of it, its controls."""

    data: list[Path]
    clients: list[Client]
    workdir: Path
    page_size: int = 50
    token_lifetime: int = 300
    urls: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> FhirTestServer:
        """Start it and wait for the line naming its URLs."""
        config = self.workdir / "fhir-server.json"
        config.write_text(json.dumps({
            "data": [str(Path(d).resolve()) for d in self.data], "page_size": self.page_size,
            "token_lifetime": self.token_lifetime,
            "clients": [{"client_id": c.client_id, "kid": c.key_id, "public_key": c.public_pem,
                         "token_lifetime": c.token_lifetime} for c in self.clients]}))
        stderr = (self.workdir / "fhir-server.stderr").open("wb")
        node = shutil.which("node") or "node"
        self._process = subprocess.Popen(
            [node, str(SERVER_DIR / "server.mjs"), str(config)], cwd=SERVER_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            env={**os.environ, "NODE_OPTIONS": "--max-old-space-size=2048"})
        stderr.close()
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._process.stdout], [], [], max(left, 0))
            if not ready or self._process.poll() is not None:
                self.stop()
                raise RuntimeError("the FHIR test server did not start: " + self.stderr())
            chunk = os.read(self._process.stdout.fileno(), 4096)
            if not chunk:
                self.stop()
                raise RuntimeError("the FHIR test server did not start: " + self.stderr())
            line += chunk
        self.urls = json.loads(line)
        return self

    def stderr(self) -> str:
        """What the server wrote to stderr (its crash, if any)."""
        path = self.workdir / "fhir-server.stderr"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop the process (closing its stdin stops it; killed if it lingers)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()

    @property
    def fhir(self) -> str:
        """The FHIR base URL, direct."""
        return self.urls["fhir"]

    @property
    def proxy(self) -> str:
        """The FHIR base URL through the fault-injecting proxy."""
        return self.urls["proxy"]

    def token_url(self, base: str) -> str:
        """The token endpoint as reached through ``base`` (direct or the proxy)."""
        return base.removesuffix("/fhir") + "/auth/token"

    def control(self, name: str, payload: Any = None) -> Any:
        """Call /_control/NAME (POST with ``payload`` when given)."""
        url = f"{self.urls['control']}/{name}"
        with httpx.Client(trust_env=False, timeout=30) as http:
            answer = (http.get(url) if payload is None and name == "log"
                      else http.post(url, json=payload if payload is not None else {}))
        answer.raise_for_status()
        return answer.json()

    def reset(self) -> None:
        """Forget the request log and every fault rule."""
        self.control("reset", {})

    def log(self) -> dict[str, Any]:
        """Token requests (with the verified header and claims), request counts, faults."""
        value: dict[str, Any] = self.control("log")
        return value

    def faults(self, *rules: dict[str, Any]) -> None:
        """Set the proxy's fault rules: ``match`` (a regex on the path and query),
        ``method``, ``times`` (default 1; -1: always), and ``status`` (+ ``headers``),
        ``delay_ms`` or ``loop`` (the page's next link points back at the page)."""
        self.control("faults", list(rules))

    def expire_tokens(self) -> None:
        """Revoke every token issued so far: the next request with one gets 401."""
        self.control("expire-tokens", {})
