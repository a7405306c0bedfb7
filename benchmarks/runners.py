"""One timed read of one 835 file by one reader, run in a fresh process.

``python benchmarks/runners.py READER FILE`` reads FILE once with READER and prints one
JSON object: claims read, seconds spent reading (imports excluded), the peak resident set
size of the process (``ru_maxrss``) and the RSS already reached after the imports. The
benchmark starts one such process per run, so every peak belongs to that run alone.

Peers run with their own virtual environment's Python, where the project is not
installed: this module imports only the standard library at the top, and each reader
imports its own library lazily.

``--profile`` prints a cProfile report (top functions by internal time) to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

Extra = dict[str, Any]
Reader = Callable[[str], tuple[int, Extra]]
"""Reads the file at the path; returns (claims read, extra facts to report)."""


def prepare_ours() -> Reader:
    """(a) The project's streaming reader into typed ClaimPayment records."""
    from agent.x12.reader import Remittance835Reader

    def read(path: str) -> tuple[int, Extra]:
        reader = Remittance835Reader.open(path)
        claims = sum(1 for _ in reader)
        stats = reader.stats
        return claims, {"warnings": len(reader.warnings), "service_lines": stats.service_lines,
                        "adjustments": stats.adjustments, "segments": stats.segments,
                        "warning_codes": sorted({w.code for w in reader.warnings})}

    return read


def prepare_ours_denials() -> Reader:
    """(b) The project's reader followed by denial extraction (Denial records)."""
    from agent.denials.from_835 import ClaimTally, denials_from_claims
    from agent.x12.reader import Remittance835Reader

    def read(path: str) -> tuple[int, Extra]:
        reader = Remittance835Reader.open(path)
        tally = ClaimTally()
        denials = sum(1 for _ in denials_from_claims(reader, tally=tally))
        return tally.claims, {"warnings": len(reader.warnings), "denials": denials,
                              "denied_dollars": str(tally.denied_dollars)}

    return read


def prepare_minimal() -> Reader:
    """(c) The split-and-walk floor (benchmarks/minimal_reader.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from minimal_reader import count_claims

    def read(path: str) -> tuple[int, Extra]:
        return count_claims(path), {}

    return read


def prepare_edi_835_parser() -> Reader:
    """edi-835-parser: ``edi_835_parser.parse(path)`` builds every claim loop in memory."""
    import edi_835_parser

    # It warns once per segment type it does not handle (claim-level CAS, PLB): noise.
    warnings.simplefilter("ignore")

    def read(path: str) -> tuple[int, Extra]:
        transaction_sets = edi_835_parser.parse(path)
        claims = [claim for ts in transaction_sets for claim in ts.claims]
        return len(claims), {"service_lines": sum(len(c.services) for c in claims)}

    return read


def prepare_pyx12() -> Reader:
    """pyx12: the context reader walks the 835 map and yields one tree per 2100 loop."""
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    def read(path: str) -> tuple[int, Extra]:
        param = pyx12.params.params()
        errh = pyx12.error_handler.errh_null()
        claims = lines = 0
        with pyx12.x12context.X12ContextReader(param, errh, path) as src:
            for node in src.iter_segments("2100"):
                if node.id == "2100":
                    claims += 1
                    lines += sum(1 for _ in node.select("2110"))
        return claims, {"service_lines": lines}

    return read


def _patch_linuxforhealth() -> None:
    """Work around a linuxforhealth-x12 0.57.0 bug so that it reads a valid 835 at all.

    Its parser starts loop 1000A (N1*PR) without a ``per_segment`` list, so the PER
    segments the guide requires there (PER*BL) are stored as a dict, later ones are
    dropped, and model validation then rejects the whole transaction ("per_segment: value
    is not a valid list" and an SE count mismatch). This adds the missing list, as its
    1000B and 2100 loops already do; it costs nothing measurable.
    """
    from linuxforhealth.x12.parsing import X12ParserContext, match
    from linuxforhealth.x12.v5010.x12_835_005010X221A1 import parsing as parsing_835

    def set_payer_identification_per_loop(context: X12ParserContext,
                                          segment_data: dict[str, Any]) -> None:
        context.loop_container["per_segment"] = []

    # Loop parsers run in name order: this one runs right after set_payer_identification_loop.
    on_payer = match("N1", conditions={"entity_identifier_code": "PR"})
    parsing_835.set_payer_identification_per_loop = on_payer(set_payer_identification_per_loop)


def prepare_linuxforhealth() -> Reader:
    """linuxforhealth-x12: X12ModelReader streams one pydantic model per transaction set."""
    from linuxforhealth.x12.io import X12ModelReader

    _patch_linuxforhealth()

    def read(path: str) -> tuple[int, Extra]:
        claims = lines = 0
        with X12ModelReader(path) as reader:
            for model in reader.models():
                for header in model.loop_2000:
                    claims += len(header.loop_2100)
                    lines += sum(len(c.loop_2110 or ()) for c in header.loop_2100)
        return claims, {"service_lines": lines, "patched": "1000A PER list"}

    return read


READERS: dict[str, Callable[[], Reader]] = {
    "ours": prepare_ours,
    "ours+denials": prepare_ours_denials,
    "minimal": prepare_minimal,
    "edi-835-parser": prepare_edi_835_parser,
    "pyx12": prepare_pyx12,
    "linuxforhealth-x12": prepare_linuxforhealth,
}


def peak_rss_kb() -> int:
    """Peak resident set size of this process so far, in KiB (Linux ``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def high_water_kb() -> int | None:
    """``VmHWM`` from /proc/self/status: the peak RSS of this process image alone (a
    cross-check of ``ru_maxrss``, which can carry over a parent's peak), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def run(name: str, path: str, profile: bool = False) -> dict[str, Any]:
    """Import the reader, then time one read of ``path`` and measure memory."""
    read = READERS[name]()
    base = peak_rss_kb()
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    claims, extra = read(path)
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    if profiler is not None:
        print_profile(profiler)
    return {"reader": name, "file": path, "claims": claims, "seconds": seconds,
            "peak_rss_kb": peak_rss_kb(), "base_rss_kb": base, "vmhwm_kb": high_water_kb(),
            "python": sys.version.split()[0],
            **extra}


def print_profile(profiler: cProfile.Profile, top: int = 15) -> None:
    """Top functions by internal time, to stderr."""
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue(), file=sys.stderr)


def main() -> None:
    """Command line: ``runners.py READER FILE [--profile]``; prints one JSON line."""
    parser = argparse.ArgumentParser(description="One timed read of an 835 file.")
    parser.add_argument("reader", choices=sorted(READERS))
    parser.add_argument("file")
    parser.add_argument("--profile", action="store_true", help="print a cProfile report")
    args = parser.parse_args()
    print(json.dumps(run(args.reader, args.file, args.profile)))


if __name__ == "__main__":
    main()
