"""Running a batch: build the context and graphs, run or resume the batch thread, write
the manifest. ``appeals run`` and the benchmarks call :func:`run_batch`."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph

from agent.codes import CodeTable
from agent.config import AppConfig
from agent.ehr.model import ChartBundle, ChartRequest
from agent.ehr.protocols import EHRSourceError
from agent.ehr.registry import open_adapter
from agent.graph.build import build_batch_graph, build_review_graph
from agent.letters.render import LetterRenderer
from agent.llm.client import ChatClient, OpenAIChatClient
from agent.llm.drafter import ArgumentDrafter
from agent.llm.settings import LLMSettings
from agent.manifest import Manifest, build_manifest
from agent.ncci import PtpTable
from agent.playbooks.builtin import builtin_registries
from agent.playbooks.registry import PlaybookSet, validate_references
from agent.resources import resource_dir
from agent.review.actions import ReviewActions
from agent.store.sqlite import SqliteStore
from agent.workflow.steps import WorkflowContext


@dataclass(slots=True)
class Workflow:
    """A context with its compiled graphs, bound to one database."""

    ctx: WorkflowContext
    batch: CompiledStateGraph[Any, Any, Any, Any]
    review: CompiledStateGraph[Any, Any, Any, Any]


class _NoEHR:
    """Stands in when a command needs no chart (review): using it is a clear error."""

    def chart_for(self, request: ChartRequest) -> ChartBundle:
        raise EHRSourceError("no EHR source was given (--ehr)")


@contextmanager
def open_workflow(db: Path, out_dir: Path, ehr_source: str | None, config: AppConfig,
                  today: date | None = None, checkpoints: bool = True,
                  llm: LLMSettings | None = None, chat_client: ChatClient | None = None
                  ) -> Iterator[Workflow]:
    """Everything a run or a review needs; closes the database on exit.

    ``checkpoints=False`` runs the graphs without a checkpointer (benchmarks measure
    LangGraph's share that way); reviews then cannot be resumed. ``llm`` turns on model
    drafting (``chat_client`` replaces the ``openai`` client, e.g. in tests); without it,
    or when it is not configured, every argument comes from the templates.

    A playbook that does not validate, or names an extractor, check or argument template
    the run does not have, raises PlaybookError here, before anything is written.
    """
    extractors, checks = builtin_registries()
    templates = resource_dir("templates")
    playbooks = PlaybookSet.load()
    validate_references(playbooks.playbooks, extractors, checks, templates)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(db)
    connection = sqlite3.connect(str(db), check_same_thread=False)
    # WAL + NORMAL: durable across a process crash, without an fsync per checkpoint.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    try:
        saver = SqliteSaver(connection) if checkpoints else None
        codes = CodeTable.load_default()
        ncci = PtpTable.load(config.ncci_ptp_files) if config.ncci_ptp_files else \
            PtpTable.default()
        ehr = open_adapter(ehr_source) if ehr_source else _NoEHR()
        drafter = None
        if llm is not None and (llm.configured or chat_client is not None):
            drafter = ArgumentDrafter(llm, chat_client or OpenAIChatClient(llm), codes)
        ctx = WorkflowContext(
            config=config, store=store, out_dir=out_dir, ehr=ehr,
            extractors=extractors, checks=checks, playbooks=playbooks, ncci=ncci,
            renderer=LetterRenderer(config.letter, codes, templates=templates, ncci=ncci),
            codes=codes, review=ReviewActions(store, out_dir), today=today or date.today(),
            drafter=drafter)
        review = build_review_graph(ctx, saver)
        yield Workflow(ctx, build_batch_graph(ctx, saver, review), review)
    finally:
        connection.close()
        store.close()


def run_id_for(inputs: Sequence[str]) -> str:
    """Same inputs (by content), same run: a re-run resumes instead of starting over."""
    digest = hashlib.sha256()
    for name in sorted(inputs):
        path = Path(name)
        digest.update(name.encode("utf-8"))
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "run_" + digest.hexdigest()[:16]


def run_batch(workflow: Workflow, inputs: Sequence[str], auto_approve: bool = False,
              on_progress: Callable[[str, dict[str, Any]], None] | None = None) -> Manifest:
    """Run (or resume, after a crash) the batch over ``inputs``; write manifest.json."""
    run_id = run_id_for(inputs)
    # Template-only, one work queue at a time: the steps are pure Python (threads only wait
    # on the GIL) and concurrent DOCX exports held several documents' memory at once. With
    # the model, queues wait on the network: draft max_concurrency of them at once.
    drafter = workflow.ctx.drafter
    concurrency = drafter.settings.max_concurrency if drafter is not None else 1
    config: RunnableConfig = {"configurable": {"thread_id": f"batch:{run_id}"},
                              "recursion_limit": 100, "max_concurrency": concurrency}
    graph = workflow.batch
    pending = graph.checkpointer is not None and bool(graph.get_state(config).next)
    if pending and drafter is not None:  # a resumed run: its spend so far counts
        _seed_spend(workflow.ctx, graph.get_state(config).values.get("denial_ids") or [])
    stream_input = None if pending else {"run_id": run_id, "inputs": list(inputs),
                                         "auto_approve": auto_approve}
    state: dict[str, Any] = {}
    for mode, chunk in graph.stream(stream_input, config, stream_mode=["updates", "values"]):
        if not isinstance(chunk, dict):
            continue
        if mode == "values":
            state = chunk
        elif on_progress is not None:
            for node, value in chunk.items():
                on_progress(node, value or {})
    return write_manifest(workflow.ctx, run_id, list(inputs), state)


def _seed_spend(ctx: WorkflowContext, denial_ids: Sequence[str]) -> None:
    assert ctx.drafter is not None
    letter_ids = {r.letter_id for r in ctx.records(denial_ids) if r.letter_id}
    letters = [x for x in (ctx.store.get_letter(i) for i in letter_ids) if x is not None]
    ctx.drafter.seed(sum(x.tokens_in for x in letters), sum(x.tokens_out for x in letters))


def write_manifest(ctx: WorkflowContext, run_id: str, inputs: list[str],
                   state: dict[str, Any]) -> Manifest:
    """Build manifest.json from the store for the run's denials."""
    denial_ids = state.get("denial_ids") or []
    records = ctx.records(denial_ids)
    group_ids = sorted({r.group_id for r in records if r.group_id})
    in_run = set(denial_ids)
    # A work queue outlives a run (later remittances add to it): list this run's members.
    groups = [g.model_copy(update={"denial_ids": [i for i in g.denial_ids if i in in_run]})
              for g in (ctx.store.get_group(i) for i in group_ids) if g is not None]
    letters = {}
    for letter_id in {r.letter_id for r in records if r.letter_id}:
        letter = ctx.store.get_letter(letter_id)
        if letter is not None:
            letters[letter_id] = letter
    llm = ctx.drafter.status if ctx.drafter is not None else None
    manifest = build_manifest(run_id, inputs, records, groups, letters,
                              state.get("errors") or [], llm)
    (ctx.out_dir / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n",
                                              encoding="utf-8")
    return manifest
