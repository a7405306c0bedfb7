"""Optional LLM drafting of the letter's argument, behind guardrails (see docs/llm.md)."""
