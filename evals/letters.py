"""Reading a drafted letter back: its sections, its numbered evidence and the elements an
auditor expects to find (templates/letters/appeal.md.j2 writes them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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

_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)
_ITEM = re.compile(r'^(\d+)\. "(.*?)"  \n   Source: (.*)$', re.MULTILINE | re.DOTALL)
_CONTINUED = "\n   "
"""How a multi-line quote continues inside its list item (agent/letters/render.continued)."""


def normalise(text: str) -> str:
    """Case and spacing ignored: how expected substrings are compared."""
    return " ".join(text.split()).casefold()


def sections(letter: str) -> dict[str, str]:
    """The body of each ``## `` section, by heading."""
    found = list(_HEADING.finditer(letter))
    out = {}
    for index, heading in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(letter)
        out[heading.group(1).strip()] = letter[heading.end():end].strip()
    return out


@dataclass(frozen=True, slots=True)
class QuotedItem:
    """A numbered quote of the evidence section, as the letter prints it."""

    number: int
    quote: str
    source: str


def quoted_items(letter: str) -> list[QuotedItem]:
    """The numbered quotes of the letter's evidence section (line continuations undone)."""
    body = sections(letter).get(EVIDENCE, "")
    items = []
    for found in _ITEM.finditer(body):
        source = found.group(3).split("\n", 1)[0].strip()
        items.append(QuotedItem(int(found.group(1)),
                                found.group(2).replace(_CONTINUED, "\n"), source))
    return items


ElementCheck = Callable[[str, Sequence[Denial], Playbook, LetterSettings], str | None]
"""(letter, its denials, the playbook, letter settings) -> what is missing, or None."""


def _all_present(letter: str, wanted: dict[str, str]) -> str | None:
    missing = [label for label, text in wanted.items() if text not in letter]
    return ", ".join(missing) + " not in the letter" if missing else None


def _payer_claim_number(letter: str, denials: Sequence[Denial], playbook: Playbook,
                        settings: LetterSettings) -> str | None:
    return _all_present(letter, {f"claim number {d.payer_claim_number or d.claim_id}":
                                 d.payer_claim_number or d.claim_id for d in denials})


def _member_id(letter: str, denials: Sequence[Denial], playbook: Playbook,
               settings: LetterSettings) -> str | None:
    return _all_present(letter, {f"member id {d.patient.member_id}": d.patient.member_id or "?"
                                 for d in denials})


def _service_date(letter: str, denials: Sequence[Denial], playbook: Playbook,
                  settings: LetterSettings) -> str | None:
    return _all_present(letter, {f"date of service {d.service_date}":
                                 d.service_date.isoformat() if d.service_date else "?"
                                 for d in denials})


def _procedure(letter: str, denials: Sequence[Denial], playbook: Playbook,
               settings: LetterSettings) -> str | None:
    return _all_present(letter, {f"procedure {d.procedure.submitted_code}":
                                 d.procedure.submitted_code
                                 for d in denials if d.procedure})


def _denial_reason(letter: str, denials: Sequence[Denial], playbook: Playbook,
                   settings: LetterSettings) -> str | None:
    table = sections(letter).get(SERVICES, "")
    return _all_present(table, {f"reason {a.label}": a.label for d in denials
                                for a in d.adjustments}) if table else \
        f"no '{SERVICES}' section"


def _section(name: str, minimum: int = 40) -> ElementCheck:
    def check(letter: str, denials: Sequence[Denial], playbook: Playbook,
              settings: LetterSettings) -> str | None:
        body = sections(letter).get(name, "")
        return None if len(body) >= minimum else f"the '{name}' section is missing or empty"
    return check


def _evidence(letter: str, denials: Sequence[Denial], playbook: Playbook,
              settings: LetterSettings) -> str | None:
    return None if quoted_items(letter) else "no numbered quote in the evidence section"


def _request(letter: str, denials: Sequence[Denial], playbook: Playbook,
             settings: LetterSettings) -> str | None:
    body = normalise(sections(letter).get(REQUEST, ""))
    wanted = normalise(playbook.request)
    return None if wanted and wanted in body else "the playbook's request is not in the " \
        "'Request' section"


def _signature(letter: str, denials: Sequence[Denial], playbook: Playbook,
               settings: LetterSettings) -> str | None:
    closing = letter.rsplit("Sincerely,", 1)
    if len(closing) < 2:
        return "no closing ('Sincerely,')"
    return _all_present(closing[1], {"signature name": settings.signature_name,
                                     "signature title": settings.signature_title})


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
