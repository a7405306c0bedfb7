"""``appeals report``: the KPIs as one HTML page and a CSV file per table.

:func:`write_report` writes one self-contained HTML page (charts inline as SVG) and,
beside it, ``report-<table>.csv`` for each table: UTF-8, amounts and percents as plain
decimals, ISO dates, a text cell a spreadsheet would run as a formula prefixed with ``'``
(the worklist export's own :func:`~agent.application.export.csv_cell`). Each file is
written whole or not at all. The web dashboard (:mod:`agent.application.dashboard`) shows
the same tables (:func:`~agent.analytics.tables.report_tables`) and charts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from agent.analytics.charts import charts
from agent.analytics.kpis import Kpis, compute_kpis
from agent.analytics.render import report_html
from agent.analytics.settings import ReportSettings
from agent.analytics.tables import ReportTable, Value, report_tables
from agent.application.export import csv_cell
from agent.letters.files import atomic_file
from agent.store.protocols import Store


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    csvs: tuple[Path, ...]
    kpis: Kpis


def csv_text(table: ReportTable) -> str:
    """A table as CSV: a header of column names, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(_plain(v)) for v in row])
    return out.getvalue()


def _plain(value: Value) -> str | Decimal | None:
    """A cell as the worklist export writes one: text, an amount, or nothing."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return value


def csv_path(html: Path, table: ReportTable) -> Path:
    """``report-<table>.csv`` beside the page."""
    return html.with_name(f"report-{table.name}.csv")


def write_report(store: Store, html: Path, as_of: date, settings: ReportSettings | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ReportFiles:
    """Write the report of ``store`` on ``as_of`` to ``html`` and its CSVs beside it.

    Raises:
        OSError: a file cannot be written.
    """
    from agent.analytics.plot import svg  # matplotlib: only where a chart is drawn

    kpis = compute_kpis(store, as_of, settings)
    tables = report_tables(kpis)
    drawn = charts(kpis)
    page = report_html(kpis, tables, drawn, [svg(c) for c in drawn], now())
    written = []
    for table in tables:
        path = csv_path(html, table)
        with atomic_file(path) as handle:
            handle.write(csv_text(table).encode("utf-8"))
        written.append(path)
    with atomic_file(html) as handle:
        handle.write(page.encode("utf-8"))
    return ReportFiles(html, tuple(written), kpis)
