"""Reading dataset files: YAML to validated cases, every problem naming the file and case.

Beyond the models (evals/model.py) a case is checked against the agent itself: its queue
rows must be rows the agent reads, its playbook must exist and its cited facts must be
that playbook's facts. Case ids are unique across every file loaded together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.denials.queue import QueueRow
from agent.playbooks.registry import PlaybookSet
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
    """Safe YAML that keeps codes and ids with leading zeros as text: YAML 1.1 would read
    ``00840`` or ``0123`` as numbers (octal) and ``14:30`` as a sexagesimal integer."""


def _int_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(node.value)
    digits = text.lstrip("+-")
    if ":" in text or (len(digits) > 1 and digits.startswith("0")):
        return text
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)


def read_yaml(path: Path) -> Any:
    """The YAML document of ``path`` (codes with leading zeros kept as text)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CaseFileError(f"{path.name}: not valid YAML{where}") from None


def dataset_files(paths: Sequence[Path] = ()) -> list[Path]:
    """The dataset files to load: the given files (directories: their ``*.yaml``), or
    every file in evals/datasets."""
    found: list[Path] = []
    for path in paths or (DATASETS,):
        if path.is_dir():
            found += sorted(path.glob("*.yaml"))
        elif path.is_file():
            found.append(path)
        else:
            raise CaseFileError(f"{path}: no such dataset file or directory")
    return found


def load_file(path: Path, playbooks: PlaybookSet | None = None) -> list[LoadedCase]:
    """Every case of one dataset file, validated."""
    data = read_yaml(path)
    name = path.name
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CaseFileError(f"{name}: a dataset file is a mapping with a 'cases' list")
    unknown = sorted(set(data) - {"today", "cases"})
    if unknown:
        raise CaseFileError(f"{name}: unknown top-level key(s): {', '.join(unknown)}")
    today = _today(data.get("today", DEFAULT_TODAY), name)
    playbooks = playbooks or PlaybookSet.load()
    cases = []
    for index, raw in enumerate(data["cases"], start=1):
        case_id = raw.get("id") if isinstance(raw, dict) else None
        label = f"case {case_id}" if isinstance(case_id, str) and case_id else f"case #{index}"
        try:
            case = Case.model_validate(raw)
        except ValidationError as exc:
            raise CaseFileError(f"{name}: {label}: {_first_error(exc)}") from None
        problem = check_case(case, playbooks)
        if problem:
            raise CaseFileError(f"{name}: {label}: {problem}")
        cases.append(LoadedCase(case, name, today))
    if not cases:
        raise CaseFileError(f"{name}: no cases")
    return cases


def load_cases(paths: Sequence[Path] = (), split: Split | None = None,
               playbooks: PlaybookSet | None = None) -> list[LoadedCase]:
    """The cases of the given dataset files (default: all of evals/datasets), ids unique
    across files; ``split`` keeps only that split."""
    playbooks = playbooks or PlaybookSet.load()
    loaded: list[LoadedCase] = []
    for path in dataset_files(paths):
        loaded += load_file(path, playbooks)
    _unique_ids(loaded)
    return [c for c in loaded if split is None or c.case.split == split]


def check_case(case: Case, playbooks: PlaybookSet) -> str | None:
    """What is wrong with a valid-looking case against the agent, or None."""
    for index, row in enumerate(case.denial.rows(), start=1):
        where = "denial.queue_row" if case.denial.queue_row else f"denial.queue_rows[{index}]"
        try:
            QueueRow.model_validate(row)
        except ValidationError as exc:
            return f"{where}: {_first_error(exc)}"
    expect = case.expect
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


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "top level"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"
