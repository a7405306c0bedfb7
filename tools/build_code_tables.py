"""Regenerate agent/data/carc_rarc.csv from the CMS/X12 code list in ../shared.

The shipped table is the code, its kind, the X12 description, the usage note and the
start and end dates; see agent/data/SOURCES.md for where the source came from. Run:

    python tools/build_code_tables.py \
        ../shared/data/external/cms-northstar/carc_rarc_adj_codes_pin-2024-06-18.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "agent" / "data" / "carc_rarc.csv"


def main(source: str) -> None:
    with open(source, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code", "kind", "description", "usage", "start_date", "end_date"])
        for row in rows:
            kind = {"Group": "group", "CARC": "carc", "RARC": "rarc"}[row["adj_type"]]
            writer.writerow([row["adj_code"].strip(), kind,
                             " ".join(row["adj_description"].split()),
                             " ".join(row["adj_usage"].split()), row["adj_start_date"],
                             row["adj_end_date"]])
    print(f"wrote {len(rows)} codes to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
