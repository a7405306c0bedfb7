"""The graph's nodes: thin wrappers that call the workflow steps with the context.

Each factory binds a :class:`~agent.workflow.steps.WorkflowContext` and returns the node
function, so nothing is global and two runs in one process do not share state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt

from agent.graph.state import BatchState, GroupTask, ReviewState
from agent.review.actions import ReviewError
from agent.review.model import ReviewDecision
from agent.workflow import steps
from agent.workflow.steps import WorkflowContext

Node = Callable[..., dict[str, Any]]


def ingest_node(ctx: WorkflowContext) -> Node:
    """Read the inputs into stored denials; the node returns their ids, errors, warnings."""
    def ingest(state: BatchState) -> dict[str, Any]:
        result = steps.ingest_step(ctx, state["inputs"])
        return {"denial_ids": result.denial_ids, "errors": result.errors,
                "warnings": result.warnings, "files_read": result.files_read,
                "outcome_ids": result.outcome_ids}
    return ingest


def triage_node(ctx: WorkflowContext) -> Node:
    """Triage by the rules, then follow the payer's later decisions.

    A denial since paid (this run's or an earlier run's) is not appealed and its pending
    draft is withdrawn; one whose payment was taken back is reopened.
    """
    def triage(state: BatchState) -> dict[str, Any]:
        steps.triage_step(ctx, state["denial_ids"])
        answered = [*state["denial_ids"], *(state.get("outcome_ids") or ())]
        settled = steps.settle_paid_step(ctx, list(dict.fromkeys(answered)))
        return {"superseded": settled.withdrawn, "reopened": settled.reopened}
    return triage


def playbook_node(ctx: WorkflowContext) -> Node:
    """Pick each denial's playbook from its claim data."""
    def pick_playbook(state: BatchState) -> dict[str, Any]:
        steps.playbook_step(ctx, _working(state))
        return {}
    return pick_playbook


def group_node(ctx: WorkflowContext) -> Node:
    """Put the denials into work queues (payer, reason, procedure, playbook)."""
    def group(state: BatchState) -> dict[str, Any]:
        return {"group_ids": steps.group_step(ctx, _working(state))}
    return group


def _working(state: BatchState) -> list[str]:
    """The denials this run works: its own, and those of earlier runs it reopened."""
    own = state["denial_ids"]
    return [*own, *(i for i in state.get("reopened") or () if i not in set(own))]


def work_group_node(ctx: WorkflowContext) -> Node:
    """Work one queue: gather charts, decide, draft its letters (one branch per queue)."""
    def work_group(task: GroupTask) -> dict[str, Any]:
        outcome = steps.work_group_step(ctx, task["group_id"], task["auto_approve"])
        return {"letter_ids": outcome.letter_ids, "redecided": outcome.redecided,
                "superseded": outcome.superseded}
    return work_group


def open_reviews_node(ctx: WorkflowContext,
                      review_graph: CompiledStateGraph[Any, Any, Any, Any]) -> Node:
    """Open a review thread, stopped at its interrupt, for each pending letter."""
    def open_reviews(state: BatchState) -> dict[str, Any]:
        # Each pending letter gets its review thread, which stops at its interrupt.
        if review_graph.checkpointer is None:
            return {}  # nothing could wait: only auto-approved runs go without checkpoints
        for letter_id in state.get("letter_ids", []):
            letter = ctx.store.get_letter(letter_id)
            if letter is None or letter.status != "pending_review":
                continue
            config = review_config(letter_id)
            if not review_graph.get_state(config).next:
                review_graph.invoke({"letter_id": letter_id}, config)
        return {}
    return open_reviews


def review_node(ctx: WorkflowContext) -> Node:
    """Stop at the review interrupt until an auditor decides; route on the stored status."""
    def review(state: ReviewState) -> dict[str, Any]:
        letter = ctx.review.letter(state["letter_id"])
        if letter.status != "pending_review":
            return {"status": letter.status}
        # Waits here, checkpointed, until an auditor decides (any process may resume).
        payload = interrupt({"letter_id": letter.letter_id, "group_id": letter.group_id,
                             "markdown": letter.markdown, "claim_id": letter.claim_id})
        decision = ReviewDecision.model_validate(payload)
        if decision.letter_id != letter.letter_id:
            raise ReviewError("the decision is for another letter")
        # The review service applied the decision, compare-and-set, before resuming: a
        # node that raised here would leave its resume value stuck in the thread. Route on
        # what the store holds now (approved: export; edited: wait again; rejected: end).
        return {"status": ctx.review.letter(letter.letter_id).status}
    return review


def export_node(ctx: WorkflowContext) -> Node:
    """Write an approved letter's DOCX."""
    def export(state: ReviewState) -> dict[str, Any]:
        ctx.review.export(state["letter_id"])
        return {}
    return export


def review_config(letter_id: str) -> RunnableConfig:
    """The LangGraph config of a letter's review thread."""
    return {"configurable": {"thread_id": f"review:{letter_id}"}}
