"""``appeals export worklist``: every stored denial as one row, in a CSV file or an .xlsx sheet.

The columns (:data:`HEADER`) are a contract that outside tools read: the first fourteen
are fixed in name and order, and any added later come after them. Values:

- ``payer`` is the payer's name (its id when the input gave no name);
- ``procedure`` is the code as billed with its modifiers, e.g. ``99213-25``;
- ``reasons`` are the adjustments as GROUP-CARC (line, then claim level), then the remark
  codes, each once, joined with ``;``;
- ``outcome`` is ``open``, ``overturned``, ``partial`` or ``upheld`` (docs/outcomes.md);
  ``recovered_amount`` is empty while it is open.

CSV: UTF-8, comma-separated, one header row, lists joined with ``;``, amounts as plain
decimals (``1275.00``), dates as ISO (``2026-10-01``), empty cells for none; a text cell
a spreadsheet would run as a formula is prefixed with ``'``. XLSX: one sheet
with the same header; amounts are numbers, everything else is text as in the CSV (a cell is
never read as a formula). The file is written beside its destination and moved into place,
readable by its owner only (it names claims).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, Literal

from agent.letters.files import atomic_file
from agent.store.protocols import Store
from agent.store.records import DenialRecord, LetterRecord, OutcomeRecord

ExportFormat = Literal["csv", "xlsx"]

HEADER = ("denial_id", "claim_id", "payer", "procedure", "reasons", "action", "reason",
          "missing_evidence", "appeal_deadline", "denied_amount", "letter_id",
          "letter_status", "outcome", "recovered_amount",
          "payer_claim_number", "service_date", "outcome_date", "letter_sent_on",
          "letter_sent_via")
"""The columns, in order. The first fourteen are the contract; the rest were added after."""

AMOUNTS = frozenset({"denied_amount", "recovered_amount"})
"""The columns that hold dollars (numbers in a workbook)."""

Cell = str | Decimal | None
"""A value: text, an amount, or nothing."""

PAGE = 500
"""Denials read from the store at a time."""


def worklist_rows(store: Store) -> Iterator[tuple[Cell, ...]]:
    """One row per stored denial, in :data:`HEADER` order: soonest deadline first."""
    ids = store.list_denial_ids()
    letters: dict[str, LetterRecord | None] = {}
    for start in range(0, len(ids), PAGE):
        chunk = ids[start:start + PAGE]
        outcomes = store.current_outcomes(chunk)
        for record in store.get_denials(chunk):
            letter_id = record.letter_id
            if letter_id and letter_id not in letters:
                letters[letter_id] = store.get_letter(letter_id)
            letter = letters.get(letter_id) if letter_id else None
            yield row(record, letter, outcomes.get(record.denial.denial_id))


def row(record: DenialRecord, letter: LetterRecord | None,
        outcome: OutcomeRecord | None) -> tuple[Cell, ...]:
    """A denial's row, in :data:`HEADER` order."""
    denial, triage = record.denial, record.triage
    procedure = denial.procedure
    billed = "-".join((procedure.submitted_code, *procedure.submitted_modifiers)) \
        if procedure is not None else None
    reasons = list(dict.fromkeys((*denial.reason_labels, *denial.remarks)))
    later = outcome.outcome if outcome is not None else None
    return (
        denial.denial_id, denial.claim_id, denial.payer.name or denial.payer.id, billed,
        ";".join(reasons) or None, triage.action if triage else None,
        (triage.reason if triage else None) or record.error,
        ";".join(record.missing_evidence) or None,
        _day(triage.appeal_deadline if triage else None), denial.denied_amount,
        record.letter_id, letter.status if letter is not None else None,
        later.outcome if later is not None else "open",
        later.recovered_amount if later is not None else None,
        denial.payer_claim_number, _day(denial.service_date),
        _day(later.decided_on if later is not None else None),
        _day(letter.sent_on if letter is not None else None),
        letter.sent_via if letter is not None else None)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula when it opens a CSV."""


def csv_cell(value: Cell) -> str:
    """A CSV cell: amounts as plain decimals with cents, nothing as empty.

    A text cell that a spreadsheet would run as a formula (a payer or claim id from an
    835 starting with ``=``, ``+``, ``-``, ``@``) gets a leading ``'``, which spreadsheets
    show as text; amounts are never touched (``-25.00`` stays a number).
    """
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_worklist(store: Store, path: Path, format: ExportFormat) -> int:
    """Write every stored denial to ``path`` as ``format``; returns how many rows.

    Raises:
        OSError: the file cannot be written (a missing folder is not created).
    """
    with atomic_file(path, make_dirs=False) as out:  # 0600: the rows name claims
        return _write_csv(store, out) if format == "csv" else _write_xlsx(store, out)


def _write_csv(store: Store, out: BinaryIO) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for values in worklist_rows(store):
        writer.writerow([csv_cell(v) for v in values])
        count += 1
    text.flush()
    text.detach()  # the caller closes the file
    return count


def _write_xlsx(store: Store, out: BinaryIO) -> int:
    import openpyxl  # type: ignore[import-untyped]  # only for .xlsx: not on every command
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("worklist")
    sheet.append(list(HEADER))
    count = 0
    for values in worklist_rows(store):
        cells: list[object] = []
        for column, value in zip(HEADER, values, strict=True):
            if value is None:
                cells.append(None)
                continue
            cell = WriteOnlyCell(sheet, value=value)
            if column in AMOUNTS:
                cell.number_format = "0.00"
            else:
                cell.data_type = "s"  # a payer's "=..." stays text, never a formula
            cells.append(cell)
        sheet.append(cells)
        count += 1
    book.save(out)
    return count
