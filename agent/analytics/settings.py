"""What a report may be asked to change: thresholds and windows (docs/kpis.md)."""

from __future__ import annotations

from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ReportSettings(BaseModel):
    """The report's settings; the defaults are what ``appeals report`` and the dashboard use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_count: int = Field(5, ge=1, description="Prevention: the fewest denials a "
                           "payer, root cause and procedure pattern needs to be suggested "
                           "(`appeals report --min-count`).")
    top_reasons: int = Field(5, ge=1, description="How many denial reasons the top lists "
                             "show.")
    throughput_days: int = Field(30, ge=1, le=366, description="Auditor throughput counts "
                                 "the reviews of this many days, ending on the report "
                                 "date.")
    due_within: tuple[int, ...] = Field((7, 14, 30), description="Appeals due within each "
                                        "of these many days of the report date.")

    @field_validator("due_within")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        """Windows are positive and each longer than the one before."""
        if not value or value[0] < 1 or any(b <= a for a, b in pairwise(value)):
            raise ValueError("give increasing numbers of days, from 1")
        return value
