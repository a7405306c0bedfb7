"""``appeals ingest --db``: read inputs into the store, without triage, charts or letters.

Every claim read is kept (paid ones too), a later 835's line that answers an earlier
denial is recorded as its outcome, and the denials found are saved as an ``appeals run``
saves them (untriaged: the next run over them triages them). The caller holds the store's
writer lease (:func:`agent.store.lease.writer_lease`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from agent.denials.from_835 import DenialRules
from agent.denials.model import Denial
from agent.ingest import FileResult, IngestStream
from agent.store.protocols import Store
from agent.workflow.intake import keep_denials, store_stream

SAVE_EVERY = 500
"""Denials saved per transaction as they stream by."""


class StoreIntake:
    """Iterate to read the inputs into ``store``; the denials are yielded as they are read.

    They are saved in batches as they stream by, so memory stays flat whatever the
    inputs' size; :attr:`stream` describes the batch once iterated.
    """

    def __init__(self, store: Store, paths: Sequence[str | Path],
                 on_file: Callable[[FileResult], None] | None = None,
                 rules: DenialRules | None = None) -> None:
        self.store = store
        self.stream: IngestStream = store_stream(store, paths, rules or DenialRules(),
                                                 on_file=on_file)
        self.saved = 0
        """Denials saved (or already stored, and left as they were)."""

    def __iter__(self) -> Iterator[Denial]:
        batch: list[Denial] = []
        try:
            for denial in self.stream:
                batch.append(denial)
                if len(batch) >= SAVE_EVERY:
                    self._save(batch)
                    batch = []
                yield denial
        finally:  # what was read is kept, also when the reader stops early
            self._save(batch)

    def _save(self, batch: list[Denial]) -> None:
        if batch:
            self.saved += len(keep_denials(self.store.get_denials, self.store.save_denials,
                                           batch))
