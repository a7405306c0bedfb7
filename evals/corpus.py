"""Notes from a corpus of real clinical text, referenced by id instead of copied.

A real-note eval case names its note as ``source: {corpus: mtsamples, id: ...}``; the
loader reads the text from the corpus here, so the repository never holds the notes.
The corpora live in the external data folder of the project's shared folder, beside the
checkout (``../shared/data/external``; ``appeals eval --corpus DIR`` or
``APPEALS_CORPUS_DIR`` points elsewhere): MTSamples, 1,155 transcribed notes, one per file
(docs/evals.md, "Real notes"). An installed package (a wheel, not a checkout) has no
default: it reads the corpora only from ``--corpus`` or ``APPEALS_CORPUS_DIR``. A fresh
clone without that folder, or an install given none, skips these cases, saying how many;
it never fails on them.

``wrap`` re-wraps a note the way dictation systems and PDF exports hard-wrap text: every
line longer than the width is broken at spaces (never inside a word, never at a
hyphen), nothing else changes. The wrapped variants of a dataset (``wrapped_variants:
true``) use a width from 60 to 80 columns chosen from the case id, so the set covers the
range and every run is the same.
"""

from __future__ import annotations

import os
import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path

CORPUS_ENV = "APPEALS_CORPUS_DIR"
"""Environment variable naming the folder that holds the corpora (default:
``shared/data/external`` beside the checkout)."""

CHECKOUT = Path(__file__).resolve().parents[1]
"""The folder above the evals package: the checkout when it holds ``pyproject.toml``
(an editable install), site-packages in an installed wheel."""

WRAP_WIDTHS = range(60, 81)
"""The widths the wrapped variants use (columns)."""


@dataclass(frozen=True, slots=True)
class Corpus:
    """A folder of notes, one text file per note."""

    name: str
    relative: str
    """Where the corpus is under the corpora folder."""
    pattern: str
    """The note file's path under the corpus folder, ``{id}`` standing for the id."""
    description: str

    def folder(self, root: Path | None = None) -> Path | None:
        """The corpus folder under ``root`` (default :func:`corpora_dir`; None when there
        is no default: an installed package)."""
        base = root or corpora_dir()
        return base / self.relative if base is not None else None

    def available(self, root: Path | None = None) -> bool:
        """Whether the corpus folder is there."""
        folder = self.folder(root)
        return folder is not None and folder.is_dir()

    def text(self, note_id: str, root: Path | None = None) -> str:
        """The note's text; a missing note is a :class:`CorpusError` naming it."""
        folder = self.folder(root)
        if folder is None:
            raise CorpusError(f"corpus {self.name}: no folder given (--corpus DIR or "
                              f"{CORPUS_ENV})")
        path = folder / self.pattern.format(id=note_id)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CorpusError(f"corpus {self.name} has no note '{note_id}'") from None
        except UnicodeDecodeError:
            raise CorpusError(f"corpus {self.name}: note '{note_id}' is not UTF-8") from None


class CorpusError(Exception):
    """A referenced note cannot be read (the message names the corpus and the id)."""


CORPORA: dict[str, Corpus] = {
    "mtsamples": Corpus(
        name="mtsamples", relative="mtsamples", pattern="notes/{id}.txt",
        description="MTSamples transcribed clinical notes (mtsamples.com), one per file"),
}
"""The corpora a case may reference, by name."""


def corpora_dir() -> Path | None:
    """The folder holding the corpora: ``APPEALS_CORPUS_DIR``, else
    ``shared/data/external`` beside the checkout; None in an installed package given
    neither (it has no checkout to stand beside)."""
    configured = os.environ.get(CORPUS_ENV)
    if configured:
        return Path(configured)
    if (CHECKOUT / "pyproject.toml").is_file():
        return CHECKOUT.parent / "shared" / "data" / "external"
    return None


def wrap(text: str, width: int) -> str:
    """``text`` with every line longer than ``width`` broken at spaces into lines of at
    most ``width`` columns (a single word longer than that stays whole)."""
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        lines += textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False,
                               replace_whitespace=False) or [""]
    return "\n".join(lines)


def variant_width(case_id: str) -> int:
    """The wrap width of a case's wrapped variant: 60-80 columns, fixed by its id."""
    return WRAP_WIDTHS[zlib.crc32(case_id.encode()) % len(WRAP_WIDTHS)]
