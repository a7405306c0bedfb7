"""docs/benchmarks.md: each benchmark owns one ``## `` section and replaces only that."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def replace_section(path: Path, title: str, body: str,
                    new_file: Callable[[], str] = lambda: "# Benchmarks\n") -> None:
    """Write ``body`` (which starts with ``title``) in place of the section headed
    ``title``, or append it; a missing report starts from ``new_file()``. ``-`` writes
    nothing (the benchmarks print their section anyway)."""
    if str(path) == "-":
        return
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = new_file()
    start = text.find(title + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"
    else:
        end = text.find("\n## ", start + len(title))
        text = text[:start] + body.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")
    path.write_text(text, encoding="utf-8")
