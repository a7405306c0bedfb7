"""What a re-run needs to follow the chart and settings: fingerprints, documents, letter ids.

A denial that a playbook decided is decided again when the chart it read changed (a note
added, corrected or removed; a structured fact changed) or its playbook did (YAML,
vocabularies, templates: :meth:`agent.playbooks.registry.PlaybookSet.fingerprint`). The
text of every document a decision read is kept in the store under its hash, so what was
read stays visible after the chart moves on.

A pending draft is drafted again, with no new decision, when what its letter prints from
the configuration changed: the practice's ``[letter]`` settings or the payer row its
claim matches (:class:`DraftSettings`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from agent.config import AppConfig, DeadlineRule, LetterSettings
from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.store.records import DenialRecord, DocumentRef
from agent.triage.deadlines import deadline_rule

Redecided = Literal["chart changed", "playbook changed", "chart and playbook changed"]
"""Why a denial decided by an earlier run was decided again."""
Redrafted = Literal["practice settings changed", "payer settings changed",
                    "practice and payer settings changed"]
"""Why a pending draft whose denials were not decided again is drafted again."""

_NOT_PRINTED = frozenset({"letterhead_docx"})
"""``[letter]`` settings no letter's text shows (the letterhead is the DOCX's page)."""
_ROW_NOT_PRINTED = frozenset({"name", "filing_indicators", "payer_ids", "payer_name_contains",
                              "days", "counted_from", "presumed_receipt_days", "source",
                              "confirmed", "policies"})
"""Payer-row fields no letter prints as they are: those that match the payer or set the
deadline, and the policies (a letter prints its own playbook's alone)."""


def text_hash(text: str) -> str:
    """The key a document's text is kept under (the same form as a letter's content hash)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_refs(chart: ChartBundle) -> tuple[list[DocumentRef], dict[str, str]]:
    """The chart's documents as references, and their texts by hash (for the store)."""
    refs = [DocumentRef(document_id=d.document_id, date=d.date, text_hash=text_hash(d.text),
                        title=d.title, encounter_id=d.encounter_id,
                        content_type=d.content_type, linked_by=d.linked_by,
                        original_hash=d.original_hash)
            for d in chart.documents]
    texts = {ref.text_hash: d.text for ref, d in zip(refs, chart.documents, strict=True)}
    return refs, texts


def stored_chart(record: DenialRecord, text_of: Callable[[str], str | None]) -> ChartBundle:
    """The chart the record's last decision read, from the store alone (no EHR).

    Its documents (texts by hash through ``text_of``) and structured facts, without the
    patient, whom the store never keeps; a document whose text is gone is left out.
    """
    documents = []
    for ref in record.documents:
        text = text_of(ref.text_hash)
        if text is None:
            continue
        documents.append(SourceDocument(
            document_id=ref.document_id, patient_id="", title=ref.title, date=ref.date,
            encounter_id=ref.encounter_id, content_type=ref.content_type or "text/plain",
            text=text, linked_by=ref.linked_by or "encounter",
            original_hash=ref.original_hash))
    return ChartBundle(documents=tuple(documents), facts=tuple(record.chart_facts))


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


def with_attachments(chart: ChartBundle, record: DenialRecord,
                     text_of: Callable[[str], str | None]) -> ChartBundle:
    """The chart with the documents auditors attached to the denial (their stored texts)."""
    if not record.attached_documents:
        return chart
    have = {d.document_id for d in chart.documents}
    extra = stored_chart(record.model_copy(update={
        "documents": [r for r in record.attached_documents if r.document_id not in have],
        "chart_facts": []}), text_of).documents
    return chart.model_copy(update={"documents": (*chart.documents, *extra)})


def practice_fingerprint(settings: LetterSettings) -> str:
    """A hash of the ``[letter]`` settings a letter's text shows (all but the letterhead)."""
    return _hash(settings.model_dump_json(exclude=set(_NOT_PRINTED)))


def payer_fingerprint(rule: DeadlineRule | None, playbook_id: str) -> str:
    """A hash of what a letter of ``playbook_id`` prints from its payer's row.

    That is the appeal address, fax, portal and level name, and the row's policy for that
    playbook. A row that only matches differently, or sets another deadline, prints the
    same letter: its fingerprint is the same.
    """
    if rule is None:
        return _hash("no payer row")
    printed = rule.model_dump_json(exclude=set(_ROW_NOT_PRINTED))
    return _hash(f"{printed}\x1f{rule.policies.get(playbook_id)}")


@dataclass(frozen=True, slots=True)
class DraftSettings:
    """What a letter prints from the configuration, as fingerprints.

    They are recorded on the letter's denials when it is drafted
    (``DenialRecord.practice_fingerprint`` and ``payer_fingerprint``).
    """

    practice: str
    """:func:`practice_fingerprint` of the ``[letter]`` settings."""
    payer: str
    """:func:`payer_fingerprint` of the claim's payer row, for the letter's playbook."""

    @classmethod
    def of(cls, config: AppConfig, denial: Denial, playbook_id: str) -> DraftSettings:
        """The settings a letter of ``playbook_id`` on ``denial``'s claim prints now.

        The payer row is the first that matches the claim's payer, as for the letter
        (agent/letters/render.py) and the deadline (:func:`deadline_rule`).
        """
        return cls(practice_fingerprint(config.letter),
                   payer_fingerprint(deadline_rule(denial, config.deadlines), playbook_id))

    def why_redraft(self, members: Sequence[DenialRecord]) -> Redrafted | None:
        """Whether (and why) the pending draft of these denials is drafted again.

        Compared with the fingerprints recorded when the draft was drafted; a denial with
        none (drafted by a release that kept none, or added to the letter since) says
        nothing, so the draft stands.
        """
        recorded = [r for r in members if r.practice_fingerprint and r.payer_fingerprint]
        practice_changed = any(r.practice_fingerprint != self.practice for r in recorded)
        payer_changed = any(r.payer_fingerprint != self.payer for r in recorded)
        if practice_changed and payer_changed:
            return "practice and payer settings changed"
        if practice_changed:
            return "practice settings changed"
        if payer_changed:
            return "payer settings changed"
        return None

    def recorded_on(self, record: DenialRecord) -> DenialRecord:
        """``record`` with these fingerprints (itself when it has them already)."""
        if (record.practice_fingerprint, record.payer_fingerprint) == (self.practice,
                                                                        self.payer):
            return record
        return record.model_copy(update={"practice_fingerprint": self.practice,
                                         "payer_fingerprint": self.payer})


def _hash(payload: str) -> str:
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def next_letter_id(letter_id: str) -> str:
    """The id of the draft that supersedes ``letter_id`` (stable, so a resumed run agrees)."""
    digest = hashlib.sha256(f"{letter_id}\x1fnext draft".encode()).hexdigest()
    return "lt_" + digest[:16]
