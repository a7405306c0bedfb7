"""LLM settings: environment variables, then the ``[llm]`` table of the TOML configuration.

The standard ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` are honoured as the ``openai`` client
honours them; ``APPEALS_LLM_*`` variables set everything (``APPEALS_LLM_MODEL``...). No key
and no base URL means template-only. Works with OpenAI, Azure OpenAI's v1 endpoint and local
servers (vLLM, Ollama, llama.cpp) through ``base_url``.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseSettings):
    """How to reach the model and how much it may cost."""

    model_config = SettingsConfigDict(env_prefix="APPEALS_LLM_", extra="forbid",
                                      frozen=True, populate_by_name=True)

    # No bare "base_url"/"api_key" alias: environment names are case-insensitive, and a
    # stray BASE_URL or API_KEY of another program must not switch the model on.
    base_url: str | None = Field(None, validation_alias=AliasChoices(
        "APPEALS_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM).")
    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "APPEALS_LLM_API_KEY", "OPENAI_API_KEY"))
    model: str = "gpt-4o-mini"
    temperature: float | None = Field(0.2, ge=0, le=2, description="None: not sent "
                                      "(reasoning models refuse it).")
    timeout_seconds: float = Field(60.0, gt=0, description="Per request.")
    max_concurrency: int = Field(8, ge=1, le=256, description="Work queues drafted at once.")
    max_attempts: int = Field(4, ge=1, description="Attempts per request (429, 5xx, "
                              "timeouts and connection errors are retried).")
    retry_budget: int = Field(200, ge=0, description="Retries allowed in the whole run; "
                              "once spent, a failed request is not retried.")
    backoff_seconds: float = Field(1.0, gt=0, description="First backoff (exponential "
                                   "with jitter).")
    max_backoff_seconds: float = Field(30.0, gt=0)
    max_consecutive_failures: int = Field(5, ge=1, description="After this many work "
                                          "queues in a row fail to get a usable argument, "
                                          "the run switches to template-only.")
    max_output_tokens: int = Field(1200, ge=64)
    input_cost_per_million: Decimal | None = Field(None, ge=0, description="USD per "
                                                   "million input tokens, for --max-cost.")
    output_cost_per_million: Decimal | None = Field(None, ge=0)
    max_cost: Decimal | None = Field(None, ge=0, description="Stop calling the model once "
                                     "the run's estimated spend reaches this (USD).")
    propose_evidence: bool = Field(True, description="Let the model propose more quotes "
                                   "from the text around the evidence (each is located "
                                   "verbatim and negation-checked before it counts).")

    @property
    def configured(self) -> bool:
        """Whether a real endpoint is configured (a key, or a base URL for local servers)."""
        return self.api_key is not None or self.base_url is not None

    def estimated_cost(self, tokens_in: int, tokens_out: int) -> Decimal | None:
        """USD for these tokens, or None when the prices are not configured."""
        if self.input_cost_per_million is None or self.output_cost_per_million is None:
            return None
        return (self.input_cost_per_million * tokens_in +
                self.output_cost_per_million * tokens_out) / Decimal(1_000_000)

    def masked(self) -> dict[str, Any]:
        """Every setting, the key masked (for ``appeals config show``)."""
        shown = self.model_dump(mode="json")
        key = self.api_key.get_secret_value() if self.api_key else None
        shown["api_key"] = (f"{key[:3]}…{key[-4:]}" if key and len(key) > 12 else
                            "***" if key else None)
        return shown

    @classmethod
    def load(cls, config_path: str | Path | None = None, **overrides: Any) -> LLMSettings:
        """Load the settings from the environment, the TOML file and ``overrides``.

        Sources are read in order: the environment, then the ``[llm]`` table of the TOML
        file, then ``overrides`` (command-line options). The file wins over the environment
        for what it sets.
        """
        values: dict[str, Any] = {}
        if config_path is not None:
            with open(config_path, "rb") as f:
                values = dict(tomllib.load(f).get("llm", {}))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
