"""The notes of a visit: which of a chart's notes document the denied service.

One way for every playbook to choose them.

A note documents the visit when the EHR links it to the claim's encounter, or when it is
dated on the date of service; a note from another day documents another visit (the chart
may hold notes from a date window around the service, docs/ehr-adapters.md). Notes on the
encounter come first, then the others in the chart's order.
"""

from __future__ import annotations

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument


def documents_visit(document: SourceDocument, denial: Denial) -> bool:
    """Whether ``document`` is a note of the denied visit.

    It is when it is the encounter's, or dated on the date of service.
    """
    return document.linked_by == "encounter" or (
        denial.service_date is not None and document.date == denial.service_date)


def visit_documents(chart: ChartBundle, denial: Denial) -> list[SourceDocument]:
    """The chart's notes of the denied visit.

    The encounter's first, then those dated on the date of service.
    """
    visit = [d for d in chart.documents if documents_visit(d, denial)]
    return sorted(visit, key=lambda d: d.linked_by != "encounter")
