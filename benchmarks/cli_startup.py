"""How long `appeals` commands take to start: --help, --version, codes, ingest.

Each command runs as a fresh process (the interpreter start and every import included),
several times; the median wall time is reported against the target of 1 s for commands
that need no model or graph. Prints a table, writes the "## Command start-up" section of
docs/benchmarks.md.

    python benchmarks/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from report import replace_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Command start-up"
TARGET_SECONDS = 1.0
FIXTURE_835 = ROOT / "fixtures" / "835" / "blue-river-2026-09-02.835"

COMMANDS: tuple[tuple[str, list[str]], ...] = (
    ("appeals --help", ["--help"]),
    ("appeals --version", ["--version"]),
    ("appeals codes CO-50", ["codes", "CO-50"]),
    ("appeals ingest (one fixture 835)", ["ingest", str(FIXTURE_835)]),
    ("appeals review --help", ["review", "--help"]),
)


def seconds_to_run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    rows = []
    for label, command in COMMANDS:
        seconds_to_run(command)  # warm the file cache
        times = [seconds_to_run(command) for _ in range(args.runs)]
        rows.append((label, statistics.median(times), max(times)))
    slow = [label for label, median, _ in rows if median >= TARGET_SECONDS]
    table = ["| command | median | slowest | target |", "|---|--:|--:|--:|"]
    table += [f"| `{label}` | {median:.2f} s | {top:.2f} s | < {TARGET_SECONDS:.0f} s |"
              for label, median, top in rows]
    body = "\n".join([
        SECTION, "",
        f"`python benchmarks/cli_startup.py` on {platform.machine()} (CPython "
        f"{platform.python_version()}), {date.today().isoformat()}: each command as a new "
        f"process, {args.runs} runs after one warm-up, wall time. Commands that need no "
        "model or graph import LangGraph and the openai client only where they are used "
        "(tests/test_cli_conventions.py checks that `agent.cli` loads neither).", "",
        *table, ""])
    print(body)
    replace_section(args.out, SECTION, body)
    if slow:
        print(f"over the {TARGET_SECONDS:.0f} s target: {', '.join(slow)}", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
