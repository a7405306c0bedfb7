"""Words of a narrative, by stem: what a source grounds and what is ordinary language."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib import resources

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_SUFFIXES = ("ically", "ations", "ation", "ities", "ity", "ments", "ment", "ness", "ingly",
             "ings", "ing", "edly", "ed", "ies", "es", "ly", "s")


def stem(word: str) -> str:
    """A crude stem, enough to match 'documented' with 'documents'.

    It also matches 'injections' with 'injection'; it is never used to say what a word
    means.
    """
    word = word.lower().removesuffix("'s").strip("'")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[:-len(suffix)] + ("y" if suffix == "ies" else "")
            break
    return word.removesuffix("e") if len(word) > 3 else word


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and apostrophes; hyphenated words split)."""
    return _WORD.findall(text)


def stems_of(texts: Iterable[str | None]) -> set[str]:
    """Every word stem of ``texts``."""
    out: set[str] = set()
    for text in texts:
        if text:
            out.update(stem(w) for w in words(text))
    return out


@cache
def ordinary_stems() -> frozenset[str]:
    """Stems of agent/llm/data/ordinary_words.txt.

    These are function words and the ordinary language of an appeal, which need no source.
    """
    text = resources.files("agent").joinpath("llm", "data", "ordinary_words.txt").read_text(
        encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return frozenset(stem(w) for line in lines for w in line.split())


def is_ordinary(word: str) -> bool:
    """Whether ``word`` is ordinary language (not a clinical or claim-specific term)."""
    return stem(word) in ordinary_stems()
