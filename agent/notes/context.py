"""Assertion context of a phrase in a sentence: ConText, with its rules kept as data.

ConText (Harkema et al., 2009) decides whether a finding is negated, possible,
hypothetical, historical or about a family member from cue phrases and their scope. The
rules are medspaCy's English rules (agent/notes/data/context_rules.json, MIT, converted by
tools/convert_context_rules.py) plus this project's additions
(agent/notes/data/context_rules_extra.yaml, e.g. PLANNED). A cue acts on the words after it
(FORWARD), before it (BACKWARD) or both, within its sentence, up to ``max_scope_words``
words, and never past a TERMINATE cue or a clause mark (``;`` ``:``, a dash, a comma before
a capitalised word). A PSEUDO cue ("no relief", "not tolerated") cancels any cue it
overlaps.

Matching is plain regular expressions (medspaCy itself measured about 60 ms a note
here): a sentence is searched the first time a phrase of it is asked about, and a rule
none of whose written words occurs in it is not searched at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

Category = Literal["NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HYPOTHETICAL", "HISTORICAL",
                   "FAMILY", "PLANNED"]
CATEGORIES: tuple[Category, ...] = ("NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HYPOTHETICAL",
                                    "HISTORICAL", "FAMILY", "PLANNED")
Direction = Literal["FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"]
DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")

_WORD = re.compile(r"\S+")
_CLAUSE_MARK = re.compile(r"[;:]|\s[-–—]\s|,\s*(?=[A-Z])(?!I\b)")
"""Where a cue's scope ends inside a sentence: a clause mark, a dash between words, or a
comma before a capitalised word other than "I" ("No effusion, Lachman positive"; a list
goes on in lower case: "no edema, cyanosis or clubbing")."""


class ContextRuleError(ValueError):
    """A rule file is not valid (names the file and the rule)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One cue: what it stands for, its category, direction and pattern."""

    literal: str
    category: str
    direction: str
    regex: str


@dataclass(frozen=True, slots=True)
class Cue:
    """A rule matched in a sentence (offsets relative to the sentence)."""

    rule: Rule
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Assertion:
    """The context of a phrase: every category whose cue covers it, and those cues."""

    categories: frozenset[str]
    cues: tuple[Cue, ...] = ()

    @property
    def negated(self) -> bool:
        """Whether a NEGATED_EXISTENCE cue covers the phrase ("denies", "no")."""
        return "NEGATED_EXISTENCE" in self.categories

    def __contains__(self, category: object) -> bool:
        return category in self.categories


class ContextRules:
    """A compiled rule set."""

    def __init__(self, rules: list[Rule], max_scope_words: int,
                 scope_by_category: dict[str, int] | None = None) -> None:
        self.rules = tuple(rules)
        self.max_scope_words = max_scope_words
        self.scope_by_category = dict(scope_by_category or {})
        self._patterns = [(rule, re.compile(rule.regex, re.IGNORECASE), _words_of(rule.regex))
                          for rule in self.rules]

    @classmethod
    @cache
    def default(cls) -> ContextRules:
        """The rules of medspaCy and the project's additions, compiled once."""
        data = resources.files("agent.notes").joinpath("data")
        base = json.loads(data.joinpath("context_rules.json").read_text(encoding="utf-8"))
        extra = yaml.safe_load(data.joinpath("context_rules_extra.yaml")
                               .read_text(encoding="utf-8"))
        rules = _rules(base.get("context_rules"), "context_rules.json")
        rules += _rules(extra.get("context_rules"), "context_rules_extra.yaml")
        return cls(rules, int(extra.get("max_scope_words", 10)),
                   {str(k): int(v) for k, v in
                    (extra.get("max_scope_words_by_category") or {}).items()})

    def cues(self, sentence: str) -> list[Cue]:
        """Every cue in ``sentence``, PSEUDO cues removing those they overlap."""
        return self.resolve(self.matches(sentence))

    def matches(self, text: str) -> list[Cue]:
        """Every rule's matches in ``text`` (whole words), before :meth:`resolve`."""
        present = set(_LETTER_RUNS.findall(text.lower()))
        return [Cue(rule, m.start(), m.end()) for rule, pattern, words in self._patterns
                if not words.isdisjoint(present)
                for m in pattern.finditer(text) if _whole(text, m.start(), m.end())]

    @staticmethod
    def resolve(found: list[Cue]) -> list[Cue]:
        """The cues of one sentence's matches.

        PSEUDO cues cancel those they overlap, and a cue inside a longer one of its category
        and direction is that one.
        """
        pseudo = [c for c in found if c.rule.direction == "PSEUDO"]
        kept = [c for c in found if c.rule.direction != "PSEUDO"
                and not any(p.start <= c.start < p.end or c.start <= p.start < c.end
                            for p in pseudo)]
        # A cue inside a longer cue of the same category and direction is the same cue.
        return [c for c in kept if not any(o is not c and o.rule.category == c.rule.category
                                           and o.rule.direction == c.rule.direction
                                           and o.start <= c.start and c.end <= o.end
                                           and (o.end - o.start) > (c.end - c.start)
                                           for o in kept)]

    def assertion(self, sentence: str, start: int, end: int,
                  cues: list[Cue] | None = None) -> Assertion:
        """The context of ``sentence[start:end]``."""
        cues = self.cues(sentence) if cues is None else cues
        covering = tuple(c for c in cues if c.rule.direction not in ("TERMINATE", "PSEUDO")
                         and not (c.start < end and start < c.end)
                         and self._covers(sentence, c, start, end, cues))
        return Assertion(frozenset(c.rule.category for c in covering), covering)

    def _covers(self, sentence: str, cue: Cue, start: int, end: int, cues: list[Cue]) -> bool:
        direction = cue.rule.direction
        if cue.end <= start and direction in ("FORWARD", "BIDIRECTIONAL"):
            between = (cue.end, start)
        elif end <= cue.start and direction in ("BACKWARD", "BIDIRECTIONAL"):
            between = (end, cue.start)
        else:
            return False
        gap = sentence[between[0]:between[1]]
        mark = _CLAUSE_MARK.search(sentence, between[0], min(len(sentence), between[1] + 1))
        if mark is not None and mark.start() < between[1]:
            return False
        scope = self.scope_by_category.get(cue.rule.category, self.max_scope_words)
        if len(_WORD.findall(gap)) > scope:
            return False
        return not any(t.rule.direction == "TERMINATE" and between[0] <= t.start
                       and t.end <= between[1] for t in cues)


_LETTER_RUNS = re.compile(r"[a-z]+")
_ESCAPE = re.compile(r"\\.")


def _words_of(regex: str) -> frozenset[str]:
    """The letter runs written in a pattern.

    A text none of them appears in cannot match it (every rule matches letters), so its
    search is skipped.
    """
    return frozenset(_LETTER_RUNS.findall(_ESCAPE.sub(" ", regex.lower())))


def _joins(a: str, b: str) -> bool:
    """Whether two characters belong to one word (a cue never starts or ends mid-word)."""
    return (a.isalnum() or a in "_/") and (b.isalnum() or b in "_/")


def _whole(sentence: str, start: int, end: int) -> bool:
    """Whether ``sentence[start:end]`` is whole words.

    Checked here rather than in each pattern, which keeps the patterns' literal prefixes
    fast to search.
    """
    if start == end:
        return False
    if start > 0 and _joins(sentence[start - 1], sentence[start]):
        return False
    return not (end < len(sentence) and _joins(sentence[end - 1], sentence[end]))


def _rules(raw: Any, source: str) -> list[Rule]:
    if not isinstance(raw, list):
        raise ContextRuleError(f"{source}: context_rules must be a list")
    rules = []
    for index, item in enumerate(raw):
        where = f"{source}: context_rules[{index}]"
        if not isinstance(item, dict):
            raise ContextRuleError(f"{where}: a mapping")
        try:
            rule = Rule(str(item["literal"]), str(item["category"]), str(item["direction"]),
                        str(item["regex"]))
        except KeyError as exc:
            raise ContextRuleError(f"{where}: missing {exc.args[0]}") from None
        if rule.direction not in DIRECTIONS:
            raise ContextRuleError(f"{where}: direction '{rule.direction}' is not one of "
                                   f"{', '.join(DIRECTIONS)}")
        if rule.category not in (*CATEGORIES, "TERMINATE"):
            raise ContextRuleError(f"{where}: category '{rule.category}' is not one of "
                                   f"{', '.join(CATEGORIES)}, TERMINATE")
        try:
            re.compile(rule.regex)
        except re.error as exc:
            raise ContextRuleError(f"{where}: regex does not compile ({exc})") from None
        rules.append(rule)
    return rules
