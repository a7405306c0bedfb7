"""The practical floor for reading an 835 in pure Python: split and walk, nothing else.

Reads the whole text, splits it on ``~`` and ``*`` and builds one plain dict per claim
with a list of line dicts and their CAS lists. No validation, no envelope or delimiter
detection (``~``, ``*`` and ``:`` are assumed), no Decimal or date parsing, no balancing:
it is what any reader has to do at least, so it bounds what a real reader can reach.

Standard library only: the benchmark also runs it outside the project's environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

Claim = dict[str, Any]


def iter_claims(path: str | Path) -> Iterator[Claim]:
    """Yield each CLP loop as ``{"id", "status", "charge", "paid", "cas", "lines", ...}``."""
    text = Path(path).read_text(encoding="utf-8")
    claim: Claim | None = None
    line: dict[str, Any] | None = None
    for raw in text.split("~"):
        el = raw.strip().split("*")
        sid = el[0]
        if sid == "CLP":
            if claim is not None:
                yield claim
            claim = {"id": el[1], "status": el[2], "charge": el[3], "paid": el[4],
                     "cas": [], "lines": [], "patient": None, "provider": None}
            line = None
        elif claim is None:
            continue
        elif sid == "SVC":
            line = {"procedure": el[1].split(":"), "charge": el[2], "paid": el[3], "cas": [],
                    "date": None, "control": None}
            claim["lines"].append(line)
        elif sid == "CAS":
            triplets = [(el[1], el[i], el[i + 1]) for i in range(2, len(el) - 1, 3)]
            (line["cas"] if line is not None else claim["cas"]).extend(triplets)
        elif sid == "DTM":
            if line is not None:
                line["date"] = el[2]
            else:
                claim[el[1]] = el[2]
        elif sid == "REF" and line is not None:
            line["control"] = el[2]
        elif sid == "NM1":
            claim["patient" if el[1] == "QC" else "provider"] = el[3:]
        elif sid in ("PLB", "SE"):
            yield claim
            claim = line = None
    if claim is not None:
        yield claim


def count_claims(path: str | Path) -> int:
    """Read the file and return how many claims it holds (claims are not kept)."""
    return sum(1 for _ in iter_claims(path))
