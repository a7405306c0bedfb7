"""X12 835 ingest benchmark: our reader against the pure-Python floor and PyPI peers.

For each size (claims per file) it measures, each run in its own subprocess so that the
peak RSS belongs to that run alone:

(a) ``ours``: agent.x12 reader into typed ClaimPayment records (counted, not kept);
(b) ``ours+denials``: the same plus denial extraction (``denials_from_claims``);
(c) ``minimal``: benchmarks/minimal_reader.py, split-and-walk into plain dicts;
(d) peers from PyPI, each in its own venv under benchmarks/.peers/<name>/ (created on
    first use): edi-835-parser, pyx12 (X12ContextReader) and linuxforhealth-x12
    (X12ModelReader, with pydantic v1).

Time is the best of ``--repeat`` runs, reading only (interpreter start and imports are
not counted). It prints a table, checks the targets (PASS/FAIL; a FAIL does not change
the exit code), writes the "## X12 835 ingest" section of docs/benchmarks.md and the raw
numbers to benchmarks/.data/results-ingest.json.

    python benchmarks/ingest_835.py [--sizes 1000,10000,100000] [--no-peers] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import synth835
from report import replace_section

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / ".peers"
RUNNERS = BENCH_DIR / "runners.py"
RESULTS_JSON = synth835.DATA_DIR / "results-ingest.json"
SECTION = "## X12 835 ingest"
MIB = 1 << 20

EDI_TARGET = 5.0
"""Our reader must be at least this many times faster than edi-835-parser."""
FLOOR_TARGET = 0.5
"""Our reader must reach at least this fraction of the minimal reader's speed."""
MEMORY_TARGET = 1.5
"""Peak RSS at the largest size must stay within this factor of the 10k-claim peak."""


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    """A reader to measure: how to get its Python, and when to skip it."""

    name: str
    label: str
    requirements: tuple[str, ...] = ()
    """pip requirements of a peer's own venv; empty for readers of this project."""
    max_claims: int | None = None
    """Skip this reader on larger files (unless --all-sizes)."""
    skip_reason: str = ""

    @property
    def is_peer(self) -> bool:
        """Peers run in their own venv."""
        return bool(self.requirements)


OURS = ReaderSpec("ours", "(a) ours: typed ClaimPayment")
OURS_DENIALS = ReaderSpec("ours+denials", "(b) ours + denial extraction")
MINIMAL = ReaderSpec("minimal", "(c) minimal split-and-walk (dicts)")
PEERS = (
    ReaderSpec("edi-835-parser", "edi-835-parser", ("edi-835-parser==1.8.0",)),
    ReaderSpec("pyx12", "pyx12 X12ContextReader", ("pyx12==4.0.0",)),
    ReaderSpec("linuxforhealth-x12", "linuxforhealth-x12 X12ModelReader",
               ("linuxforhealth-x12==0.57.0", "pydantic>=1.9,<2"), max_claims=10_000,
               skip_reason="skipped above 10k claims: ~1,000 claims/s and one pydantic "
                           "model per transaction set"),
)


@dataclass(slots=True)
class Result:
    """The measurements of one reader on one file."""

    reader: str
    label: str
    size: int
    file_mb: float
    status: str = "ok"
    """``ok``, ``n/a (reason)`` or ``skipped (reason)``."""
    claims: int | None = None
    times: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    base_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether there are numbers to show."""
        return self.status == "ok" and bool(self.times)

    @property
    def best(self) -> float:
        """Best (smallest) time of the repeats, in seconds."""
        return min(self.times)

    @property
    def claims_per_s(self) -> float:
        """Claims read per second, best run."""
        return self.size / self.best

    @property
    def mb_per_s(self) -> float:
        """MiB of file read per second, best run."""
        return self.file_mb / self.best


class RunFailed(Exception):
    """A measurement subprocess failed; the message is the short reason to report."""


# -- peers ----------------------------------------------------------------------------

def peer_python(spec: ReaderSpec) -> Path:
    """The Python of a peer's venv."""
    return PEERS_DIR / spec.name / "bin" / "python"


def ensure_peer(spec: ReaderSpec) -> Path:
    """Create the peer's venv and install it on first use; return its Python.

    A marker file records what was installed, so changed requirements reinstall.
    Raises :class:`RunFailed` when the venv or the install fails.
    """
    venv = PEERS_DIR / spec.name
    marker = venv / ".bench-requirements"
    wanted = "\n".join(spec.requirements)
    if marker.exists() and marker.read_text() == wanted and peer_python(spec).exists():
        return peer_python(spec)
    if venv.exists():
        shutil.rmtree(venv)
    python3 = shutil.which("python3") or sys.executable
    print(f"  setting up {venv.relative_to(REPO)} ({', '.join(spec.requirements)}) ...",
          flush=True)
    _check_call([python3, "-m", "venv", str(venv)], "venv creation failed", 300)
    _check_call([str(peer_python(spec)), "-m", "pip", "install", "--quiet",
                 *spec.requirements], "pip install failed", 1200)
    marker.write_text(wanted)
    return peer_python(spec)


def _check_call(cmd: Sequence[str], what: str, timeout: float) -> None:
    """Run a setup command; raise RunFailed with its last error line when it fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{what}: timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RunFailed(f"{what}: {last_line(proc.stderr or proc.stdout)}")


def last_line(text: str) -> str:
    """The last non-empty line of some output (shortened), for an n/a reason."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else "no output"
    return line if len(line) <= 160 else line[:157] + "..."


# -- running --------------------------------------------------------------------------

def run_once(python: Path | str, reader: str, path: Path, timeout: float) -> dict[str, Any]:
    """One measurement in a fresh subprocess; returns the runner's JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    # Not started directly: on Linux a process started by (v)fork + exec inherits its
    # parent's peak RSS in ru_maxrss (the kernel keeps the old mm's high-water mark across
    # exec), so every run would report at least this process's peak. A shell in between
    # forks the runner from a small process, whose ru_maxrss then starts from zero.
    command = ["/bin/sh", "-c", '"$@"; exit $?', "sh", str(python), str(RUNNERS), reader,
               str(path)]
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RunFailed(f"crashed: {last_line(proc.stderr)}")
    try:
        data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RunFailed(f"no result: {last_line(proc.stdout + proc.stderr)}") from None
    return data


def add_run(result: Result, python: Path | str, path: Path, args: argparse.Namespace
            ) -> bool:
    """Run once more and record it; False when this reader should not run again here
    (it failed, or it has spent ``args.time_cap`` seconds at this size already)."""
    try:
        data = run_once(python, result.reader, path, args.timeout)
    except RunFailed as exc:
        result.status = f"n/a ({exc})"
        return False
    result.times.append(data.pop("seconds"))
    result.claims = data.pop("claims")
    if result.claims != result.size:
        result.status = f"n/a (read {result.claims} claims of {result.size})"
        return False
    result.peak_rss_mb = max(result.peak_rss_mb or 0.0, data.pop("peak_rss_kb") / 1024)
    result.base_rss_mb = data.pop("base_rss_kb") / 1024
    result.extra = {k: v for k, v in data.items() if k not in ("reader", "file")}
    cap: float = args.time_cap
    return sum(result.times) <= cap


def skip_reason(spec: ReaderSpec, size: int, previous: Result | None,
                args: argparse.Namespace) -> str | None:
    """Why a (slow) peer is not run at this size, or None."""
    if spec.max_claims is not None and size > spec.max_claims and not args.all_sizes:
        return spec.skip_reason or f"skipped above {spec.max_claims:,} claims"
    if previous is not None and previous.ok:
        estimate = size / previous.claims_per_s
        if estimate > args.time_cap:
            return f"skipped: estimated {estimate:.0f} s per run > time cap {args.time_cap:.0f} s"
    return None


def measure_all(sizes: list[int], files: dict[int, Path], args: argparse.Namespace
                ) -> list[Result]:
    """Every reader at every size, one after the other (never in parallel)."""
    specs: list[ReaderSpec] = [OURS, OURS_DENIALS, MINIMAL]
    pythons: dict[str, Path | str] = {s.name: sys.executable for s in specs}
    setup_errors: dict[str, str] = {}
    if args.peers:
        for spec in PEERS:
            specs.append(spec)
            try:
                pythons[spec.name] = ensure_peer(spec)
            except RunFailed as exc:
                setup_errors[spec.name] = f"n/a ({exc})"
    results: list[Result] = []
    last: dict[str, Result] = {}
    for size in sizes:
        path = files[size]
        batch = []
        for spec in specs:
            reason = setup_errors.get(spec.name) or skip_reason(spec, size, last.get(spec.name),
                                                               args)
            result = Result(spec.name, spec.label, size, path.stat().st_size / MIB,
                            status=reason or "ok")
            if not reason:
                batch.append(result)
            results.append(result)
            last[spec.name] = result
        measure_size(batch, pythons, path, args)
    return results


def measure_size(batch: list[Result], pythons: dict[str, Path | str], path: Path,
                 args: argparse.Namespace) -> None:
    """Round-robin: each round runs every reader once, so that a slow spell of the machine
    hits all readers alike instead of all the repeats of one of them."""
    active = list(batch)
    for round_number in range(1, args.repeat + 1):
        print(f"  {batch[0].size:>7,} claims, round {round_number}/{args.repeat}:", end="",
              flush=True)
        for result in list(active):
            print(f" {result.reader}", end="", flush=True)
            if not add_run(result, pythons[result.reader], path, args):
                active.remove(result)
        print(flush=True)
        if not active:
            break
    for result in batch:
        print(f"    {result.reader:<20} {describe(result)}", flush=True)


def describe(result: Result) -> str:
    """One progress line."""
    if not result.ok:
        return result.status
    return (f"{result.best:8.3f} s  {result.claims_per_s:>9,.0f} claims/s  "
            f"{result.peak_rss_mb:7.1f} MB peak")


# -- targets --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Check:
    """One target and how this run did against it."""

    name: str
    value: str
    passed: bool | None
    """None when it could not be judged (a reader missing at that size)."""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or n/a."""
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


def find(results: list[Result], reader: str, size: int) -> Result | None:
    """The result of a reader at a size, when it has numbers."""
    for result in results:
        if result.reader == reader and result.size == size and result.ok:
            return result
    return None


def speed_checks(results: list[Result], sizes: list[int]) -> list[Check]:
    """Ours vs edi-835-parser (>= 5x) and vs the minimal reader (>= 0.5x), per size."""
    checks = []
    for other, target, what in (("edi-835-parser", EDI_TARGET, "ours / edi-835-parser"),
                                ("minimal", FLOOR_TARGET, "ours / minimal reader")):
        for size in sizes:
            ours, peer = find(results, "ours", size), find(results, other, size)
            name = f"{what} at {size:,} claims ≥ {target:g}×"
            if ours is None or peer is None:
                checks.append(Check(name, "not measured", None))
                continue
            ratio = ours.claims_per_s / peer.claims_per_s
            checks.append(Check(name, f"{ratio:.2f}×", ratio >= target))
    return checks


def memory_checks(results: list[Result], sizes: list[int]) -> list[Check]:
    """Flat memory: peak RSS at the largest size (>10k) within 1.5× of the 10k peak."""
    large = max(sizes)
    if 10_000 not in sizes or large <= 10_000:
        return [Check("flat memory (needs 10k and a larger size)", "not measured", None)]
    checks = []
    for reader in ("ours", "ours+denials"):
        small, big = find(results, reader, 10_000), find(results, reader, large)
        name = f"{reader}: peak RSS at {large:,} ≤ {MEMORY_TARGET:g}× peak at 10,000"
        if small is None or big is None or not small.peak_rss_mb or not big.peak_rss_mb:
            checks.append(Check(name, "not measured", None))
            continue
        ratio = big.peak_rss_mb / small.peak_rss_mb
        checks.append(Check(name, f"{big.peak_rss_mb:.1f} / {small.peak_rss_mb:.1f} MB = "
                            f"{ratio:.2f}×", ratio <= MEMORY_TARGET))
    return checks


def warning_checks(results: list[Result]) -> list[Check]:
    """The synthetic files are valid: our reader reports no warning on any of them."""
    ours = [r for r in results if r.reader == "ours" and r.ok]
    counts = {r.size: int(r.extra.get("warnings", 0)) for r in ours}
    value = ", ".join(f"{size:,}: {n}" for size, n in counts.items()) or "not measured"
    return [Check("synthetic files read with zero warnings", value,
                  all(n == 0 for n in counts.values()) if counts else None)]


# -- reporting ------------------------------------------------------------------------

def result_row(result: Result, ours: Result | None, repeat: int) -> str:
    """One table row in Markdown."""
    if not result.ok:
        return f"| {result.size:,} | {result.label} | {result.status} | | | | | |"
    speedup = ""
    if ours is not None and result.reader not in ("ours",):
        speedup = f"{ours.claims_per_s / result.claims_per_s:.2f}×"
    runs = f" ({len(result.times)} of {repeat} runs)" if len(result.times) < repeat else ""
    return (f"| {result.size:,} | {result.label} | {result.best:.3f}{runs} | "
            f"{result.claims_per_s:,.0f} | {result.mb_per_s:.1f} | {result.peak_rss_mb:.1f} | "
            f"{result.base_rss_mb:.1f} | {speedup} |")


def results_table(results: list[Result], sizes: list[int], files: dict[int, Path],
                  repeat: int) -> str:
    """The Markdown table of all measurements."""
    head = ["| claims | reader | best time (s) | claims/s | MB/s | peak RSS (MB) | "
            "RSS after imports (MB) | (a) claims/s ÷ this |",
            "|---:|---|---:|---:|---:|---:|---:|---:|"]
    rows = []
    for size in sizes:
        ours = find(results, "ours", size)
        size_mb = files[size].stat().st_size / MIB
        rows.append(f"| **{size:,}** | *file: {size_mb:.1f} MB* | | | | | | |")
        rows += [result_row(r, ours, repeat) for r in results if r.size == size]
    return "\n".join(head + rows)


def checks_table(checks: list[Check]) -> str:
    """The Markdown table of targets."""
    lines = ["| target | measured | result |", "|---|---|---|"]
    lines += [f"| {c.name} | {c.value} | **{c.verdict}** |" for c in checks]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": str(len(os.sched_getaffinity(0))), "cpu": cpu,
            "python": platform.python_version(), "commit": code_version(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "platform": platform.platform()}


def code_version() -> str:
    """The commit measured, marked ``+dirty`` when agent/ has uncommitted changes."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "agent") else "")


def peer_versions(results: list[Result]) -> str:
    """The peers measured, with their pinned versions."""
    used = {r.reader for r in results}
    return ", ".join(" + ".join(p.requirements) for p in PEERS if p.name in used) or "none"


def section(results: list[Result], checks: list[Check], sizes: list[int],
            files: dict[int, Path], args: argparse.Namespace) -> str:
    """The "## X12 835 ingest" section of docs/benchmarks.md."""
    info: dict[str, str] = args.machine
    command = "python benchmarks/ingest_835.py " + " ".join(args.argv)
    return f"""{SECTION}

Measured {info['date']} at commit {info['commit']} on {info['cores']} cores
({info['cpu']}), Python {info['python']}:

    {command.strip()}

Files: synthetic, balanced 005010X221A1 835s from `benchmarks/synth835.py` (seed
{synth835.DEFAULT_SEED}, about 3 service lines per claim). Each run is its own subprocess.
Time: best of {args.repeat} runs (fewer where a row says so), taken round-robin across
the readers, reading only (interpreter start and imports are not counted). Peak RSS:
the run's `ru_maxrss`, which includes the interpreter and the imported libraries (shown
as "RSS after imports"). MB = 2^20 bytes. Load average (1 min): {args.load};
other processes on the machine slow every reader, and the round-robin spreads that
across them.
Peers, each in its own venv: {peer_versions(results)}.

{results_table(results, sizes, files, args.repeat)}

Targets (a report, not a test: a FAIL does not fail the run):

{checks_table(checks)}

Notes:

- (a) iterates `Remittance835Reader.open(path)` and counts the typed `ClaimPayment`s
  (Decimal amounts, dates, balancing checks) without keeping them; (b) adds
  `denials_from_claims` (pydantic `Denial` records); (c) is `benchmarks/minimal_reader.py`:
  `str.split` on `~` and `*` into plain dicts, no validation: the practical floor for
  Python.
- edi-835-parser reads the whole file and builds every claim before returning; pyx12's
  `X12ContextReader.iter_segments("2100")` walks the implementation-guide map segment
  by segment; linuxforhealth-x12's `X12ModelReader.models()` yields one pydantic model per
  transaction set (here the whole file).
- linuxforhealth-x12 0.57.0 rejects a valid 835 whose payer loop (1000A) has PER
  segments (PER*BL is required): its parser does not start a `per_segment` list there.
  The runner adds that list (a one-line patch, `benchmarks/runners.py`) so it can be
  measured at all. It also models PLB as a single segment, although PLB repeats (six
  adjustments per segment): from 10k claims on, these files carry several PLB segments,
  it drops all but one and its own SE01 check then rejects the file (the `n/a` above).
- A peer that cannot be installed or crashes shows `n/a (reason)`; a slow peer is
  skipped at large sizes (`--time-cap`, per-peer size caps; `--all-sizes` lifts the caps).
"""


def intro() -> str:
    """The top of a new docs/benchmarks.md."""
    info = machine()
    return f"""# Benchmarks

Performance of the denial appeal agent, measured on the project's development machine:
{info['cores']} cores (`nproc`), {info['cpu']}, Python {info['python']}, {info['platform']};
first written {info['date'][:10]}. Each section states when and how it was measured.
Compare rows of the same run; numbers from other machines are not comparable.

How to run: `make bench` runs the three benchmarks below in turn
(`benchmarks/ingest_835.py`, `benchmarks/workflow_e2e.py`, `benchmarks/llm_drafting.py`;
each has `--help`). Generated files and the peers' virtual environments live in
`benchmarks/.data/` and `benchmarks/.peers/` (both gitignored) and are created on first
use; peers are installed with pip from the configured package index.
"""


def write_json(results: list[Result], checks: list[Check], args: argparse.Namespace) -> None:
    """Raw numbers for later comparison."""
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": args.machine, "argv": args.argv, "repeat": args.repeat,
               "results": [asdict(r) | ({"best_s": r.best, "claims_per_s": r.claims_per_s,
                                         "mb_per_s": r.mb_per_s} if r.ok else {})
                           for r in results],
               "checks": [asdict(c) | {"verdict": c.verdict} for c in checks]}
    RESULTS_JSON.write_text(json.dumps(payload, indent=2) + "\n")


# -- command line ---------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    """Options; ``argv`` is kept to show the command in the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="claims per file, comma separated (default: %(default)s)")
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="measure only this project's readers and the minimal reader")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the "
                        "best time is reported (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md",
                        help="Markdown report to update (default: docs/benchmarks.md)")
    parser.add_argument("--time-cap", type=float, default=300.0, help="seconds: skip a "
                        "reader at a size when one run is estimated to take longer, and "
                        "stop repeating once this much was spent (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before one run is abandoned (default: %(default)s)")
    parser.add_argument("--all-sizes", action="store_true",
                        help="run every peer at every size (lifts per-peer size caps)")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    """Generate the files, measure, print the table, write the report and the JSON."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = sorted(set(synth835.iter_sizes(args.sizes)))
    started = time.perf_counter()
    print("Synthetic 835 files:")
    files = {size: synth835.ensure_file(size) for size in sizes}
    for size, path in files.items():
        print(f"  {size:>7,} claims  {path.relative_to(REPO)}  {path.stat().st_size / MIB:.1f} MB")
    print("Measuring (one subprocess per run):")
    args.machine = machine()  # before measuring: the commit measured, the start time
    load_start = os.getloadavg()[0]
    results = measure_all(sizes, files, args)
    args.load = f"{load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    checks = warning_checks(results) + speed_checks(results, sizes) + \
        memory_checks(results, sizes)
    body = section(results, checks, sizes, files, args)
    print()
    print(body)
    replace_section(args.out, SECTION, body, intro)
    write_json(results, checks, args)
    print(f"Wrote {args.out} and {RESULTS_JSON.relative_to(REPO)} "
          f"in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
