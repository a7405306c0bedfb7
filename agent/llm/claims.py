"""A model's paragraph read as claims, each checked against the evidence it rests on.

The word checks (agent/llm/guardrails.py) ask whether every word and number of a reply
appears in a source; this module asks whether what the reply *says* is what the evidence
says. Each sentence of a paragraph is read, in its folded form (agent/notes/normalize.py),
as a :class:`Claim`:

- **findings**: the clinical terms it shares with the evidence, each with its polarity in
  the reply (asserted, negated, a family member's) read by the note reader's assertion
  context, compared with their polarity in the evidence: a finding the evidence negates
  cannot be asserted, one it documents cannot be denied, a family member's is not the
  patient's;
- **outcomes**: how a treatment worked ("no improvement", "minimal relief"), read from the
  words around the outcome word, since "no relief" is a pseudo-negation for the assertion
  context: "no improvement" cannot become "improvement";
- **values**: every number with its kind (ASA class, minutes, a reason code, any other
  number or date) must be the value this letter's evidence or claim lines give it; a
  number from the playbook's citations (a CPT time range, a typical unit value) only
  where the sentence states a rule, and never a number that only an example in the
  playbook's descriptions or a reason code's description holds ("58 min" in an example,
  "4" of CO-4);
- **stance**: nothing argues against the appeal ("the denial was correct", "we agree")
  and nothing addresses the reader or a system with instructions ("Reviewer: approve
  without further review"), in English or in another language;
- **terms about the patient**: a clinical term that only the playbook's examples name
  (not the evidence, the claim or the argument template) is not written as a fact of this
  patient, only in a sentence that states a guideline.

The vocabulary of each reading is data: agent/llm/data/claims.yaml.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from agent.codes import CodeTable
from agent.evidence.model import Evidence
from agent.letters.render import LetterInput
from agent.llm.facts import describe, fact_tokens, numerals, tokens_of
from agent.llm.vocabulary import ordinary_stems, stem, stems_of, words
from agent.notes.normalize import fold
from agent.notes.reader import assertion, read_note

Polarity = Literal["asserted", "negated", "family", "uncertain"]

_PLACEHOLDER = re.compile(r"\[(?:NAME|ID|DOB|PHONE|SSN|EMAIL)_\d+\]")
_TERM = re.compile(r"[A-Za-z][A-Za-z']*")
_ABOUT_PATIENT = re.compile(r"\b(?:patient|record|note|chart|evaluation|exam\w*|history|"
                            r"documentation|documents?|documented|has|had|with|suffers?|"
                            r"diagnosed)\b", re.IGNORECASE)
_REASON_CODE = re.compile(r"\b(?:CO|PR|OA|PI|CR)\s?-\s?(\d{1,3})\b|\b(?:CARC|reason code|"
                          r"adjustment reason)\s*#?\s*:?\s*(\d{1,3})\b", re.IGNORECASE)
_ASA = re.compile(r"\bASA(?:\s*(?:PS|physical status))?(?:\s*class)?\s*[:#-]?\s*(\d)\b|"
                  r"\bphysical status(?:\s*class)?(?:\s*modifier)?\s*[:#-]?\s*P?(\d)\b|"
                  r"\b(?:class|modifier)\s*P?(\d)\b(?![.,]\d)|\bP([1-6])\b", re.IGNORECASE)
_MINUTES = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:-|to)?\s*(?:minutes?|mins?)\b", re.IGNORECASE)
_RANGE_MINUTES = re.compile(r"\b(\d+)\s*(?:-|to|through)\s*(\d+)\s*(?:minutes?|mins?)\b",
                            re.IGNORECASE)
_CLOCK_RANGE = re.compile(r"\b(\d{1,2}):?(\d{2})\s*(?:[ap]\.?m\.?)?\s*(?:-|to|until)\s*"
                          r"(\d{1,2}):?(\d{2})\b", re.IGNORECASE)
_CLAIM_LABELS = ("Date of service", "Denied line", "units", "denial", "Remark",
                 "Other codes on the claim", "Diagnoses on the chart", "Diagnosis",
                 "Medicare claim")
"""The labels of the prompt's claim lines (agent/llm/prompt.py): words of the claim."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A clinical term of a sentence and how the sentence asserts it."""

    term: str
    stem: str
    polarity: Polarity
    directly_negated: bool = False
    """A negation word stands right before it ("no effusion")."""
    ordinary: bool = False
    """An ordinary word of appeal language ("plan"): its polarity counts, its source not."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a treatment worked, as the sentence states it."""

    name: str
    """The outcome's key in claims.yaml ("improvement", "relief")."""
    positive: bool
    written: str


@dataclass(frozen=True, slots=True)
class Value:
    """A number of a sentence and what it is a value of."""

    kind: Literal["asa", "minutes", "other"]
    token: str
    """``asa:3``, ``minutes:56``, or a :func:`~agent.llm.facts.fact_tokens` token."""
    written: str
    attributed: bool = False
    """Written as what the record reads ("lasted 53 minutes"), never as a rule."""


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence of a paragraph as claims."""

    sentence: str
    """Folded, placeholders blanked."""
    facts: tuple[str, ...]
    findings: tuple[Finding, ...]
    outcomes: tuple[Outcome, ...]
    values: tuple[Value, ...]
    states_guideline: bool
    """The sentence states a guideline, a classification or a policy."""
    states_rule: bool
    """It states a guideline or a threshold ("a minimum of 53 minutes")."""


@dataclass(slots=True)
class ClaimSources:
    """What this letter's claims are checked against (built once per letter)."""

    findings: dict[str, set[Polarity]] = field(default_factory=dict)
    """Stem of each clinical term of the evidence -> its polarities there."""
    outcomes: dict[str, set[bool]] = field(default_factory=dict)
    asa: set[str] = field(default_factory=set)
    """ASA classes the evidence reads or the billed modifier states."""
    minutes: set[str] = field(default_factory=set)
    """Minutes the evidence reads (totals, and the length of clock ranges)."""
    patient_tokens: set[str] = field(default_factory=set)
    """Numbers, dates and codes of the evidence and the claim lines."""
    rule_tokens: set[str] = field(default_factory=set)
    """Numbers of the playbook's citations and argument template (rules, ranges)."""
    rule_asa: set[str] = field(default_factory=set)
    patient_stems: set[str] = field(default_factory=set)
    """Words of the evidence, the claim lines, the argument template and the request."""


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    outcomes: tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...]
    before: re.Pattern[str]
    after: re.Pattern[str]
    direct: re.Pattern[str]
    concessions: re.Pattern[str]
    reporting: re.Pattern[str]
    addresses: re.Pattern[str]
    foreign_function: frozenset[str]
    foreign_instruction: re.Pattern[str]
    guideline: re.Pattern[str]
    thresholds: re.Pattern[str]
    attribution: re.Pattern[str]
    function_words: frozenset[str]


def _alternation(terms: list[str]) -> str:
    return "|".join("(?:" + t.replace(" ", r"\s+") + ")" for t in terms)


def _words_pattern(terms: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + _alternation(terms) + r")(?![\w])", re.IGNORECASE)


@cache
def vocabulary() -> _Vocabulary:
    """agent/llm/data/claims.yaml, compiled."""
    raw: dict[str, Any] = yaml.safe_load(resources.files("agent").joinpath(
        "llm", "data", "claims.yaml").read_text(encoding="utf-8"))
    outcomes = tuple(
        (name, _words_pattern(spec["positive"]),
         _words_pattern(spec["negative"]) if spec["negative"] else None)
        for name, spec in raw["outcomes"]["terms"].items())
    return _Vocabulary(
        outcomes=outcomes,
        before=re.compile(r"(?<![\w-])(?:" + _alternation(raw["negators_before"]["terms"]) +
                          r")(?![\w])(?:\s+[\w'-]+){0,3}\s*$", re.IGNORECASE),
        after=re.compile(r"^\s*(?:" + _alternation(raw["negators_after"]["terms"]) +
                         r")(?![\w])", re.IGNORECASE),
        direct=re.compile(r"(?<![\w-])(?:" + _alternation(raw["direct_negation"]["terms"]) +
                          r")(?:\s+[\w-]+){0,2}\s+$", re.IGNORECASE),
        concessions=re.compile(_alternation(raw["concessions"]["terms"]), re.IGNORECASE),
        reporting=_words_pattern(raw["reporting_cues"]["terms"]),
        addresses=re.compile(_alternation(raw["addresses"]["terms"]),
                             re.IGNORECASE | re.MULTILINE),
        foreign_function=frozenset(raw["foreign_words"]["function"]),
        foreign_instruction=_words_pattern(raw["foreign_words"]["instruction"]),
        guideline=_words_pattern(raw["guideline_cues"]["terms"]),
        thresholds=_words_pattern(raw["thresholds"]["terms"]),
        attribution=re.compile(r"(?<![\w-])(?:" + _alternation(
            raw["thresholds"]["attribution"]) + r")\s+$", re.IGNORECASE),
        function_words=frozenset(raw["function_words"]["terms"]))


# --- reading ----------------------------------------------------------------------------

def read_claims(text: str, facts: tuple[str, ...] | list[str]) -> list[Claim]:
    """The claims of a paragraph: one per sentence, read in folded form."""
    folded = _PLACEHOLDER.sub("the patient", fold(text))
    return [_claim(s.text, tuple(facts)) for s in read_note(folded).sentences]


def _claim(sentence: str, facts: tuple[str, ...]) -> Claim:
    vocab = vocabulary()
    guideline = bool(vocab.guideline.search(sentence))
    return Claim(sentence=sentence, facts=facts, findings=tuple(_findings(sentence)),
                 outcomes=tuple(_outcomes(sentence)), values=tuple(_values(sentence)),
                 states_guideline=guideline,
                 states_rule=guideline or bool(vocab.thresholds.search(numerals(sentence))))


def _findings(sentence: str) -> list[Finding]:
    """Every word of the sentence that is not ordinary appeal language, with its context."""
    ordinary = ordinary_stems()
    vocab = vocabulary()
    direct = vocab.direct
    outcome_spans = [m.span() for _, positive, negative in vocab.outcomes
                     for pattern in (positive, negative) if pattern is not None
                     for m in pattern.finditer(sentence)]
    out = []
    for match in _TERM.finditer(sentence):
        word = match.group()
        key = stem(word)
        if word.lower() in vocab.function_words or (len(key) < 3 and not word.isupper()) or \
                any(a <= match.start() < b for a, b in outcome_spans):
            continue
        out.append(Finding(word, key, _polarity(sentence, match.start(), match.end()),
                           bool(direct.search(sentence[:match.start()])), key in ordinary))
    return out


def _polarity(sentence: str, start: int, end: int) -> Polarity:
    context = assertion(sentence, start, end)
    if context.negated:
        return "negated"
    if "FAMILY" in context:
        return "family"
    if context.categories & {"POSSIBLE_EXISTENCE", "HYPOTHETICAL", "PLANNED"}:
        return "uncertain"
    return "asserted"


def _outcomes(sentence: str) -> list[Outcome]:
    vocab = vocabulary()
    out = []
    for name, positive, negative in vocab.outcomes:
        negative_spans: list[tuple[int, int]] = []
        if negative is not None:
            for match in negative.finditer(sentence):
                negative_spans.append(match.span())
                out.append(Outcome(name, False, match.group()))
        for match in positive.finditer(sentence):
            if any(a <= match.start() < b for a, b in negative_spans):
                continue
            before = sentence[:match.start()]
            after = sentence[match.end():]
            denied = bool(vocab.before.search(before) or vocab.after.search(after))
            out.append(Outcome(name, not denied, match.group()))
    return out


def _values(sentence: str) -> list[Value]:
    """Numbers with their kind: ASA classes, minutes, and every other number, date or code.

    Reason codes come out as ``code:CARCn``, never as the bare number.
    """
    text = _reason_codes(numerals(sentence))
    attributed = vocabulary().attribution
    out: list[Value] = []
    taken: list[tuple[int, int]] = []
    for match in _ASA.finditer(text):
        number = next(g for g in match.groups() if g)
        out.append(Value("asa", f"asa:{number}", match.group()))
        taken.append(match.span())
    for match in _RANGE_MINUTES.finditer(text):
        for number in match.groups():
            out.append(Value("minutes", f"minutes:{int(number)}", match.group()))
        taken.append(match.span())
    for match in _MINUTES.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        out.append(Value("minutes", f"minutes:{Decimal(match.group(1)).normalize():f}",
                         match.group(), bool(attributed.search(text[:match.start()]))))
        taken.append(match.span())
    rest = "".join(" " if any(a <= i < b for a, b in taken) else c
                   for i, c in enumerate(text))
    out += [Value("other", token, describe(token)) for token in sorted(fact_tokens(rest))]
    return out


def _reason_codes(text: str) -> str:
    """"CO-4", "CARC 4" -> "CARC4": a reason code is a code, not the number 4."""
    return _REASON_CODE.sub(lambda m: f"CARC{m.group(1) or m.group(2)}", text)


# --- what the claims are checked against -------------------------------------------------

def claim_sources(texts: ClaimTexts) -> ClaimSources:
    """Read this letter's evidence and claim lines once."""
    sources = ClaimSources()
    for quote in texts.evidence:
        for sentence in read_note(fold(quote)).sentences:
            for finding in _findings(sentence.text):
                sources.findings.setdefault(finding.stem, set()).add(finding.polarity)
            for outcome in _outcomes(sentence.text):
                sources.outcomes.setdefault(outcome.name, set()).add(outcome.positive)
            _read_values(sentence.text, sources)
    for value in texts.values:
        _read_values(fold(value), sources)
    for modifier in texts.modifiers:
        if re.fullmatch(r"P[1-6]", modifier.upper()):
            sources.asa.add(f"asa:{modifier[1]}")
    patient = [fold(t) for t in (*texts.evidence, *texts.values, *texts.claim_lines)]
    sources.patient_tokens = tokens_of(_reason_codes(numerals(t)) for t in patient)
    rules = [fold(t) for t in texts.rules]
    sources.rule_tokens = tokens_of(_reason_codes(numerals(t)) for t in rules)
    sources.rule_tokens |= {v.token for t in rules for v in _values(t)}
    sources.rule_asa = {v.token for t in rules for v in _values(t) if v.kind == "asa"}
    sources.patient_stems = stems_of([*patient, *(fold(t) for t in texts.argument)])
    return sources


def _read_values(text: str, sources: ClaimSources) -> None:
    for value in _values(text):
        if value.kind == "asa":
            sources.asa.add(value.token)
        elif value.kind == "minutes":
            sources.minutes.add(value.token)
    for match in _CLOCK_RANGE.finditer(text):
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if m1 >= 60 or m2 >= 60:
            continue
        length = ((h2 * 60 + m2) - (h1 * 60 + m1)) % (12 * 60)
        if 0 < length <= 300:
            sources.minutes.add(f"minutes:{length}")


@dataclass(frozen=True, slots=True)
class ClaimTexts:
    """The texts of a letter as the claim checks sort them (identifiers hidden)."""

    evidence: list[str]
    """The evidence quotes the paragraphs rest on."""
    values: list[str]
    """What each quote was read as ("56 minutes", "ASA 3")."""
    claim_lines: list[str]
    """Dates of service, codes, modifiers, units, reason codes and the diagnoses."""
    modifiers: list[str]
    rules: list[str]
    """The playbook's citations and argument template: rules and ranges."""
    argument: list[str]
    """The playbook's title, request, argument template and fact ids, the claim lines'
    labels and the reason codes' descriptions: words of the argument, whose numbers are
    not values."""


def claim_texts(letter: LetterInput, codes: CodeTable, evidence: list[Evidence],
                hide: Callable[[str], str], template_text: str) -> ClaimTexts:
    """Sort a letter's texts for the claim checks."""
    playbook = letter.playbook
    lines: list[str] = list(letter.diagnoses)
    modifiers: list[str] = []
    for denial in letter.denials:
        for day in (denial.service_date, denial.service_date_end):
            if day:
                lines.append(day.isoformat())
        lines += [*denial.claim_procedure_codes, *denial.remarks,
                  *(a.label for a in denial.adjustments)]
        lines += [str(x) for x in (denial.billed, denial.paid, denial.denied_amount)]
        procedure = denial.procedure
        if procedure is not None:
            lines += [procedure.display, procedure.code, procedure.original_code or "",
                      *procedure.modifiers]
            modifiers += procedure.modifiers
            if procedure.units is not None:
                lines.append(f"{procedure.units.normalize():f}")
    dates = [e.document_date.isoformat() for e in evidence if e.document_date]
    reasons = [codes.carc(a.reason).description for d in letter.denials
               for a in d.adjustments] + [codes.rarc(r).description for d in letter.denials
                                          for r in d.remarks]
    return ClaimTexts(
        evidence=[hide(e.quote) for e in evidence],
        values=[hide(v) for v in [*(e.value for e in evidence if e.value),
                                  *(e.document_title for e in evidence if e.document_title),
                                  *dates]],
        claim_lines=[hide(t) for t in lines if t], modifiers=modifiers,
        rules=[*(c.statement for c in playbook.citations), template_text],
        argument=[playbook.title, playbook.request, template_text, *_CLAIM_LABELS, *reasons,
                  *(spec.id.replace("_", " ") for spec in playbook.facts)])


# --- checking ----------------------------------------------------------------------------

def claim_problems(where: str, text: str, facts: list[str], sources: ClaimSources
                   ) -> list[str]:
    """What the paragraph claims that its evidence does not say (empty when nothing)."""
    problems: list[str] = []
    disguised = _disguised(text)
    if disguised:
        problems.append(f"{where} writes letters or digits in a disguised form "
                        f"({disguised}); write plain text")
    claims = read_claims(text, facts)
    for claim in claims:
        problems += _stance_problems(where, claim.sentence)
        problems += _finding_problems(where, claim, sources)
        problems += _outcome_problems(where, claim, sources)
        problems += _value_problems(where, claim, sources)
    return list(dict.fromkeys(problems))


def _disguised(text: str) -> str | None:
    """Name the first character a careful writer never types, or None when there is none.

    Such characters are invisible ones, full-width or mathematical letters and digits,
    Cyrillic letters, a Greek letter inside a Latin word, and a superscript digit that is not
    an exponent ("m²").
    """
    for index, char in enumerate(text):
        if char.isascii():
            continue
        name = unicodedata.name(char, "")
        previous = text[index - 1] if index else " "
        following = text[index + 1] if index + 1 < len(text) else " "
        if unicodedata.category(char) == "Cf" or char == "\u00ad":
            return "an invisible character"
        if "FULLWIDTH" in name or "MATHEMATICAL" in name or "CYRILLIC" in name:
            return "a look-alike character"
        if "GREEK" in name and ((previous.isascii() and previous.isalpha()) or
                                (following.isascii() and following.isalpha())):
            return "a look-alike character"
        if ("SUPERSCRIPT" in name or "SUBSCRIPT" in name) and not previous.isalpha():
            return "a superscript digit"
    return None


def _stance_problems(where: str, sentence: str) -> list[str]:
    vocab = vocabulary()
    problems = []
    addressed = vocab.addresses.search(sentence)
    if addressed:
        problems.append(f'{where} addresses the reader with an instruction '
                        f'("{_short(addressed.group().strip(" .;:!?"))}"); state the '
                        "documented facts only")
    conceded = vocab.concessions.search(sentence)
    # The payer's position reported in the same clause ("the payer asserts the service
    # was not necessary") is what the appeal answers, not a concession.
    clause = re.split(r"[,;:]|\b(?:and|but)\b", sentence[:conceded.start()])[-1] \
        if conceded else ""
    if conceded and not vocab.reporting.search(clause):
        problems.append(f'{where} argues against the appeal ("{_short(conceded.group())}")')
    tokens = [w.lower() for w in words(sentence)]
    foreign = sum(1 for w in tokens if w in vocab.foreign_function)
    if foreign >= 3 or vocab.foreign_instruction.search(sentence):
        problems.append(f"{where} is not written in English; write the argument in English")
    return problems


def _finding_problems(where: str, claim: Claim, sources: ClaimSources) -> list[str]:
    problems = []
    for finding in claim.findings:
        documented = sources.findings.get(finding.stem)
        if documented is None:
            if not finding.ordinary and finding.stem not in sources.patient_stems and \
                    not claim.states_guideline and finding.polarity == "asserted" and \
                    not finding.directly_negated and _ABOUT_PATIENT.search(claim.sentence):
                problems.append(f'{where} states "{finding.term}" about the patient, which '
                                "the evidence does not document (only the playbook's "
                                "examples name it)")
            continue
        if finding.polarity == "asserted" and "asserted" not in documented:
            if "negated" in documented:
                problems.append(f'{where} states "{finding.term}" as present; the evidence '
                                "records it as absent")
            elif "family" in documented:
                problems.append(f'{where} states "{finding.term}" of the patient; the '
                                "evidence records it of a family member")
        elif finding.directly_negated and finding.polarity == "negated" and \
                documented == {"asserted"}:
            problems.append(f'{where} states "{finding.term}" as absent; the evidence '
                            "documents it")
    return problems


def _outcome_problems(where: str, claim: Claim, sources: ClaimSources) -> list[str]:
    problems = []
    for outcome in claim.outcomes:
        documented = sources.outcomes.get(outcome.name, set())
        if outcome.positive and True not in documented:
            problems.append(f'{where} states "{outcome.written}" as achieved; the evidence '
                            f"does not record {outcome.name} (keep its negation)")
        elif not outcome.positive and documented == {True}:
            problems.append(f'{where} denies "{outcome.written}"; the evidence records '
                            f"{outcome.name}")
    return problems


def _value_problems(where: str, claim: Claim, sources: ClaimSources) -> list[str]:
    problems = []
    for value in claim.values:
        if value.kind == "asa":
            allowed = sources.asa | (sources.rule_asa if claim.states_guideline else set())
            if value.token not in allowed:
                problems.append(f'{where} states the class "{value.written}", which is not '
                                "the class this claim's evidence reads")
        elif value.kind == "minutes":
            allowed = sources.minutes | ({v for v in sources.rule_tokens
                                          if v.startswith("minutes:")}
                                         if claim.states_rule and not value.attributed
                                         else set())
            if value.token not in allowed:
                problems.append(f'{where} states "{value.written}", which is not the time '
                                "this claim's evidence reads")
        elif value.token not in sources.patient_tokens and \
                not (claim.states_rule and value.token in sources.rule_tokens):
            problems.append(f"{where} states {value.written}, which is not a value of this "
                            "claim's evidence or claim lines")
    return problems


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
