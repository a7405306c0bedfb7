"""Reading inputs into the store: every claim kept, outcomes recorded, new denials saved.

``appeals run`` (:func:`agent.workflow.steps.ingest_step`) and ``appeals ingest --db``
read the same way: an :class:`~agent.ingest.IngestStream` whose claims go to the store's
sink and whose earlier denials include the stored ones (:class:`StoredDenials`), then
:func:`keep_denials` for the denials it yields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

from agent.codes import CodeTable
from agent.denials.from_835 import DenialRules
from agent.denials.model import Denial
from agent.denials.outcomes import EarlierDenial
from agent.ingest import FileResult, IngestStream
from agent.store.protocols import Store
from agent.store.records import DenialRecord


class StoredDenials:
    """The denials a store holds, as the earlier denials later 835s may answer."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def keys(self) -> tuple[Mapping[str, date | None], Mapping[str, date | None]]:
        """The stored denials' claim id and payer claim number keys, with their dates."""
        return self.store.denial_match_keys()

    def find(self, claim_keys: Sequence[str], pcn_keys: Sequence[str]) -> list[EarlierDenial]:
        """The stored denials with one of these keys."""
        return [EarlierDenial.of(r.denial, stored=True)
                for r in self.store.find_denials(claim_keys, pcn_keys)]


def store_stream(store: Store, paths: Sequence[str | Path], rules: DenialRules,
                 codes: CodeTable | None = None,
                 on_file: Callable[[FileResult], None] | None = None) -> IngestStream:
    """A stream over ``paths`` that keeps every claim in ``store`` and records outcomes."""
    return IngestStream(paths, rules, codes, on_file=on_file, sink=store.claim_sink(),
                        finder=StoredDenials(store))


Records = Callable[[Sequence[str]], list[DenialRecord]]
Save = Callable[[Sequence[DenialRecord]], None]


def keep_denials(records: Records, save: Save, denials: Sequence[Denial]) -> list[str]:
    """Save the denials the store does not hold; their ids (each once, in order).

    A record already stored is left untouched (an earlier run's triage stands), except
    that it learns the sources it had not seen. A denial the store knows under the id
    another of its sources gives (a worklist row, then the 835 line of it listed first)
    keeps that stored id.
    """
    denials = [_as_stored(records, d) for d in denials]
    ids = list(dict.fromkeys(d.denial_id for d in denials))
    known = {r.denial.denial_id: r for r in records(ids)}
    new = [DenialRecord(denial=d) for d in denials if d.denial_id not in known]
    learned = [_with_sources(known[d.denial_id], d) for d in denials
               if d.denial_id in known and set(d.sources) - set(known[d.denial_id].denial.sources)]
    save([*new, *learned])
    return ids


def _as_stored(records: Records, denial: Denial) -> Denial:
    """The denial under the id the store already knows it by, if any."""
    if not denial.merged_ids or records([denial.denial_id]):
        return denial
    for other in records(list(denial.merged_ids)):
        return denial.model_copy(update={
            "denial_id": other.denial.denial_id,
            "merged_ids": tuple(i for i in (denial.denial_id, *denial.merged_ids)
                                if i != other.denial.denial_id)})
    return denial


def _with_sources(record: DenialRecord, read: Denial) -> DenialRecord:
    """The stored record, its denial also naming the sources this run read it from."""
    stored = record.denial
    extra = tuple(s for s in read.sources if s not in stored.sources)
    ids = tuple(i for i in read.merged_ids if i not in stored.merged_ids and
                i != stored.denial_id)
    return record.model_copy(update={"denial": stored.model_copy(update={
        "merged_sources": (*stored.merged_sources, *extra),
        "merged_ids": (*stored.merged_ids, *ids)})})
