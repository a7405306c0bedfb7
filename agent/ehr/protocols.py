"""The EHR adapter extension point."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agent.ehr.model import ChartBundle, ChartRequest


@runtime_checkable
class EHRAdapter(Protocol):
    """Finds the chart a denial needs. Built from a source string such as ``fhir-dir:PATH``.

    Implementations must not raise for a patient or note that cannot be found: they
    return a :class:`ChartBundle` whose ``problems`` say what is missing. They may raise
    :class:`EHRSourceError` when the source itself is unusable (directory missing).
    """

    def chart_for(self, request: ChartRequest) -> ChartBundle:
        """The patient, notes and structured facts for one denial."""
        ...


@runtime_checkable
class ReportsSourceWarnings(Protocol):
    """An adapter that can say what its source held that it could not use.

    Optional: the run records these lines in the manifest and prints them (no PHI).
    """

    def source_warnings(self) -> tuple[str, ...]:
        """One line per problem with the source as a whole (files skipped, nothing found)."""
        ...


class EHRSourceError(Exception):
    """The EHR source cannot be used at all (bad path, unreadable); says why, no PHI."""
