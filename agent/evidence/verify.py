"""The check that runs before any letter is written: every quote is verbatim at its span."""

from __future__ import annotations

from collections.abc import Iterable

from agent.ehr.model import ChartBundle
from agent.evidence.model import Evidence


class EvidenceError(Exception):
    """A quote is not what its source holds at its span (names the document, not the text)."""


def verify_evidence(evidence: Iterable[Evidence], chart: ChartBundle) -> None:
    """Raise :class:`EvidenceError` unless every quote is exactly its source's text.

    Notes: ``text[start:end] == quote``. Structured resources (no span): the quote equals
    the one built from the resource's own fields.
    """
    notes = {d.document_id: d.text for d in chart.documents}
    facts = {f.resource_id: f.quote for f in chart.facts}
    for item in evidence:
        if item.start is None or item.end is None:
            if facts.get(item.document_id) != item.quote:
                raise EvidenceError(f"{item.document_id}: the quote is not the resource's own "
                                    "text")
            continue
        text = notes.get(item.document_id)
        if text is None:
            raise EvidenceError(f"{item.document_id}: not among the chart's documents")
        if text[item.start:item.end] != item.quote:
            raise EvidenceError(f"{item.document_id}: the quote is not the text at "
                                f"{item.start}-{item.end}")
