"""The chat client: the ``openai`` SDK against any OpenAI-compatible endpoint.

Retries are owned by tenacity (the SDK's own set to 0).

Retried: 429 (honouring ``retry-after-ms`` / ``retry-after``), 5xx, timeouts and connection
errors, with exponential backoff and jitter, within a per-request attempt limit and a
run-wide retry budget. Not retried: other 4xx, a truncated reply (``finish_reason:
length``) and a reply that does not fit the schema; the drafter handles those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import openai
from pydantic import ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agent.llm.schema import DraftReply
from agent.llm.settings import LLMSettings
from agent.retries import RetryBudget, budget_spent

Message = dict[str, str]

RETRYABLE = (openai.RateLimitError, openai.APIConnectionError, openai.InternalServerError)
"""429; connection errors and timeouts (APITimeoutError is an APIConnectionError); 5xx."""


class LLMError(Exception):
    """A request that produced no usable reply. ``kind`` names why; never holds PHI."""

    def __init__(self, kind: str, detail: str, tokens_in: int = 0, tokens_out: int = 0
                 ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out


@dataclass(frozen=True, slots=True)
class ChatReply:
    """A parsed reply and what it cost."""

    reply: DraftReply
    raw: str
    tokens_in: int
    tokens_out: int


class ChatClient(Protocol):
    """The extension point for LLM back ends: one structured chat request."""

    def draft(self, messages: Sequence[Message]) -> ChatReply:
        """Send the messages; return the parsed reply or raise :class:`LLMError`."""
        ...


class OpenAIChatClient:
    """:class:`ChatClient` on the ``openai`` SDK.

    Works with OpenAI, Azure's v1 endpoint, vLLM, Ollama, llama.cpp...
    """

    def __init__(self, settings: LLMSettings, budget: RetryBudget | None = None) -> None:
        if not settings.configured:
            raise LLMError("not_configured", "no API key or base URL is configured "
                           "(set OPENAI_API_KEY or OPENAI_BASE_URL, or [llm] in the "
                           "configuration file)")
        key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
        self.settings = settings
        self.budget = budget or RetryBudget(settings.retry_budget)
        self.client = openai.OpenAI(api_key=key, base_url=settings.base_url, max_retries=0,
                                    timeout=settings.timeout_seconds)
        self._wait = wait_exponential_jitter(multiplier=settings.backoff_seconds,
                                             max=settings.max_backoff_seconds,
                                             jitter=settings.backoff_seconds)

    def draft(self, messages: Sequence[Message]) -> ChatReply:
        """Send the messages and return the schema-checked draft reply, retrying as allowed.

        Raises:
            LLMError: when the request still fails after the retries the attempt limit and
                the run's retry budget allow, or fails in a way that is not retried (other
                4xx, a truncated, filtered or off-schema reply).
        """
        retrying = Retrying(
            retry=retry_if_exception_type(RETRYABLE), wait=self._wait_for,
            # Evaluated only when a retry is due; the budget is spent only when the attempt
            # limit has not stopped it already (stop_any short-circuits).
            stop=stop_after_attempt(self.settings.max_attempts) | budget_spent(self.budget),
            reraise=True)
        try:
            return retrying(self._once, messages)
        except openai.RateLimitError as exc:
            raise LLMError("rate_limited", f"HTTP 429 after retries ({_request_id(exc)})"
                           ) from None
        except openai.APITimeoutError:
            raise LLMError("timeout", "the request timed out") from None
        except openai.APIConnectionError:
            raise LLMError("connection", "could not reach the endpoint") from None
        except openai.InternalServerError as exc:
            raise LLMError("server_error", f"HTTP {exc.status_code} after retries "
                           f"({_request_id(exc)})") from None
        except openai.APIStatusError as exc:
            raise LLMError("http_error", f"HTTP {exc.status_code} ({_request_id(exc)})"
                           ) from None
        except openai.OpenAIError as exc:  # anything else the SDK raises
            raise LLMError("client_error", type(exc).__name__) from None

    def _once(self, messages: Sequence[Message]) -> ChatReply:
        options: dict[str, Any] = {}
        if self.settings.temperature is not None:
            options["temperature"] = self.settings.temperature
        try:
            completion = self.client.chat.completions.parse(
                model=self.settings.model, messages=list(messages),  # type: ignore[arg-type]
                response_format=DraftReply,
                max_completion_tokens=self.settings.max_output_tokens, **options)
        except openai.LengthFinishReasonError as exc:
            used = exc.completion.usage
            raise LLMError("truncated", "the reply was cut off (finish_reason: length)",
                           used.prompt_tokens if used else 0,
                           used.completion_tokens if used else 0) from None
        except openai.ContentFilterFinishReasonError:
            raise LLMError("content_filter", "the endpoint's content filter stopped the "
                           "reply") from None
        except (ValidationError, ValueError, openai.APIResponseValidationError):
            # Content that does not fit the schema, or a body that is not JSON at all.
            raise LLMError("invalid_reply", "the reply is not the requested JSON") from None
        choice = completion.choices[0]
        usage = completion.usage
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        if choice.finish_reason not in ("stop", None) or choice.message.parsed is None:
            reason = (choice.message.refusal and "the model refused") or \
                f"finish_reason {choice.finish_reason}"
            raise LLMError("invalid_reply", reason, *tokens)
        return ChatReply(choice.message.parsed, choice.message.content or "", *tokens)

    def _wait_for(self, state: RetryCallState) -> float:
        """The server's retry-after when it gives one (capped), else exponential jitter."""
        exc = state.outcome.exception() if state.outcome else None
        hinted = _retry_after(exc) if isinstance(exc, openai.APIStatusError) else None
        if hinted is not None:
            return min(hinted, self.settings.max_backoff_seconds)
        return float(self._wait(state))


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


def _request_id(exc: openai.APIStatusError) -> str:
    return f"request id {exc.request_id}" if exc.request_id else "no request id"
