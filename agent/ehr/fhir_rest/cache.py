"""The run's cache of FHIR answers: each asked once, however many threads want it.

Denials of one patient share its searches (facts, related persons), and denials of one
claim its notes and their attachments: the first thread to ask fetches, the others wait
for its answer. A failure is not kept (the next denial asks again). Attachments are kept
only while their bytes fit ``max_bytes``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class RunCache:
    """Answers by key, kept for the adapter's life (one run)."""

    def __init__(self, max_bytes: int) -> None:
        """``max_bytes`` bounds the values given a ``size`` (attachments)."""
        self._items: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._bytes = 0
        self.hits = 0
        """Answers given from the cache (or from another thread's fetch)."""

    def get(self, key: Hashable, fetch: Callable[[], T],
            size: Callable[[T], int] | None = None) -> T:
        """The value for ``key``: kept, being fetched by another thread, or fetched now.

        Exceptions of ``fetch`` reach every thread waiting for it; nothing is kept then.
        """
        with self._lock:
            future = self._items.get(key)
            owner = future is None
            if future is None:
                future = self._items[key] = Future()
            else:
                self.hits += 1
        if not owner:
            value: T = future.result()
            return value
        try:
            value = fetch()
        except BaseException as exc:
            with self._lock:
                del self._items[key]
            future.set_exception(exc)
            raise
        if size is not None:
            self._account(key, size(value))
        future.set_result(value)
        return value

    def _account(self, key: Hashable, size: int) -> None:
        with self._lock:
            if self._bytes + size > self._max_bytes:
                del self._items[key]  # threads already waiting still get it
            else:
                self._bytes += size
