"""``fhir:BASE_URL``: charts from a FHIR R4 server (SMART Backend Services).

* :mod:`~agent.ehr.fhir_rest.adapter`: the searches and how they become a chart (the
  ``fhir-dir`` rules of agent/ehr/fhir_chart.py);
* :mod:`~agent.ehr.fhir_rest.auth`: the signed client assertion and the token's reuse;
* :mod:`~agent.ehr.fhir_rest.transport`: retries, Retry-After, size limits, errors;
* :mod:`~agent.ehr.fhir_rest.cache`: what the run has already fetched;
* :mod:`~agent.ehr.fhir_rest.settings`: ``[ehr.fhir]`` and ``APPEALS_EHR_FHIR_*``.

docs/adding-an-ehr-adapter.md ("fhir: REST") shows a configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.ehr.fhir_rest.adapter import FhirRestAdapter
from agent.ehr.fhir_rest.settings import FhirRestSettings
from agent.ehr.protocols import EHRSourceError

__all__ = ["FhirRestAdapter", "FhirRestSettings", "open_fhir_rest"]


def open_fhir_rest(location: str, table: Mapping[str, Any]) -> FhirRestAdapter:
    """The adapter for ``fhir:LOCATION`` with the ``[ehr.fhir]`` table (env over it).

    Raises:
        EHRSourceError: The settings do not validate, or the source cannot be used.
    """
    try:
        settings = FhirRestSettings(**dict(table))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                             for e in exc.errors())
        raise EHRSourceError(f"fhir: the [ehr.fhir] settings are not valid: {problems}"
                             ) from None
    return FhirRestAdapter(location, settings)
