"""Showing the scorecard: a rich table on the console, Markdown (with a small chart) and
JSON files."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from evals.scorecard import Score, Scorecard
from evals.suites import CASES, SUITES

SHORT = {"action_correct": "action", "playbook_correct": "playbook",
         "reason_correct": "reason", "evidence_recall": "recall", "citation_validity": "citations",
         "letter_complete": "letter", "no_fabrication": "no fabrication",
         "no_letter_when_not_appealable": "no letter (not appealable)",
         "no_forbidden_content": "no forbidden", "no_false_appeal": "no false appeal",
         "no_false_write_off": "no false write-off"}
"""Column headings."""

START, END = CASES.markers
"""Markers of the generated section when the Markdown file is a longer document (each
suite has its own: evals/suites.py)."""


def cell(score: Score | None) -> str:
    """``95.0% (19/20)``, or ``-`` when the evaluator applied to no case."""
    if score is None or score.rate is None:
        return "-"
    return f"{score.rate:.1%} ({score.hits}/{score.total})"


def _rows(card: Scorecard) -> list[tuple[str, str, int, dict[str, Score]]]:
    """(group, split, cases, scores) in display order: playbooks, then overall."""
    rows: list[tuple[str, str, int, dict[str, Score]]] = []
    for name, splits in card.by_playbook.items():
        for split in ("dev", "holdout"):
            if split in splits:
                cases = max((s.cases for s in splits[split].values()), default=0)
                rows.append((name, split, cases, splits[split]))
    for split in ("dev", "holdout", "all"):
        if split in card.overall:
            count = card.cases if split == "all" else card.cases_by_split.get(split, 0)
            rows.append(("overall", split, count, card.overall[split]))
    return rows


def drafting_line(card: Scorecard) -> str:
    """``template-only drafting, 40 letters`` or ``LLM drafting: 38 of 40 letters by the
    model, 2 fell back to the template (rejected: 2)``."""
    d = card.drafting
    if d.mode == "template":
        return f"template-only drafting, {d.letters} letters"
    reasons = ", ".join(f"{reason}: {count}" for reason, count in d.fallback_reasons.items())
    return (f"LLM drafting: {d.by_llm} of {d.letters} letters by the model, {d.fallbacks} "
            "fell back to the template" + (f" ({reasons})" if reasons else ""))


HOLDOUT_NOTE = ("reported, not gated: the holdout is run once and never tuned on, so it never "
                "decides the exit status")
"""What every report says of the holdout's gate."""


def _word(passed: bool) -> str:
    return "passed" if passed else "FAILED"


def ungated_splits(card: Scorecard) -> list[str]:
    """The splits whose gate is shown but does not decide: the holdout, and ``all`` when
    it holds the holdout and the suite does not gate it (a split that only repeats
    another, such as ``all`` of a dev-only run, is left out)."""
    shown = [s for s in ("holdout", "all") if s in card.passed_by_split
             and s not in card.gated_splits]
    both = bool(card.cases_by_split.get("dev")) and bool(card.cases_by_split.get("holdout"))
    return [s for s in shown if s == "holdout" or (card.split == "all" and both)]


def why_not_gated(split: str) -> str:
    """Why a split's gate does not decide the exit status."""
    return "reported, not gated" if split == "holdout" else "not gated: it holds the holdout"


def no_gate(card: Scorecard) -> str:
    """Why no gate decides this run (empty when one does)."""
    if card.enforced:
        return ""
    return ("no gate decides this run: it holds no dev case, and the holdout is reported, "
            "never gated")


def gate_verdicts(card: Scorecard) -> str:
    """``dev passed, all passed; holdout FAILED (reported, not gated)``: the gated splits
    first, then those only reported."""
    gated = ", ".join(f"{s} {_word(card.passed_by_split.get(s, False))}"
                      for s in card.gated_splits)
    others = ", ".join(f"{s} {_word(card.passed_by_split[s])} ({why_not_gated(s)})"
                       for s in ungated_splits(card))
    return "; ".join(part for part in (gated, others) if part) or "no split with cases"


def about(card: Scorecard) -> str:
    """`` on 84 distinct corpus notes, 84 of them on the same notes hard-wrapped`` (after
    the case count; empty unless the cases read corpus notes)."""
    if not card.corpus_notes:
        return ""
    notes = "note" if card.corpus_notes == 1 else "notes"
    variants = (f", {card.variants} of them on the same notes hard-wrapped"
                if card.variants else "")
    return f" on {card.corpus_notes} distinct corpus {notes}{variants}"


def counts_line(card: Scorecard) -> str | None:
    """The two counts that must be 0, per split, when the suite gates them."""
    names = [n for n in ("no_false_appeal", "no_false_write_off") if n in SUITES[card.suite].gate]
    if not names:
        return None
    what = {"no_false_appeal": "appeals where the outcome is not to appeal",
            "no_false_write_off": "write-offs or corrected claims where an appeal or review "
                                  "was expected"}
    parts = []
    for name in names:
        per = [f"{split} {score.total - score.hits}"
               for split in ("dev", "holdout") if (score := card.overall.get(split, {})
                                                   .get(name)) is not None and score.total]
        parts.append(f"{what[name]}: " + (", ".join(per) or "none scored"))
    return "Counts that must be 0: " + "; ".join(parts) + "."


def _rate(rate: float | None) -> str:
    return "- (nothing scored)" if rate is None else f"{rate:.1%}"


def print_scorecard(card: Scorecard, out: Console) -> None:
    """The table per playbook and overall, the gate per split and the failures."""
    table = Table(title=f"Eval scorecard, suite {card.suite} ({card.cases} cases{about(card)}, "
                  f"split {card.split}, {drafting_line(card)}, {card.seconds:.1f} s); gate: "
                  f"{gate_verdicts(card)}", title_justify="left")
    table.add_column("playbook")
    table.add_column("split")
    table.add_column("cases", justify="right")
    for name in card.evaluators:
        table.add_column(SHORT.get(name, name), justify="right")
    for group, split, cases, scores in _rows(card):
        style = "bold" if group == "overall" else ""
        table.add_row(group, split, str(cases), *(cell(scores.get(n)) for n in card.evaluators),
                      style=style)
    out.print(table)
    for line in card.gate:
        mark = "[green]pass[/green]" if line.passed else "[red]FAIL[/red]"
        out.print(f"gate {line.split:7} {line.evaluator} ≥ {line.threshold:.0%}: "
                  f"{_rate(line.rate)} {mark}")
    for failure in card.failures:
        # One line each, never wrapped: people grep these.
        out.print(Text(f"FAIL {failure.case} ({failure.source}, {failure.split}) "
                       f"{failure.evaluator}: {failure.detail}"), soft_wrap=True)
    counts = counts_line(card)
    if counts:
        out.print(counts)
    if "holdout" in card.passed_by_split:
        mark = "[green]passed[/green]" if card.passed_by_split["holdout"] else "[red]FAILED[/red]"
        out.print(f"holdout: gate {mark}, {HOLDOUT_NOTE}")
    where = f"(suite {card.suite}, split {card.split})"
    if not card.enforced:
        out.print(f"[yellow]{no_gate(card)}; exit status 0[/yellow] {where}")
    elif card.failed_gates:
        out.print(f"[red]gate failed: {', '.join(card.failed_gates)}[/red] {where}")
    else:
        out.print(f"[green]gate passed: {', '.join(card.gated_splits)}[/green] {where}")


def markdown(card: Scorecard) -> str:
    """The scorecard as Markdown: tables, the gate, a chart and the failing checks."""
    heads = [SHORT.get(n, n) for n in card.evaluators]
    lines = [f"Split `{card.split}`: {card.cases} cases "
             f"({card.cases_by_split.get('dev', 0)} dev, "
             f"{card.cases_by_split.get('holdout', 0)} holdout){about(card)}, "
             f"{drafting_line(card)}, run in {card.seconds:.1f} s. {_gate_sentence(card)}",
             ""]
    counts = counts_line(card)
    if counts:
        lines += [counts, ""]
    lines += ["| playbook | split | cases | " + " | ".join(heads) + " |",
              "|---|---|--:|" + "--:|" * len(heads)]
    for group, split, cases, scores in _rows(card):
        name = f"**{group}**" if group == "overall" else f"`{group}`"
        lines.append(f"| {name} | {split} | {cases} | "
                     + " | ".join(cell(scores.get(n)) for n in card.evaluators) + " |")
    if card.by_variant:
        lines += ["", "The same cases on the notes as the corpus has them and hard-wrapped at "
                  "60-80 columns:", "", "| notes | split | cases | " + " | ".join(heads) + " |",
                  "|---|---|--:|" + "--:|" * len(heads)]
        for variant, splits in card.by_variant.items():
            for split in ("dev", "holdout"):
                if split in splits:
                    count = max((x.cases for x in splits[split].values()), default=0)
                    lines.append(f"| {variant} | {split} | {count} | " + " | ".join(
                        cell(splits[split].get(n)) for n in card.evaluators) + " |")
    lines += ["", "| gate | split | threshold | score | |", "|---|---|--:|--:|---|"]
    for line in card.gate:
        lines.append(f"| {line.evaluator} | {line.split} | {line.threshold:.0%} | "
                     f"{_rate(line.rate)} | {'pass' if line.passed else '**FAIL**'} |")
    lines += ["", _chart(card), ""]
    if card.failures:
        lines += ["Failing checks:", "", "| case | split | evaluator | detail |",
                  "|---|---|---|---|"]
        lines += [f"| `{f.case}` | {f.split} | {f.evaluator} | "
                  f"{f.detail.replace('|', '/')} |" for f in card.failures]
    else:
        lines.append("No failing checks.")
    return "\n".join(lines) + "\n"


def _gate_sentence(card: Scorecard) -> str:
    """``Gate on `dev` and `all`: **passed**. Holdout (reported, not gated): **failed**.``"""
    def verdict(split: str) -> str:
        return "**passed**" if card.passed_by_split.get(split, False) else "**failed**"

    if card.enforced:
        on = " and ".join(f"`{s}`" for s in card.gated_splits)
        failed = card.failed_gates
        words = "**passed**" if not failed else "**failed**" + (
            "" if failed == card.gated_splits else " on " + ", ".join(f"`{s}`" for s in failed))
        text = f"Gate on {on}: {words}."
    else:
        text = no_gate(card).capitalize() + "."
    others = [f"{'Holdout' if split == 'holdout' else '`all`'} ({why_not_gated(split)}): "
              f"{verdict(split)}" for split in ungated_splits(card)]
    return text + (" " + "; ".join(others) + "." if others else "")


def _chart(card: Scorecard, width: int = 20) -> str:
    """Dev against holdout per evaluator, as bars (reads faster than two columns of %)."""
    rows = ["```text", f"{'':<30} {'dev':<{width + 7}} holdout"]
    for name in card.evaluators:
        bars = []
        for split in ("dev", "holdout"):
            rate = card.overall.get(split, {}).get(name, Score()).rate
            if rate is None:
                bars.append(f"{'':<{width}} {'-':>5} ")
            else:
                filled = round(rate * width)
                bars.append("█" * filled + "░" * (width - filled) + f" {rate:>5.0%} ")
        rows.append(f"{name:<30} " + " ".join(bars).rstrip())
    rows.append("```")
    return "\n".join(rows)


def write_markdown(card: Scorecard, path: Path) -> None:
    """Write the Markdown scorecard; in an existing file with the suite's markers, only
    the section between them is replaced (docs/evals.md keeps its prose and the other
    suite's section)."""
    body = markdown(card)
    start, end = SUITES[card.suite].markers
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if f"\n{start}\n" in text and f"\n{end}" in text:
            pattern = re.compile("^" + re.escape(start) + r"$.*?^" + re.escape(end) + "$",
                                 re.DOTALL | re.MULTILINE)
            path.write_text(pattern.sub(lambda _: f"{start}\n{body}{end}", text, count=1),
                            encoding="utf-8")
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    title = SUITES[card.suite].title
    path.write_text(f"# Eval scorecard: {title.lower() if card.suite != 'cases' else title}"
                    f" (split {card.split})\n\nWritten by `appeals eval` (docs/evals.md); do "
                    "not edit.\n\n" + body, encoding="utf-8")


def write_json(card: Scorecard, path: Path) -> None:
    """Write the scorecard as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
