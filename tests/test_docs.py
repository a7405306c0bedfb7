"""The repository cites its own documents: no path outside the checkout, no missing anchor.

Domain facts live in docs/domain.md and are cited by anchor (``docs/domain.md#carc``).
The only paths outside the repository a file may name are the data the code reads from
the shared folder beside the checkout by design (``../shared/data/external``: the real
835 files, the CMS tables and the note corpus), and, in the few files that explain that
set-up, the folder itself (``../shared``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SCANNED = ("agent", "templates", "specialty_playbooks", "evals", "tests", "benchmarks",
           "tools", "docs", "README.md")
"""What is checked: the tracked (and new, not ignored) text files under these paths."""

THIS_FILE = "tests/test_docs.py"

OUTSIDE = ("REFERENCE" ".md", "shared" "/domain", "../shared", "/work/")
"""Strings that name a document or folder outside the repository (split in two so that a
``grep`` for them over the repository finds no hit in this file)."""

SHARED_DATA = "../shared/data/external"
"""The shared data the code reads by design (tests/conftest.py ``EXTERNAL``,
evals/corpus.py, benchmarks, tools): allowed anywhere."""

MAY_NAME_SHARED_FOLDER = frozenset({
    "README.md",                       # "The tests read real files from ../shared"
    "docs/evals.md",                   # the real-note evaluation reads ../shared
    "tests/conftest.py",               # skips or fails tests when ../shared is absent
    "tests/test_evals_real_notes.py",  # the corpus in ../shared
    "tools/build_code_tables.py",      # regenerates agent/data from the CMS list in ../shared
})
"""Files that may name the shared folder itself (``../shared``), to say the tests and tools
read its data."""

DOMAIN = ROOT / "docs" / "domain.md"
ANCHOR_CITATION = re.compile(r"domain\.md#([A-Za-z0-9_-]+)")
ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')


def _scanned_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--",
             *SCANNED], cwd=ROOT, capture_output=True, check=True).stdout
        names = sorted({n for n in listed.decode().split("\0") if n})
    except (OSError, subprocess.CalledProcessError):  # no git: walk, skipping dot folders
        names = sorted(str(p.relative_to(ROOT)) for top in SCANNED for p in
                       ([ROOT / top] if (ROOT / top).is_file() else (ROOT / top).rglob("*"))
                       if p.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                                  for part in p.relative_to(ROOT).parts))
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _outside_citations(name: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        rest = line.replace(SHARED_DATA, "")
        for needle in OUTSIDE:
            if needle not in rest:
                continue
            if needle == "../shared" and name in MAY_NAME_SHARED_FOLDER:
                continue
            found.append(f"{name}:{number}: {needle!r} in {line.strip()[:100]!r}")
    return found


def test_the_scan_sees_the_repository() -> None:
    names = {str(p.relative_to(ROOT)) for p in _scanned_files()}
    assert {"README.md", "docs/domain.md", "agent/config.py", THIS_FILE} <= names
    assert names >= MAY_NAME_SHARED_FOLDER  # the exceptions name files that exist


def test_no_file_cites_a_path_outside_the_repository() -> None:
    found = []
    for path in _scanned_files():
        name = str(path.relative_to(ROOT))
        text = _text(path)
        if name == THIS_FILE or text is None:
            continue
        found += _outside_citations(name, text)
    assert not found, "cite docs/ instead:\n" + "\n".join(found)


def test_the_check_catches_what_it_should() -> None:
    assert _outside_citations("agent/x.py", "# see ../shared/" "domain/REFERENCE" ".md §2b")
    assert _outside_citations("agent/x.py", "# see REFERENCE" ".md §2b")
    assert _outside_citations("agent/x.py", "open('/work/shared/x')")
    assert _outside_citations("agent/x.py", "the corpus in ../shared")
    assert not _outside_citations("README.md", "the corpus in ../shared")
    assert not _outside_citations("agent/x.py", "(default ../shared/data/external)")


def test_every_cited_domain_anchor_exists() -> None:
    anchors = ANCHOR.findall(DOMAIN.read_text(encoding="utf-8"))
    assert len(anchors) == len(set(anchors)), "duplicate anchors in docs/domain.md"
    missing = []
    for path in _scanned_files():
        text = _text(path)
        if text is None or path.name == "test_docs.py":
            continue
        for number, line in enumerate(text.splitlines(), 1):
            missing += [f"{path.relative_to(ROOT)}:{number}: #{anchor}"
                        for anchor in ANCHOR_CITATION.findall(line) if anchor not in anchors]
    assert not missing, "no such section in docs/domain.md:\n" + "\n".join(missing)
