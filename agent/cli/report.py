"""``appeals report``: the KPIs of a store as one HTML page and a CSV file per table."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from agent.analytics.settings import ReportSettings
from agent.cli.common import StoreOption, open_store, refuse

MIN_COUNT = ReportSettings.model_fields["min_count"].default


def report_command(
    out: Annotated[Path, typer.Option(help="The HTML page to write (replaced if it exists); "
                                      "report-<table>.csv files go beside it.",
                                      show_default=False)],
    db: StoreOption = Path("appeals.db"),
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="The day ages, appeal deadlines and the review window count from "
             "(default: today).")] = None,
    min_count: Annotated[int, typer.Option(
        "--min-count", min=1, help="Prevention: the fewest denials a payer, root cause "
        "and procedure pattern needs to be suggested.")] = MIN_COUNT,
) -> None:
    """Write the denial and appeal KPIs as an HTML page and CSV files.

    Denial rates by payer, top reasons, A/R aging, appeals due, overturns of sent
    appeals, auditor throughput and prevention suggestions: one self-contained HTML page
    (charts inline as SVG, nothing fetched from elsewhere) and, beside it,
    report-<table>.csv for each table (docs/kpis.md defines every figure). Exits 2 when
    the store or the destination cannot be used.
    """
    if not db.is_file():
        raise refuse("report", f"no database at {db} (run `appeals run` first)", 2)
    if out.is_dir():
        raise refuse("report", f"{out} is a folder: give the HTML file to write", 2)
    from agent.application.reports import write_report

    store = open_store(db, "report")
    try:
        files = write_report(store, out, as_of.date() if as_of else date.today(),
                             ReportSettings(min_count=min_count))
    except OSError as exc:
        raise refuse("report", f"{out}: cannot be written "
                     f"({exc.strerror or type(exc).__name__})", 2) from None
    finally:
        store.close()
    kpis = files.kpis
    typer.echo(f"{files.html}: report on {kpis.as_of.isoformat()} of {kpis.mix.denials} "
               f"denials and {kpis.claims.total.claims} claims adjudicated; "
               f"{len(files.csvs)} CSV files beside it")
