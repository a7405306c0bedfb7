"""Text as a check should read it: one spelling for the many a string can take.

A check that compares words ("is this an instruction?", "does the reply say ASA 4?") must
not be fooled by how the words are written: full-width or superscript digits, letters
from another script that look Latin (Cyrillic "СОРD", a Greek iota), zero-width or soft
characters between letters, letters spaced apart ("I g n o r e"). :func:`fold` gives the
form every check reads. It is for reading only: quotes stay verbatim, offsets index the
original text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
                               "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d"
                               "\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
                               "\u2069\u3164\ufeff\uffa0"))
"""Characters that show nothing (zero-width spaces and joiners, direction marks, the soft
hyphen, Hangul fillers): dropped."""

_LOOK_ALIKES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
    "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ї": "I", "Ј": "J",
    "Ѕ": "S", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin look-alikes and punctuation
    "ı": "i", "ȷ": "j", "ℓ": "l", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-",
    "―": "-", "−": "-", "‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"',
    "„": '"', "‟": '"',
})
"""Letters of other scripts that render like Latin ones (Unicode's confusables for the
Latin alphabet, the common subset), and typographic dashes and quotes."""

_SPACED = re.compile(r"(?<![\w])(?:[^\W\d_][ \t.·*_-]){3,}[^\W\d_](?![\w])")
"""Four or more single letters each followed by one separator ("I g n o r e",
"a.s.a"): a word spelled out to slip past a word check."""


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """``text`` in the one form checks read.

    Compatibility forms composed (NFKC: "４", "⁴" -> "4"), invisible characters dropped,
    look-alike letters folded to Latin, letters spaced apart joined. Case is kept.
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.translate(_LOOK_ALIKES)
    text = _strip_marks(text)
    return _SPACED.sub(lambda m: re.sub(r"[ \t.·*_-]", "", m.group()), text)


def _strip_marks(text: str) -> str:
    """Combining marks dropped from Latin letters ("ïgnore", "é" -> "e").

    A word check reads the letters, not their accents.
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(
        c for c in decomposed if not unicodedata.combining(c)))
