"""The denial appeal agent: reads payer denials and drafts evidence-cited appeal letters."""

__version__ = "0.1.0"
