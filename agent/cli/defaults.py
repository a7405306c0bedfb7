"""Option defaults from the environment and ``./appeals.toml``, in one settings object.

A value on the command line wins; then an ``APPEALS_<NAME>`` environment variable; then the
``[defaults]`` table of the configuration file (``--config``, else ``APPEALS_CONFIG``, else
``./appeals.toml`` when there is one); then the built-in default. The same file holds the
run configuration (:class:`agent.config.AppConfig`) and the ``[llm]`` settings, so a
practice keeps one file beside its data:

.. code-block:: toml

    [defaults]
    db = "/srv/appeals/appeals.db"
    out = "/srv/appeals/out"
    ehr = "fhir-dir:/srv/charts"

Per-invocation values (``--json``, ``--file``, ``--reason``, ``--if-hash``, the inputs)
are not defaults and have no setting.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agent.config import EnvOverFile

DEFAULT_CONFIG = Path("appeals.toml")
"""The configuration file read when neither --config nor APPEALS_CONFIG names one."""


class CommandDefaults(EnvOverFile):
    """The option defaults the commands share; each field is ``APPEALS_<NAME>`` too."""

    model_config = SettingsConfigDict(env_prefix="APPEALS_", extra="ignore", frozen=True)

    config: Path | None = Field(None, description="The configuration file (TOML).")
    db: Path | None = Field(None, description="The store's SQLite file.")
    out: Path | None = Field(None, description="Where letters and manifest.json go.")
    ehr: str | None = Field(None, description="The EHR source, e.g. fhir-dir:PATH.")
    wait: float | None = Field(None, ge=0, description="Seconds to wait for another run's "
                               "writer lease.")
    as_of: date | None = Field(None, description="The day a run counts as today.")
    include_late: bool | None = None
    redraft: bool | None = None
    llm: bool | None = Field(None, description="Draft arguments with the configured model.")
    max_cost: float | None = Field(None, gt=0)
    limit: int | None = Field(None, ge=0, description="`appeals ingest`: rows shown.")
    strict: bool | None = None

    @classmethod
    def load(cls) -> CommandDefaults:
        """The defaults in effect: the environment over the configuration file's [defaults].

        Raises:
            OSError: The configuration file named cannot be read.
            ValueError: It is not TOML, or a value is not valid.
        """
        named = os.environ.get("APPEALS_CONFIG")
        path = Path(named) if named else DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
        table: dict[str, Any] = {}
        if path is not None:
            with open(path, "rb") as f:
                table = dict(tomllib.load(f).get("defaults", {}))
            table.setdefault("config", path)
        return cls(**table)

    def default_map(self) -> dict[str, Any]:
        """Click's ``default_map``: each command's options that have a setting."""
        shared = {k: v for k, v in self.model_dump(mode="json").items() if v is not None}

        def only(*names: str) -> dict[str, Any]:
            return {name: shared[name] for name in names if name in shared}

        store = only("db")
        review = only("db", "out", "config")
        return {
            "run": only("db", "out", "ehr", "config", "wait", "as_of", "include_late",
                        "redraft", "llm", "max_cost"),
            "ingest": only("limit", "strict"),
            "eval": only("config", "llm"),
            "config": {"show": only("config")},
            "users": {"add": store},
            "audit": {"verify": store},
            "export": {"worklist": store},
            "report": only("db", "as_of"),
            "review": {name: review for name in ("list", "show", "approve", "reject", "edit",
                                                 "sent")},
            "evidence": {name: review for name in ("needs", "attach", "supply")},
            "serve": review,
        }

