"""The dashboard (``/dashboard``): the report's figures, charts and tables in the workbench.

Any signed-in user sees it; the view is an audit row like every page; it shows
aggregates only (no claim, patient or member id); the charts are SVG responses the page
shows with ``<img alt>`` beside the table of the same numbers, so the page keeps the
Content Security Policy (no inline style or script).
"""

from __future__ import annotations

import html as html_module
from datetime import date

import pytest

from agent.analytics.charts import CHARTS, charts
from agent.analytics.kpis import compute_kpis
from agent.analytics.tables import display, key_figures, report_tables
from agent.store.records import AuditEntry
from tests.web.conftest import AS_OF, Elements, Site


def _viewed(site: Site) -> list[AuditEntry]:
    rows = site.store.connection.execute("SELECT doc FROM appeal_audit ORDER BY seq")
    return [e for e in (AuditEntry.model_validate_json(r[0]) for r in rows)
            if e.action == "viewed" and e.subject == "dashboard"]


@pytest.mark.parametrize("name", ["ann", "lee", "ada"])
def test_any_signed_in_user_sees_it_and_the_view_is_audited(site: Site, name: str) -> None:
    site.login(name)
    page = site.client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    (viewed,) = _viewed(site)
    assert viewed.actor == name and viewed.letter_id is None
    assert viewed.note == "dashboard (aggregates)"
    assert site.store.verify_audit().holds


def test_it_shows_the_figures_and_tables_of_the_report(site: Site) -> None:
    site.login("ann")
    page = site.client.get("/dashboard").text
    kpis = compute_kpis(site.store, AS_OF)
    assert kpis.mix.denials > 0 and kpis.claims.total.claims > 0  # the demo has both
    for figure in key_figures(kpis):
        shown = html_module.escape(display(figure.value, figure.kind))
        assert f'id="figure-{figure.name}">{shown}</dd>' in page, figure.name
    parsed = Elements(page)
    for table in report_tables(kpis):
        if table.name == "summary":
            continue  # the key figures above are its rows
        assert f'id="table-{table.name}"' in page
        assert html_module.escape(table.title) in page
    rows = page.count("<tr")
    assert rows > 20
    images = {a["id"]: a for tag, a in parsed.elements if tag == "img"}
    for chart in charts(kpis):
        image = images[f"chart-{chart.name}-image"]
        assert image["src"] == f"/dashboard/charts/{chart.name}.svg"
        assert image["alt"] == chart.alt and len(chart.alt) > 20


def test_each_chart_is_an_svg_of_its_own(site: Site) -> None:
    site.login("ann")
    for name in CHARTS:
        response = site.client.get(f"/dashboard/charts/{name}.svg")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        body = response.text
        assert body.startswith("<?xml") and "<svg " in body and "</svg>" in body
        assert "<script" not in body and "http://purl.org" not in body
    assert site.client.get("/dashboard/charts/nothing.svg").status_code == 404
    assert not _viewed(site)  # the charts are parts of the page, audited with it


def test_nothing_without_a_session(site: Site) -> None:
    for path in ("/dashboard", "/dashboard/charts/denial-rates.svg"):
        response = site.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"


def test_the_page_keeps_the_content_security_policy(site: Site) -> None:
    site.login("ann")
    page = site.client.get("/dashboard").text
    parsed = Elements(page)
    assert parsed.scripts and all(a.get("src", "").startswith("/static/") and not text
                                  for a, text in parsed.scripts)
    for _, attributes in parsed.elements:
        assert "style" not in attributes and not [a for a in attributes if a.startswith("on")]
    assert "<style" not in page and "<svg" not in page and "javascript:" not in page
    ids = [a["id"] for _, a in parsed.elements if "id" in a]
    assert len(ids) == len(set(ids))
    assert page.count('<table class="grid"') == page.count("<caption>") > 10
    assert all(a.get("alt") for tag, a in parsed.elements if tag == "img")
    assert ("a", {"href": "/dashboard", "id": "nav-dashboard"}) in parsed.elements


def test_it_shows_aggregates_only(site: Site) -> None:
    site.login("ada")
    page = site.client.get("/dashboard").text.lower()
    names = set()
    for record in site.denials():
        d = record.denial
        names |= {x for x in (d.claim_id, d.payer_claim_number, d.patient.last_name,
                              d.patient.first_name, d.patient.member_id, d.denial_id,
                              record.letter_id) if x and len(x) > 3}
    assert names and not [x for x in names if x.lower() in page]


def test_the_dashboard_is_linked_from_every_page(site: Site) -> None:
    site.login("ann")
    for path in ("/", "/dashboard"):
        assert 'href="/dashboard" id="nav-dashboard"' in site.client.get(path).text


def test_the_kpis_are_kept_a_short_while_per_report_date(site: Site) -> None:
    from agent.application.accounts import AccountService
    from agent.application.dashboard import DashboardService

    now = [0.0]
    today = [AS_OF]
    service = DashboardService(site.store, AccountService(site.store), lambda: today[0],
                               fresh_for=30.0, clock=lambda: now[0])
    first = service.kpis()
    now[0] = 29.0
    assert service.kpis() is first  # the page's charts, right after it
    now[0] = 31.0
    again = service.kpis()
    assert again is not first and again == first
    today[0] = date(2026, 9, 21)
    assert service.kpis().as_of == date(2026, 9, 21)
