"""Delimiter detection and a streaming segment splitter for X12 files.

X12 declares its own delimiters in the fixed-layout ISA segment: the element separator
is ISA's fourth character, the component separator is ISA16 and the segment terminator
follows it. Files in the wild add CR/LF after terminators, wrap lines, or (in some
clearinghouse extracts) drop the ISA/GS envelope and start at ST. This module reads all
of those, in chunks, so a file of any size is split in flat memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from agent.x12.errors import X12ParseError

CHUNK_SIZE = 1 << 20
"""Characters read at a time; a segment may straddle chunks."""

_HEAD_SIZE = 4096
"""Characters read before detecting delimiters: ISA is 106 characters, ST far less."""

_WHITESPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four X12 delimiters of an interchange."""

    element: str
    """Separates elements within a segment (ISA position 4, usually ``*``)."""
    component: str
    """Separates parts of a composite element, e.g. ``HC:99213:25`` (ISA16)."""
    repetition: str | None
    """Separates repeated elements (ISA11 in 00501 and later; None in 00401)."""
    segment: str
    """Ends a segment (the character after ISA16, usually ``~``)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the start of a file says about how to read it."""

    delimiters: Delimiters
    enveloped: bool
    """False when the file starts at ST with no ISA/GS envelope (delimiters assumed)."""


def detect_envelope(head: str, source: str) -> Envelope:
    """Work out the delimiters from the first characters of a file.

    Raises :class:`X12ParseError` when the text does not start like an X12 interchange.
    """
    text = head.lstrip("\ufeff" + _WHITESPACE)
    if not text:
        raise X12ParseError(source, None, None, "the file is empty")
    if text.startswith("ISA"):
        return Envelope(_isa_delimiters(text, source), enveloped=True)
    if text.startswith("ST") and len(text) > 2 and _is_separator(text[2]):
        return Envelope(_bare_st_delimiters(text, source), enveloped=False)
    seg_id = _leading_segment_id(text)
    if seg_id in ("GS", "BPR", "TRN", "CLP", "N1", "LX"):
        raise X12ParseError(source, 1, seg_id, "missing ISA: the interchange header is not "
                            "at the start of the file")
    raise X12ParseError(source, 1, None, "not an X12 file (it does not start with an ISA "
                        "interchange header)")


def _is_separator(ch: str) -> bool:
    return not ch.isalnum() and ch not in _WHITESPACE


def _leading_segment_id(text: str) -> str | None:
    for i, ch in enumerate(text[:4]):
        if not ch.isalnum():
            return text[:i] if i >= 2 and _is_separator(ch) else None
    return None


def _isa_delimiters(text: str, source: str) -> Delimiters:
    element = text[3] if len(text) > 3 else ""
    if not element or not _is_separator(element):
        raise X12ParseError(source, 1, "ISA", "the ISA segment has no valid element separator")
    # ISA has exactly 16 elements; ISA16 is one character, the terminator follows it.
    # Counting separators rather than trusting the fixed width also reads unpadded ISAs.
    pos = 3
    for _ in range(15):
        pos = text.find(element, pos + 1)
        if pos < 0 or pos > 200:
            raise X12ParseError(source, 1, "ISA", "the ISA segment is incomplete "
                                "(fewer than 16 elements)")
    if pos + 1 >= len(text):
        raise X12ParseError(source, 1, "ISA", "the file ends inside the ISA segment")
    component = text[pos + 1]
    if not _is_separator(component) or component == element:
        raise X12ParseError(source, 1, "ISA", "ISA16 is not a valid component separator")
    after = pos + 2
    skipped = ""
    while after < len(text) and text[after] in "\r\n":
        skipped += text[after]
        after += 1
    # Nothing but a line break after ISA16: the file is line-terminated (LF, CRLF or CR).
    line_break = "\n" if "\n" in skipped else "\r"
    if after >= len(text):
        if not skipped:
            raise X12ParseError(source, 1, "ISA", "no segment terminator after the ISA segment")
        terminator = line_break
    elif text[after].isalnum():
        if not skipped:
            raise X12ParseError(source, 1, "ISA", "no segment terminator after ISA16")
        terminator = line_break
    else:
        terminator = text[after]
    if terminator in (element, component):
        raise X12ParseError(source, 1, "ISA", "the segment terminator repeats another delimiter")
    elements = text[:pos].split(element)
    version = elements[12] if len(elements) > 12 else ""
    repetition = elements[11] if len(elements) > 11 else ""
    rep: str | None = None
    if version >= "00501" and len(repetition) == 1 and _is_separator(repetition) and \
            repetition not in (element, component, terminator):
        rep = repetition
    return Delimiters(element=element, component=component, repetition=rep, segment=terminator)


def _bare_st_delimiters(text: str, source: str) -> Delimiters:
    element = text[2]
    for ch in text[3:200]:
        if ch == element or ch.isalnum() or ch == " ":
            continue
        terminator = "\n" if ch in "\r\n" else ch
        return Delimiters(element=element, component=":", repetition=None, segment=terminator)
    raise X12ParseError(source, 1, "ST", "cannot find the segment terminator after ST")


def iter_segments(stream: TextIO, source: str) -> tuple[Envelope, Iterator[list[str]]]:
    """Detect the delimiters, then split the stream into segments lazily.

    Returns the envelope and an iterator of *batches* of segment strings (one batch per
    chunk read, in file order) with surrounding whitespace (CR/LF after terminators,
    indentation) removed and empty segments skipped. Batches rather than single segments
    because a generator step per segment costs more than the split itself.
    """
    head = stream.read(_HEAD_SIZE)
    envelope = detect_envelope(head, source)
    return envelope, _split(stream, head.lstrip("\ufeff"), envelope.delimiters.segment, source)


MAX_SEGMENT = 1 << 20
"""No X12 segment comes near a megabyte; a longer run means the terminator is wrong."""


def _padded(buffer: str, terminator: str) -> bool:
    """Whether a space or tab pads a segment in ``buffer`` (next to a terminator, or first).

    Same answer as ``"~ " in buffer or " ~" in buffer or ...``, faster: a two-character
    search scans every character, while spaces are few in an 835 (ISA padding, some names),
    so visiting each one with a one-character ``find`` (a memchr) costs next to nothing.
    Past ``len(buffer) / 128`` spaces the two searches are cheaper and are used instead.
    """
    if "\t" in buffer or buffer.startswith(" "):
        return True
    find = buffer.find
    pos = find(" ")
    for _ in range(max(64, len(buffer) >> 7)):
        if pos < 0:
            return False
        # pos > 0 here (a leading space returned above); at the end, [pos + 1] is "".
        if buffer[pos - 1] == terminator or buffer[pos + 1:pos + 2] == terminator:
            return True
        pos = find(" ", pos + 1)
    return terminator + " " in buffer or " " + terminator in buffer


def _split(stream: TextIO, first: str, terminator: str, source: str) -> Iterator[list[str]]:
    buffer = first
    drop_line_breaks = terminator not in "\r\n"
    while True:
        padded = True
        if drop_line_breaks:
            # CR/LF are never data in X12: drop them all (which also mends files wrapped at
            # a fixed width), then strip segments only when spaces or tabs pad them.
            if "\r" in buffer:  # a one-character `in` is a memchr; replace always scans
                buffer = buffer.replace("\r", "")
            if "\n" in buffer:
                buffer = buffer.replace("\n", "")
            padded = _padded(buffer, terminator)
        parts = buffer.split(terminator)
        buffer = parts.pop()
        # Only whitespace: control characters can be delimiters (ISA16 = 0x1F).
        batch = [part.strip(_WHITESPACE) for part in parts] if padded else parts
        if not all(batch):  # faster than `"" in batch`, which compares every segment to ""
            batch = [segment for segment in batch if segment]
        if batch:
            yield batch
        if len(buffer) > MAX_SEGMENT:
            raise X12ParseError(source, None, None, "a segment is longer than 1 MB: the file "
                                "is not X12 or its segment terminator is wrong")
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        buffer += chunk
    last = buffer.strip(_WHITESPACE)
    if last:
        # A final segment without its terminator (often IEA): read it as it is.
        yield [last]
