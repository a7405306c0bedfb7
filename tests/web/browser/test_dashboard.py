"""The dashboard in Chromium: reached from the menu, every chart drawn, no CSP violation.

The workbench's Content Security Policy allows no inline style. The dashboard shows each
chart as an image of its own (``<img alt>`` beside its table) whose SVG styles its shapes
with presentation attributes, not CSS: the browser draws it in colour, as an image or
opened alone, and reports nothing. The ``browsing`` fixture fails the test on any console
error or CSP violation.
"""

from __future__ import annotations

import io
import re

import pytest

from agent.analytics.charts import CHARTS
from tests.web.browser import harness
from tests.web.browser.conftest import Browsing

pytest.importorskip("playwright.sync_api", reason=harness.missing() or "")
from playwright.sync_api import expect

BLUE = (0x1A, 0x5F, 0xB4)
"""The first series' colour (agent/analytics/plot.py COLORS)."""


def _blue_pixels(png: bytes) -> int:
    from PIL import Image  # matplotlib's own dependency

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colors = image.getcolors(image.width * image.height) or []
    return sum(count for count, pixel in colors
               if all(abs(a - b) <= 8 for a, b in zip(pixel, BLUE, strict=True)))


def test_the_dashboard_draws_every_chart_without_a_csp_violation(
        browsing: Browsing) -> None:
    page = browsing.open("ann")
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("main > h1")).to_have_text("Dashboard")
    page.wait_for_load_state("networkidle")
    drawn = page.evaluate("""() => Array.from(document.querySelectorAll("figure img"))
        .map(img => [img.id, img.complete && img.naturalWidth > 0 && img.naturalHeight > 0])""")
    assert drawn == [[f"chart-{name}-image", True] for name in CHARTS]
    chart = page.get_by_role("img", name=re.compile(r"^Denial rate by payer\."))
    expect(chart).to_be_visible()
    assert _blue_pixels(chart.screenshot()) > 500  # its bars, in the colour their style sets
    expect(page.locator("#figure-claims_adjudicated")).not_to_have_text("0")
    expect(page.locator("#table-denial-rates caption")).to_contain_text("Denial rate by payer")


def test_a_chart_opened_alone_is_drawn_in_colour_under_the_same_policy(
        browsing: Browsing) -> None:
    # "Open image in new tab": the SVG is then a document the page's CSP governs; its
    # styles are presentation attributes, not CSS, so nothing is blocked.
    page = browsing.open("lee")
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    browsing.expect_console(r"Failed to load resource: .* 404")  # the tab's favicon.ico
    response = page.goto("/dashboard/charts/denial-rates.svg")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("svg").count() == 1
    assert _blue_pixels(page.screenshot()) > 500
    assert all(url.endswith("/favicon.ico") for url in missing), missing
