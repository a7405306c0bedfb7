"""Building fake model replies from the prompt the fake server received."""

from __future__ import annotations

import re
from typing import Any

from agent.llm.fake_server import FakeReply, grounded_reply

_EXCERPT = re.compile(r'<(record-[0-9a-f]+) kind="excerpt" id="(X\d+)"[^>]*>\n(.*?)\n</\1>',
                      re.DOTALL)


def prompt_text(request: dict[str, Any]) -> str:
    """The first user message (claim, playbook and evidence)."""
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


def excerpts_in(request: dict[str, Any]) -> dict[str, str]:
    """Excerpt id -> text."""
    return {m.group(2): m.group(3) for m in _EXCERPT.finditer(prompt_text(request))}


def good(request: dict[str, Any]) -> FakeReply:
    """:func:`grounded_reply` as a fake server answer."""
    return FakeReply(content=grounded_reply(request))
