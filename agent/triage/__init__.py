"""Triage: what to do with a denial, decided by rules before any model."""
