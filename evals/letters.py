"""Reading a drafted letter back: its sections and tables, its numbered evidence with
their source lines, the other quotations it makes, and the elements an auditor expects
to find (templates/letters/appeal.md.j2 writes them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from agent.config import LetterSettings
from agent.denials.model import Denial
from agent.playbooks.model import Playbook
from evals.model import LetterElement

ARGUMENT = "Why the denial should be reversed"
EVIDENCE = "Evidence from the medical record"
CITATIONS = "Guidelines and policy"
REQUEST = "Request"
ATTACHMENTS = "Attachments"
SERVICES = "Services under appeal"
CLAIM = "Claim"

_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)
_ITEM_START = re.compile(r"^(\d+)\. ", re.MULTILINE)
_ITEM = re.compile(r'(\d+)\. "(.*)"  \n   Source: ([^\n]+)', re.DOTALL)
_CONTINUED = "\n   "
"""How a multi-line quote continues inside its list item (agent/letters/render.continued)."""
_SOURCE = re.compile(r"(?P<title>.+?)(?:, (?P<day>\d{4}-\d{2}-\d{2}))?, "
                     r"(?P<document>[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})"
                     r"(?:, characters (?P<start>\d+)-(?P<end>\d+))?")
"""A source line: ``Title[, YYYY-MM-DD], Type/id[, characters A-B]`` (render._source)."""
_QUOTED = (re.compile(r'"([^"\n]*)"'), re.compile(r"“([^“”\n]*)”"))
_QUOTE_MARKS = ('"', "“", "”")


def normalise(text: str) -> str:
    """Case and spacing ignored: how expected substrings are compared."""
    return " ".join(text.split()).casefold()


def squash(text: str) -> str:
    """Spacing ignored (case kept): how quotations outside the evidence list compare
    (a paragraph is written on one line, so a quote's line breaks become spaces)."""
    return " ".join(text.split())


def sections(letter: str) -> dict[str, str]:
    """The body of each ``## `` section, by heading."""
    found = list(_HEADING.finditer(letter))
    out = {}
    for index, heading in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(letter)
        out[heading.group(1).strip()] = letter[heading.end():end].strip()
    return out


# --------------------------------------------------------------------------- evidence

@dataclass(frozen=True, slots=True)
class QuotedItem:
    """A numbered quote of the evidence section, as the letter prints it."""

    number: int
    quote: str
    source: str


@dataclass(frozen=True, slots=True)
class SourceLine:
    """A parsed ``Source:`` line."""

    title: str
    day: date | None
    document_id: str
    start: int | None
    end: int | None


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescape(markdown: str) -> str:
    """The text a Markdown quote shows: its backslash escapes removed (``render.literal``)."""
    return _ESCAPED.sub(r"\1", markdown)


def evidence_items(letter: str) -> tuple[list[QuotedItem], list[str]]:
    """The numbered quotes of the evidence section (line continuations undone) and what
    is wrong with the list: an item that is not ``N. "quote"`` + its source line, or
    numbers out of order. Every item counts, well formed or not."""
    body = sections(letter).get(EVIDENCE, "")
    starts = [m.start() for m in _ITEM_START.finditer(body)]
    items, problems = [], []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(body)
        block = body[start:end].rstrip()
        found = _ITEM.fullmatch(block)
        number = int(block.split(".", 1)[0])
        if number != index + 1:
            problems.append(f"evidence item {index + 1} is numbered {number}")
        if found is None:
            problems.append(f"evidence item {number} is not a quote followed by its source")
            items.append(QuotedItem(number, "", ""))
            continue
        items.append(QuotedItem(number, unescape(found.group(2).replace(_CONTINUED, "\n")),
                                found.group(3).strip()))
    return items, problems


def parse_source(text: str) -> SourceLine | None:
    """A source line, or None when it is not one (the whole line must match)."""
    found = _SOURCE.fullmatch(text.strip())
    if found is None:
        return None
    try:
        day = date.fromisoformat(found["day"]) if found["day"] else None
    except ValueError:
        return None
    start, end = found["start"], found["end"]
    return SourceLine(found["title"], day, found["document"],
                      int(start) if start is not None else None,
                      int(end) if end is not None else None)


def quotations(letter: str) -> tuple[list[str], list[str]]:
    """The strings the letter puts in quotation marks ("straight" or “curly”) outside
    its numbered evidence list, and the lines with an unclosed quotation mark."""
    body = sections(letter).get(EVIDENCE)
    rest = letter.replace(body, "") if body else letter
    quotes, problems = [], []
    for line in rest.splitlines():
        remaining = line
        for pattern in _QUOTED:
            quotes += pattern.findall(remaining)
            remaining = pattern.sub("", remaining)
        if any(mark in remaining for mark in _QUOTE_MARKS):
            problems.append(f"unclosed quotation mark in: {line.strip()[:80]}")
    return [q for q in quotes if q.strip()], problems


# --------------------------------------------------------------------------- tables

def table_rows(body: str) -> list[list[str]]:
    """The cells of each row of the Markdown table(s) in ``body`` (the header and
    separator rows included)."""
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            rows.append([cell.strip() for cell in line[1:-1].split("|")])
    return rows


def claim_cells(letter: str) -> dict[str, str]:
    """The ``| label | value |`` rows of the Claim section."""
    return {row[0]: row[1] for row in table_rows(sections(letter).get(CLAIM, ""))
            if len(row) == 2}


def service_rows(letter: str) -> list[dict[str, str]]:
    """The rows of the services table, by column heading."""
    rows = table_rows(sections(letter).get(SERVICES, ""))
    if len(rows) < 2:
        return []
    heads = rows[0]
    return [dict(zip(heads, row, strict=False)) for row in rows[2:] if len(row) == len(heads)]


def money(value: Decimal) -> str:
    """An amount as the letter prints it."""
    return f"${value:,.2f}"


# --------------------------------------------------------------------------- elements

@dataclass(frozen=True, slots=True)
class LetterView:
    """A letter with what it was written for."""

    text: str
    denials: Sequence[Denial]
    """The claim's denied lines the letter covers (as the evaluators read the input)."""
    evidence_count: int
    """How many evidence items the manifest gives the letter's denials."""
    playbook: Playbook
    settings: LetterSettings


ElementCheck = Callable[[LetterView], str | None]
"""A letter -> what is missing, or None."""


def _cell_problems(cells: dict[str, str], wanted: dict[str, str]) -> list[str]:
    return [f"'{label}' is {cells.get(label, 'missing')!r}, expected {value!r}"
            for label, value in wanted.items() if cells.get(label) != value]


def _joined(problems: list[str]) -> str | None:
    return "; ".join(dict.fromkeys(problems)) if problems else None


def _payer_claim_number(view: LetterView) -> str | None:
    cells = claim_cells(view.text)
    title = view.text.split("\n", 1)[0]
    problems = []
    for denial in view.denials:
        number = denial.payer_claim_number or denial.claim_id
        if title != f"# Request for reconsideration: claim {number}":
            problems.append(f"the title does not name claim {number}")
        wanted = {"Patient account (claim) number": denial.claim_id}
        if denial.payer_claim_number:
            wanted["Payer claim number"] = denial.payer_claim_number
        problems += _cell_problems(cells, wanted)
    return _joined(problems)


def _member_id(view: LetterView) -> str | None:
    cells = claim_cells(view.text)
    problems = []
    for denial in view.denials:
        if not denial.patient.member_id:
            problems.append("the claim has no member id, so the letter cannot show one")
        else:
            problems += _cell_problems(cells, {"Member ID": denial.patient.member_id})
    return _joined(problems)


def _service_date(view: LetterView) -> str | None:
    cells = claim_cells(view.text)
    problems = []
    for denial in view.denials:
        if denial.service_date is None:
            problems.append("the claim has no date of service, so the letter cannot show "
                            "one")
        else:
            problems += _cell_problems(cells,
                                       {"Date of service": denial.service_date.isoformat()})
    return _joined(problems)


def _row_of(denial: Denial, rows: list[dict[str, str]]) -> dict[str, str] | None:
    """The services-table row of a denied line: its procedure and amounts."""
    procedure = denial.procedure.display if denial.procedure else "claim"
    for row in rows:
        if (row.get("Procedure") == procedure and row.get("Billed") == money(denial.billed)
                and row.get("Denied") == money(denial.denied_amount)):
            return row
    return None


def _procedure(view: LetterView) -> str | None:
    rows = service_rows(view.text)
    if not rows:
        return f"no '{SERVICES}' table"
    missing = [d.procedure.display if d.procedure else "claim" for d in view.denials
               if _row_of(d, rows) is None]
    return (f"no services-table row with the procedure and amounts of {', '.join(missing)}"
            if missing else None)


def _denial_reason(view: LetterView) -> str | None:
    rows = service_rows(view.text)
    if not rows:
        return f"no '{SERVICES}' table"
    problems = []
    for denial in view.denials:
        row = _row_of(denial, rows)
        stated = [r.strip() for r in (row or {}).get("Denial as stated", "").split(";")]
        for adjustment in denial.adjustments:
            if not any(r == adjustment.label or r.startswith(adjustment.label + " ")
                       for r in stated):
                problems.append(f"reason {adjustment.label} not in the row of "
                                f"{denial.procedure.display if denial.procedure else 'claim'}")
    return _joined(problems)


def _section(name: str, minimum: int = 40) -> ElementCheck:
    def check(view: LetterView) -> str | None:
        body = sections(view.text).get(name, "")
        return None if len(body) >= minimum else f"the '{name}' section is missing or empty"
    return check


def _evidence(view: LetterView) -> str | None:
    items, problems = evidence_items(view.text)
    if not items:
        return "no numbered quote in the evidence section"
    if len(items) != view.evidence_count:
        problems.append(f"{len(items)} evidence item(s) printed, the manifest gives "
                        f"{view.evidence_count}")
    return _joined(problems)


def _request(view: LetterView) -> str | None:
    body = normalise(sections(view.text).get(REQUEST, ""))
    wanted = normalise(view.playbook.request)
    return None if wanted and wanted in body else "the playbook's request is not in the " \
        "'Request' section"


def _signature(view: LetterView) -> str | None:
    """The signer as templates/letters/appeal.md.j2 writes them: the name, then ", " and the
    credentials when ``signature_credentials`` is set, then the title on the next line."""
    closing = view.text.rsplit("Sincerely,", 1)
    if len(closing) < 2:
        return "no closing ('Sincerely,')"
    lines = [line.strip() for line in closing[1].splitlines() if line.strip()]
    settings = view.settings
    signer = settings.signature_name if settings.signature_credentials is None else \
        f"{settings.signature_name}, {settings.signature_credentials}"
    wanted = [signer, settings.signature_title]
    return None if lines[:2] == wanted else \
        f"the closing is {lines[:2]}, expected {wanted}"


ELEMENTS: dict[LetterElement, ElementCheck] = {
    "payer_claim_number": _payer_claim_number,
    "member_id": _member_id,
    "service_date": _service_date,
    "procedure": _procedure,
    "denial_reason": _denial_reason,
    "argument": _section(ARGUMENT),
    "evidence": _evidence,
    "request": _request,
    "signature": _signature,
    "citations": _section(CITATIONS, minimum=10),
    "attachments": _section(ATTACHMENTS, minimum=3),
}
"""The check behind each letter element a case may require."""
