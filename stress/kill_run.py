"""Kill `appeals run` with SIGKILL at random moments, re-run it, and check nothing is lost.

    python stress/kill_run.py [--kills 20] [--seed N] [--keep DIR]

Runs `make demo`'s command (the fixtures, FHIR directory, a fresh --db and --out in a
temporary directory): once cleanly to learn the expected denials and how long a run
takes, then again and again killed with SIGKILL after a random delay within that time,
and once more to completion. Checks that the final manifest.json lists every expected
denial exactly once, and that `appeals audit verify` holds (skipped when this build has no
such command). Exit 0 when every check passes, 1 otherwise. Not part of `make test`:
`make stress` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APPEALS = Path(sys.executable).with_name("appeals")


def run_command(out: Path, db: Path) -> list[str]:
    """`make demo`'s command, writing to ``out`` and ``db``."""
    inputs = sorted(str(p) for p in (REPO / "fixtures" / "835").glob("*.835"))
    inputs += sorted(str(p) for pattern in ("*.csv", "*.json")
                     for p in (REPO / "fixtures" / "queue").glob(pattern))
    return [str(APPEALS), "run", *inputs, "--ehr", f"fhir-dir:{REPO / 'fixtures' / 'fhir'}",
            "--out", str(out), "--db", str(db), "--as-of", "2026-09-20",
            "--config", str(REPO / "fixtures" / "practice.toml")]


def manifest_ids(out: Path) -> list[str]:
    """The denial ids of the run's manifest.json, in order (duplicates kept)."""
    manifest = json.loads((out / "manifest.json").read_text())
    return [d["denial_id"] for d in manifest["denials"]]


def run_to_end(cmd: list[str], cwd: Path) -> tuple[int, float]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr[-2000:])
    return proc.returncode, time.monotonic() - start


def run_and_kill(cmd: list[str], cwd: Path, delay: float) -> bool:
    """Start the run, SIGKILL it after ``delay`` seconds; False when it ended first."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)  # the process this script started, by its id
        proc.wait()
        return True


def has_audit_verify() -> bool:
    proc = subprocess.run([str(APPEALS), "audit", "verify", "--help"], capture_output=True,
                          text=True, check=False)
    return proc.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = args.keep or Path(tempfile.mkdtemp(prefix="appeals-stress-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"kill -9 loop: {args.kills} kills, seed {seed}, in {work}")
    failures: list[str] = []
    try:
        clean_out, clean_db = work / "clean-out", work / "clean.db"
        status, duration = run_to_end(run_command(clean_out, clean_db), work)
        if status not in (0, 1) or not (clean_out / "manifest.json").exists():
            print(f"FAIL: the clean run exited {status} without a manifest")
            return 1
        expected = manifest_ids(clean_out)
        print(f"clean run: {len(expected)} denials in {duration:.1f} s (exit {status})")
        out, db = work / "out", work / "stress.db"
        cmd = run_command(out, db)
        killed = 0
        for i in range(args.kills):
            delay = rng.uniform(0.05, duration * 1.1)
            was_killed = run_and_kill(cmd, work, delay)
            killed += was_killed
            print(f"  run {i + 1}: {'killed after' if was_killed else 'ended within'} "
                  f"{delay:.2f} s", flush=True)
        status, _ = run_to_end(cmd, work)
        print(f"{killed} of {args.kills} runs killed; final run exit {status}")
        if status not in (0, 1):
            failures.append(f"the final run exited {status}")
        if not (out / "manifest.json").exists():
            failures.append("no manifest.json after the final run")
        else:
            ids = manifest_ids(out)
            repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
            missing = sorted(set(expected) - set(ids))
            extra = sorted(set(ids) - set(expected))
            for what, found in (("listed more than once", repeated), ("missing", missing),
                                ("not in the clean run", extra)):
                if found:
                    failures.append(f"{len(found)} denial(s) {what}: {', '.join(found[:5])}")
        if has_audit_verify():
            proc = subprocess.run([str(APPEALS), "audit", "verify", "--db", str(db)],
                                  capture_output=True, text=True, check=False, cwd=work)
            if proc.returncode != 0:
                failures.append(f"audit verify exited {proc.returncode}: "
                                f"{(proc.stdout + proc.stderr).strip()[:300]}")
            else:
                print("audit verify: the chain holds")
        else:
            print("audit verify: skipped (no `appeals audit verify` in this build)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("PASS: every denial once in the manifest")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
