"""Denials: the model the rest of the system reads, and how they are found in inputs."""

from agent.denials.model import AdjustmentRef, Denial, PatientRef, PayerRef, ProcedureRef

__all__ = ["AdjustmentRef", "Denial", "PatientRef", "PayerRef", "ProcedureRef"]
