"""Keyboard and screen-reader basics on every page: a skip link, a label and a stable id
on every control, real links and buttons, focus styles, captions on tables."""

from __future__ import annotations

from tests.web.conftest import Elements, Site
from tests.web.test_security import _pages


def test_every_control_has_a_label_an_id_and_a_name(site: Site) -> None:
    site.login("ada")
    pages = _pages(site)
    pages["/login"] = site.client.get("/login").text
    for path, html in pages.items():
        parsed = Elements(html)
        labelled = {a["for"] for tag, a in parsed.elements if tag == "label" and "for" in a}
        ids = [a["id"] for _, a in parsed.elements if "id" in a]
        assert len(ids) == len(set(ids)), (path, sorted(i for i in ids if ids.count(i) > 1))
        for tag, attributes in parsed.elements:
            if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
                assert attributes.get("id") in labelled, (path, tag, attributes)
                assert attributes.get("name"), (path, tag, attributes)
            if tag == "button":
                # A form's buttons submit it; a script's own button (type="button") is
                # hidden until the script shows it, so a page without script has none.
                assert attributes.get("id") and attributes.get("type") in ("submit",
                                                                         "button"), (path,
                                                                                     attributes)
                assert attributes["type"] == "submit" or "hidden" in attributes, (path,
                                                                                  attributes)
            if tag == "a":
                assert attributes.get("href"), (path, attributes)  # a real link
            if tag == "form":
                assert attributes.get("id") and attributes.get("method") in ("get", "post")
        assert any(tag == "a" and a.get("href") == "#main" and "skip-link" in a.get("class", "")
                   for tag, a in parsed.elements), path
        assert "main" in set(ids)
        # One <h1> a page, its title: a letter's own headings sit below it.
        assert html.count("<h1") == 1, path
        # The app's tables (a letter's own Markdown tables are its text, not the app's).
        tables = html.count('<table class="grid"')
        assert html.count("<caption>") == tables, path


def test_focus_is_visible_and_the_skip_link_shows_on_focus(site: Site) -> None:
    css = site.client.get("/static/app.css").text
    assert ":focus-visible" in css and "outline: 3px solid" in css
    assert ".skip-link:focus" in css


def test_the_worklist_and_evidence_are_links_the_keyboard_reaches(site: Site) -> None:
    site.login("ann")
    worklist = Elements(site.client.get("/").text)
    hrefs = [a.get("href", "") for tag, a in worklist.elements if tag == "a"]
    assert any(h.startswith("/denials/") for h in hrefs)
    assert any(h.startswith("/letters/") for h in hrefs)
    assert any(h.startswith("/?sort=") for h in hrefs)  # sortable headers are links
    letter = site.store.list_letters()[0]
    page = Elements(site.client.get(f"/letters/{letter.letter_id}").text)
    to_quotes = [a["href"] for tag, a in page.elements if tag == "a"
                 and a.get("href", "").startswith("#quote-")]
    to_items = [a["href"] for tag, a in page.elements if tag == "a"
                and a.get("href", "").startswith("#evidence-")]
    assert to_quotes and to_items
    assert {h[1:] for h in to_quotes + to_items} <= page.ids()
