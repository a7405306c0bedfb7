"""Administrative playbooks: prior authorization (CARC 197/198) and timely filing (CARC 29).

Both read the chart for paperwork rather than clinical findings; their words are the
vocabularies ``prior_authorization`` and ``timely_filing``
(specialty_playbooks/vocabularies/). Python reads the values: authorization numbers,
approved dates, CPT/HCPCS codes, claim ids and the rows of a report laid out in columns.
Each quote's ``Evidence.value`` is in a fixed form the checks read back:

- ``prior_auth_approval``: ``"HM-PA-558201"``, ``"HM-PA-558201, approved for 2026-08-20
  to 2026-09-19"``, ``"HM-PA-558201, approved through 2026-09-19"``, or
  ``"approval stated, no number"``.
- ``timely_filing_proof``: ``"accepted into adjudication"``, ``"forwarded to the payer on
  2026-03-07"``... (ISO dates).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.dates import DATE, DATE_CORE, DATE_RE, parse_date
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import Sentence, clause_around, is_negated, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.playbooks.checks import CheckContext, CheckRegistry

AUTH_FACT = "authorization"
TIMELY_FACT = "timely_submission"
AUTH_VOCABULARY = "prior_authorization"
AUTH_LISTS = ("authorization", "abbreviations", "requests", "approved", "pending", "denied")
TIMELY_VOCABULARY = "timely_filing"
TIMELY_LISTS = ("submission_records", "claim_words", "accepted", "rejected", "never_sent",
                "sent_on", "service_date_labels")
NO_NUMBER = "approval stated, no number"

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_COLUMN_GAP = re.compile(r"\s{3,}|\t")


def _quote_span(sentence: Sentence, start: int, end: int) -> tuple[int, int]:
    """The clause around ``sentence.text[start:end]``, from the column it is in."""
    lo, hi = clause_around(sentence, start, end)
    gaps = [g.end() for g in _COLUMN_GAP.finditer(sentence.text, 0, start)]
    return (max(lo, sentence.start + gaps[-1]) if gaps else lo), hi


def _evidence(document: SourceDocument, span: tuple[int, int], fact: str,
              value: str | None) -> Evidence:
    start, end = span
    return Evidence(quote=document.text[start:end], document_id=document.document_id,
                    start=start, end=end, fact=fact, value=value,
                    document_date=document.date, document_title=document.title)


def _year(denial: Denial) -> int | None:
    return denial.service_date.year if denial.service_date else None


# --- prior authorization -----------------------------------------------------------

_LABEL = r"\s*(?:#|no\.?|num(?:ber)?\.?|nbr\.?|code)\s*[:#]?\s*"
_NUMBER = r"(?P<number>[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){3,29})(?![A-Za-z0-9])"
_PERIOD = [
    re.compile(r"(?P<a>" + DATE + r")\s*(?:-|–|—|to|thru|through|until)\s*(?P<b>"
               + DATE_CORE + r")", re.IGNORECASE),
    re.compile(r"(?:eff(?:ective)?\.?|from|start(?:s|ing)?)\s*:?\s*(?P<a>" + DATE
               + r")[^.;]{0,40}?(?:exp(?:ires|iration)?\.?|through|thru|to|until|end(?:s|ing)?)"
               r"\s*:?\s*(?P<b>" + DATE + r")", re.IGNORECASE),
    re.compile(r"(?:valid|good|approved)\s+(?:through|thru|until)\s*:?\s*(?P<b>" + DATE
               + r")|exp(?:ires|iration)?(?:\s+date)?\.?\s*:?\s*(?P<b2>" + DATE + r")",
               re.IGNORECASE),
]
"""Approved dates: "08/20/26–09/19/26", "eff 8/20/26 exp 9/19/26", "valid through 9/19"."""
_CODE = r"(?:\d{4}[0-9A-Z]|[A-Z]\d{4})(?:-[A-Z0-9]{2})?"
_CODES = re.compile(r"\b(?:CPT|HCPCS)\s*(?:#|:)?\s*(?P<codes>" + _CODE + r"(?:\s*(?:,|/|&|and|"
                    r"\+)\s*" + _CODE + r")*)", re.IGNORECASE)
"""Only codes labelled CPT/HCPCS: "auth code 12345" is an authorization number."""
_VALUE_PERIOD = re.compile(r"approved (?:for (?P<a>\S+) to|through) (?P<b>\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class Period:
    """Approved dates of an authorization; ``start`` is None when only the end is given."""

    start: date | None
    end: date

    def covers(self, day: date) -> bool:
        """Whether the date of service ``day`` falls within the approved dates."""
        return (self.start is None or self.start <= day) and day <= self.end

    def describe(self) -> str:
        """``2026-08-20 to 2026-09-19`` or ``through 2026-09-19``."""
        if self.start is None:
            return f"through {self.end.isoformat()}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def authorized_period(text: str, fallback_year: int | None = None) -> Period | None:
    """The approved dates written in ``text``, if any."""
    for found in filter(None, (pattern.search(text) for pattern in _PERIOD)):
        groups = found.groupdict()
        end_text = groups.get("b") or groups.get("b2") or ""
        end = parse_date(end_text, fallback_year)
        if end is None:
            continue
        if groups.get("a") is None:
            return Period(None, end)
        written = parse_date(end_text)
        start = parse_date(groups["a"], written.year if written else fallback_year)
        if start is not None and start > end and start.year == end.year:
            start = start.replace(year=start.year - 1)  # "12/15-1/14/27"
        if start is not None and start <= end:
            return Period(start, end)
    return None


@dataclass(frozen=True, slots=True)
class _AuthWords:
    """The prior-authorization vocabulary's words put around the number and its label."""

    numbers: tuple[re.Pattern[str], ...]
    approval_only: re.Pattern[str]
    mention: re.Pattern[str]
    vocabulary: Vocabulary

    @classmethod
    def of(cls, vocabulary: Vocabulary | None) -> _AuthWords:
        words = (vocabulary or load_vocabulary(AUTH_VOCABULARY)).require(*AUTH_LISTS)
        auth, abbreviation, approved, requests = (words.pattern(n).pattern for n in (
            "authorization", "abbreviations", "approved", "requests"))
        numbers = (  # "Auth # HM-PA-558201", "PA#: 55821", "Precert approved - A99812",
            # "approved under auth 558201"
            rf"(?P<cue>{auth}|{abbreviation}){_LABEL}{_NUMBER}",
            rf"(?P<cue>{auth})(?:\s+{approved})?\s*[:=\-–]\s*{_NUMBER}",
            rf"{approved}\s+(?:under|with|as|per)\s+(?P<cue>{auth})(?:{_LABEL}|\s*:?\s*)"
            + _NUMBER)
        return cls(tuple(re.compile(p, re.IGNORECASE) for p in numbers),
                   re.compile(rf"(?P<cue>{auth})\s+(?:was\s+|has\s+been\s+|is\s+)?{approved}",
                              re.IGNORECASE),
                   re.compile(f"{auth}|{requests}", re.IGNORECASE), words)

    def number(self, text: str) -> re.Match[str] | None:
        """The first labelled authorization number in ``text`` that is not negated.

        A date or a number of fewer than 3 digits is no authorization number.
        """
        for pattern in self.numbers:
            for found in pattern.finditer(text):
                number = found.group("number")
                if sum(c.isdigit() for c in number) >= 3 and not DATE_RE.fullmatch(number) \
                        and not is_negated(text, found.start("cue"), found.end("cue")):
                    return found
        return None

    def status(self, text: str) -> str | None:
        """``denied``, ``pending`` (a request, no approval wording) or None."""
        if self.vocabulary.pattern("denied").search(text):
            return "denied"
        if self.vocabulary.pattern("pending").search(text) \
                and not self.vocabulary.pattern("approved").search(text):
            return "pending"
        return None


def _auth_in_document(document: SourceDocument, words: _AuthWords, year: int | None
                      ) -> Iterator[tuple[Evidence, str | None, Period | None]]:
    """(evidence, number, period) for each approval statement in one note.

    The line right after a statement is quoted too when it gives the approved dates
    ("Valid: 8/20-9/19/26").
    """
    found = sentences(document.text)
    for index, sentence in enumerate(found):
        match = words.number(sentence.text) or words.approval_only.search(sentence.text)
        if match is None or is_negated(sentence.text, match.start("cue"), match.end("cue")):
            continue
        span = _quote_span(sentence, match.start(), match.end())
        quote = document.text[span[0]:span[1]]
        if words.status(quote) is not None:
            continue
        period = authorized_period(quote, year)
        number = match.groupdict().get("number")
        yield _evidence(document, span, AUTH_FACT, None), number, period
        following = found[index + 1] if index + 1 < len(found) else None
        if period is None and following is not None \
                and _gives_dates(sentence, following, document.text, words):
            yield (_evidence(document, _quote_span(following, 0, len(following.text)),
                             AUTH_FACT, None), number, authorized_period(following.text, year))


def _gives_dates(sentence: Sentence, following: Sentence, text: str, words: _AuthWords
                 ) -> bool:
    """The next line gives the dates of the number just read ("Valid: 8/20-9/19/26")."""
    return (text[sentence.end:following.start].count("\n") <= 1
            and authorized_period(following.text) is not None
            and words.number(following.text) is None
            and not words.mention.search(following.text))


def prior_auth_approval(chart: ChartBundle, denial: Denial,
                        vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """An approved authorization on file: its number and approved dates, quoted.

    The same number gets the same value everywhere. A pending or denied request is no
    approval.
    """
    words = _AuthWords.of(vocabulary)
    found = [item for document in chart.documents
             for item in _auth_in_document(document, words, _year(denial))]
    periods: dict[str, Period] = {}
    for _, number, period in found:
        if number and period:
            periods.setdefault(number.upper(), period)
    out: list[Evidence] = []
    for evidence, number, period in found:
        period = periods.get(number.upper(), period) if number else None
        value = NO_NUMBER if number is None else number if period is None else (
            f"{number}, approved " + (f"for {period.describe()}" if period.start
                                      else period.describe()))
        if all(evidence.quote != e.quote for e in out):
            out.append(evidence.model_copy(update={"value": value}))
    numbered = [e for e in out if e.value != NO_NUMBER]
    return (numbered or out)[:3]


def value_period(evidence: Evidence) -> Period | None:
    """The approved dates a ``prior_auth_approval`` value states, if any."""
    found = _VALUE_PERIOD.search(evidence.value or "")
    if not found:
        return None
    start = date.fromisoformat(found.group("a")) if found.group("a") else None
    return Period(start, date.fromisoformat(found.group("b")))


def prior_auth_no_number(ctx: CheckContext) -> str | None:
    """The chart says authorization was obtained but names no authorization number."""
    found = ctx.found(AUTH_FACT)
    if found and all(e.value == NO_NUMBER for e in found):
        return f"{len(found)} note(s) say it was obtained, none gives the number"
    return None


def prior_auth_outside_period(ctx: CheckContext) -> str | None:
    """Every approved period found in the chart leaves out the date of service."""
    day = ctx.denial.service_date
    periods = [p for p in (value_period(e) for e in ctx.found(AUTH_FACT)) if p]
    if day is None or not periods or any(p.covers(day) for p in periods):
        return None
    approved = "; ".join(dict.fromkeys(p.describe() for p in periods))
    return f"date of service {day.isoformat()}, approved {approved}"


def prior_auth_other_service(ctx: CheckContext) -> str | None:
    """The authorization names procedure codes, and not the one billed."""
    procedure = ctx.denial.procedure
    if procedure is None:
        return None
    named = [code.split("-")[0].upper() for evidence in ctx.found(AUTH_FACT)
             for found in _CODES.finditer(evidence.quote)
             for code in re.findall(_CODE, found.group("codes"), re.IGNORECASE)]
    if not named or {procedure.submitted_code, procedure.code} & set(named):
        return None
    return (f"the authorization names {', '.join(dict.fromkeys(named))}; the claim bills "
            f"{procedure.submitted_code}")


def prior_auth_pending_only(ctx: CheckContext) -> str | None:
    """No approval found, but a note records a request that is pending or was denied."""
    if ctx.found(AUTH_FACT):
        return None
    words = _AuthWords.of(None)
    for document in ctx.chart.documents:
        for sentence in sentences(document.text):
            mention = words.mention.search(sentence.text)
            if mention is None or is_negated(sentence.text, mention.start(), mention.end()):
                continue
            kind = next((k for k in ("denied", "pending")
                         if words.vocabulary.pattern(k).search(sentence.text)), None)
            if kind is not None:
                note = f"a note of {document.date.isoformat()}" if document.date else "a note"
                return f"{note} records the request as {kind}"
    return None


# --- timely filing -----------------------------------------------------------------

_TALLY = re.compile(r"(?:^|[\s,;])[\d,.]+\s*$")
"""A count before "accepted" ("2 claims, 705.00 accepted"): a batch total, not this claim."""
_NONE_COUNTED = re.compile(r"\b(?:0|zero)\s+$", re.IGNORECASE)
"""A zero before "rejected" ("0 rejected"): nothing was rejected."""
_ROW_START = re.compile(r"^\S*\d{4,}\S*(?:\s{2,}|\t)")
"""A report row that starts with an account number: another claim's, when not this one."""


def _id_shape(claim_id: str) -> re.Pattern[str] | None:
    """A pattern for ids shaped like this claim's ("LOM26-09811" → letters kept, digits any).

    It tells a report listing several claims from one about this claim only.
    """
    if len(claim_id) < 6 or not re.search(r"[A-Za-z]", claim_id) \
            or not re.search(r"\d", claim_id):
        return None
    shape = "".join(r"\d" if c.isdigit() else re.escape(c) for c in claim_id)
    return re.compile(r"(?<![A-Za-z0-9])" + shape + r"(?![A-Za-z0-9])", re.IGNORECASE)


def _names_any(text: str, ids: tuple[str, ...]) -> bool:
    """Whether ``text`` names one of these claim ids as a whole token (case-insensitive)."""
    return any(re.search(r"(?<![A-Za-z0-9])" + re.escape(i) + r"(?![A-Za-z0-9])", text,
                         re.IGNORECASE) for i in ids)


def _first(vocabulary: Vocabulary, names: list[str], text: str
           ) -> tuple[re.Match[str], str] | None:
    """The earliest match of any of the lists ``names`` (the first list wins a tie)."""
    found = [(m, n) for n in names if (m := vocabulary.pattern(n).search(text))]
    return min(found, key=lambda f: f[0].start()) if found else None


@dataclass(frozen=True, slots=True)
class _Record:
    """A submission record in the chart and how to read its lines for this claim."""

    document: SourceDocument
    ids: tuple[str, ...]
    shape: re.Pattern[str] | None
    words: Vocabulary
    own_lines_only: bool = False
    """The report lists other claims: only lines naming this claim count for it."""

    def mentions_other_claim(self, text: str) -> bool:
        """The line names a claim of the same shape that is not this one."""
        return self.shape is not None and any(
            m.group(0).upper() not in self.ids for m in self.shape.finditer(text))

    def names_claim(self, text: str) -> bool:
        return _names_any(text, self.ids)

    def rejected(self, text: str) -> bool:
        """The line says a claim was rejected (not "0 rejected")."""
        return any(not _NONE_COUNTED.search(text[:m.start()])
                   for m in self.words.pattern("rejected").finditer(text))

    def on_claim(self, text: str) -> bool:
        """The line is about this claim.

        It names this claim, or (in a record about this claim only) it names a claim, a
        payer or a report and no other claim's row.
        """
        if self.own_lines_only or self.names_claim(text):
            return self.names_claim(text)
        return not self.mentions_other_claim(text) and not _ROW_START.match(text) \
            and self.words.pattern("claim_words").search(text) is not None


def _records(chart: ChartBundle, denial: Denial, vocabulary: Vocabulary | None
             ) -> list[_Record]:
    words = (vocabulary or load_vocabulary(TIMELY_VOCABULARY)).require(*TIMELY_LISTS)
    ids = tuple(i.upper() for i in (denial.claim_id, denial.payer_claim_number) if i)
    shape = _id_shape(denial.claim_id)
    out = []
    for document in chart.documents:
        if not words.pattern("submission_records").search(document.text):
            continue
        named = _names_any(document.text, ids)
        if not named and document.linked_by != "encounter":
            continue  # a report near the date that never names this claim
        record = _Record(document, ids, shape, words)
        crowded = shape is None or record.mentions_other_claim(document.text)
        out.append(_Record(document, ids, shape, words, own_lines_only=named and crowded))
    return out


def _dates_after(text: str, start: int, denial: Denial, words: Vocabulary) -> list[date]:
    """Dates written after ``start`` in a line, except the date of service of a claim row."""
    days = [parse_date(m.group(0), _year(denial)) for m in DATE_RE.finditer(text, start)]
    is_row = bool(words.pattern("service_date_labels").search(text)) \
        or _names_any(text, (denial.claim_id,))
    return [d for d in days if d is not None and not (is_row and d == denial.service_date)]


def _leading_date(text: str, denial: Denial) -> list[date]:
    """The timestamp a log row starts with ("02/12/2026 06:30  277CA ... accepted")."""
    found = DATE_RE.match(text.lstrip())
    day = parse_date(found.group(0), _year(denial)) if found else None
    return [day] if day is not None and day != denial.service_date else []


def _acceptance(record: _Record, text: str, denial: Denial) -> str | None:
    """The value of a line that shows this claim accepted, else None."""
    words = record.words
    first = _first(words, words.lists_with("accepted_as"), text)
    if first is None or record.rejected(text):
        return None
    found, name = first
    if is_negated(text, found.start(), found.end()) or _TALLY.search(text[:found.start()]) \
            or not record.on_claim(text):
        return None
    what = words.values(name)["accepted_as"]
    days = _dates_after(text, found.end(), denial, words) or _leading_date(text, denial)
    return f"{what} on {days[0].isoformat()}" if days else what


def _dated_line(record: _Record, text: str, denial: Denial) -> str | None:
    """The value of a dated line of the record ("forwarded to the payer on ..."), or None."""
    if record.mentions_other_claim(text) or (record.own_lines_only
                                             and record.names_claim(text)):
        return None  # another claim's row, or this claim's row (read as its acceptance)
    for name in record.words.lists_with("dated_as"):
        found = record.words.pattern(name).search(text)
        if found is None or is_negated(text, found.start(), found.end()):
            continue
        days = _dates_after(text, found.end(), denial, record.words)
        if days:
            return f"{record.words.values(name)['dated_as']} on {days[0].isoformat()}"
    return None


def timely_filing_proof(chart: ChartBundle, denial: Denial,
                        vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Proof the claim was submitted and accepted.

    The proof is a submission record's line showing this claim accepted, and the record's
    dated lines (only from records that show acceptance).
    """
    accepted: list[Evidence] = []
    dated: list[Evidence] = []
    for record in _records(chart, denial, vocabulary):
        found: list[Evidence] = []
        lines: list[Evidence] = []
        for sentence in sentences(record.document.text):
            span = _quote_span(sentence, 0, len(sentence.text))
            if (value := _acceptance(record, sentence.text, denial)) is not None:
                found.append(_evidence(record.document, span, TIMELY_FACT, value))
            elif (value := _dated_line(record, sentence.text, denial)) is not None:
                lines.append(_evidence(record.document, span, TIMELY_FACT, value))
        accepted += found[:2]
        dated += lines if found else []
    dated.sort(key=lambda e: _ISO.findall(e.value or "")[0])
    return accepted[:2] + dated[:4]


def proof_dates(ctx: CheckContext) -> list[date]:
    """Every date the proof of submission states (read from the evidence values)."""
    return [date.fromisoformat(d) for e in ctx.found(TIMELY_FACT)
            for d in _ISO.findall(e.value or "")]


def timely_filing_undated(ctx: CheckContext) -> str | None:
    """The chart shows the claim accepted but gives no date for it."""
    if ctx.found(TIMELY_FACT) and not proof_dates(ctx):
        return "the acknowledgment found shows acceptance but no date"
    return None


def timely_filing_not_earlier(ctx: CheckContext) -> str | None:
    """Every date of the proof is on or after the payer's own received date (DTM*050)."""
    received = ctx.denial.received_date
    days = proof_dates(ctx)
    if received is None or not days or min(days) < received:
        return None
    return (f"earliest acknowledgment date {min(days).isoformat()}, payer received date "
            f"{received.isoformat()}")


def timely_filing_rejected(ctx: CheckContext) -> str | None:
    """No acceptance found, and a submission record shows this claim rejected."""
    if ctx.found(TIMELY_FACT):
        return None
    for record in _records(ctx.chart, ctx.denial, None):
        for sentence in sentences(record.document.text):
            if record.rejected(sentence.text) and record.on_claim(sentence.text):
                day = record.document.date
                when = f" of {day.isoformat()}" if day else ""
                return f"the submission record{when} shows the claim rejected, not accepted"
    return None


def timely_filing_first_sent_late(ctx: CheckContext) -> str | None:
    """No acceptance found, and a note says the claim went out on or after the received date.

    The note says the claim did not go out until a date on or after the payer's received
    date: the chart shows no earlier submission to prove.
    """
    received = ctx.denial.received_date
    if ctx.found(TIMELY_FACT) or received is None:
        return None
    words = load_vocabulary(TIMELY_VOCABULARY)
    for document in ctx.chart.documents:
        if not words.pattern("never_sent").search(document.text) \
                or not words.pattern("claim_words").search(document.text):
            continue
        for sentence in sentences(document.text):
            found = words.pattern("sent_on").search(sentence.text)
            days = _dates_after(sentence.text, found.end(), ctx.denial, words) if found else []
            if days and min(days) >= received:
                return (f"a note records the claim not sent until {min(days).isoformat()} "
                        f"(payer received date {received.isoformat()})")
    return None


# --- registration ------------------------------------------------------------------

def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Add the prior-authorization and timely-filing extractors and checks."""
    extractors.register_reading("prior_auth_approval", prior_auth_approval, AUTH_LISTS)
    extractors.register_reading("timely_filing_proof", timely_filing_proof, TIMELY_LISTS)
    for check in (prior_auth_no_number, prior_auth_outside_period, prior_auth_other_service,
                  prior_auth_pending_only, timely_filing_undated, timely_filing_not_earlier,
                  timely_filing_rejected, timely_filing_first_sent_late):
        checks.register(check.__name__, check)
