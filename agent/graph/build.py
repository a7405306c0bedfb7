"""The appeal workflow as LangGraph graphs, each built here in one place.

Batch (one thread per run)::

    START → ingest → triage → pick_playbook → group ─┬→ work_group (one Send per queue)
                                                      │      → open_reviews → END
                                                      └→ open_reviews (no queue) → END

``work_group`` gathers the chart, extracts evidence, decides and drafts for a whole work
queue in one step (a checkpoint per denial would cost more than the work).

Review (one thread per letter, ``review:<letter_id>``)::

    START → review (interrupt: waits for the auditor) ─┬→ review (after an edit)
                                                        ├→ export (approved: DOCX) → END
                                                        └→ END (rejected)
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

from agent.graph import nodes
from agent.graph.state import BatchState, GroupTask, ReviewState
from agent.workflow.steps import WorkflowContext


def build_batch_graph(ctx: WorkflowContext, checkpointer: BaseCheckpointSaver[Any] | None,
                      review_graph: CompiledStateGraph[Any, Any, Any, Any]
                      ) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The batch graph, bound to a context (store, EHR, playbooks...)."""
    graph = StateGraph(BatchState)
    graph.add_node("ingest", nodes.ingest_node(ctx))
    graph.add_node("triage", nodes.triage_node(ctx))
    graph.add_node("pick_playbook", nodes.playbook_node(ctx))
    graph.add_node("group", nodes.group_node(ctx))
    graph.add_node("work_group", nodes.work_group_node(ctx))
    graph.add_node("open_reviews", nodes.open_reviews_node(ctx, review_graph))
    graph.add_edge(START, "ingest")
    graph.add_edge("ingest", "triage")
    graph.add_edge("triage", "pick_playbook")
    graph.add_edge("pick_playbook", "group")
    graph.add_conditional_edges("group", _fan_out, ["work_group", "open_reviews"])
    graph.add_edge("work_group", "open_reviews")
    graph.add_edge("open_reviews", END)
    return graph.compile(checkpointer=checkpointer)


def _fan_out(state: BatchState) -> list[Send] | Literal["open_reviews"]:
    """One ``work_group`` branch per work queue, or straight on when there is none."""
    tasks = [Send("work_group", GroupTask(group_id=g, auto_approve=state.get("auto_approve",
                                                                            False)))
             for g in state.get("group_ids", [])]
    return tasks or "open_reviews"


def build_review_graph(ctx: WorkflowContext, checkpointer: BaseCheckpointSaver[Any] | None
                       ) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The review graph: one interrupt per letter, resumed by the review service."""
    graph = StateGraph(ReviewState)
    graph.add_node("review", nodes.review_node(ctx))
    graph.add_node("export", nodes.export_node(ctx))
    graph.add_edge(START, "review")
    graph.add_conditional_edges("review", _after_review, ["review", "export", END])
    graph.add_edge("export", END)
    return graph.compile(checkpointer=checkpointer)


def _after_review(state: ReviewState) -> Literal["export", "review", "__end__"]:
    """Where a review thread goes after a decision.

    Export an approval; end when the letter is rejected, sent or superseded; wait again
    after an edit.
    """
    status = state.get("status")
    if status == "approved":
        return "export"
    if status in ("rejected", "sent", "superseded"):
        return "__end__"  # END
    return "review"
