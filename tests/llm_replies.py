"""Building fake model replies from the prompt the fake server received."""

from __future__ import annotations

import re
from typing import Any

from agent.llm.fake_server import FakeReply

_EVIDENCE = re.compile(r'<(record-[0-9a-f]+) kind="evidence" id="(E\d+)" fact="([a-z_0-9]+)"'
                       r'[^>]*>\n(.*?)\n</\1>', re.DOTALL)
_EXCERPT = re.compile(r'<(record-[0-9a-f]+) kind="excerpt" id="(X\d+)"[^>]*>\n(.*?)\n</\1>',
                      re.DOTALL)


def prompt_text(request: dict[str, Any]) -> str:
    """The first user message (claim, playbook and evidence)."""
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


def evidence_in(request: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, fact, text) of each evidence item in the prompt."""
    return [(m.group(2), m.group(3), m.group(4)) for m in _EVIDENCE.finditer(
        prompt_text(request))]


def excerpts_in(request: dict[str, Any]) -> dict[str, str]:
    """Excerpt id -> text."""
    return {m.group(2): m.group(3) for m in _EXCERPT.finditer(prompt_text(request))}


def good_reply(request: dict[str, Any]) -> dict[str, Any]:
    """A reply that passes the guardrails: one paragraph per fact, quoting the start of
    one of its evidence items verbatim."""
    paragraphs = []
    for fact in dict.fromkeys(f for _, f, _ in evidence_in(request)):
        texts = [t for _, f, t in evidence_in(request) if f == fact and "[" not in t]
        sentence = "The medical record documents this fact for the service under appeal."
        if texts:
            words = texts[0].split()[:6]
            sentence += f' The note states "{" ".join(words)}".'
        paragraphs.append({"text": sentence, "facts": [fact]})
    return {"paragraphs": paragraphs, "proposed_evidence": []}


def good(request: dict[str, Any]) -> FakeReply:
    """:func:`good_reply` as a fake server answer."""
    return FakeReply(content=good_reply(request))
