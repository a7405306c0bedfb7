"""Specialty playbooks' Python: extractors and checks, registered by each module's register()."""
