"""1x against 10x: the 835 reader and `appeals ingest` grow linearly, in flat memory.

    python benchmarks/ingest_scale.py [--large 11000] [--lines 20000] [--no-before]
                                      [--out docs/benchmarks.md]

Two files, each at 1x and 10x: (1) a large synthetic 835 from benchmarks/synth835.py
(``--large`` claims: about 5 MB, and 50 MB at 10x); (2) one claim with ``--lines``
service lines, none balanced (the shape of issue #13's 540 KB file). Each measurement is
its own process (time of the run after imports, peak RSS from ``wait4``):

- ``reader``: iterate ``Remittance835Reader`` (typed claims, balance checks);
- ``ingest --json``: the ``appeals ingest --json FILE`` command (in the worker process,
  output to /dev/null); it streams;
- ``before: ingest()+dump``: what ``appeals ingest --json`` did before it streamed (the
  whole report built by ``agent.ingest.ingest`` and dumped at once);
- ``before: reader``: the reader of commit BEFORE_COMMIT (with the quadratic balance
  check), on the one-claim file at a tenth of ``--lines`` (it needs minutes at full size).

Writes the "## 835 reading and ingest at 1x and 10x" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import synth835
from report import replace_section

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SECTION = "## 835 reading and ingest at 1x and 10x"
BEFORE_COMMIT = "1f222d5"
"""The last commit before issue #13's reader and ingest changes."""
MIB = 1 << 20
HEADER = ("ISA*00*          *00*          *ZZ*SYNPAYER       *ZZ*SYNPROVIDER    *240614*1200*^"
          "*00501*000000001*0*P*:~GS*HP*SYNPAYER*SYNPROVIDER*20240614*1200*1*X*005010X221A1~")


def one_claim_file(lines: int) -> Path:
    """One denied claim with ``lines`` unbalanced service lines (a warning each)."""
    path = synth835.DATA_DIR / f"one-claim-{lines}.835"
    if path.exists():
        return path
    body = ["ST*835*0001", "BPR*I*0*C*ACH", "TRN*1*EFT1*1512345678", "N1*PR*SYNTHETIC PLAN",
            "N1*PE*SYNTHETIC GROUP*XX*1234567893",
            f"CLP*PCN1*4*{10 * lines}.00*0*0*12*ICN1*11*1",
            "NM1*QC*1*SYNTHETIC*PATIENT****MI*M1"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii") as out:
        out.write(HEADER + "~".join(body) + "~")
        for _ in range(lines):
            out.write("SVC*HC:99213*10.00*0~")
        out.write(f"SE*{len(body) + lines + 1}*0001~GE*1*1~IEA*1*000000001~")
    return path


# -- workers (each run in its own process) ----------------------------------------------

def work_reader(path: str, before: bool) -> int:
    if before:
        source = subprocess.run(["git", "show", f"{BEFORE_COMMIT}:agent/x12/reader.py"],
                                cwd=REPO, capture_output=True, text=True, check=True).stdout
        module_path = Path(tempfile.mkdtemp()) / "reader_before.py"
        module_path.write_text(source)
        spec = importlib.util.spec_from_file_location("reader_before", module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["reader_before"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        reader_class = module.Remittance835Reader
    else:
        from agent.x12.reader import Remittance835Reader as reader_class
    return sum(1 for _ in reader_class.open(path))


def work_ingest_json(path: str) -> int:
    """`appeals ingest --json FILE`, in this process, its output to /dev/null."""
    import typer

    from agent.cli import app
    real_stdout = sys.stdout
    with open(os.devnull, "w") as sys.stdout:
        try:
            app(["ingest", "--json", path], standalone_mode=False)
        except typer.Exit:
            pass
        finally:
            sys.stdout = real_stdout
    return 0


def work_ingest_before(path: str) -> int:
    from agent.ingest import ingest
    report = ingest([path])
    with open(os.devnull, "w") as out:
        out.write(report.model_dump_json(indent=2) + "\n")
    return len(report.denials)


# -- measuring -------------------------------------------------------------------------

@dataclass(slots=True)
class Row:
    """One measurement."""

    file: str
    scale: str
    size_mb: float
    what: str
    seconds: float
    peak_mb: float
    status: int


def measure(what: str, path: Path) -> tuple[float, float, int]:
    """Seconds of the run (imports not counted), peak RSS (MB) and exit status of one
    worker process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", what, str(path)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    seconds = json.loads(output.splitlines()[-1])["seconds"] if code == 0 else float("nan")
    return seconds, usage.ru_maxrss * 1024 / MIB, code


WORKERS = {
    "reader": lambda path: work_reader(path, before=False),
    "before: reader": lambda path: work_reader(path, before=True),
    "ingest --json": work_ingest_json,
    "before: ingest()+dump": work_ingest_before,
}


def run_worker(what: str, path: str) -> None:
    """Import what the run needs, then time the run alone; print the seconds as JSON."""
    sys.path.insert(0, str(REPO))
    import agent.cli  # noqa: F401 - imports are not what is measured
    start = time.perf_counter()
    WORKERS[what](path)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def section(rows: list[Row], args: argparse.Namespace) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [SECTION, "",
             f"Measured {when} on {os.cpu_count()} cores, Python {platform.python_version()}:",
             "", f"    python benchmarks/ingest_scale.py --large {args.large} "
             f"--lines {args.lines}", "",
             "Each row is one process: time of the run alone (interpreter start and imports not "
             "counted), peak RSS from `wait4` (MB = 2^20 bytes). The 10x/1x columns divide "
             "a 10x row by its 1x row: about 10 for time and about 1 for memory when reading "
             "is linear in time and flat in memory. `before` rows are the code of commit "
             f"{BEFORE_COMMIT} (before issue #13).", "",
             "| file | scale | size (MB) | run | time (s) | peak RSS (MB) | time 10x/1x | "
             "RSS 10x/1x |", "|---|---|---:|---|---:|---:|---:|---:|"]
    first: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row.file, row.what)
        base = first.setdefault(key, row)
        ratio_t = f"{row.seconds / base.seconds:.1f}×" if base is not row else ""
        ratio_m = f"{row.peak_mb / base.peak_mb:.2f}×" if base is not row else ""
        failed = f" (exit {row.status})" if row.status not in (0, 1) else ""
        lines.append(f"| {row.file} | {row.scale} | {row.size_mb:.1f} | {row.what}{failed} | "
                     f"{row.seconds:.2f} | {row.peak_mb:.0f} | {ratio_t} | {ratio_m} |")
    lines += ["", "Notes:", "",
              "- Peak RSS includes about 107 MB of interpreter and imports (each worker "
              "imports `agent.cli`).",
              "- `ingest --json` streams: an 835's denials are passed on once the file has "
              "read to its end without a structural error, held in memory up to 1,000 and "
              "past that by reading the file twice (checked, then streamed); it still keeps "
              "one id per distinct denial to drop duplicates.",
              "- The reader yields a claim once it is complete, so one claim's lines are in "
              "memory together: the 10x one-claim file (200,000 lines in one claim) is the "
              "one row whose memory grows.",
              "- Linearity is tested without clocks in tests/test_x12_linear.py and "
              "tests/test_ingest_stream.py (function calls counted at 1x and 10x, traced "
              "memory of the stream at 1x and 10x).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=11_000, help="claims in the 1x file")
    parser.add_argument("--lines", type=int, default=20_000,
                        help="lines of the 1x one-claim file")
    parser.add_argument("--no-before", action="store_true", help="skip the `before` rows")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(*args.worker)
        return
    before = not args.no_before
    plan: list[tuple[str, str, Path, list[str]]] = []
    for scale, claims in (("1x", args.large), ("10x", 10 * args.large)):
        whats = ["reader", "ingest --json"] + (["before: ingest()+dump"] if before else [])
        plan.append(("synthetic 835", scale, synth835.ensure_file(claims), whats))
    for scale, lines in (("1x", args.lines), ("10x", 10 * args.lines)):
        plan.append(("one claim, unbalanced lines", scale, one_claim_file(lines), ["reader"]))
    if before:
        for scale, lines in (("1x", args.lines // 10), ("10x", args.lines)):
            plan.append(("one claim (before: 1/10 size)", scale, one_claim_file(lines),
                         ["before: reader"]))
    rows = []
    for name, scale, path, whats in plan:
        for what in whats:
            seconds, peak, status = measure(what, path)
            row = Row(name, scale, path.stat().st_size / 1e6, what, seconds, peak, status)
            print(f"{name:32} {scale:4} {row.size_mb:7.1f} MB  {what:24} {seconds:8.2f} s "
                  f"{peak:8.0f} MB  exit {status}", flush=True)
            rows.append(row)
    rows.sort(key=lambda r: (r.file, r.what, r.scale != "1x"))
    write_report(rows, args)


def write_report(rows: list[Row], args: argparse.Namespace) -> None:
    """Print the section and write it, with the raw rows as JSON."""
    text = section(rows, args)
    print(text)
    replace_section(args.out, SECTION, text)
    (synth835.DATA_DIR / "results-ingest-scale.json").write_text(
        json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
