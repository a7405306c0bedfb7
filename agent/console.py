"""The rich console the commands print with."""

from __future__ import annotations

from rich.console import Console


def console() -> Console:
    """A console for stdout; piped or in CI it is 180 columns wide so tables keep ids
    whole instead of squeezing into 80 columns."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=180)
    return out
