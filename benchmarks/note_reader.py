"""The note reader over every real note of the MTSamples corpus, as written and
hard-wrapped: exceptions (target 0) and time per note (p50, p99, max).

Each note is read from scratch (the reader's cache is cleared per note) and the assertion
context of every sentence's cues is computed, as the extractors do. Prints a table, writes
the "## Note reader on real notes" section of docs/benchmarks.md.

    python benchmarks/note_reader.py [--corpus ../shared/data/external] [--wrap 72]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from report import replace_section

from agent.notes.reader import _SENTENCE_CUES, read_note, sentence_cues
from evals.corpus import CORPORA, corpora_dir, wrap

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Note reader on real notes"


def measure(texts: list[str]) -> tuple[list[float], list[str]]:
    """Seconds per note, and the failures (note index: exception)."""
    seconds, failures = [], []
    for index, text in enumerate(texts):
        read_note.cache_clear()
        _SENTENCE_CUES.clear()
        started = time.perf_counter()
        try:
            note = read_note(text)
            for sentence in note.sentences:
                sentence_cues(sentence.text)
        except Exception as exc:  # the benchmark counts them; 0 is the target
            failures.append(f"note {index}: {type(exc).__name__}: {exc}")
            continue
        seconds.append(time.perf_counter() - started)
    return seconds, failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help="the folder holding the corpora (default ../shared/data/external)")
    parser.add_argument("--wrap", type=int, default=72, help="width of the wrapped pass")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    corpus = CORPORA["mtsamples"]
    folder = corpus.folder(args.corpus or corpora_dir())
    paths = sorted((folder / "notes").glob("*.txt"))
    if not paths:
        print(f"no MTSamples notes under {folder}: nothing to measure", file=sys.stderr)
        return 2
    texts = [p.read_text(encoding="utf-8") for p in paths]
    rows = []
    failed = 0
    for label, batch in (("as written", texts),
                         (f"hard-wrapped at {args.wrap}", [wrap(t, args.wrap) for t in texts])):
        seconds, failures = measure(batch)
        failed += len(failures)
        for failure in failures[:5]:
            print(failure, file=sys.stderr)
        rows.append((label, len(batch), len(failures), statistics.median(seconds) * 1000,
                     percentile(seconds, 0.99) * 1000, max(seconds) * 1000,
                     sum(len(t) for t in batch) / len(batch)))
    table = ["| notes | count | exceptions | p50 | p99 | max | mean size |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    table += [f"| {label} | {count} | {errors} | {p50:.2f} ms | {p99:.2f} ms | {top:.2f} ms | "
              f"{size:,.0f} chars |" for label, count, errors, p50, p99, top, size in rows]
    body = "\n".join([
        SECTION, "",
        f"`python benchmarks/note_reader.py` on {platform.machine()} (CPython "
        f"{platform.python_version()}), {date.today().isoformat()}. Every MTSamples note of "
        "the shared corpus, read from scratch (sections, wrapped lines, sentences) with the "
        "ConText cues of every sentence, as written and hard-wrapped. Target: 0 exceptions "
        "(the time is reported; medspaCy itself took about 60 ms a note here).", "",
        *table, ""])
    print(body)
    replace_section(args.out, SECTION, body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
