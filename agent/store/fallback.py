"""What a stored letter's ``llm_fallback`` may hold: a fixed code, never the model's text.

The drafter (:mod:`agent.llm.drafter`) records why a letter's argument came from the
template as one of these codes; the store keeps nothing else, also when an older run
stored free text.
"""

from __future__ import annotations

FALLBACK_CODES = frozenset({
    "rejected: grounding", "rejected: values", "rejected: quotes", "rejected: negation",
    "rejected: polarity", "rejected: facts", "rejected: injection", "rejected: stance",
    "rejected: identifier", "rejected: shape", "rejected: checks",
    "error: timeout", "error: connection", "error: rate_limited", "error: server_error",
    "error: http_error", "error: client_error", "error: truncated", "error: content_filter",
    "error: invalid_reply", "error: not_configured", "error: internal",
    "stopped: max_cost", "stopped: llm_unavailable",
})
"""Everything ``llm_fallback`` may hold: a category and a code, never the model's text."""


def error_code(kind: str) -> str:
    """The fallback code ``error: <kind>`` for a failed request's kind.

    Anything not in :data:`FALLBACK_CODES` becomes ``error: internal``.
    """
    code = f"error: {kind}"
    return code if code in FALLBACK_CODES else "error: internal"


def safe_fallback(value: str | None) -> str | None:
    """``value`` if it is one of :data:`FALLBACK_CODES`, else only its category.

    A value of no known category becomes ``error: internal``: a stored fallback never carries
    free text.
    """
    if value is None or value in FALLBACK_CODES:
        return value
    category = value.split(":", 1)[0].strip().lower()
    for code in sorted(FALLBACK_CODES):
        if code.split(":", 1)[0] == category and code.endswith(("checks", "internal")):
            return code
    if category in ("max_cost", "llm_unavailable"):
        return f"stopped: {category}"
    return error_code(category)
