"""The EHR adapter extension point."""

from __future__ import annotations

from collections.abc import Sequence
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


@runtime_checkable
class FetchesChartsTogether(Protocol):
    """An adapter that fetches several charts at once (a work queue's), e.g. concurrently.

    Optional: the workflow asks it for the charts of a work queue's denials together
    before deciding them, and falls back to :meth:`EHRAdapter.chart_for` one by one for
    adapters without it. Each chart follows the ``chart_for`` rules: a denial whose chart
    cannot be read gets a chart whose ``problems`` say so, never an exception that stops
    the others.
    """

    def charts_for(self, requests: Sequence[ChartRequest]) -> list[ChartBundle]:
        """One chart per request, in the order asked."""
        ...


class EHRSourceError(Exception):
    """The EHR source cannot be used at all (bad path, unreadable); says why, no PHI."""


class NoEHRSource(EHRSourceError):
    """A chart was asked for, but no EHR source was given (``--ehr``)."""


class NoEHR:
    """The adapter when no EHR source was given: every chart asked of it is NoEHRSource.

    A run without ``--ehr`` decides with it every denial that needs no chart (rules,
    outcomes) and leaves those that do to a run with one; the review commands use it too.
    """

    def chart_for(self, request: ChartRequest) -> ChartBundle:
        """Always :class:`NoEHRSource`."""
        raise NoEHRSource("no EHR source was given (--ehr)")
