"""The demo practice and finished drafts, for the tests that approve letters.

Approval is refused while a practice field is the shipped placeholder or a placeholder for
the auditor is left in the letter (agent/letters/unfinished.py), and the templates leave
such placeholders in every draft (the payer's own policy, for one). A test that approves
uses the demo configuration and, unless it finishes the letter itself, finished drafts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent.config import AppConfig
from agent.letters.render import LetterRenderer
from agent.letters.unfinished import PLACEHOLDER
from tests.conftest import FIXTURES

PRACTICE_TOML = FIXTURES / "practice.toml"
"""The demo practice: `make demo`'s --config."""


def practice_config(**changes: Any) -> AppConfig:
    """The demo configuration (fixtures/practice.toml), with ``changes``."""
    return AppConfig.load(PRACTICE_TOML).model_copy(update=changes)


_NO_SOURCE = re.compile(r"\(None\)(?=[ \t]*$)", re.MULTILINE)


def finish(text: str) -> str:
    """``text`` as an auditor finishes it: each placeholder replaced by what it asks for,
    and a citation printed with no source given one."""
    policy = "(payer policy MP-114, section 4.2)"
    return _NO_SOURCE.sub(policy, PLACEHOLDER.sub(policy, text))


def draft_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every draft come out finished, as if the auditor's placeholders were filled.

    For a test about races, crashes or the DOCX export that needs an approvable draft.
    """
    real = LetterRenderer.render

    def render(self: LetterRenderer, *args: Any, **kwargs: Any) -> str:
        return finish(real(self, *args, **kwargs))

    monkeypatch.setattr(LetterRenderer, "render", render)
