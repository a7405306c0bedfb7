"""Administrative playbooks: prior authorization (CARC 197/198) and timely filing (CARC 29).

Both read the chart for paperwork rather than clinical findings: an authorization number
with its approved dates, or a clearinghouse / payer acknowledgment that the claim was
received in time. Extractors quote the notes verbatim and put what they read in
``Evidence.value`` in a fixed form the checks below read back:

- ``prior_auth_approval``: ``"HM-PA-558201"``, ``"HM-PA-558201, approved for 2026-08-20
  to 2026-09-19"``, ``"HM-PA-558201, approved through 2026-09-19"``, or
  ``"approval stated, no number"``.
- ``timely_filing_proof``: ``"accepted into adjudication"``, ``"forwarded to the payer on
  2026-03-07"``... (ISO dates).

Notes are untrusted data: these functions only match patterns and copy spans.
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
from agent.playbooks.checks import CheckContext, CheckRegistry

AUTH_FACT = "authorization"
"""The fact id the prior_authorization playbook gives the approval evidence."""
TIMELY_FACT = "timely_submission"
"""The fact id the timely_filing playbook gives the proof of submission."""

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _year_of(text: str) -> int | None:
    found = parse_date(text)
    return found.year if found else None


# --- prior authorization -----------------------------------------------------------

_AUTH_WORD = (r"(?<![A-Za-z])(?:prior\s*auth(?:orization)?|pre-?auth(?:orization)?|"
              r"auth(?:orization)?|pre-?cert(?:ification)?)(?![a-z])")
_NUMBER = r"(?P<number>[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){3,29})(?![A-Za-z0-9])"
_AUTH_NUMBER = [
    # "Auth # HM-PA-558201", "Authorization number: 12345678", "PA#: 55821", "auth code 1234"
    re.compile(r"(?P<cue>" + _AUTH_WORD + r"|(?<![A-Za-z])PA)\s*(?:#|no\.?|num(?:ber)?\.?|"
               r"nbr\.?|code)\s*[:#]?\s*" + _NUMBER, re.IGNORECASE),
    # "Auth on file: HM-PA-558201", "Auth: 778812", "Precert approved - A99812"
    re.compile(r"(?P<cue>" + _AUTH_WORD + r")(?:\s+(?:on\s+file|obtained|approved|verified|"
               r"granted|issued))?\s*[:=\-–]\s*" + _NUMBER, re.IGNORECASE),
    # "approved under auth 558201", "obtained with precert #A1234"
    re.compile(r"(?:approved|obtained|authorized|on\s+file)\s+(?:under|with|as|per)\s+"
               r"(?P<cue>" + _AUTH_WORD + r")\s*(?:#|no\.?|number)?\s*:?\s*" + _NUMBER,
               re.IGNORECASE),
]
"""An authorization number with its label. A "ref #" or call reference is not one."""
_APPROVAL_ONLY = re.compile(r"(?P<cue>" + _AUTH_WORD + r")\s+(?:was\s+|has\s+been\s+|is\s+)?"
                            r"(?:obtained|approved|on\s+file|granted|in\s+place|verified)\b",
                            re.IGNORECASE)
_AUTH_MENTION = re.compile(_AUTH_WORD + r"|(?<![A-Za-z])PA\s+request", re.IGNORECASE)
_DENIED = re.compile(r"\b(?:denied|declined|rejected|not\s+approved|cancel+ed|expired|"
                     r"withdrawn|voided|retracted)\b", re.IGNORECASE)
_PENDING = re.compile(r"\b(?:pending|requested|request\s+(?:sent|submitted|faxed)|submitted|"
                      r"faxed|awaiting|in\s+review|under\s+review|in\s+process|not\s+yet|"
                      r"to\s+follow|tbd)\b", re.IGNORECASE)
_APPROVED = re.compile(r"\b(?:approved|obtained|on\s+file|valid|verified|authorized|granted|"
                       r"issued|active|confirmed)\b", re.IGNORECASE)
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
# Only codes labelled CPT/HCPCS count: "auth code 12345" is an authorization number.
_CODES = re.compile(r"\b(?:CPT|HCPCS)\s*(?:#|:)?\s*(?P<codes>(?:\d{4}[0-9A-Z]|[A-Z]\d{4})"
                    r"(?:-[A-Z0-9]{2})?(?:\s*(?:,|/|&|and|\+)\s*(?:\d{4}[0-9A-Z]|[A-Z]\d{4})"
                    r"(?:-[A-Z0-9]{2})?)*)", re.IGNORECASE)
_VALUE_PERIOD = re.compile(r"approved (?:for (?P<a>\S+) to|through) (?P<b>\d{4}-\d{2}-\d{2})")
_LABEL_END = re.compile(r"(?<![A-Za-z])(?:no|num|nbr)\.$", re.IGNORECASE)
_COLUMN_GAP = re.compile(r"\s{3,}|\t")


@dataclass(frozen=True, slots=True)
class Period:
    """Approved dates of an authorization; ``start`` is None when only the end is given."""

    start: date | None
    end: date

    def covers(self, day: date) -> bool:
        """Whether ``day`` is inside the period (both ends included)."""
        return (self.start is None or self.start <= day) and day <= self.end

    def describe(self) -> str:
        """``2026-08-20 to 2026-09-19`` or ``through 2026-09-19``."""
        if self.start is None:
            return f"through {self.end.isoformat()}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def authorized_period(text: str, fallback_year: int | None = None) -> Period | None:
    """The approved dates written in ``text``, if any."""
    for pattern in _PERIOD:
        found = pattern.search(text)
        if not found:
            continue
        groups = found.groupdict()
        end_text = groups.get("b") or groups.get("b2") or ""
        end = parse_date(end_text, fallback_year)
        if end is None:
            continue
        start_text = groups.get("a")
        if start_text is None:
            return Period(None, end)
        start = parse_date(start_text, _year_of(end_text) or fallback_year)
        if start is not None and start > end and start.year == end.year:
            start = start.replace(year=start.year - 1)  # "12/15-1/14/27"
        if start is not None and start <= end:
            return Period(start, end)
    return None


def _auth_number(text: str) -> re.Match[str] | None:
    """The first labelled authorization number in ``text`` that is not negated."""
    for pattern in _AUTH_NUMBER:
        for found in pattern.finditer(text):
            number = found.group("number")
            if sum(c.isdigit() for c in number) < 3 or DATE_RE.fullmatch(number):
                continue
            if is_negated(text, found.start("cue"), found.end("cue")):
                continue
            return found
    return None


def _is_approval(quote: str) -> bool:
    """A number or approval statement that is not pending, denied or expired."""
    if _DENIED.search(quote):
        return False
    return not _PENDING.search(quote) or bool(_APPROVED.search(quote))


def _quote_span(sentence: Sentence, start: int, end: int) -> tuple[int, int]:
    """Absolute span of a quote for a match at ``sentence.text[start:end]``: the clause
    around it, starting at the column the match is in (notes laid out in columns)."""
    lo, hi = clause_around(sentence, start, end)
    gaps = [g.end() for g in _COLUMN_GAP.finditer(sentence.text, 0, start)]
    if gaps:
        lo = max(lo, sentence.start + gaps[-1])
    return lo, hi


def _evidence(document: SourceDocument, start: int, end: int, fact: str,
              value: str | None) -> Evidence:
    return Evidence(quote=document.text[start:end], document_id=document.document_id,
                    start=start, end=end, fact=fact, value=value,
                    document_date=document.date, document_title=document.title)


def _auth_in_document(document: SourceDocument, year: int | None
                      ) -> Iterator[tuple[Evidence, str | None, Period | None]]:
    """(evidence, number, period) for each approval statement in one note, and for the
    line right after it when that line gives the approved dates ("Valid: 8/20-9/19/26")."""
    found = _joined_labels(sentences(document.text), document.text)
    for index, sentence in enumerate(found):
        match = _auth_number(sentence.text) or _APPROVAL_ONLY.search(sentence.text)
        if match is None or is_negated(sentence.text, match.start("cue"), match.end("cue")):
            continue
        start, end = _quote_span(sentence, match.start(), match.end())
        quote = document.text[start:end]
        if not _is_approval(quote):
            continue
        period = authorized_period(quote, year)
        number = match.group("number") if "number" in match.groupdict() else None
        yield _evidence(document, start, end, AUTH_FACT, None), number, period
        following = found[index + 1] if index + 1 < len(found) else None
        if period is None and following is not None and _continues(sentence, following,
                                                                   document.text):
            lo, hi = _quote_span(following, 0, len(following.text))
            yield (_evidence(document, lo, hi, AUTH_FACT, None), number,
                   authorized_period(following.text, year))


def _joined_labels(found: list[Sentence], text: str) -> list[Sentence]:
    """Sentences with "Auth no. 1234" put back together (the splitter ends one at "no.")."""
    out: list[Sentence] = []
    for sentence in found:
        previous = out[-1] if out else None
        if previous is not None and _LABEL_END.search(previous.text) \
                and "\n" not in text[previous.end:sentence.start]:
            out[-1] = Sentence(previous.start, sentence.end,
                               text[previous.start:sentence.end], previous.section)
        else:
            out.append(sentence)
    return out


def _continues(sentence: Sentence, following: Sentence, text: str) -> bool:
    """The next line gives the dates of the number just read ("Valid: 8/20-9/19/26")."""
    between = text[sentence.end:following.start]
    return (between.count("\n") <= 1 and authorized_period(following.text) is not None
            and _auth_number(following.text) is None
            and not _AUTH_MENTION.search(following.text))


def prior_auth_approval(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """An approved authorization on file: its number and approved dates, quoted.

    A request that is pending, faxed or denied is not an approval; neither is a call
    reference ("ref # 3317-0820"). Each quote's value is the number, with the approved
    dates when the note states them (the same number gets the same value everywhere).
    """
    year = denial.service_date.year if denial.service_date else None
    found = [item for document in chart.documents
             for item in _auth_in_document(document, year)]
    periods: dict[str, Period] = {}
    for _, number, period in found:
        if number and period and number.upper() not in periods:
            periods[number.upper()] = period
    out: list[Evidence] = []
    for evidence, number, period in found:
        if number is None:
            value = "approval stated, no number"
        else:
            period = periods.get(number.upper(), period)
            value = number if period is None else f"{number}, approved " + (
                f"for {period.describe()}" if period.start else period.describe())
        if all(evidence.quote != e.quote for e in out):
            out.append(evidence.model_copy(update={"value": value}))
    numbered = [e for e in out if e.value != "approval stated, no number"]
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
    if found and all(e.value == "approval stated, no number" for e in found):
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
    named: list[str] = []
    for evidence in ctx.found(AUTH_FACT):
        for found in _CODES.finditer(evidence.quote):
            named += [c.split("-")[0].upper() for c in re.findall(
                r"\d{4}[0-9A-Z](?:-[A-Z0-9]{2})?|[A-Z]\d{4}(?:-[A-Z0-9]{2})?",
                found.group("codes"), re.IGNORECASE)]
    billed = {procedure.submitted_code, procedure.code}
    if not named or billed & set(named):
        return None
    return (f"the authorization names {', '.join(dict.fromkeys(named))}; the claim bills "
            f"{procedure.submitted_code}")


def prior_auth_pending_only(ctx: CheckContext) -> str | None:
    """No approval found, but a note records a request that is pending or was denied."""
    if ctx.found(AUTH_FACT):
        return None
    for document in ctx.chart.documents:
        for sentence in sentences(document.text):
            mention = _AUTH_MENTION.search(sentence.text)
            if mention is None or is_negated(sentence.text, mention.start(), mention.end()):
                continue
            status = _DENIED.search(sentence.text) or _PENDING.search(sentence.text)
            if status is None:
                continue
            note = f"a note of {document.date.isoformat()}" if document.date else "a note"
            kind = "denied" if _DENIED.search(sentence.text) else "pending"
            return f"{note} records the request as {kind}"
    return None


# --- timely filing -----------------------------------------------------------------

_SUBMISSION_RECORD = re.compile(r"277\s?CA|\b277\b|\b999\b|clearinghouse|acknowledg|\b837|"
                                r"\bEDI\b|claim status|batch", re.IGNORECASE)
"""A document that records a claim submission (acknowledgment report, billing note)."""
_ACCEPTED = re.compile(r"\baccepted(?P<how> into adjudication| by (?:the )?payer| for "
                       r"processing)?\b|\b(?:acknowledged|received) by (?:the )?payer\b",
                       re.IGNORECASE)
_CLAIM_WORDS = re.compile(r"\b(?:claims?|277\s?CA|277|999|batch|payer|837|adjudication|"
                          r"clearinghouse)\b", re.IGNORECASE)
_REJECTED = re.compile(r"(?<!\b0 )(?<!zero )\b(?:rejected|returned as unprocessable|"
                       r"unprocessable|not accepted)\b", re.IGNORECASE)
_TALLY = re.compile(r"(?:^|[\s,;])[\d,.]+\s*$")
"""A count before "accepted" ("2 claims, 705.00 accepted"): a batch total, not this claim."""
_SUBMISSION_DATES: list[tuple[str, re.Pattern[str]]] = [
    ("acknowledged by the payer", re.compile(
        r"payer\s+(?:acknowledg(?:e?ment|ed)|ack\b|receipt|received)|(?:acknowledged|accepted"
        r"|received) by (?:the )?payer", re.IGNORECASE)),
    ("forwarded to the payer", re.compile(
        r"(?:forwarded|sent|transmitted|released|submitted) to (?:the )?payer",
        re.IGNORECASE)),
    ("submitted", re.compile(
        r"\b(?:submitted|submission date|date submitted|file received|batch received|"
        r"received by|sent|transmitted|uploaded|filed electronically)\b", re.IGNORECASE)),
    ("reported as accepted", re.compile(
        r"report date|report dated|date of report|date accepted|acceptance date",
        re.IGNORECASE)),
]
"""What a dated line of a submission record says happened on that date."""


def _id_shape(claim_id: str) -> re.Pattern[str] | None:
    """Ids shaped like this claim's ("LOM26-09811" → letters kept, digits any), used to
    tell a report listing several claims from one about this claim only."""
    if len(claim_id) < 6 or not re.search(r"[A-Za-z]", claim_id) \
            or not re.search(r"\d", claim_id):
        return None
    shape = "".join(r"\d" if c.isdigit() else re.escape(c) for c in claim_id)
    return re.compile(r"(?<![A-Za-z0-9])" + shape + r"(?![A-Za-z0-9])", re.IGNORECASE)


_ROW_START = re.compile(r"^\S*\d{4,}\S*(?:\s{2,}|\t)")
"""A report row that starts with an account number: another claim's, when not this one."""


def _names_any(text: str, ids: tuple[str, ...]) -> bool:
    """Whether ``text`` names one of these claim ids as a whole token (case-insensitive)."""
    return any(re.search(r"(?<![A-Za-z0-9])" + re.escape(i) + r"(?![A-Za-z0-9])", text,
                         re.IGNORECASE) for i in ids)


@dataclass(frozen=True, slots=True)
class _Record:
    """A submission record in the chart and how to read its lines for this claim."""

    document: SourceDocument
    ids: tuple[str, ...]
    shape: re.Pattern[str] | None
    own_lines_only: bool
    """The report lists other claims: only lines naming this claim count for it."""

    def mentions_other_claim(self, text: str) -> bool:
        """The line names a claim of the same shape that is not this one."""
        if self.shape is None:
            return False
        return any(m.group(0).upper() not in self.ids for m in self.shape.finditer(text))

    def names_claim(self, text: str) -> bool:
        """The line names this claim (claim id or the payer's claim number)."""
        return _names_any(text, self.ids)

    def about_claim(self, text: str) -> bool:
        """The line can be read as about this claim."""
        if self.own_lines_only or self.names_claim(text):
            return self.names_claim(text)
        return not self.mentions_other_claim(text) and not _ROW_START.match(text)


def _records(chart: ChartBundle, denial: Denial) -> list[_Record]:
    ids = tuple(i.upper() for i in (denial.claim_id, denial.payer_claim_number) if i)
    shape = _id_shape(denial.claim_id)
    out = []
    for document in chart.documents:
        if not _SUBMISSION_RECORD.search(document.text):
            continue
        named = _names_any(document.text, ids)
        if not named and document.linked_by != "encounter":
            continue  # a report near the date that never names this claim
        record = _Record(document, ids, shape, own_lines_only=False)
        crowded = shape is None or record.mentions_other_claim(document.text)
        out.append(_Record(document, ids, shape, own_lines_only=named and crowded))
    return out


def _dates_after(text: str, start: int, denial: Denial) -> list[date]:
    """Dates written after ``start`` in a line, except the date of service of a claim row."""
    year = denial.service_date.year if denial.service_date else None
    days = [parse_date(m.group(0), year) for m in DATE_RE.finditer(text, start)]
    is_row = bool(re.search(r"\bDOS\b", text)) or _names_any(text, (denial.claim_id,))
    return [d for d in days if d is not None and not (is_row and d == denial.service_date)]


def _acceptance(record: _Record, sentence: Sentence, denial: Denial) -> str | None:
    """The value of a line that shows this claim accepted, else None."""
    text = sentence.text
    found = _ACCEPTED.search(text)
    if found is None or is_negated(text, found.start(), found.end()) \
            or _TALLY.search(text[:found.start()]) \
            or _REJECTED.search(text) or not record.about_claim(text) \
            or not (record.names_claim(text) or _CLAIM_WORDS.search(text)):
        return None
    how = (found.group("how") or "").strip().lower()
    if "payer" in found.group(0).lower():
        what = "accepted by the payer"
    elif how:
        what = f"accepted {how}"
    else:
        what = "accepted"
    days = _dates_after(text, found.end(), denial) or _leading_date(text, denial)
    return f"{what} on {days[0].isoformat()}" if days else what


def _leading_date(text: str, denial: Denial) -> list[date]:
    """The timestamp a log row starts with ("02/12/2026 06:30  277CA ... accepted")."""
    found = DATE_RE.match(text.lstrip())
    if found is None:
        return []
    year = denial.service_date.year if denial.service_date else None
    day = parse_date(found.group(0), year)
    return [day] if day is not None and day != denial.service_date else []


def _dated_line(record: _Record, sentence: Sentence, denial: Denial) -> str | None:
    """The value of a dated line of the record ("forwarded to the payer on ..."), or None."""
    text = sentence.text
    if record.mentions_other_claim(text) or (record.own_lines_only
                                             and record.names_claim(text)):
        return None  # another claim's row, or this claim's row (read as its acceptance)
    for kind, pattern in _SUBMISSION_DATES:
        found = pattern.search(text)
        if found is None or is_negated(text, found.start(), found.end()):
            continue
        days = _dates_after(text, found.end(), denial)
        if days:
            return f"{kind} on {days[0].isoformat()}"
    return None


def timely_filing_proof(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """Proof the claim was submitted and accepted: an acknowledgment report's line showing
    this claim accepted, and the report's dated lines (received, forwarded to the payer,
    acknowledged by the payer). Dates are read only from records that show acceptance."""
    accepted: list[Evidence] = []
    dated: list[Evidence] = []
    for record in _records(chart, denial):
        found, lines = _proof_in_record(record, denial)
        accepted += found
        dated += lines if found else []
    dated.sort(key=lambda e: _ISO.findall(e.value or "")[0])
    return accepted[:2] + dated[:4]


def _proof_in_record(record: _Record, denial: Denial) -> tuple[list[Evidence], list[Evidence]]:
    """The acceptance lines and the dated lines of one submission record."""
    accepted: list[Evidence] = []
    dated: list[Evidence] = []
    for sentence in sentences(record.document.text):
        start, end = _quote_span(sentence, 0, len(sentence.text))
        value = _acceptance(record, sentence, denial)
        if value is not None:
            accepted.append(_evidence(record.document, start, end, TIMELY_FACT, value))
            continue
        value = _dated_line(record, sentence, denial)
        if value is not None:
            dated.append(_evidence(record.document, start, end, TIMELY_FACT, value))
    return accepted[:2], dated


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
    for record in _records(ctx.chart, ctx.denial):
        for sentence in sentences(record.document.text):
            if _REJECTED.search(sentence.text) and record.about_claim(sentence.text) \
                    and (record.names_claim(sentence.text)
                         or _CLAIM_WORDS.search(sentence.text)):
                when = f" of {record.document.date.isoformat()}" if record.document.date \
                    else ""
                return f"the submission record{when} shows the claim rejected, not accepted"
    return None


_NEVER_SENT = re.compile(r"\bnever (?:went out|was sent|been sent|sent|submitted|filed|billed)\b"
                         r"|\b(?:was|were|had) not (?:been )?(?:sent|submitted|filed|billed)\b"
                         r"|\bnot (?:sent|submitted|filed|billed) (?:until|before)\b",
                         re.IGNORECASE)
_SENT_ON = re.compile(r"\b(?:created and sent|first (?:sent|submitted|filed|billed)|re-?sent|"
                      r"sent|submitted|filed|billed)\b", re.IGNORECASE)


def timely_filing_first_sent_late(ctx: CheckContext) -> str | None:
    """No acceptance found, and a note says the claim did not go out until a date on or
    after the payer's received date ("claim for 1/8 visit never went out ... claim created
    and sent 07/30/26"): the chart itself shows no earlier submission to prove."""
    received = ctx.denial.received_date
    if ctx.found(TIMELY_FACT) or received is None:
        return None
    for document in ctx.chart.documents:
        if _NEVER_SENT.search(document.text) is None:
            continue
        for sentence in sentences(document.text):
            found = _SENT_ON.search(sentence.text)
            if found is None or not _CLAIM_WORDS.search(document.text):
                continue
            days = _dates_after(sentence.text, found.end(), ctx.denial)
            if days and min(days) >= received:
                return (f"a note records the claim not sent until {min(days).isoformat()} "
                        f"(payer received date {received.isoformat()})")
    return None


# --- registration ------------------------------------------------------------------

def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Add the prior-authorization and timely-filing extractors and checks."""
    extractors.register("prior_auth_approval", prior_auth_approval)
    extractors.register("timely_filing_proof", timely_filing_proof)
    checks.register("prior_auth_no_number", prior_auth_no_number)
    checks.register("prior_auth_outside_period", prior_auth_outside_period)
    checks.register("prior_auth_other_service", prior_auth_other_service)
    checks.register("prior_auth_pending_only", prior_auth_pending_only)
    checks.register("timely_filing_undated", timely_filing_undated)
    checks.register("timely_filing_not_earlier", timely_filing_not_earlier)
    checks.register("timely_filing_rejected", timely_filing_rejected)
    checks.register("timely_filing_first_sent_late", timely_filing_first_sent_late)
