"""Reading dataset files: YAML to validated cases, every problem naming the file and case.

Beyond the models (evals/model.py) a case is checked against the agent itself: its queue
rows must be rows the agent reads, its input (queue rows or 835) must give the agent at
least one denial, its playbook must exist and its cited facts must be that playbook's
facts. Case ids are unique across every file loaded together. A file that is not UTF-8,
not YAML, or gives a key twice in one mapping is refused, naming the case and line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.denials.queue import QueueRow
from agent.playbooks.registry import PlaybookSet
from agent.validation import first_error
from evals.corpus import CORPORA, CORPUS_ENV, CorpusError, variant_width, wrap
from evals.letters import normalise
from evals.materialise import read_denials
from evals.model import DEFAULT_TODAY, Case, Split

DATASETS = Path(__file__).resolve().parent / "datasets"
"""Where the dataset files live."""


class CaseFileError(Exception):
    """A dataset file or one of its cases is not valid: ``FILE: case ID: where: what``."""


@dataclass(frozen=True, slots=True)
class LoadedCase:
    """A case with the file it came from and that file's run date."""

    case: Case
    source: str
    """The dataset file's name, e.g. ``administrative.yaml``."""
    today: date


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps codes and ids with leading zeros as text (YAML 1.1 would read
    ``00840`` or ``0123`` as numbers (octal) and ``14:30`` as a sexagesimal integer),
    keeps an impossible date such as ``2026-02-30`` as text (the case's validation then
    names the field) and rejects a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:  # an unhashable key: the constructor reports it
                    continue
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key}' given twice (first on line {first})",
                        key_node.start_mark)
        return super().construct_mapping(node, deep)  # type: ignore[arg-type]


def _int_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(node.value)
    digits = text.lstrip("+-")
    if ":" in text or (len(digits) > 1 and digits.startswith("0")):
        return text
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:  # 2026-02-30: left as text for the validation to name
        return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)

_CASE_ID_LINE = re.compile(r"^(\s*)-\s+id:\s*['\"]?([a-z0-9][a-z0-9-]*)['\"]?\s*(?:#.*)?$",
                           re.MULTILINE)


def case_at(text: str, line: int) -> str | None:
    """``case ID`` (or ``case #N``) of the case that holds 0-based ``line`` of a dataset
    file's text, when it can be told."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value != "cases" or not isinstance(value, yaml.SequenceNode):
                continue
            for index, item in enumerate(value.value, start=1):
                if item.start_mark.line <= line <= item.end_mark.line:
                    ids = [v.value for k, v in getattr(item, "value", ())
                           if isinstance(item, yaml.MappingNode) and k.value == "id"
                           and isinstance(v, yaml.ScalarNode)]
                    return f"case {ids[0]}" if ids else f"case #{index}"
        return None
    # Not YAML: the last case id line at the outermost list level before ``line``.
    found = [(len(m[1]), text.count("\n", 0, m.start()), m[2])
             for m in _CASE_ID_LINE.finditer(text)]
    if not found:
        return None
    outer = min(indent for indent, _, _ in found)
    before = [case_id for indent, at, case_id in found if indent == outer and at <= line]
    return f"case {before[-1]}" if before else None


def _where(name: str, text: str, line: int) -> str:
    label = case_at(text, line)
    return f"{name}: {label}" if label else name


def read_yaml(path: Path) -> Any:
    """The YAML document of ``path`` (codes with leading zeros kept as text); a file that
    is not UTF-8 or not YAML, or repeats a key, is a :class:`CaseFileError` naming the
    file, the case when it can be told, and the line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start)
        where = _where(path.name, raw.decode("utf-8", errors="replace"), line)
        raise CaseFileError(f"{where}: not UTF-8 text (line {line + 1}, byte "
                            f"0x{raw[exc.start]:02X})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None:
            raise CaseFileError(f"{path.name}: not valid YAML") from None
        problem = getattr(exc, "problem", None) or "not valid YAML"
        if "given twice" not in problem:
            problem = "not valid YAML"
        raise CaseFileError(f"{_where(path.name, text, mark.line)}: {problem} "
                            f"(line {mark.line + 1})") from None


def dataset_files(paths: Sequence[Path] = ()) -> list[Path]:
    """The dataset files to load: the given files (directories: their ``*.yaml``), or
    every file in evals/datasets. A path that is neither, or a folder without dataset
    files, is a :class:`CaseFileError`."""
    found: list[Path] = []
    for path in paths or (DATASETS,):
        if path.is_dir():
            files = sorted(path.glob("*.yaml"))
            if not files:
                raise CaseFileError(f"{path}: a folder with no dataset file (*.yaml)")
            found += files
        elif path.is_file():
            found.append(path)
        else:
            raise CaseFileError(f"{path}: no such dataset file or directory")
    return found


@dataclass(frozen=True, slots=True)
class Selection:
    """The cases loaded, and those skipped because a corpus they reference is absent."""

    cases: list[LoadedCase]
    skipped: dict[str, int] = field(default_factory=dict)
    """Corpus name -> cases (variants included) not loaded because it is not there."""
    corpora: Path | None = None
    """The folder the corpora were looked for in (None: the default)."""

    def skip_line(self) -> str | None:
        """One line saying what was skipped and why, or None."""
        if not self.skipped:
            return None
        count = sum(self.skipped.values())
        names = ", ".join(sorted(self.skipped))
        folders = [CORPORA[name].folder(self.corpora) for name in sorted(self.skipped)]
        if any(folder is None for folder in folders):
            return (f"skipped {count} real-note case{'s' if count != 1 else ''}: no folder "
                    f"holds the {names} corpus (an installed package has no default: give "
                    f"--corpus DIR or set {CORPUS_ENV})")
        where = ", ".join(str(folder) for folder in folders)
        return (f"skipped {count} real-note case{'s' if count != 1 else ''}: the {names} "
                f"corpus is not at {where} (put the shared folder beside the checkout, or "
                f"give --corpus DIR or {CORPUS_ENV})")


def load_file(path: Path, playbooks: PlaybookSet | None = None,
              corpora: Path | None = None) -> list[LoadedCase]:
    """Every case of one dataset file, validated (cases whose corpus is absent from
    ``corpora``, default :func:`evals.corpus.corpora_dir`, left out: :func:`load_selection`
    counts them)."""
    return _load_file(path, playbooks or PlaybookSet.load(), Counter(), corpora)


def _load_file(path: Path, playbooks: PlaybookSet, skipped: Counter[str],
               corpora: Path | None) -> list[LoadedCase]:
    data = read_yaml(path)
    name = path.name
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CaseFileError(f"{name}: a dataset file is a mapping with a 'cases' list")
    unknown = sorted(set(data) - {"today", "cases", "wrapped_variants"})
    if unknown:
        raise CaseFileError(f"{name}: unknown top-level key(s): {', '.join(unknown)}")
    today = _today(data.get("today", DEFAULT_TODAY), name)
    variants = data.get("wrapped_variants", False)
    if not isinstance(variants, bool):
        raise CaseFileError(f"{name}: wrapped_variants: true or false")
    cases = []
    for index, raw in enumerate(data["cases"], start=1):
        case_id = raw.get("id") if isinstance(raw, dict) else None
        label = f"case {case_id}" if isinstance(case_id, str) and case_id else f"case #{index}"
        try:
            case = Case.model_validate(raw)
        except ValidationError as exc:
            raise CaseFileError(f"{name}: {label}: {first_error(exc)}") from None
        absent = _absent_corpora(case, corpora)
        if absent:
            skipped[absent[0]] += 1 + (variants and _has_corpus_notes(case))
            continue
        try:
            case = read_corpus_notes(case, corpora)
        except CorpusError as exc:
            raise CaseFileError(f"{name}: {label}: {exc}") from None
        problem = check_case(case, playbooks)
        if problem:
            raise CaseFileError(f"{name}: {label}: {problem}")
        cases.append(LoadedCase(case, name, today))
        if variants and _has_corpus_notes(case):
            cases.append(LoadedCase(wrapped_variant(case), name, today))
    if not cases and not skipped:
        raise CaseFileError(f"{name}: no cases")
    return cases


def load_selection(paths: Sequence[Path] = (), split: Split | None = None,
                   playbooks: PlaybookSet | None = None,
                   corpora: Path | None = None) -> Selection:
    """The cases of the given dataset files (default: all of evals/datasets), ids unique
    across files, ``split`` keeping only that split, and the count of cases skipped
    because the corpus their notes come from is absent."""
    playbooks = playbooks or PlaybookSet.load()
    loaded: list[LoadedCase] = []
    skipped: Counter[str] = Counter()
    for path in dataset_files(paths):
        loaded += _load_file(path, playbooks, skipped, corpora)
    _unique_ids(loaded)
    return Selection([c for c in loaded if split is None or c.case.split == split],
                     dict(skipped), corpora)


def load_cases(paths: Sequence[Path] = (), split: Split | None = None,
               playbooks: PlaybookSet | None = None) -> list[LoadedCase]:
    """The cases :func:`load_selection` loads (without the skipped count)."""
    return load_selection(paths, split, playbooks).cases


def _has_corpus_notes(case: Case) -> bool:
    return bool(case.chart and case.chart.corpus_notes)


def _absent_corpora(case: Case, corpora: Path | None) -> list[str]:
    notes = case.chart.corpus_notes if case.chart else []
    return sorted({n.source.corpus for n in notes if n.source is not None
                   and not CORPORA[n.source.corpus].available(corpora)})


def read_corpus_notes(case: Case, corpora: Path | None = None) -> Case:
    """``case`` with the text of each corpus note read from ``corpora`` (default
    :func:`evals.corpus.corpora_dir`), wrapped when the note says so."""
    if not case.chart or not case.chart.corpus_notes:
        return case
    notes = []
    for note in case.chart.notes:
        if note.source is not None:
            text = CORPORA[note.source.corpus].text(note.source.id, corpora)
            if note.source.wrap:
                text = wrap(text, note.source.wrap)
            note = note.model_copy(update={"text": text})
        notes.append(note)
    return case.model_copy(update={"chart": case.chart.model_copy(update={"notes": notes})})


def wrapped_variant(case: Case) -> Case:
    """The case with its corpus notes hard-wrapped at :func:`variant_width` columns: id
    ``<id>-wrapped``, tag ``variant:wrapped``, the same expectations."""
    assert case.chart is not None
    width = variant_width(case.id)
    notes = []
    for note in case.chart.notes:
        if note.source is not None and note.source.wrap is None:
            note = note.model_copy(update={
                "source": note.source.model_copy(update={"wrap": width}),
                "text": wrap(note.body, width)})
        notes.append(note)
    return case.model_copy(update={
        "id": f"{case.id}-wrapped", "tags": [*case.tags, "variant:wrapped"],
        "description": f"{case.description} (notes hard-wrapped at {width} columns)",
        "chart": case.chart.model_copy(update={"notes": notes})})


def check_case(case: Case, playbooks: PlaybookSet) -> str | None:
    """What is wrong with a valid-looking case against the agent, or None."""
    for index, row in enumerate(case.denial.rows(), start=1):
        where = "denial.queue_row" if case.denial.queue_row else f"denial.queue_rows[{index}]"
        try:
            QueueRow.model_validate(row)
        except ValidationError as exc:
            return f"{where}: {first_error(exc)}"
    try:
        denials, errors = read_denials(case)
    except Exception as exc:  # an input the agent cannot even be handed is the case's fault
        return f"denial: the input could not be written or read ({type(exc).__name__}: {exc})"
    if not denials:
        why = f": {errors[0]}" if errors else ""
        return f"denial: the agent reads no denial from this input{why}"
    expect = case.expect
    problem = _check_corpus_case(case)
    if problem:
        return problem
    if expect.playbook is None:
        if expect.cited_facts:
            return "expect.cited_facts needs expect.playbook (the facts are a playbook's)"
        return None
    try:
        playbook = playbooks.get(expect.playbook)
    except KeyError:
        known = ", ".join(p.id for p in playbooks.playbooks)
        return f"expect.playbook: no playbook '{expect.playbook}' (known: {known})"
    facts = {f.id for f in playbook.facts}
    for item in expect.cited_facts:
        if item.fact not in facts:
            return (f"expect.cited_facts: '{item.fact}' is not a fact of {playbook.id} "
                    f"({', '.join(sorted(facts))})")
    return None


def _check_corpus_case(case: Case) -> str | None:
    """A case on corpus notes says why its outcome is right, and each quote it expects is
    in one of its notes (case and spacing ignored): nobody wrote those notes to fit."""
    if not _has_corpus_notes(case):
        return None
    if not case.rationale:
        return "rationale: required when a note comes from a corpus"
    assert case.chart is not None
    texts = [normalise(n.body) for n in case.chart.notes if n.text is not None]
    for index, item in enumerate(case.expect.cited_facts):
        if not any(normalise(item.quote_contains) in text for text in texts):
            return (f"expect.cited_facts[{index}]: '{item.quote_contains}' is in no note of "
                    "the chart")
    return None


def _today(value: Any, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CaseFileError(f"{name}: today: not a date (YYYY-MM-DD)") from None


def _unique_ids(cases: Iterable[LoadedCase]) -> None:
    seen: dict[str, str] = {}
    for item in cases:
        if item.case.id in seen:
            raise CaseFileError(f"{item.source}: case {item.case.id}: id already used in "
                                f"{seen[item.case.id]}")
        seen[item.case.id] = item.source
