"""Appeal workflow end to end: a synthetic batch of denials through ``run_batch``.

On a batch from benchmarks/synth_workflow.py (N denials over 20 payers, 835 files and a
FHIR directory of notes) it measures, each run in its own subprocess with a fresh
database and output directory:

(a) ``markdown``: ``run_batch`` without auto-approve: letters drafted as Markdown, one
    review thread opened (and checkpointed at its interrupt) per letter;
(b) ``docx``: ``run_batch(auto_approve=True)``: every letter approved and exported to DOCX;
(c) ``docx-nockpt``: (b) with ``open_workflow(checkpoints=False)``: LangGraph without its
    SQLite checkpointer, giving checkpointing's share of (b);
(d) ``direct``: the steps of (b) called one after the other, without LangGraph
    (ingest, triage, playbook, group, then ``work_group_step`` per work queue, as the
    graph nodes do), giving LangGraph's whole share: (time(b) - time(d)) / time(b).

Time is from ``open_workflow`` (code tables, playbooks, FHIR directory index) to the
written manifest: interpreter start and imports are not counted. It prints a table and
the targets (PASS/FAIL, never a failing exit code), writes the "## Appeal workflow end to
end" section of docs/benchmarks.md and the raw numbers to
benchmarks/.data/results-workflow.json. Then it profiles (b) and (d) (``--profile-modes``)
with cProfile, every thread merged, at ``--profile-denials`` denials (0: no profile).

    python benchmarks/workflow_e2e.py [--denials 10000] [--repeat N] [--out FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import synth_workflow
from ingest_835 import Check, RunFailed, checks_table, last_line, machine
from report import replace_section

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_JSON = synth_workflow.DATA_DIR / "results-workflow.json"
RUNS_DIR = synth_workflow.DATA_DIR / "workflow-runs"
SECTION = "## Appeal workflow end to end"
MIB = 1 << 20

MARKDOWN_TARGET = 300.0
"""Denials per second, (a)."""
DOCX_TARGET = 100.0
"""DOCX letters per second, (b)."""
OVERHEAD_TARGET = 0.15
"""LangGraph's share of (b), at most."""
MEMORY_TARGET_MB = 1024.0
"""Peak RSS of every mode, below (at 10,000 denials)."""


@dataclass(frozen=True, slots=True)
class Mode:
    """A way of running the batch."""

    name: str
    label: str
    auto_approve: bool
    checkpoints: bool
    graph: bool = True


MODES = (
    Mode("markdown", "(a) Markdown: run_batch, review threads opened", False, True),
    Mode("docx", "(b) DOCX: run_batch(auto_approve=True)", True, True),
    Mode("docx-nockpt", "(c) = (b) without checkpointer", True, False),
    Mode("direct", "(d) = (b) as direct step calls, no LangGraph", True, False, graph=False),
)
MODES_BY_NAME = {m.name: m for m in MODES}


# -- one measurement (runs in the subprocess) -----------------------------------------

class Marks:
    """Wall-clock marks of a run: when each phase (graph node) last finished."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last: dict[str, float] = {}

    def __call__(self, node: str, update: dict[str, Any] | None = None) -> None:
        """Record that ``node`` finished now (an ``on_progress`` callback)."""
        self.last[node] = time.perf_counter()

    def phases(self, end: float) -> dict[str, float]:
        """Seconds per phase, in order; each phase ends when its node last finished."""
        out: dict[str, float] = {}
        previous = self.start
        for node, at in sorted(self.last.items(), key=lambda item: item[1]):
            out[node] = at - previous
            previous = at
        out["manifest"] = end - previous
        return out


def run_direct(workflow: Any, inputs: Sequence[str], auto_approve: bool,
               mark: Callable[[str], None]) -> Any:
    """(d): the batch graph's steps in order, without LangGraph; writes the manifest."""
    from agent.application.workflow import run_id_for, write_manifest
    from agent.workflow import steps

    ctx = workflow.ctx
    result = steps.ingest_step(ctx, inputs)
    mark("ingest")
    steps.triage_step(ctx, result.denial_ids)
    mark("triage")
    steps.playbook_step(ctx, result.denial_ids)
    mark("pick_playbook")
    group_ids = steps.group_step(ctx, result.denial_ids)
    mark("group")
    letter_ids: list[str] = []
    for group_id in group_ids:
        letter_ids += steps.work_group_step(ctx, group_id, auto_approve).letter_ids
    mark("work_group")
    state = {"denial_ids": result.denial_ids, "errors": result.errors,
             "warnings": result.warnings, "group_ids": group_ids, "letter_ids": letter_ids}
    return write_manifest(ctx, run_id_for(inputs), list(inputs), state)


class ThreadProfiles:
    """cProfile in every thread started while active (LangGraph runs branches in a pool).

    ``threading.setprofile`` makes each new thread call :meth:`_start` on its first event,
    which swaps in a profiler of its own; :meth:`stats` merges them with the main one.
    """

    def __init__(self) -> None:
        self.main = cProfile.Profile()
        self.threads: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start(self, frame: FrameType, event: str, arg: Any) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.threads.append(profile)
        profile.enable()

    def __enter__(self) -> ThreadProfiles:
        threading.setprofile(self._start)
        self.main.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.main.disable()
        threading.setprofile(None)

    def stats(self, stream: io.StringIO) -> pstats.Stats:
        """Every thread's stats together."""
        stats = pstats.Stats(self.main, stream=stream)
        for profile in self.threads:
            stats.add(profile)
        return stats


def measure(mode: Mode, batch_root: Path, work: Path, profile_out: Path | None
            ) -> dict[str, Any]:
    """One run of ``mode`` over the batch in a fresh ``work`` directory."""
    from agent.application.workflow import open_workflow, run_batch
    from agent.config import AppConfig, DeadlineRule

    batch = synth_workflow.load_batch(batch_root)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db, out = work / "appeals.db", work / "out"
    inputs = [str(p) for p in batch.inputs]
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    profiler = ThreadProfiles() if profile_out is not None else None
    if profiler is not None:
        profiler.__enter__()
    marks = Marks()
    # The demo practice: under the shipped placeholders no letter could be approved. The
    # synthetic payers get a policy citation per playbook, as a configured practice's
    # payers would (first match wins, so this row goes before the shipped defaults).
    demo = AppConfig.load(REPO / "fixtures" / "practice.toml")
    policies = {p.stem: f"Synthetic payer policy for {p.stem}, section 1"
                for p in (REPO / "specialty_playbooks").glob("*.yaml")}
    synthetic = DeadlineRule(name="Synthetic payers (benchmark)", days=180,
                             policies=policies)
    config = demo.model_copy(update={"deadlines": (*demo.deadlines[:-1], synthetic,
                                                   demo.deadlines[-1])})
    with open_workflow(db, out, f"fhir-dir:{batch.fhir}", config,
                       today=synth_workflow.TODAY, checkpoints=mode.checkpoints) as workflow:
        marks("setup")
        if mode.graph:
            manifest = run_batch(workflow, inputs, mode.auto_approve, marks)
        else:
            manifest = run_direct(workflow, inputs, mode.auto_approve, marks)
    end = time.perf_counter()
    if profiler is not None:
        profiler.__exit__()
        assert profile_out is not None
        write_profile(profiler, profile_out)
    seconds = end - marks.start
    summary = manifest.summary
    result = {
        "mode": mode.name, "denials": summary.denials, "seconds": seconds,
        "phases": marks.phases(end), "peak_rss_kb":
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_rss_kb": base_kb,
        "by_action": dict(summary.by_action), "letters_drafted": summary.letters_drafted,
        "letters_by_status": dict(summary.letters_by_status), "groups": summary.groups,
        "input_errors": len(summary.input_errors),
        "markdown_files": sum(1 for _ in (out / "letters").glob("*/*.md")),
        "docx_files": sum(1 for _ in (out / "letters").glob("*/*.docx")),
        "review_threads": review_threads(db) if mode.checkpoints else 0,
        "expected_by_action": batch.expected["by_action"],
    }
    shutil.rmtree(work, ignore_errors=True)
    return result


def review_threads(db: Path) -> int:
    """Review threads checkpointed in the run's database."""
    connection = sqlite3.connect(str(db))
    try:
        row = connection.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoints "
                                 "WHERE thread_id LIKE 'review:%'").fetchone()
    except sqlite3.Error:
        return 0
    finally:
        connection.close()
    return int(row[0])


def write_profile(profiler: ThreadProfiles, path: Path, top: int = 20) -> None:
    """Top functions by cumulative and by internal time, all threads merged."""
    out = io.StringIO()
    stats = profiler.stats(out)
    stats.strip_dirs()
    out.write(f"cProfile, {1 + len(profiler.threads)} threads merged\n\n"
              f"== top {top} by cumulative time ==\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"\n== top {top} by internal time (tottime) ==\n")
    stats.sort_stats("tottime").print_stats(top)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue())


# -- driving the subprocesses ---------------------------------------------------------

@dataclass(slots=True)
class Result:
    """The runs of one mode."""

    mode: str
    label: str
    status: str = "ok"
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether there are numbers to show."""
        return self.status == "ok" and bool(self.runs)

    @property
    def best(self) -> dict[str, Any]:
        """The fastest run."""
        return min(self.runs, key=lambda r: float(r["seconds"]))

    @property
    def seconds(self) -> float:
        """Best wall time."""
        return float(self.best["seconds"])

    @property
    def denials_per_s(self) -> float:
        """Denials per second, best run."""
        return float(self.best["denials"]) / self.seconds

    @property
    def letters_per_s(self) -> float:
        """Letters drafted per second, best run."""
        return float(self.best["letters_drafted"]) / self.seconds

    @property
    def peak_rss_mb(self) -> float:
        """The largest peak RSS over the runs."""
        return max(float(r["peak_rss_kb"]) for r in self.runs) / 1024


def run_subprocess(mode: Mode, batch: synth_workflow.Batch, timeout: float,
                   profile_out: Path | None = None) -> dict[str, Any]:
    """One measurement in a fresh process; returns its JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    work = RUNS_DIR / mode.name
    args = [sys.executable, str(Path(__file__).resolve()), "--measure", mode.name,
            "--batch", str(batch.root), "--work", str(work)]
    if profile_out is not None:
        args += ["--profile-out", str(profile_out)]
    # Through a shell, so that ru_maxrss starts from a small process (see ingest_835.py).
    command = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *args]
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        shutil.rmtree(work, ignore_errors=True)
        raise RunFailed(f"timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise RunFailed(f"crashed: {last_line(proc.stderr)}")
    try:
        data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RunFailed(f"no result: {last_line(proc.stdout + proc.stderr)}") from None
    return data


def measure_all(batch: synth_workflow.Batch, modes: Sequence[Mode], args: argparse.Namespace
                ) -> list[Result]:
    """Round-robin over the modes, ``--repeat`` rounds."""
    results = [Result(m.name, m.label) for m in modes]
    for round_number in range(1, args.repeat + 1):
        print(f"  round {round_number}/{args.repeat}:", flush=True)
        for mode, result in zip(modes, results, strict=True):
            if result.status != "ok":
                continue
            try:
                data = run_subprocess(mode, batch, args.timeout)
            except RunFailed as exc:
                result.status = f"n/a ({exc})"
                print(f"    {mode.name:<12} {result.status}", flush=True)
                continue
            result.runs.append(data)
            print(f"    {mode.name:<12} {data['seconds']:7.2f} s  "
                  f"{data['denials'] / data['seconds']:7.0f} denials/s  "
                  f"{data['letters_drafted']:,} letters  "
                  f"{data['peak_rss_kb'] / 1024:6.0f} MB peak", flush=True)
    return results


# -- targets and report ---------------------------------------------------------------

def find(results: Sequence[Result], mode: str) -> Result | None:
    """The result of a mode, when it has numbers."""
    return next((r for r in results if r.mode == mode and r.ok), None)


def overhead(results: Sequence[Result], mode: str) -> float | None:
    """(time(b) - time(mode)) / time(b)."""
    docx, other = find(results, "docx"), find(results, mode)
    if docx is None or other is None:
        return None
    return (docx.seconds - other.seconds) / docx.seconds


def checks(results: Sequence[Result], denials: int) -> list[Check]:
    """The four targets, plus whether every run decided what the batch expects."""
    out = []
    markdown, docx = find(results, "markdown"), find(results, "docx")
    out.append(Check(f"(a) Markdown ≥ {MARKDOWN_TARGET:g} denials/s",
                     f"{markdown.denials_per_s:,.0f} denials/s" if markdown else "not measured",
                     markdown.denials_per_s >= MARKDOWN_TARGET if markdown else None))
    out.append(Check(f"(b) DOCX ≥ {DOCX_TARGET:g} letters/s",
                     f"{docx.letters_per_s:,.0f} letters/s" if docx else "not measured",
                     docx.letters_per_s >= DOCX_TARGET if docx else None))
    share = overhead(results, "direct")
    out.append(Check(f"LangGraph overhead (b vs d) ≤ {OVERHEAD_TARGET:.0%}",
                     f"{share:.1%}" if share is not None else "not measured",
                     share <= OVERHEAD_TARGET if share is not None else None))
    measured = [r for r in results if r.ok]
    peak = max((r.peak_rss_mb for r in measured), default=None)
    name = f"peak RSS < {MEMORY_TARGET_MB:,.0f} MB at {denials:,} denials (every mode)"
    if denials < 10_000:
        name += " (target is for 10,000)"
    out.append(Check(name, f"{peak:,.0f} MB" if peak is not None else "not measured",
                     peak < MEMORY_TARGET_MB if peak is not None else None))
    wrong = [r.mode for r in measured for run in r.runs
             if run["by_action"] != run["expected_by_action"]
             or run["letters_drafted"] != run["expected_by_action"].get("appeal", 0)]
    out.append(Check("every run decided each denial as the generator planned",
                     "yes" if not wrong else f"differs in {', '.join(sorted(set(wrong)))}",
                     not wrong if measured else None))
    return out


def results_table(results: Sequence[Result], repeat: int) -> str:
    """The Markdown table of the runs."""
    lines = ["| mode | time (s) | denials/s | letters | letters/s | DOCX files | review threads "
             "| peak RSS (MB) | (b) − this, % of (b) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        if not result.ok:
            lines.append(f"| {result.label} | {result.status} | | | | | | | |")
            continue
        best = result.best
        runs = f" ({len(result.runs)} of {repeat} runs)" if len(result.runs) < repeat else ""
        share = overhead(results, result.mode) if result.mode in ("docx-nockpt", "direct") \
            else None
        saved = f"{share:+.1%}" if share is not None else ""
        lines.append(
            f"| {result.label} | {result.seconds:.2f}{runs} | {result.denials_per_s:,.0f} | "
            f"{best['letters_drafted']:,} | {result.letters_per_s:,.0f} | "
            f"{best['docx_files']:,} | {best['review_threads']:,} | "
            f"{result.peak_rss_mb:,.0f} | {saved} |")
    return "\n".join(lines)


PHASES = ("setup", "ingest", "triage", "pick_playbook", "group", "work_group",
          "open_reviews", "manifest")


def phases_table(results: Sequence[Result]) -> str:
    """Seconds per phase of each mode's best run."""
    head = "| mode | " + " | ".join(PHASES) + " |"
    lines = [head, "|---|" + "---:|" * len(PHASES)]
    for result in results:
        if not result.ok:
            continue
        phases = result.best["phases"]
        cells = [f"{phases[p]:.2f}" if p in phases else "" for p in PHASES]
        lines.append(f"| {result.label[:3]} {result.mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def actions_line(results: Sequence[Result]) -> str:
    """The action counts of the (b) run (the same in every mode)."""
    result = find(results, "docx") or next((r for r in results if r.ok), None)
    if result is None:
        return "not measured"
    counts = result.best["by_action"]
    return ", ".join(f"{action} {n:,}" for action, n in sorted(counts.items()))


def section(results: Sequence[Result], check_list: Sequence[Check],
            batch: synth_workflow.Batch, args: argparse.Namespace) -> str:
    """The "## Appeal workflow end to end" section of docs/benchmarks.md."""
    info = machine()
    command = "python benchmarks/workflow_e2e.py " + " ".join(args.argv)
    first = next((r.best for r in results if r.ok), None)
    groups = f"{first['groups']:,}" if first else "?"
    expected = batch.expected
    kinds = ", ".join(f"{k} {n:,}" for k, n in expected["by_kind"].items())
    profile = "".join(
        f"\n- cProfile of {MODES_BY_NAME[name].label[:3]} at {args.profile_denials:,} denials "
        f"(every thread merged; top 20 by cumulative and internal time): "
        f"`{path.relative_to(REPO)}`." for name, path in args.profiles.items())
    return f"""{SECTION}

Measured {info['date']} at commit {info['commit']} on {info['cores']} cores
({info['cpu']}), Python {info['python']}:

    {command.strip()}

Batch: `benchmarks/synth_workflow.py` (seed {expected['seed']}), {batch.denials:,} denials
in {len(batch.inputs)} 835 files (one per payer, {expected['payers']} payers), one denied line
per claim, and a FHIR directory with a Patient, an Encounter, a Condition and
{expected['notes']:,} notes in all. Planned kinds: {kinds}. The run formed {groups} work
queues. Decided (run (b)): {actions_line(results)}.

Each run is its own subprocess with a fresh SQLite database and output directory. Time:
best of {args.repeat} run(s), from `open_workflow` (code tables, playbooks, indexing the
FHIR directory) to the written manifest.json; interpreter start and imports are not
counted. Peak RSS: the run's `ru_maxrss` (interpreter and libraries included). Last
column: how much of (b)'s time the mode saved, i.e. LangGraph's share for (d) and the
checkpointer's share for (c).

{results_table(results, args.repeat)}

Seconds per phase (a phase ends when its graph node last finished; `setup` is
`open_workflow`, `manifest` is writing manifest.json):

{phases_table(results)}

Targets (a report, not a test: a FAIL does not fail the run):

{checks_table(list(check_list))}

Notes:

- (a) drafts every letter as Markdown and then opens one review thread per letter
  (`open_reviews`: one `invoke` of the review graph, which stops at its `interrupt` and
  is checkpointed). (b) approves each letter as it is drafted and writes its DOCX
  (python-docx); it opens no review thread. (c) is (b) with no checkpointer; (d) calls
  `ingest_step`, `triage_step`, `playbook_step`, `group_step` and `work_group_step` per
  work queue directly, then writes the same manifest.
- LangGraph's share is (time(b) − time(d)) / time(b); checkpointing's share is
  (time(b) − time(c)) / time(b). LangGraph runs the work-queue branches of one superstep
  in a thread pool, so a negative share means the threads overlapped some I/O.
- "every run decided each denial as the generator planned": action counts equal the
  generator's plan, and one letter was drafted per planned appeal.{profile}
"""


def write_json(results: Sequence[Result], check_list: Sequence[Check],
               batch: synth_workflow.Batch, args: argparse.Namespace) -> None:
    """Raw numbers for later comparison."""
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine(), "argv": args.argv, "repeat": args.repeat,
        "batch": {"root": str(batch.root.relative_to(REPO)), **batch.expected},
        "results": [asdict(r) | ({"best_s": r.seconds, "denials_per_s": r.denials_per_s,
                                  "letters_per_s": r.letters_per_s,
                                  "peak_rss_mb": r.peak_rss_mb} if r.ok else {})
                    for r in results],
        "langgraph_overhead": overhead(results, "direct"),
        "checkpoint_share": overhead(results, "docx-nockpt"),
        "checks": [asdict(c) | {"verdict": c.verdict} for c in check_list],
        "profiles": {name: str(path.relative_to(REPO)) for name, path in args.profiles.items()},
    }
    RESULTS_JSON.write_text(json.dumps(payload, indent=2) + "\n")


# -- command line ---------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    """Options; ``argv`` is kept to show the command in the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--denials", type=int, default=10_000,
                        help="denials in the batch (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=synth_workflow.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode; the best "
                        "time is reported (default: %(default)s)")
    parser.add_argument("--modes", default=",".join(m.name for m in MODES),
                        help="modes to run, comma separated (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md",
                        help="Markdown report to update (default: docs/benchmarks.md)")
    parser.add_argument("--profile-denials", type=int, default=2_000, help="also profile "
                        "(b) at this many denials; 0 to skip (default: %(default)s)")
    parser.add_argument("--profile-modes", default="docx,direct", help="modes to profile, "
                        "comma separated (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds before one run is abandoned (default: %(default)s)")
    # Internal: one measurement, in the subprocess.
    parser.add_argument("--measure", choices=sorted(MODES_BY_NAME), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    unknown = (set(args.modes.split(",")) | set(args.profile_modes.split(","))) - \
        set(MODES_BY_NAME)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    return args


def profile_all(args: argparse.Namespace) -> dict[str, Path]:
    """Profile the ``--profile-modes`` at ``--profile-denials``; the report of each mode."""
    if not args.profile_denials:
        return {}
    small = synth_workflow.ensure_batch(args.profile_denials, args.seed)
    done = {}
    for name in args.profile_modes.split(","):
        path = synth_workflow.DATA_DIR / f"profile-workflow-{name}-{args.profile_denials}.txt"
        print(f"Profiling {name} at {args.profile_denials:,} denials -> "
              f"{path.relative_to(REPO)}", flush=True)
        try:
            run_subprocess(MODES_BY_NAME[name], small, args.timeout, path)
        except RunFailed as exc:
            print(f"  profile failed: {exc}")
            continue
        done[name] = path
    return done


def main(argv: list[str] | None = None) -> None:
    """Generate the batch, measure every mode, profile, print and write the report."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.measure:
        print(json.dumps(measure(MODES_BY_NAME[args.measure], args.batch, args.work,
                                 args.profile_out)))
        return
    started = time.perf_counter()
    batch = synth_workflow.ensure_batch(args.denials, args.seed)
    print(f"Batch: {batch.root.relative_to(REPO)} ({batch.denials:,} denials, "
          f"{len(batch.inputs)} 835 files, {batch.expected['notes']:,} notes)")
    modes = [MODES_BY_NAME[name] for name in args.modes.split(",")]
    print("Measuring (one subprocess per run):")
    results = measure_all(batch, modes, args)
    args.profiles = profile_all(args)
    check_list = checks(results, batch.denials)
    body = section(results, check_list, batch, args)
    print()
    print(body)
    for result in results:
        if result.ok:
            best = result.best
            print(f"{result.mode}: {best['letters_drafted']:,} letters drafted, "
                  f"actions {best['by_action']}")
    replace_section(args.out, SECTION, body)
    write_json(results, check_list, batch, args)
    print(f"Wrote {args.out} and {RESULTS_JSON.relative_to(REPO)} "
          f"in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
