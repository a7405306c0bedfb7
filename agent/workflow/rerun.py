"""What a re-run needs to follow the chart: fingerprints, kept documents, new letter ids.

A denial that a playbook decided is decided again when the chart it read changed (a note
added, corrected or removed; a structured fact changed) or its playbook did (YAML,
vocabularies, templates: :meth:`agent.playbooks.registry.PlaybookSet.fingerprint`). The
text of every document a decision read is kept in the store under its hash, so what was
read stays visible after the chart moves on.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from agent.ehr.model import ChartBundle
from agent.store.records import DenialRecord, DocumentRef

Redecided = Literal["chart changed", "playbook changed", "chart and playbook changed"]
"""Why a denial decided by an earlier run was decided again."""


def text_hash(text: str) -> str:
    """The key a document's text is kept under (the same form as a letter's content hash)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_refs(chart: ChartBundle) -> tuple[list[DocumentRef], dict[str, str]]:
    """The chart's documents as references, and their texts by hash (for the store)."""
    refs = [DocumentRef(document_id=d.document_id, date=d.date, text_hash=text_hash(d.text))
            for d in chart.documents]
    texts = {ref.text_hash: d.text for ref, d in zip(refs, chart.documents, strict=True)}
    return refs, texts


def chart_fingerprint(chart: ChartBundle | None) -> str:
    """A hash of everything a decision can read in the chart.

    That is the patient, each document (id, date, title, type, text) and each structured
    fact, plus what the adapter could not find (a chart that was missing and now is found
    is a changed chart).
    """
    payload = chart.model_dump_json() if chart is not None else "no chart"
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def why_decide_again(record: DenialRecord, chart: str,
                     playbook: str | None) -> Redecided | Literal["first"] | None:
    """Whether (and why) a playbook's denial is decided on this run; None: keep it.

    ``first`` when no run recorded what it decided on (a new denial, a denial that failed,
    or one decided by a release before fingerprints were kept).
    """
    if record.chart_fingerprint is None or record.playbook_fingerprint is None:
        return "first"
    chart_changed = record.chart_fingerprint != chart
    playbook_changed = record.playbook_fingerprint != playbook
    if chart_changed and playbook_changed:
        return "chart and playbook changed"
    if chart_changed:
        return "chart changed"
    if playbook_changed:
        return "playbook changed"
    return None


def next_letter_id(letter_id: str) -> str:
    """The id of the draft that supersedes ``letter_id`` (stable, so a resumed run agrees)."""
    digest = hashlib.sha256(f"{letter_id}\x1fnext draft".encode()).hexdigest()
    return "lt_" + digest[:16]
