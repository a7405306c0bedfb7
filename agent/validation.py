"""One line for a pydantic validation error: where, then what is wrong."""

from __future__ import annotations

from pydantic import ValidationError


def first_error(exc: ValidationError) -> str:
    """``field.path: what is wrong`` for the first error of a failed validation.

    The path is ``top level`` when the error has no location. The input is never shown (it
    may hold patient data).
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "top level"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"
