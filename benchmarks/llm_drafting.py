"""LLM drafting under latency: N work queues against the fake OpenAI-compatible server.

Every queue holds one medical-necessity denial of its own payer (so N denials make N work
queues and N model requests), with a chart from benchmarks/synth_workflow.py that
documents every required fact. The fake server (agent.llm.fake_server, real HTTP on
127.0.0.1) answers each request after ``--latency`` seconds with a reply that passes the
guardrails. The whole workflow runs (``open_workflow`` + ``run_batch`` with the model on,
``max_concurrency`` queues at once), so the number includes LangGraph's fan-out, the
``openai`` client, tenacity, the guardrails and the letters.

Target (issue #5): wall time within 1.2x of the ideal N x latency / concurrency. It also
reports tokens per letter, and the template-only time of the same batch for scale. Prints
a table, writes the "## LLM drafting under latency" section of docs/benchmarks.md and the
raw numbers to benchmarks/.data/results-llm.json.

    python benchmarks/llm_drafting.py [--groups 1000] [--latency 1.5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import synth_workflow
from report import replace_section

from agent.application.workflow import open_workflow, run_batch
from agent.config import AppConfig
from agent.llm.fake_server import FakeOpenAIServer, FakeReply, grounded_reply
from agent.llm.settings import LLMSettings

ROOT = Path(__file__).resolve().parents[1]
DATA = synth_workflow.DATA_DIR
SECTION = "## LLM drafting under latency"
TODAY = date(2026, 9, 20)
COLUMNS = ("claim_id", "payer_name", "payer_id", "payer_claim_number", "member_id",
           "patient_last_name", "patient_first_name", "patient_dob", "service_date",
           "procedure_code", "modifiers", "units", "billed", "paid", "adjustments", "remarks",
           "claim_filing_indicator", "remittance_date")


def write_batch(root: Path, groups: int) -> Path:
    """A queue CSV (one payer per denial) and a FHIR directory under ``root``."""
    plans = [p for p in synth_workflow.generate(groups * 2 + 200)
             if p.kind == "mn_both"][:groups]
    if len(plans) < groups:
        raise SystemExit(f"the generator gave only {len(plans)} complete charts")
    shutil.rmtree(root, ignore_errors=True)
    (root / "fhir").mkdir(parents=True)
    with (root / "queue.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for index, plan in enumerate(plans):
            assert plan.procedure is not None
            billed = f"{plan.procedure.unit_charge / 100:.2f}"
            writer.writerow({
                "claim_id": plan.claim_id, "payer_name": f"BENCH PAYER {index:04d}",
                "payer_id": f"BP{index:04d}", "payer_claim_number": f"BPC{index:08d}",
                "member_id": plan.member_id, "patient_last_name": plan.last,
                "patient_first_name": plan.first, "patient_dob": plan.birth.isoformat(),
                "service_date": plan.service.isoformat(),
                "procedure_code": plan.procedure.code,
                "modifiers": ";".join((*plan.procedure.modifiers, *(
                    (plan.side + "T",) if plan.procedure.lateral else ()))),
                "units": "1",
                "billed": billed, "paid": "0", "adjustments": f"CO-50:{billed}",
                "remarks": "N115", "claim_filing_indicator": "CI",
                "remittance_date": synth_workflow.PRODUCED.isoformat()})
    with (root / "fhir" / "charts.ndjson").open("w", encoding="utf-8") as out:
        for plan in plans:
            for resource in synth_workflow.fhir_resources(plan):
                out.write(json.dumps(resource, separators=(",", ":")) + "\n")
    return root


def measure(batch: Path, work: Path, latency: float, concurrency: int,
            llm: bool) -> dict[str, Any]:
    """One run of the workflow over the batch; the numbers from its manifest."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    inputs = [str(batch / "queue.csv")]

    def respond(request: dict[str, Any]) -> FakeReply:
        return FakeReply(content=grounded_reply(request), delay=latency)

    with FakeOpenAIServer(respond) as server:
        settings = LLMSettings(base_url=server.base_url, api_key="bench",
                               max_concurrency=concurrency, timeout_seconds=latency * 10,
                               propose_evidence=False) if llm else None
        started = time.perf_counter()
        with open_workflow(work / "db.sqlite", work / "out", f"fhir-dir:{batch / 'fhir'}",
                           AppConfig.load(ROOT / "fixtures" / "practice.toml"), today=TODAY,
                           llm=settings) as workflow:
            manifest = run_batch(workflow, inputs)
        seconds = time.perf_counter() - started
        requests = len(server.requests)
    letters = [d.letter for d in manifest.denials if d.letter.id]
    by_llm = [x for x in letters if x.drafted_by == "llm"]
    return {"seconds": seconds, "groups": manifest.summary.groups, "letters": len(letters),
            "letters_by_llm": len(by_llm), "requests": requests,
            "tokens_in_per_letter": sum(x.tokens_in for x in letters) / max(1, len(letters)),
            "tokens_out_per_letter": sum(x.tokens_out for x in letters) / max(1,
                                                                              len(letters)),
            "fallbacks": sorted({x.llm_fallback for x in letters if x.llm_fallback})}


def report(args: argparse.Namespace, llm: dict[str, Any], template: dict[str, Any]) -> str:
    ideal = args.groups * args.latency / args.concurrency
    ratio = llm["seconds"] / ideal
    verdict = "PASS" if ratio <= 1.2 and llm["letters_by_llm"] == args.groups else "FAIL"
    return "\n".join([
        SECTION, "",
        f"`python benchmarks/llm_drafting.py --groups {args.groups} --latency "
        f"{args.latency} --concurrency {args.concurrency}` on {platform.machine()} "
        f"({platform.python_implementation()} {platform.python_version()}), "
        f"{date.today().isoformat()}. {args.groups} work queues (one medical-necessity "
        "denial each, its own payer), the fake OpenAI-compatible server on 127.0.0.1 "
        f"answering every request after {args.latency} s; the whole workflow, the real "
        "`openai` client, tenacity and the guardrails.", "",
        "| run | wall time | requests | letters by the model | tokens in / out per letter |",
        "|---|---|---|---|---|",
        f"| model, concurrency {args.concurrency} | {llm['seconds']:.1f} s | "
        f"{llm['requests']} | {llm['letters_by_llm']} of {llm['letters']} | "
        f"{llm['tokens_in_per_letter']:.0f} / {llm['tokens_out_per_letter']:.0f} |",
        f"| template only (same batch) | {template['seconds']:.1f} s | 0 | 0 of "
        f"{template['letters']} | 0 / 0 |", "",
        f"Ideal: {args.groups} x {args.latency} s / {args.concurrency} = {ideal:.1f} s; "
        f"measured / ideal = **{ratio:.3f}** (target <= 1.2: **{verdict}**). Tokens are "
        "the fake server's estimate (4 characters a token) of the real prompt and reply.",
        ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=1.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="Markdown report to update ('-' prints only)")
    args = parser.parse_args()
    batch = write_batch(DATA / f"llm-{args.groups}", args.groups)
    template = measure(batch, DATA / "llm-run-template", args.latency, args.concurrency,
                       llm=False)
    llm = measure(batch, DATA / "llm-run-model", args.latency, args.concurrency, llm=True)
    section = report(args, llm, template)
    print(section)
    (DATA / "results-llm.json").write_text(json.dumps(
        {"args": vars(args) | {"out": str(args.out)}, "llm": llm, "template": template},
        indent=2) + "\n", encoding="utf-8")
    replace_section(args.out, SECTION, section)
    if llm["fallbacks"]:
        print("fallbacks:", ", ".join(llm["fallbacks"]), file=sys.stderr)


if __name__ == "__main__":
    main()
