"""Writing a case to disk the way a practice would hand it to the agent: a queue CSV or an
835 file, and a ``fhir-dir`` directory with the patient's chart."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.denials.model import Denial
from agent.ingest import ingest
from evals.fhir import Resource, encounter, note, patient, write_ndjson
from evals.model import Case, ChartInput

ENCOUNTER_ID = "enc-claim"
"""The id of the claim's Encounter in every materialised chart."""


@dataclass(frozen=True, slots=True)
class Materialised:
    """A case on disk."""

    inputs: list[str]
    """The denial input files (one queue CSV or one .835)."""
    fhir_dir: Path
    resources: list[Resource]
    """Every FHIR resource written to ``fhir_dir``."""
    denials: list[Denial]
    """The denials the agent reads from ``inputs`` (for the evaluators' own checks)."""
    input_errors: list[str]

    @property
    def ehr_source(self) -> str:
        """The ``--ehr`` source string of the chart."""
        return f"fhir-dir:{self.fhir_dir}"


def write_input(case: Case, directory: Path) -> Path:
    """Write the case's denial input under ``directory``: an .835 or a queue CSV."""
    directory.mkdir(parents=True, exist_ok=True)
    if case.denial.x12_835 is not None:
        path = directory / f"{case.id}.835"
        path.write_text(case.denial.x12_835.strip() + "\n", encoding="utf-8")
    else:
        path = directory / f"{case.id}.csv"
        write_queue(path, case.denial.rows())
    return path


def read_denials(case: Case) -> tuple[list[Denial], list[str]]:
    """The denials the agent reads from the case's input, and the input's errors."""
    with tempfile.TemporaryDirectory(prefix="appeals-eval-input-") as tmp:
        report = ingest([str(write_input(case, Path(tmp)))])
        return list(report.denials), [e.replace(f"{tmp}/", "") for e in report.errors]


def materialise(case: Case, directory: Path) -> Materialised:
    """Write ``case`` under ``directory`` (inputs/ and fhir/); nothing else is touched."""
    path = write_input(case, directory / "inputs")
    report = ingest([str(path)])
    resources = chart_resources(case.chart, report.denials) if case.chart else []
    fhir_dir = write_ndjson(directory / "fhir", resources)
    return Materialised([str(path)], fhir_dir, resources, list(report.denials),
                        list(report.errors))


def write_queue(path: Path, rows: list[dict[str, str]]) -> None:
    """A denial queue CSV whose header is the union of the rows' columns."""
    columns = list(dict.fromkeys(column for row in rows for column in row))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def chart_resources(chart: ChartInput, denials: list[Denial]) -> list[Resource]:
    """The FHIR resources of a case's chart: the patient, the claim's encounter (its
    identifiers are the claim ids the denials carry), the notes and the extra resources."""
    person = chart.patient
    resources = [patient(person.id, person.member_id, family=person.family,
                         given=person.given,
                         birth_date=person.birth_date.isoformat() if person.birth_date
                         else None, gender=person.gender)]
    claim_ids = list(dict.fromkeys(d.claim_id for d in denials))
    has_encounter = chart.encounter and bool(claim_ids)
    if has_encounter:
        days = [d.service_date for d in denials if d.service_date]
        resources.append(encounter(ENCOUNTER_ID, claim_ids, person.id,
                                   start=min(days).isoformat() if days else None))
    for item in chart.notes:
        resources.append(note(
            item.id, item.patient or person.id, item.body, day=item.date,
            period_start=item.period_start, title=item.title, status=item.status,
            content_type=item.content_type,
            encounter_id=ENCOUNTER_ID if has_encounter and item.on_encounter else None))
    resources += [dict(r) for r in chart.resources]
    return resources
