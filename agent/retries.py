"""A run-wide retry budget for tenacity, shared by the clients that call out of process.

The model client (agent/llm/client.py) and the FHIR REST transport
(agent/ehr/fhir_rest/transport.py) each retry a failed request a few times; across a whole
run, their retries together are capped by a :class:`RetryBudget`, so a server that fails
every request costs the run a bounded number of waits, not one backoff per request.
"""

from __future__ import annotations

import threading

from tenacity import RetryCallState
from tenacity.stop import stop_base


class RetryBudget:
    """Retries left in a run, shared by every thread that spends them."""

    def __init__(self, retries: int) -> None:
        self._left = retries
        self._lock = threading.Lock()

    @property
    def left(self) -> int:
        """Retries not spent yet."""
        return self._left

    def take(self) -> bool:
        """Spend one retry; False when none is left."""
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


class budget_spent(stop_base):
    """Stop when the run's retry budget is spent; otherwise spend one retry.

    Combine it with an attempt limit (``stop_after_attempt(n) | budget_spent(budget)``):
    tenacity evaluates it only when a retry is due, so the budget is spent only on retries.
    """

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        """True (stop) when no retry is left."""
        return not self.budget.take()
