"""``docs-dir:PATH``: the chart from a folder of exported notes and an ``index.csv``.

For practices without an EHR API: the notes as the EHR exports them (plain text, HTML,
PDF with a text layer, RTF, C-CDA XML; read by :mod:`agent.ehr.formats`) and an index that
says whose they are. ``index.csv`` (UTF-8, a header row) has the columns:

``file``
    the note's path, relative to the folder (no ``..``, not absolute); its suffix gives
    its type (``.txt``, ``.md``, ``.html``/``.htm``, ``.xhtml``, ``.pdf``, ``.rtf``,
    ``.xml``).
``member_id``
    the patient's member id, as the denial carries it.
``service_date``
    the date of the visit the note documents (ISO, ``2026-08-06``).
``claim_id`` (optional)
    the claim the note belongs to (the 835's CLP01 / the worklist's claim id).

Linking, as the FHIR adapter does it: for a denial, the rows of its first member id that
has any; a row whose ``claim_id`` is the denial's claim is its note (``linked_by
"encounter"``, whatever its date), and any other row dated within ± ``window_days`` of the
service date, bounds included (``"date_window"``). The document id is ``docs-dir/`` and
the file's path; its date the row's service date; its title the file name. The folder has
no patient record, so letters take the patient from the denial.

Rows that cannot be used (a missing column value, a bad date, a file that is not there or
outside the folder) are reported once (``source_warnings``), by row number and never by
content; a note that cannot be read (a scanned PDF) is a problem of the denial's chart.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

from agent.ehr.formats import SUFFIXES, Extracted, extract_text
from agent.ehr.model import ChartBundle, ChartRequest, SourceDocument
from agent.ehr.protocols import EHRSourceError

INDEX = "index.csv"
COLUMNS = ("file", "member_id", "service_date")
"""The columns every index must have (``claim_id`` is optional)."""
ID_PREFIX = "docs-dir/"


@dataclass(frozen=True, slots=True)
class _Row:
    file: str
    member_id: str
    service_date: date
    claim_id: str | None


class DocsDirAdapter:
    """Notes from a folder of exports, found through its ``index.csv``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Read the index once; the notes are read when a chart needs them."""
        self.root = Path(path)
        if not self.root.is_dir():
            raise EHRSourceError(f"docs-dir: no folder at {self.root}")
        index = self.root / INDEX
        if not index.is_file():
            raise EHRSourceError(f"docs-dir: no {INDEX} in {self.root} (columns: "
                                 f"{', '.join(COLUMNS)}, claim_id)")
        self._warnings: list[str] = []
        self._rows: dict[str, list[_Row]] = {}
        self._texts: dict[str, Extracted] = {}
        self._read_index(index)
        if not self._rows:
            self._warnings.append(f"docs-dir: {INDEX} lists no usable note")

    def __repr__(self) -> str:
        """The adapter and its folder (no patient data)."""
        return f"DocsDirAdapter({str(self.root)!r})"

    def source_warnings(self) -> tuple[str, ...]:
        """Rows of the index that could not be used, one line each."""
        return tuple(self._warnings)

    def chart_for(self, request: ChartRequest) -> ChartBundle:
        """The notes of the denial's patient for its claim or dated near its service."""
        rows = next((self._rows[m] for m in request.member_ids if m in self._rows), None)
        if rows is None:
            return ChartBundle(problems=("no note in the index matches the member id",))
        documents: list[SourceDocument] = []
        problems: list[str] = []
        for row in rows:
            if row.claim_id is not None and row.claim_id == request.claim_id:
                linked_by = "encounter"
            elif request.service_date is not None and \
                    abs((row.service_date - request.service_date).days) <= request.window_days:
                linked_by = "date_window"
            else:
                continue
            read = self._read(row.file)
            if read.text is None:
                problems.append(f"{ID_PREFIX}{row.file}: {read.problem}")
                continue
            documents.append(SourceDocument(
                document_id=ID_PREFIX + row.file, patient_id="", title=PurePosixPath(
                    row.file).name, date=row.service_date, content_type=read.media_type,
                text=read.text, original_hash=read.original_hash, linked_by=linked_by))
        documents.sort(key=lambda d: (d.date or date.min, d.document_id))
        if not documents and not problems:
            problems.append("no note in the index is for this claim or near its date")
        return ChartBundle(documents=tuple(documents), problems=tuple(problems))

    def _read(self, file: str) -> Extracted:
        if file not in self._texts:
            path = self.root / file
            self._texts[file] = extract_text(path.read_bytes(),
                                             SUFFIXES.get(path.suffix.lower()))
        return self._texts[file]

    def _read_index(self, index: Path) -> None:
        with index.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = {name.strip() for name in reader.fieldnames or ()}
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise EHRSourceError(f"docs-dir: {INDEX} has no column "
                                     f"{', '.join(missing)} (columns: {', '.join(COLUMNS)}, "
                                     "claim_id)")
            for number, raw in enumerate(reader, start=2):
                values = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                row, problem = self._row(values)
                if row is None:
                    self._warnings.append(f"docs-dir: {INDEX} row {number}: {problem}; "
                                          "skipped")
                    continue
                self._rows.setdefault(row.member_id, []).append(row)

    def _row(self, values: dict[str, str]) -> tuple[_Row | None, str]:
        file = values.get("file", "").replace("\\", "/")
        if not file or not values.get("member_id") or not values.get("service_date"):
            return None, "file, member_id and service_date are required"
        parts = PurePosixPath(file).parts
        if file.startswith("/") or ".." in parts:
            return None, "the file must be a path inside the folder"
        if PurePosixPath(file).suffix.lower() not in SUFFIXES:
            return None, (f"the file's type is not read (suffixes: "
                          f"{', '.join(sorted(SUFFIXES))})")
        if not (self.root / file).is_file():
            return None, "the file is not in the folder"
        try:
            service_date = date.fromisoformat(values["service_date"])
        except ValueError:
            return None, "service_date is not an ISO date (YYYY-MM-DD)"
        return _Row(file, values["member_id"], service_date,
                    values.get("claim_id") or None), ""
