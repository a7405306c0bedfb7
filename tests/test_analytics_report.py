"""``appeals report``: one self-contained HTML page and a CSV per table, end to end.

The page embeds its charts as SVG and names nothing outside itself; each CSV is UTF-8 with
plain decimal amounts, ISO dates and no cell a spreadsheet would run as a formula. The
command keeps the CLI's conventions (one line on stderr, exit 2 for a bad path).
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.analytics.charts import CHARTS
from agent.analytics.kpis import Kpis, compute_kpis
from agent.analytics.settings import ReportSettings
from agent.analytics.tables import report_tables
from agent.application.reports import csv_text
from agent.cli import app
from agent.store.sqlite import SqliteStore
from agent.triage.model import Triage
from tests.analytics_store import AS_OF, build
from tests.remits import claim, line, remit, write

runner = CliRunner()


@pytest.fixture(scope="module")
def practice_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = build(tmp_path_factory.mktemp("practice"))
    store.close()
    return store.path


class _Tags(HTMLParser):
    """Every start tag with its attributes (inline SVG's included)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _report(db: Path, out: Path, *options: str) -> str:
    result = runner.invoke(app, ["report", "--db", str(db), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_report_is_one_page_with_its_charts_inside(practice_db: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    said = _report(practice_db, out, "--as-of", "2026-04-01", "--min-count", "2")
    assert said.startswith(f"{out}: report on 2026-04-01 of 8 denials and 11 claims")
    html = out.read_text(encoding="utf-8")
    tags = _Tags(html).tags
    assert html.count("<svg ") == len(CHARTS)
    assert sum(1 for tag, a in tags if tag == "svg" and a.get("role") == "img"
               and a.get("aria-label")) == len(CHARTS)
    linked = [v for _, a in tags for k, v in a.items() if k in ("src", "href", "xlink:href")]
    assert not [v for v in linked if re.match(r"\s*(https?:)?//", v)], linked
    assert "<script" not in html and "<link" not in html and "@import" not in html
    ids = [a["id"] for _, a in tags if "id" in a]
    assert len(ids) == len(set(ids))  # each chart's ids are its own
    assert 'id="figure-claim_denial_rate_pct">72.7%<' in html
    assert 'id="figure-overturn_rate_pct">33.3%<' in html
    assert "Report date 2026-04-01" in html


def test_a_csv_per_table_beside_the_page(practice_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    _report(practice_db, out, "--as-of", "2026-04-01", "--min-count", "2")
    store_kpis = _kpis(practice_db, 2)
    names = {f"report-{t.name}.csv" for t in report_tables(store_kpis)}
    assert {p.name for p in tmp_path.glob("report-*.csv")} == names
    for table in report_tables(store_kpis):
        written = (tmp_path / f"report-{table.name}.csv").read_bytes()
        assert written.decode("utf-8") == csv_text(table)  # UTF-8, no byte-order mark
        header = next(csv.reader([written.decode("utf-8").splitlines()[0]]))
        assert header == [c.name for c in table.columns]
    rates = list(csv.DictReader((tmp_path / "report-denial-rates.csv").open(encoding="utf-8")))
    assert rates[-1] == {
        "payer": "All payers", "claims_read": "17", "reversals": "1", "corrections": "1",
        "reprocessed": "4", "claims": "11", "denied_claims": "8",
        "claim_denial_rate_pct": "72.73", "billed": "4730.00", "denied": "3880.00",
        "dollar_denial_rate_pct": "82.03", "first_pass_resolution_rate_pct": "27.27"}
    days = list(csv.DictReader((tmp_path / "report-review-days.csv").open(encoding="utf-8")))
    assert (days[0]["day"], days[-1]["day"], days[-1]["reviewed"]) == ("2026-03-03",
                                                                       "2026-04-01", "2")
    overturns = (tmp_path / "report-overturns-by-payer.csv").read_text(encoding="utf-8")
    assert "BETA MUTUAL,1,0,0,0,0,1,,,0.00\n" in overturns  # no rate: empty, not 0


def _kpis(db: Path, min_count: int) -> Kpis:
    store = SqliteStore(db)
    try:
        return compute_kpis(store, AS_OF, ReportSettings(min_count=min_count))
    finally:
        store.close()


def test_a_payer_name_is_never_a_spreadsheet_formula(tmp_path: Path) -> None:
    path = write(tmp_path, "jan.835", remit([claim("F1", line("99213", "150.00", "0", (
        "CO", "197", "150.00")))], produced="20260105", payer="=HYPERLINK(1)"))
    db = tmp_path / "appeals.db"
    result = runner.invoke(app, ["ingest", path, "--db", str(db)])
    assert result.exit_code == 0, result.output
    store = SqliteStore(db)  # triaged as a run would: a preventable authorization denial
    (record,) = store.get_denials(store.list_denial_ids())
    store.save_denials([record.model_copy(update={"triage": Triage(
        action="needs_review", category="administrative", preventable=True,
        dollar_bucket="low", root_cause="authorization", reason="x", rule="x", final=False)})])
    store.close()
    _report(db, tmp_path / "r.html", "--min-count", "1")
    rates = (tmp_path / "report-denial-rates.csv").read_text(encoding="utf-8")
    assert "\n'=HYPERLINK(1),1,0,0,0,1,1,100.00,150.00,150.00,100.00,0.00\n" in rates
    prevention = (tmp_path / "report-prevention.csv").read_text(encoding="utf-8")
    assert "\n1,'=HYPERLINK(1),authorization,99213," in prevention


def test_an_empty_store_reports_not_available(tmp_path: Path) -> None:
    db = tmp_path / "appeals.db"
    SqliteStore(db).close()
    _report(db, tmp_path / "r.html", "--as-of", "2026-04-01")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="figure-claim_denial_rate_pct">n/a<' in html
    assert "No claims were read from 835s yet." in html  # the chart says so
    summary = (tmp_path / "report-summary.csv").read_text(encoding="utf-8")
    assert "claim_denial_rate_pct,,percent\n" in summary


def test_the_report_date_defaults_to_today(practice_db: Path, tmp_path: Path) -> None:
    said = _report(practice_db, tmp_path / "r.html")
    assert f"report on {date.today().isoformat()}" in said


@pytest.mark.parametrize(("args", "said"), [
    (["--db", "missing.db", "--out", "r.html"], "no database at missing.db"),
    (["--db", "appeals.db", "--out", "folder"], "folder is a folder"),
    (["--db", "appeals.db", "--out", "r.html", "--as-of", "2026-13-01"], "--as-of"),
    (["--db", "appeals.db", "--out", "r.html", "--min-count", "0"], "--min-count"),
])
def test_a_bad_path_or_option_is_one_line_and_exit_2(practice_db: Path, tmp_path: Path,
                                                     args: list[str], said: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "appeals.db").write_bytes(practice_db.read_bytes())
    done = subprocess.run([sys.executable, "-m", "agent", "report", *args], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and said in done.stderr
    if "--as-of" not in args and "--min-count" not in args:
        assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_a_destination_that_cannot_be_written_is_one_line(practice_db: Path,
                                                         tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    result = runner.invoke(app, ["report", "--db", str(practice_db), "--out",
                                 str(tmp_path / "a-file" / "r.html")])
    assert result.exit_code == 2 and "cannot be written" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_folder_is_made(practice_db: Path, tmp_path: Path) -> None:
    _report(practice_db, tmp_path / "reports" / "2026-04" / "r.html")
    assert (tmp_path / "reports" / "2026-04" / "report-summary.csv").is_file()
