"""The built-in extractors and checks: the general ones plus each specialty's register().

Built-ins are registered through the same calls a plug-in would use.
"""

from __future__ import annotations

from agent.evidence.extractors import ExtractorRegistry, default_extractors
from agent.playbooks.checks import CheckRegistry, default_checks
from agent.playbooks.specialties import (
    administrative,
    anesthesia,
    distinct_procedure,
    em_modifier_25,
    psychotherapy,
)

SPECIALTIES = (administrative, anesthesia, psychotherapy, em_modifier_25, distinct_procedure)
"""Modules with a ``register(extractors, checks)`` function."""


def builtin_registries() -> tuple[ExtractorRegistry, CheckRegistry]:
    """Fresh registries holding every built-in extractor and check."""
    extractors, checks = default_extractors(), default_checks()
    for module in SPECIALTIES:
        module.register(extractors, checks)
    return extractors, checks
