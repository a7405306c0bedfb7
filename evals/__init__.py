"""Offline evaluations of the appeal agent: YAML cases (evals/datasets), the real workflow
run over each, typed evaluators, a scorecard and a gate.

Run them with ``appeals eval`` or ``python -m evals``; docs/evals.md explains the case
format, each evaluator and the gate.
"""
