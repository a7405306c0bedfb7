"""The composition root: build the context and graphs, run or resume a batch.

:func:`open_workflow` builds everything a run or a review needs; :func:`run_batch` runs or
resumes the batch thread and writes the manifest. ``appeals run``, the evals and the
benchmarks call them.
"""

from __future__ import annotations

import hashlib
import logging
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
from langgraph.types import Overwrite

from agent.codes import CodeTable
from agent.config import AppConfig
from agent.ehr.protocols import NoEHR, ReportsSourceWarnings
from agent.ehr.registry import open_adapter
from agent.graph.build import build_batch_graph, build_review_graph
from agent.graph.nodes import review_config
from agent.ingest import plan_inputs
from agent.letters.render import LetterRenderer
from agent.letters.unfinished import check_practice
from agent.llm.client import ChatClient, OpenAIChatClient
from agent.llm.drafter import ArgumentDrafter
from agent.llm.settings import LLMSettings
from agent.manifest import Manifest, RunNotes, build_manifest, write_manifest_file
from agent.ncci import PtpTable
from agent.playbooks.builtin import builtin_registries
from agent.playbooks.registry import PlaybookSet, validate_references
from agent.resources import resource_dir
from agent.review.actions import ReviewActions
from agent.store.files import private_dirs
from agent.store.sqlite import SqliteStore
from agent.workflow.steps import NO_EHR_ERROR, WorkflowContext

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Workflow:
    """A context with its compiled graphs, bound to one database."""

    ctx: WorkflowContext
    batch: CompiledStateGraph[Any, Any, Any, Any]
    review: CompiledStateGraph[Any, Any, Any, Any]


@contextmanager
def open_workflow(db: Path, out_dir: Path, ehr_source: str | None, config: AppConfig,
                  today: date | None = None, checkpoints: bool = True,
                  llm: LLMSettings | None = None, chat_client: ChatClient | None = None,
                  include_late: bool = False, redraft: bool = False) -> Iterator[Workflow]:
    """Everything a run or a review needs; closes the database on exit.

    ``checkpoints=False`` runs the graphs without a checkpointer (benchmarks measure
    LangGraph's share that way); reviews then cannot be resumed. ``llm`` turns on model
    drafting (``chat_client`` replaces the ``openai`` client, e.g. in tests); without it,
    or when it is not configured, every argument comes from the templates.
    ``include_late`` drafts appeals whose deadline has passed; ``redraft`` drafts again,
    with the model, pending letters that fell back to the template.

    A playbook that does not validate, or names an extractor, check or argument template
    the run does not have, raises PlaybookError here, before anything is written; so does
    a configured practice NPI or tax id that is not valid (ValueError).
    """
    check_practice(config.letter)
    extractors, checks = builtin_registries()
    templates = resource_dir("templates")
    playbooks = PlaybookSet.load()
    validate_references(playbooks.playbooks, extractors, checks, templates)
    private_dirs(out_dir)  # letters and the manifest hold PHI: 0700
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
        ehr = open_adapter(ehr_source, config.ehr) if ehr_source else NoEHR()
        drafter = None
        if llm is not None and (llm.configured or chat_client is not None):
            drafter = ArgumentDrafter(llm, chat_client or OpenAIChatClient(llm), codes)
        ctx = WorkflowContext(
            config=config, store=store, out_dir=out_dir, ehr=ehr,
            extractors=extractors, checks=checks, playbooks=playbooks, ncci=ncci,
            renderer=LetterRenderer(config.letter, codes, templates=templates, ncci=ncci,
                                    payers=config.deadlines),
            codes=codes, review=ReviewActions(store, out_dir, practice=config.letter),
            today=today or date.today(),
            drafter=drafter, include_late=include_late, redraft=redraft)
        review = build_review_graph(ctx, saver)
        yield Workflow(ctx, build_batch_graph(ctx, saver, review), review)
    finally:
        connection.close()
        store.close()


def run_id_for(inputs: Sequence[str]) -> str:
    """Same inputs (by content), same run: a re-run resumes instead of starting over.

    A folder stands for the files in it (:func:`agent.ingest.plan_inputs`), so a folder
    whose files changed is another run.
    """
    digest = hashlib.sha256()
    for name in sorted(inputs):
        path = Path(name)
        digest.update(name.encode("utf-8"))
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        elif path.is_dir():
            for file in plan_inputs([path]).files:
                digest.update(file.name.encode("utf-8"))
                digest.update(hashlib.sha256(file.read_bytes()).digest())
    return "run_" + digest.hexdigest()[:16]


def run_batch(workflow: Workflow, inputs: Sequence[str], auto_approve: bool = False,
              on_progress: Callable[[str, dict[str, Any]], None] | None = None,
              on_repair: Callable[[str], None] | None = None) -> Manifest:
    """Run (or resume, after a crash) the batch over ``inputs``; write manifest.json.

    What a crash left half-done is finished and reported, one line each, to ``on_repair``
    (default: a warning in the log, which reaches stderr); so is, with ``auto_approve``,
    every letter left pending because it is not finished (:func:`left_pending`), and every
    approved letter the payer has since paid the denials of (:func:`paid_since_approved`).
    With
    ``auto_approve``, a letterhead the export cannot use stops the run before it starts
    (``LetterheadUnusable``, an ``OSError``).
    """
    if auto_approve:  # every approval exports: a letterhead it cannot use fails them all
        workflow.ctx.review.letterhead()
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
    ehr = workflow.ctx.ehr
    # A new run on a thread an earlier run of the same inputs used: the lists this run
    # reports start empty (their reducer would otherwise add to the last run's).
    stream_input = None if pending else {
        "letter_ids": Overwrite([]), "redecided": Overwrite([]), "superseded": Overwrite([]),
        "run_id": run_id, "inputs": list(inputs), "auto_approve": auto_approve,
        "as_of": workflow.ctx.today.isoformat(),
        "ehr_warnings": list(ehr.source_warnings())
        if isinstance(ehr, ReportsSourceWarnings) else []}
    state: dict[str, Any] = {}
    for mode, chunk in graph.stream(stream_input, config, stream_mode=["updates", "values"]):
        if not isinstance(chunk, dict):
            continue
        if mode == "values":
            state = chunk
        elif on_progress is not None:
            for node, value in chunk.items():
                on_progress(node, value or {})
    if isinstance(ehr, ReportsSourceWarnings):  # requests that failed during the run too
        state = {**state, "ehr_warnings": list(dict.fromkeys(
            [*(state.get("ehr_warnings") or ()), *ehr.source_warnings()]))}
    for line in repair_run(workflow, state.get("denial_ids") or [], auto_approve):
        (on_repair or logger.warning)(line)
    if auto_approve:
        for line in left_pending(workflow, state.get("denial_ids") or []):
            (on_repair or logger.warning)(line)
    answered = [*(state.get("denial_ids") or ()), *(state.get("outcome_ids") or ())]
    for line in paid_since_approved(workflow, answered):
        (on_repair or logger.warning)(line)
    return write_manifest(workflow.ctx, run_id, list(inputs), state)


def _seed_spend(ctx: WorkflowContext, denial_ids: Sequence[str]) -> None:
    assert ctx.drafter is not None
    letter_ids = {r.letter_id for r in ctx.records(denial_ids) if r.letter_id}
    letters = [x for x in (ctx.store.get_letter(i) for i in letter_ids) if x is not None]
    ctx.drafter.seed(sum(x.tokens_in for x in letters), sum(x.tokens_out for x in letters))


def write_manifest(ctx: WorkflowContext, run_id: str, inputs: list[str],
                   state: dict[str, Any]) -> Manifest:
    """Build manifest.json from the store for the run's denials, and write it.

    A run that could read none of its inputs returns its manifest without writing it when
    an earlier run's manifest.json is there: that one stays in place.
    """
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
    as_of = state.get("as_of")
    notes = RunNotes(as_of=date.fromisoformat(as_of) if as_of else ctx.today,
                     input_warnings=tuple(state.get("warnings") or ()),
                     ehr_warnings=tuple(state.get("ehr_warnings") or ()),
                     redecided=tuple(state.get("redecided") or ()),
                     superseded=tuple(state.get("superseded") or ()),
                     needs_ehr=sum(r.error == NO_EHR_ERROR for r in records))
    # Denials of earlier runs a later 835 of this run answered: listed apart, not counted.
    earlier = [i for i in dict.fromkeys(state.get("outcome_ids") or ()) if i not in in_run]
    outcomes = ctx.store.current_outcomes([*denial_ids, *earlier])
    manifest = build_manifest(run_id, inputs, records, groups, letters,
                              state.get("errors") or [], llm, notes, outcomes, earlier)
    path = ctx.out_dir / "manifest.json"
    if state.get("files_read", 1) == 0 and path.exists():
        return manifest  # nothing could be read: the last run's manifest stays as it was
    write_manifest_file(path, manifest)
    return manifest


def repair_run(workflow: Workflow, denial_ids: Sequence[str], auto_approve: bool
               ) -> list[str]:
    """Finish what a crash left half-done for the run's letters.

    That is a missing "drafted" audit row, an auto-approval or DOCX not written, a review
    thread never opened. Returns one line per kind of repair (empty when there was nothing
    to do).
    """
    ctx = workflow.ctx
    letter_ids = sorted({r.letter_id for r in ctx.records(denial_ids) if r.letter_id})
    done: dict[str, int] = {}
    review = workflow.review
    for letter_id in letter_ids:
        letter = ctx.store.get_letter(letter_id)
        if letter is None:
            continue
        if not any(e.action == "drafted" for e in ctx.store.audit_trail(letter_id)):
            ctx.review.record_draft(letter)
            done["added the missing 'drafted' audit row of"] = \
                done.get("added the missing 'drafted' audit row of", 0) + 1
        if auto_approve and letter.status == "pending_review" and \
                not ctx.review.approval_problems(letter):
            letter = ctx.review.auto_approve(letter_id)
            done["auto-approved"] = done.get("auto-approved", 0) + 1
        elif ctx.review.docx_missing(letter):
            letter = ctx.review.export(letter_id)
            done["wrote the missing DOCX of"] = done.get("wrote the missing DOCX of", 0) + 1
        if letter.status == "pending_review" and review.checkpointer is not None:
            config = review_config(letter_id)
            if not review.get_state(config).next:
                review.invoke({"letter_id": letter_id}, config)
                done["opened the missing review thread of"] = \
                    done.get("opened the missing review thread of", 0) + 1
    return [f"repaired: {what} {n} letter{'s' if n != 1 else ''} (left half-done by an "
            "earlier run that stopped)" for what, n in done.items()]


def paid_since_approved(workflow: Workflow, denial_ids: Sequence[str]) -> list[str]:
    """One line naming the approved, unsent letters whose denials the payer has since paid.

    A pending draft of a paid denial is withdrawn by the run; an approved one stands (an
    auditor decided on it), so the run says not to send it, on every run until it is sent
    or rejected. No line when there is none.
    """
    ctx = workflow.ctx
    records = ctx.records(denial_ids)
    outcomes = ctx.store.current_outcomes([r.denial.denial_id for r in records])
    paid = {r.denial.denial_id for r in records
            if (o := outcomes.get(r.denial.denial_id)) and o.paid}
    letters = []
    for letter_id in sorted({r.letter_id for r in records
                             if r.letter_id and r.denial.denial_id in paid}):
        letter = ctx.store.get_letter(letter_id)
        if letter is not None and letter.status == "approved" and \
                set(letter.denial_ids) <= paid:
            letters.append(letter_id)
    if not letters:
        return []
    return [f"paid since approved: the payer has paid the denials of {len(letters)} approved "
            f"letter(s) on a later remittance; do not send them: {', '.join(letters)}"]


def left_pending(workflow: Workflow, denial_ids: Sequence[str]) -> list[str]:
    """After an auto-approved run: one line on the run's letters left pending, and why.

    Each problem (agent/letters/unfinished.py) is named once, with how many letters have
    it; no line when every letter was approved.
    """
    ctx = workflow.ctx
    letter_ids = sorted({r.letter_id for r in ctx.records(denial_ids) if r.letter_id})
    pending = [x for x in (ctx.store.get_letter(i) for i in letter_ids)
               if x is not None and x.status == "pending_review"]
    counts: dict[str, int] = {}
    unfinished = 0
    for letter in pending:
        problems = ctx.review.approval_problems(letter)
        unfinished += bool(problems)
        for problem in problems:
            counts[problem] = counts.get(problem, 0) + 1
    if not unfinished:
        return []
    reasons = "; ".join(f"{problem} ({n} letter{'s' if n != 1 else ''})"
                        for problem, n in counts.items())
    return [f"not auto-approved: {unfinished} of {len(letter_ids)} letters are not finished "
            f"and wait for review (`appeals review show LETTER --meta` lists each one's "
            f"problems): {reasons}"]


def rebuild_manifest(workflow: Workflow) -> Manifest | None:
    """Write manifest.json again from the store, for the run that last finished here.

    The run is found by its batch thread on this database; None when there is none to
    rebuild from.
    """
    saver = workflow.batch.checkpointer
    if not isinstance(saver, SqliteSaver):
        return None
    with saver.lock:
        row = saver.conn.execute(
            "SELECT thread_id FROM checkpoints WHERE thread_id LIKE 'batch:%' "
            "ORDER BY checkpoint_id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    state = workflow.batch.get_state({"configurable": {"thread_id": row[0]}}).values
    if not state.get("run_id"):
        return None
    return write_manifest(workflow.ctx, state["run_id"], list(state.get("inputs") or []),
                          state)
