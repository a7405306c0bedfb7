"""What keeps a letter from being approved: the one check every approval path makes.

A letter is unfinished while its text still holds an instruction to the auditor (``(auditor
to cite ...)``, ``[auditor to confirm]``, ``(to be completed by the auditor ...)``, ``the
auditor cites ...``) or a citation printed with no source (``(None)``: the payer's own
policy, which the playbooks leave for the practice to name), or while a practice field it
needs (name, address, phone, NPI, tax id, signature name) is the shipped placeholder of
:class:`agent.config.LetterSettings`: in the settings, or in the letter's text when it was
drafted before the practice was configured. A configured NPI must pass its check digit
(:mod:`agent.npi`) and a tax id must read ``NN-NNNNNNN``.

:func:`approval_problems` lists them; ``ReviewActions.apply`` refuses an approval while the
list is not empty, whoever approves (``appeals review approve``, ``--auto-approve``, a web
UI). The problems name fields and template placeholders, never the letter's patient data.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agent.config import LetterSettings
from agent.npi import is_valid_npi

PLACEHOLDER = re.compile(
    r"[(\[]\s*(?:auditor to|to be completed by the auditor)\b[^)\]\n]*[)\]]?"
    r"|\bthe auditor (?:cites|names|confirms)\b[^.;)\]\n]*", re.IGNORECASE)
"""An instruction to the auditor that the letter templates and playbooks leave in a draft."""

_PLACEHOLDER_SHOWN = 100
"""At most this many characters of a placeholder are quoted in a problem."""

_CITATIONS = re.compile(r"^## Guidelines and policy[ \t]*\n(.*?)(?=^## |\Z)",
                        re.MULTILINE | re.DOTALL)
_NO_SOURCE = re.compile(r"^- (.*?)\s*\(None\)[ \t]*$", re.MULTILINE)
"""A citation printed with no source: a ``payer_policy`` citation (the payer's own policy,
which has no source in the playbook) until the letter names the policy."""

SHIPPED = LetterSettings()
"""The shipped practice settings: placeholders, none of them fit to send."""

_TAX_ID = re.compile(r"\d{2}-\d{7}")

_Getter = Callable[[LetterSettings], object]
_PRACTICE_FIELDS: tuple[tuple[str, str, _Getter], ...] = (
    ("practice_name", "practice name", lambda s: s.practice_name),
    ("address_lines", "practice address", lambda s: s.address_lines),
    ("contact_phone", "practice phone", lambda s: s.contact_phone),
    ("npi", "practice NPI", lambda s: s.npi),
    ("tax_id", "practice tax id", lambda s: s.tax_id),
    ("signature_name", "signature name", lambda s: s.signature_name),
)
"""The practice fields a letter needs: the ``[letter]`` key, its name, its value."""


def placeholders(text: str) -> list[str]:
    """The distinct instructions to the auditor left in ``text``, in order."""
    found = (" ".join(m.group(0).split()) for m in PLACEHOLDER.finditer(text))
    return list(dict.fromkeys(found))


def unsourced_citations(text: str) -> list[str]:
    """The statements of the citations the letter prints without a source ("(None)")."""
    section = _CITATIONS.search(text)
    if section is None:
        return []
    return list(dict.fromkeys(m.group(1) for m in _NO_SOURCE.finditer(section.group(1))))


def unconfigured(settings: LetterSettings) -> list[str]:
    """The ``[letter]`` keys of the needed practice fields still at their shipped value."""
    return [key for key, _label, get in _PRACTICE_FIELDS if get(settings) == get(SHIPPED)]


def invalid_practice(settings: LetterSettings) -> list[str]:
    """What is wrong with the configured NPI and tax id (shipped placeholders aside)."""
    problems = []
    if settings.npi != SHIPPED.npi and not is_valid_npi(settings.npi):
        problems.append("[letter] npi is not a valid NPI (10 digits starting with 1 or 2, "
                        "with a correct check digit)")
    if settings.tax_id != SHIPPED.tax_id and _TAX_ID.fullmatch(settings.tax_id) is None:
        problems.append("[letter] tax_id is not a federal tax id of the form NN-NNNNNNN")
    return problems


def check_practice(settings: LetterSettings) -> None:
    """Raise ``ValueError`` (one line) when a configured NPI or tax id is not valid.

    Raises:
        ValueError: The NPI fails its check digit, or the tax id is not NN-NNNNNNN.
    """
    problems = invalid_practice(settings)
    if problems:
        raise ValueError("the configuration is not valid: " + "; ".join(problems))


def approval_problems(text: str, settings: LetterSettings) -> list[str]:
    """Why the letter ``text`` cannot be approved under ``settings``; empty when it can.

    One problem per placeholder left in the text and per practice field still at its
    shipped value (in the settings, else in the text), then any configured NPI or tax id
    that is not valid.
    """
    problems = [f"the text still has {_shown(p)}" for p in placeholders(text)]
    problems += [f"the citation {_quoted(c)} names no source (None): name the payer's "
                 "policy, its number and section" for c in unsourced_citations(text)]
    for key, label, get in _PRACTICE_FIELDS:
        shipped = get(SHIPPED)
        if get(settings) == shipped:
            problems.append(f"the {label} is the shipped placeholder (set {key} under "
                            "[letter] in the configuration file)")
        elif any(_shows(text, value) for value in _values(shipped)):
            problems.append(f"the text shows the shipped placeholder {label} (drafted "
                            "before the practice was configured): edit it")
    return problems + invalid_practice(settings)


def _shown(placeholder: str) -> str:
    return f"the placeholder {_quoted(placeholder)}"


def _quoted(text: str) -> str:
    if len(text) > _PLACEHOLDER_SHOWN:
        text = text[:_PLACEHOLDER_SHOWN - 3].rstrip() + "..."
    return f'"{text}"'


def _values(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, tuple) else (str(value),)


def _shows(text: str, value: str) -> bool:
    """Whether ``value`` is in ``text``; a number only where no digit touches it."""
    if value[:1].isdigit():
        return re.search(rf"(?<!\d){re.escape(value)}(?!\d)", text) is not None
    return value in text
