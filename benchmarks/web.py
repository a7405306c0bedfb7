"""The web workbench's server time: the worklist over 10,000 denials and the letter page.

On the synthetic batch of benchmarks/synth_workflow.py (N denials, run through the real
workflow once, letters drafted as Markdown: the store a practice would have after
`appeals run`), it serves the workbench in process (Starlette's TestClient, the same app
`appeals serve` runs) as a signed-in auditor and requests each page kind many times:

* the worklist, first page (50 rows, soonest deadline first);
* the worklist sorted by amount, a page deep in the list (OFFSET near the end);
* the worklist filtered by action and payer, sorted by payer;
* the worklist grouped by work queue;
* a claim-number search (``/?q=``);
* a letter page (letter, chart documents, highlights, history), random letters;
* a denial page of a needs-review denial, random denials.

Server time is the ``Server-Timing`` the app sets (from the request reaching the app to its
response starting: the session check, the audit row of the view, the queries and the
rendering); the client's wall time is shown beside it. The target is 150 ms at the 95th
percentile for each. Writes the "## Web workbench" section of docs/benchmarks.md; exits 0
whatever the result (a report, not a test).

    python benchmarks/web.py [--denials 10000] [--requests 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import synth_workflow
from ingest_835 import machine
from report import replace_section

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Web workbench"
TARGET_MS = 150.0
PASSWORD = "benchmark password"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of request: a label and how to make the next path."""

    label: str
    path: Callable[[int], str]


def build_store(denials: int, seed: int, fresh: bool) -> Path:
    """The run's folder (appeals.db and out/), made by the real workflow once and kept."""
    from agent.application.workflow import open_workflow, run_batch
    from agent.config import AppConfig, DeadlineRule

    work = synth_workflow.DATA_DIR / f"web-{denials}-s{seed}"
    if (work / "done").exists() and not fresh:
        return work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    batch = synth_workflow.ensure_batch(denials, seed)
    demo = AppConfig.load(REPO / "fixtures" / "practice.toml")
    policies = {p.stem: f"Synthetic payer policy for {p.stem}, section 1"
                for p in (REPO / "specialty_playbooks").glob("*.yaml")}
    synthetic = DeadlineRule(name="Synthetic payers (benchmark)", days=180,
                             policies=policies)
    config = demo.model_copy(update={"deadlines": (*demo.deadlines[:-1], synthetic,
                                                   demo.deadlines[-1])})
    started = time.perf_counter()
    with open_workflow(work / "appeals.db", work / "out", f"fhir-dir:{batch.fhir}", config,
                       today=synth_workflow.TODAY) as workflow:
        run_batch(workflow, [str(p) for p in batch.inputs])
        workflow.ctx.store.add_user("bench", "auditor", PASSWORD)
    print(f"built the store: {denials:,} denials in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    (work / "done").write_text("ok\n")
    return work


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def measure(work: Path, requests: int, seed: int) -> tuple[list[dict[str, object]], int]:
    """Each scenario's server and client times (ms), and how many denials the store has."""
    from starlette.testclient import TestClient

    from agent.application.accounts import AccountService
    from agent.application.workbench import Workbench
    from agent.application.workflow import open_workflow
    from agent.config import AppConfig
    from agent.web.app import create_app

    config = AppConfig.load(REPO / "fixtures" / "practice.toml")
    rng = random.Random(seed)
    with open_workflow(work / "appeals.db", work / "out", None, config,
                       today=synth_workflow.TODAY) as workflow:
        store = workflow.ctx.store
        accounts = AccountService(store, idle=timedelta(hours=8))
        app = create_app(Workbench.over(workflow, accounts, lambda: synth_workflow.TODAY),
                         accounts)
        count = int(store.connection.execute(
            "SELECT count(*) FROM appeal_worklist").fetchone()[0])
        rows = store.connection.execute(
            "SELECT denial_id, claim_id, action, payer_id, letter_id FROM appeal_worklist"
        ).fetchall()
        letters = [r[4] for r in rows if r[4]]
        needs = [r[0] for r in rows if r[2] == "needs_review"]
        claims = [r[1] for r in rows]
        payer = max({r[3] for r in rows}, key=lambda p: sum(1 for r in rows if r[3] == p))
        deep = max(1, count // 50 - 2)
        scenarios = [
            Scenario("worklist, first page (50 rows)", lambda i: "/"),
            Scenario(f"worklist sorted by amount, page {deep:,}",
                     lambda i: f"/?sort=amount&dir=desc&page={deep - i % 3}"),
            Scenario("worklist filtered (action, payer), sorted by payer",
                     lambda i: f"/?action=appeal&payer={payer}&sort=payer&page={1 + i % 5}"),
            Scenario("worklist grouped by work queue", lambda i: "/?group=queue"),
            Scenario("claim-number search (?q=)", lambda i: f"/?q={rng.choice(claims)}"),
            Scenario("letter page", lambda i: f"/letters/{rng.choice(letters)}"),
            Scenario("needs-review denial page", lambda i: f"/denials/{rng.choice(needs)}"),
        ]
        results: list[dict[str, object]] = []
        with TestClient(app, follow_redirects=False) as client:
            login = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', login)
            assert token is not None
            signed = client.post("/login", data={"username": "bench", "password": PASSWORD,
                                                 "csrf_token": token.group(1)})
            assert signed.status_code == 303, signed.text
            for scenario in scenarios:
                for i in range(5):  # warm up
                    client.get(scenario.path(i))
                server, wall = [], []
                for i in range(requests):
                    started = time.perf_counter()
                    response = client.get(scenario.path(i))
                    wall.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (scenario.label, response.text[:300])
                    timing = re.search(r"dur=([0-9.]+)", response.headers["server-timing"])
                    assert timing is not None
                    server.append(float(timing.group(1)))
                results.append({"label": scenario.label, "p50": statistics.median(server),
                                "p95": percentile(server, 0.95), "max": max(server),
                                "wall_p95": percentile(wall, 0.95), "n": requests})
                print(f"{scenario.label}: p50 {results[-1]['p50']:.1f} ms, "
                      f"p95 {results[-1]['p95']:.1f} ms", file=sys.stderr)
    return results, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--denials", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200,
                        help="Requests per page kind (after 5 to warm up).")
    parser.add_argument("--seed", type=int, default=synth_workflow.DEFAULT_SEED)
    parser.add_argument("--fresh", action="store_true",
                        help="Run the workflow again instead of reusing the stored run.")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    work = build_store(args.denials, args.seed, args.fresh)
    results, count = measure(work, args.requests, args.seed)
    info = machine()
    table = ["| request | server p50 | server p95 | server max | client p95 | target "
             "(p95) | result |", "|---|--:|--:|--:|--:|--:|---|"]
    for r in results:
        p95 = float(r["p95"])
        table.append(f"| {r['label']} | {r['p50']:.1f} ms | {p95:.1f} ms | "
                     f"{r['max']:.1f} ms | {r['wall_p95']:.1f} ms | < {TARGET_MS:.0f} ms | "
                     f"**{'PASS' if p95 < TARGET_MS else 'FAIL'}** |")
    body = "\n".join([
        SECTION, "",
        f"Measured {info['date']} at commit {info['commit']} on {info['cores']} cores "
        f"({info['cpu']}), Python {info['python']}:", "",
        f"    python benchmarks/web.py --denials {args.denials} --requests {args.requests}",
        "",
        f"Store: the `benchmarks/synth_workflow.py` batch (seed {args.seed}) run through the "
        f"real workflow (letters as Markdown), {count:,} denials. Each page kind is "
        f"requested {args.requests} times (after 5 to warm up) by a signed-in auditor "
        "through Starlette's TestClient, in process. Server time is the app's "
        "`Server-Timing` (session check, the audit row every page that shows PHI writes, "
        "the store's queries, rendering); client p95 adds the test client. The worklist "
        "pages in the store (SQL `LIMIT`/`OFFSET` over a narrow table kept with each "
        "denial's record, filters and order in the query), never loading the records.", "",
        *table, ""])
    print(body)
    replace_section(args.out, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
