"""The report's charts: the bars they show, their words, and SVG a strict CSP draws as is."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from agent.analytics.charts import CHARTS, Chart, Series, charts
from agent.analytics.kpis import Kpis, compute_kpis
from agent.analytics.plot import svg
from agent.analytics.render import inline_svg
from agent.analytics.settings import ReportSettings
from agent.analytics.svg import without_css
from agent.store.sqlite import SqliteStore
from tests.analytics_store import AS_OF, build


@pytest.fixture(scope="module")
def kpis(tmp_path_factory: pytest.TempPathFactory) -> Kpis:
    store = build(tmp_path_factory.mktemp("practice"))
    try:
        return compute_kpis(store, AS_OF, ReportSettings(min_count=1))
    finally:
        store.close()


def test_each_chart_shows_the_numbers_of_its_table(kpis: Kpis) -> None:
    by_name = {c.name: c for c in charts(kpis)}
    assert list(by_name) == list(CHARTS)
    rates = by_name["denial-rates"]
    assert rates.categories == ("ACME HEALTH PLAN", "BETA MUTUAL")
    assert [s.values for s in rates.series] == [(Decimal("66.67"), Decimal("80.00")),
                                               (Decimal("82.05"), Decimal("81.93"))]
    assert by_name["ar-aging"].series[0].values == (Decimal("200.00"), Decimal("250.00"),
                                                    Decimal("0.00"), Decimal("50.00"))
    assert by_name["appeals-due"].categories == ("past due", "within 7 days",
                                                 "within 14 days", "within 30 days")
    # Only payers with a decided appeal have an overturn rate to draw.
    assert by_name["overturns-by-payer"].categories == ("ACME HEALTH PLAN",)
    assert len(by_name["review-days"].categories) == 30
    assert by_name["prevention"].categories[0] == "ACME HEALTH PLAN · coding · 29877"


def test_the_words_of_a_chart_say_what_its_bars_say(kpis: Kpis) -> None:
    (rates,) = charts(kpis, ("denial-rates",))
    assert rates.alt == ("Denial rate by payer. ACME HEALTH PLAN: claims 66.7%, dollars "
                         "82.1%; BETA MUTUAL: claims 80.0%, dollars 81.9%.")
    (aging,) = charts(kpis, ("ar-aging",))
    assert aging.alt.startswith("Open denials by age (days). 0-30: $200.00; 31-60: $250.00")
    empty = Chart("x", "Appeals due", "count", ("past due",), (Series("denials", (0,)),),
                  "appeals-due", "no appeal waiting to be sent")
    assert not empty.has_data and empty.alt == "Appeals due: no appeal waiting to be sent"


def test_a_chart_is_svg_without_css_and_the_same_every_time(kpis: Kpis) -> None:
    for chart in charts(kpis):
        drawn = svg(chart)
        assert drawn.startswith("<?xml") and "<svg" in drawn
        assert "style=" not in drawn and "<style" not in drawn, chart.name
        assert not re.search(r'(?:href|src)="https?:', drawn)
    (rates,) = charts(kpis, ("denial-rates",))
    assert svg(rates) == svg(rates)
    assert 'fill="#1a5fb4"' in svg(rates) and 'fill="#e66100"' in svg(rates)


def test_an_empty_chart_says_so() -> None:
    empty = Chart("appeals-due", "Appeals due", "count", ("past due",),
                  (Series("denials", (0,)),), "appeals-due", "no appeal waiting to be sent")
    assert "No appeal waiting to be sent." in svg(empty)


def test_styles_become_presentation_attributes() -> None:
    document = ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" fill="red">'
                '<defs><style type="text/css">*{stroke-linejoin: round; fill: blue}</style>'
                '</defs><path d="M 0 0" fill="green" style="fill: #1a5fb4; stroke-width: 0.8"/>'
                '<text style="font: bold 10px \'DejaVu Sans\', sans-serif; text-anchor: end">'
                'A</text></svg>')
    out = without_css(document)
    assert "style" not in out
    assert '<svg xmlns="http://www.w3.org/2000/svg" fill="red" stroke-linejoin="round">' in out
    assert '<path d="M 0 0" fill="#1a5fb4" stroke-width="0.8"/>' in out  # the style wins
    assert ('font-size="10px" font-family="\'DejaVu Sans\', sans-serif" font-weight="bold"'
            ' text-anchor="end"') in out


def test_an_inline_chart_has_its_own_ids_and_a_name() -> None:
    document = ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg">'
                '<clipPath id="p1"/><path id="patch_1" clip-path="url(#p1)"/>'
                '<use xlink:href="#patch_1"/></svg>')
    inline = str(inline_svg(document, "ar-aging", 'Aging <"90+">'))
    assert inline.startswith('<svg role="img" aria-label="Aging &lt;&#34;90+&#34;&gt;" ')
    assert 'id="ar-aging-p1"' in inline and 'url(#ar-aging-p1)' in inline
    assert 'xlink:href="#ar-aging-patch_1"' in inline and "DOCTYPE" not in inline


def test_an_empty_store_draws_every_chart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "appeals.db")
    try:
        empty = compute_kpis(store, date(2026, 4, 1))
    finally:
        store.close()
    for chart in charts(empty):
        assert not chart.has_data or chart.name == "review-days"
        assert "<svg" in svg(chart)
