"""Drafting one argument per work queue with the model, or falling back to the template.

For each work queue (letters of one payer, reason, procedure and playbook): one request
whose argument the queue's letters share, each letter keeping its own evidence (a queue of
more than MAX_LETTERS_IN_PROMPT letters: one request per chunk of that many, so the model
sees every letter it writes for). The
reply is checked per letter (agent.llm.guardrails); a letter whose check fails gets one
repair request naming the problems, then the template argument. A failed request (after
tenacity's retries) falls back too. After ``max_consecutive_failures`` queues in a row
without a usable argument, or once ``max_cost`` is reached, the run stops calling the model
and says so. No denial waits on the model: every path ends in a letter.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from agent.codes import CodeTable
from agent.evidence.model import Evidence
from agent.letters.render import NarrativeParagraph
from agent.llm.client import ChatClient, ChatReply, LLMError
from agent.llm.guardrails import CheckedDraft, check_reply
from agent.llm.phi import problem_code
from agent.llm.prompt import (
    MAX_LETTERS_IN_PROMPT,
    LetterMaterial,
    Prompt,
    build_prompt,
    repair_messages,
)
from agent.llm.settings import LLMSettings
from agent.store.fallback import error_code

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DraftOutcome:
    """How one letter's argument was drafted."""

    drafted_by: Literal["template", "llm"]
    paragraphs: tuple[NarrativeParagraph, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    """Proposed quotes that were located verbatim and accepted."""
    tokens_in: int = 0
    tokens_out: int = 0
    fallback: str | None = None
    """Why the template argument was used, as a fixed code (agent.store.fallback.FALLBACK_CODES:
    'rejected: values', 'error: timeout', 'stopped: max_cost'...), never the reply's
    text."""


class LLMRunStatus(BaseModel):
    """What the model did in this process's run (for the manifest and the summary)."""

    enabled: bool
    model: str | None = None
    requests: int = 0
    repairs: int = 0
    failed_requests: int = 0
    rejected_letters: int = 0
    proposals_accepted: int = 0
    proposals_rejected: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    estimated_cost: Decimal | None = None
    switched_to_template: bool = False
    note: str | None = None


@dataclass(slots=True)
class _Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    consecutive_failures: int = 0
    stopped: str | None = None
    """The fallback code once the run stopped calling the model."""


class ArgumentDrafter:
    """Drafts arguments through a :class:`~agent.llm.client.ChatClient`.

    Thread-safe: work queues are drafted concurrently.
    """

    def __init__(self, settings: LLMSettings, client: ChatClient, codes: CodeTable) -> None:
        if settings.max_cost is not None and settings.estimated_cost(0, 0) is None:
            raise ValueError("max_cost needs input_cost_per_million and "
                             "output_cost_per_million (the model's prices) to estimate spend")
        self.settings = settings
        self.client = client
        self.codes = codes
        self.status = LLMRunStatus(enabled=True, model=settings.model,
                                   estimated_cost=settings.estimated_cost(0, 0))
        self._ledger = _Ledger()

    def draft(self, materials: Sequence[LetterMaterial]) -> list[DraftOutcome]:
        """Return one outcome per material, in order.

        Never raises for the model's sake: an unexpected error counts as a failed request and
        the template argument is used.
        """
        outcomes: list[DraftOutcome] = []
        # A request shows the model every letter it drafts for: a large work queue is
        # drafted in chunks, each chunk sharing one argument checked against each letter.
        for at in range(0, len(materials), MAX_LETTERS_IN_PROMPT):
            chunk = materials[at:at + MAX_LETTERS_IN_PROMPT]
            try:
                outcomes += self._draft(chunk)
            except Exception as exc:  # a bug or an SDK surprise must not cost a letter
                logger.warning("LLM drafting failed (%s); template argument used",
                               type(exc).__name__)
                outcomes += self._failed(chunk, LLMError("internal", type(exc).__name__))
        return outcomes

    def seed(self, tokens_in: int, tokens_out: int) -> None:
        """Count tokens an earlier process spent on this run (a resumed run).

        This way ``max_cost`` holds for the run, not for each process.
        """
        with self._ledger.lock:
            self._add_tokens(tokens_in, tokens_out)

    def _draft(self, materials: Sequence[LetterMaterial]) -> list[DraftOutcome]:
        stopped = self._stopped()
        if stopped:
            return [DraftOutcome("template", fallback=stopped) for _ in materials]
        prompt = build_prompt(materials, self.codes, self.settings.propose_evidence)
        try:
            first = self._request(prompt.messages)
        except LLMError as exc:
            return self._failed(materials, exc)
        self._settle(True, "")  # the endpoint answered: not a failure, whatever the checks say
        checked = [self._check(first, m, prompt, i) for i, m in enumerate(materials)]
        replies = [first]
        if not all(c.ok for c in checked) and not self._stopped():
            problems = list(dict.fromkeys(p for c in checked for p in c.problems))[:12]
            # The reply and the problems quoting it go back with identifiers hidden, as
            # the prompt was: a model that wrote one gets a placeholder back.
            raw = _hidden(first.raw, materials)
            problems = [_hidden(p, materials) for p in problems]
            try:
                second = self._request(repair_messages(prompt, raw, problems),
                                       repair=True)
            except LLMError as exc:
                second = None
                logger.warning("repair request failed (%s)", exc.kind)
                self._spend_on_failure(exc)
            if second is not None:
                replies.append(second)
                checked = [c if c.ok else self._check(second, m, prompt, i)
                           for i, (c, m) in enumerate(zip(checked, materials, strict=True))]
        tokens_in = sum(r.tokens_in for r in replies)
        tokens_out = sum(r.tokens_out for r in replies)
        return [self._outcome(c, i, len(materials), tokens_in, tokens_out)
                for i, c in enumerate(checked)]

    def _check(self, reply: ChatReply, material: LetterMaterial, prompt: Prompt, index: int
               ) -> CheckedDraft:
        return check_reply(reply.reply, material, prompt, index, self.codes)

    def _outcome(self, checked: CheckedDraft, index: int, letters: int, tokens_in: int,
                 tokens_out: int) -> DraftOutcome:
        share_in = _share(tokens_in, index, letters)
        share_out = _share(tokens_out, index, letters)
        if not checked.ok:
            with self._ledger.lock:
                self.status.rejected_letters += 1
                self.status.proposals_rejected += checked.rejected_proposals
            # Only the problem's fixed code is kept: its text may quote the reply.
            code = problem_code(checked.problems[0]) if checked.problems else \
                "rejected: shape"
            return DraftOutcome("template", tokens_in=share_in, tokens_out=share_out,
                                fallback=code)
        with self._ledger.lock:
            self.status.proposals_accepted += len(checked.evidence)
            self.status.proposals_rejected += checked.rejected_proposals
        return DraftOutcome("llm", tuple(checked.paragraphs), tuple(checked.evidence),
                            share_in, share_out)

    def _request(self, messages: Sequence[dict[str, str]], repair: bool = False) -> ChatReply:
        reply = self.client.draft(messages)
        with self._ledger.lock:
            self.status.requests += 1
            self.status.repairs += repair
            self._add_tokens(reply.tokens_in, reply.tokens_out)
        return reply

    def _failed(self, materials: Sequence[LetterMaterial], exc: LLMError
                ) -> list[DraftOutcome]:
        logger.warning("LLM request failed (%s); template argument used", exc.kind)
        self._spend_on_failure(exc)
        self._settle(False, exc.kind)
        return [DraftOutcome("template", tokens_in=_share(exc.tokens_in, i, len(materials)),
                             tokens_out=_share(exc.tokens_out, i, len(materials)),
                             fallback=error_code(exc.kind)) for i in range(len(materials))]

    def _spend_on_failure(self, exc: LLMError) -> None:
        with self._ledger.lock:
            self.status.requests += 1
            self.status.failed_requests += 1
            self._add_tokens(exc.tokens_in, exc.tokens_out)

    def _add_tokens(self, tokens_in: int, tokens_out: int) -> None:
        status = self.status
        status.tokens_in += tokens_in
        status.tokens_out += tokens_out
        status.estimated_cost = self.settings.estimated_cost(status.tokens_in,
                                                             status.tokens_out)
        limit = self.settings.max_cost
        if limit is not None and status.estimated_cost is not None and \
                status.estimated_cost >= limit and not self._ledger.stopped:
            self._stop(f"max_cost: the run's estimated spend reached ${limit}",
                       "stopped: max_cost")

    def _settle(self, success: bool, kind: str) -> None:
        """Count a request that failed (after its retries), or reset on one answered.

        A reply the checks reject is not the endpoint's failure and does not count.
        """
        with self._ledger.lock:
            if success:
                self._ledger.consecutive_failures = 0
                return
            self._ledger.consecutive_failures += 1
            limit = self.settings.max_consecutive_failures
            if self._ledger.consecutive_failures >= limit and not self._ledger.stopped:
                self._stop(f"llm_unavailable: {limit} requests in a row failed (last: "
                           f"{kind}); the rest of the run is template-only",
                           "stopped: llm_unavailable")

    def _stop(self, reason: str, code: str) -> None:
        """Stop LLM drafting for the rest of the run; called with the ledger lock held.

        ``reason`` (the run's note) names settings and counts only; ``code`` is what each
        letter records.
        """
        self._ledger.stopped = code
        self.status.switched_to_template = True
        self.status.note = reason
        logger.warning("LLM drafting stopped: %s", reason)

    def _stopped(self) -> str | None:
        with self._ledger.lock:
            return self._ledger.stopped


def _hidden(text: str, materials: Sequence[LetterMaterial]) -> str:
    """``text`` with the identifiers of every letter of the request hidden."""
    for material in materials:
        text = material.pseudonyms.hide(text)
    return text


def _share(tokens: int, index: int, letters: int) -> int:
    """Letter ``index``'s share of a request's tokens.

    The first letter takes the remainder, so the shares add up to the request.
    """
    return tokens // letters + (tokens % letters if index == 0 else 0)
