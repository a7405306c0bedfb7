"""The ``fhir`` adapter's settings: ``APPEALS_EHR_FHIR_*`` variables over ``[ehr.fhir]``.

The ``[ehr.fhir]`` table of the configuration file (``--config``) gives them; an
environment variable ``APPEALS_EHR_FHIR_<NAME>`` (``APPEALS_EHR_FHIR_CLIENT_ID``...)
overrides the file, as ``APPEALS_*`` variables override ``[defaults]``
(agent/cli/defaults.py). The private key is a path to a PEM file, never the key itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from agent.config import EnvOverFile

DEFAULT_SCOPES = ("system/Patient.rs system/Encounter.rs system/DocumentReference.rs "
                  "system/Binary.r system/Observation.rs system/Condition.rs "
                  "system/Procedure.rs system/RelatedPerson.rs")
"""SMART v2 scopes for what the adapter reads (read and search, nothing else)."""

MIB = 1 << 20


class FhirRestSettings(EnvOverFile):
    """How ``--ehr fhir:BASE_URL`` reaches the server: SMART Backend Services and limits."""

    model_config = SettingsConfigDict(env_prefix="APPEALS_EHR_FHIR_", extra="forbid",
                                      frozen=True)

    client_id: str | None = Field(None, min_length=1, description="The client id the EHR "
                                  "registered this app under (the JWT's iss and sub).")
    private_key: Path | None = Field(None, description="PEM file of the private key whose "
                                     "public key (JWKS) the EHR holds: RSA (RS384) or EC "
                                     "P-384 (ES384).")
    key_id: str | None = Field(None, min_length=1, description="The key's id in that JWKS "
                                "(the JWT header's kid).")
    token_url: str | None = Field(None, description="The token endpoint; None: read from "
                                  "BASE_URL/.well-known/smart-configuration.")
    scopes: str = Field(DEFAULT_SCOPES, min_length=1, description="Scopes asked for, "
                        "space-separated (a TOML list is joined).")
    algorithm: Literal["RS384", "ES384"] | None = Field(None, description="None: RS384 for "
                                                        "an RSA key, ES384 for an EC key.")
    max_concurrency: int = Field(8, ge=1, le=64, description="Charts fetched at once.")
    timeout_seconds: float = Field(30.0, gt=0, description="Per request (connect, each "
                                   "read).")
    max_attempts: int = Field(4, ge=1, description="Attempts per request; 429, 5xx, "
                              "timeouts and connection errors are retried.")
    retry_budget: int = Field(500, ge=0, description="Retries allowed in the whole run; "
                              "once spent, a failed request is not retried.")
    backoff_seconds: float = Field(0.5, gt=0, description="First backoff (exponential with "
                                   "jitter) when the server gives no Retry-After.")
    max_backoff_seconds: float = Field(30.0, gt=0)
    max_retry_after_seconds: float = Field(120.0, ge=0, description="A 429 or 503 asking to "
                                           "wait longer than this is not retried.")
    max_response_bytes: int = Field(32 * MIB, ge=1024, description="A larger response (a "
                                    "search page, an attachment) is not read: that chart "
                                    "says so. Streamed: a 20 MB PDF is read.")
    page_size: int = Field(100, ge=1, le=1000, description="_count of each search page.")
    max_pages: int = Field(100, ge=1, description="Pages read per search at most.")
    search_period: bool = Field(True, description="Also search notes by context.period "
                                "(DocumentReference 'period'); false for servers without "
                                "that parameter (notes dated only by their period are then "
                                "missed).")
    cache_max_bytes: int = Field(64 * MIB, ge=0, description="Attachments kept for the run "
                                 "(several denials of a claim share notes), in bytes.")

    @field_validator("scopes", mode="before")
    @classmethod
    def _join_scopes(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return " ".join(str(v) for v in value)
        return value
