"""The report as one self-contained HTML page: figures, charts inline as SVG, tables.

No script, no font, no stylesheet or image from anywhere else: the page's own ``<style>``
and each chart's ``<svg>`` in it, so the file can be mailed or archived and opens
offline. Jinja with autoescape and ``StrictUndefined``
(``agent/analytics/templates/report.html.j2``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from agent.analytics.charts import Chart
from agent.analytics.kpis import Kpis
from agent.analytics.tables import ReportTable, display, key_figures

TEMPLATES = Path(__file__).resolve().parent / "templates"

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(url\(#|xlink:href="#|href="#)([^)"]+)')


def inline_svg(document: str, prefix: str, label: str) -> Markup:
    """An SVG document as an element of a page.

    Without its XML declaration and doctype; every id prefixed (two charts' ids never
    collide); ``role="img"`` and ``label`` as its accessible name.
    """
    body = _PROLOG.sub("", document, count=1)
    body = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", body)
    body = body.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return Markup(body)


def environment() -> Environment:
    """The report's Jinja environment (autoescape, StrictUndefined), with ``display``."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        ["html", "j2"]), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["display"] = display
    return env


def report_html(kpis: Kpis, tables: Sequence[ReportTable], charts: Sequence[Chart],
                svgs: Sequence[str], generated_at: datetime) -> str:
    """The page: key figures, then each section's chart (inline) and table."""
    drawn = {chart.table: (chart, inline_svg(svg, chart.name, chart.alt))
             for chart, svg in zip(charts, svgs, strict=True)}
    return environment().get_template("report.html.j2").render(
        kpis=kpis, figures=key_figures(kpis), tables=[t for t in tables if t.name != "summary"],
        drawn=drawn, generated_at=generated_at)
