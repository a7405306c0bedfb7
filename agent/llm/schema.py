"""What the model must answer: structured output, parsed by ``chat.completions.parse``.

The client sends these as a strict JSON schema (every field required, no extra keys).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ArgumentParagraph(BaseModel):
    """One paragraph of the argument and the facts it rests on."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The paragraph, plain prose. Quote the record only with "
                      "text copied exactly from an evidence item, in double quotes.")
    facts: list[str] = Field(description="Ids of the facts (from the evidence list) this "
                             "paragraph relies on; at least one.")


class ProposedEvidence(BaseModel):
    """A further quote the model found in the text around the evidence."""

    model_config = ConfigDict(extra="forbid")

    fact: str = Field(description="The fact id it supports.")
    excerpt_id: str = Field(description="Id of the excerpt it is copied from.")
    quote: str = Field(description="Exact text copied from that excerpt.")


class DraftReply(BaseModel):
    """The model's argument for one letter (or one work queue sharing it)."""

    model_config = ConfigDict(extra="forbid")

    paragraphs: list[ArgumentParagraph]
    proposed_evidence: list[ProposedEvidence]
