"""The workbench in Chromium, over the real server: what an auditor, a lead and an admin do.

Sign in, filter, open a letter, follow a highlight both ways, edit with the live preview,
approve and fetch the DOCX, reject, supply a missing fact by selecting words (after an
emoji, so the page's UTF-16 offsets must become the server's code points), attach an
exported PDF note to a denial's chart, bulk-approve as
lead; refusals (a forged CSRF token, an auditor on an admin page); sign out; no Content
Security Policy violation on any page; the keyboard reaches the rows and the evidence.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from agent.store.records import LetterRecord
from tests.documents import pdf
from tests.test_supply_evidence import CARE, FACT
from tests.web.browser import harness
from tests.web.browser.conftest import Browsing, Server
from tests.web.browser.harness import EXTRA_CLAIM, drag_over, sign_in
from tests.web.conftest import NEEDS_REVIEW_NOTE

pytest.importorskip("playwright.sync_api", reason=harness.missing() or "")
from playwright.sync_api import Page, expect

START = NEEDS_REVIEW_NOTE.index(CARE)
END = START + len(CARE)


def _letter_of(server: Server, claim_id: str) -> LetterRecord:
    return next(x for x in server.letters() if x.claim_id == claim_id)


def _denial_id(server: Server, claim_id: str) -> str:
    store = server.store()
    try:
        (row,) = store.connection.execute(
            "SELECT id FROM appeal_denials WHERE json_extract(doc, '$.denial.claim_id') = ?",
            (claim_id,)).fetchall()
    finally:
        store.close()
    return str(row[0])


def _hash(page: Page) -> str:
    return str(page.evaluate("location.hash"))


def _focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def test_sign_in_filter_and_open_a_letter(browsing: Browsing) -> None:
    page = browsing.open()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))  # no session: the sign-in page
    sign_in(page, "ann")
    expect(page.locator("#worklist-table caption")).to_contain_text("18 denials")
    page.get_by_label("Action").select_option("appeal")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"[?&]action=appeal"))
    rows = page.locator("#worklist-table tbody tr")
    expect(rows).to_have_count(8)
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"appeal"}
    first = rows.first.locator("a[id^='letter-']")
    letter_id = first.get_attribute("href")
    first.click()
    expect(page).to_have_url(re.compile(f"{letter_id}$"))
    expect(page.locator("main > h1")).to_contain_text("Appeal letter")
    expect(page.locator("#evidence-list li").first).to_be_visible()


def test_a_highlight_is_followed_both_ways(browsing: Browsing, server: Server) -> None:
    page = browsing.open("ann")
    letter = _letter_of(server, "LOM26-10433")
    page.goto(f"/letters/{letter.letter_id}")
    page.locator("#evidence-link-1").click()
    assert _hash(page) == "#quote-1"
    highlight = page.locator("#quote-1 + mark.quote")
    expect(highlight).to_be_in_viewport()
    quote = " ".join(page.locator("#evidence-link-1").inner_text().strip("“”").split())
    assert " ".join(highlight.inner_text().split()) in quote
    highlight.locator("a").click()
    assert _hash(page) == "#evidence-1"
    expect(page.locator("#evidence-1")).to_be_in_viewport()
    assert page.evaluate("document.querySelector(':target').id") == "evidence-1"


def test_edit_with_the_live_preview_approve_and_fetch_the_docx(
        browsing: Browsing, server: Server) -> None:
    letter = server.letters()[0]
    page = browsing.open("ann")
    page.goto(f"/letters/{letter.letter_id}")
    expect(page.locator("#approval-problems")).to_have_class("ready")
    editor = page.get_by_label("Letter text (Markdown)")
    # The live preview follows the typing (htmx, after a pause), with what would keep the
    # text from approval: a placeholder typed in, then finished.
    editor.press("ControlOrMeta+End")
    editor.press_sequentially("\nSigned [auditor to confirm the date].")
    expect(page.locator("#preview-body")).to_contain_text("Signed [auditor to confirm")
    expect(page.locator("#preview-problems")).to_contain_text("auditor to confirm the date")
    editor.fill(server.markdown(letter) + "\nSigned in the browser test.\n")
    expect(page.locator("#preview-body")).to_contain_text("Signed in the browser test.")
    expect(page.locator("#preview-problems")).to_have_class("ready")
    # Approving with an unsaved edit asks first; declining keeps the page as it is.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("#approve-button").click()
    assert asked and "not saved" in asked[0]
    assert server.letter(letter.letter_id).status == "pending_review"
    page.locator("#save-edit").click()
    expect(page.locator("#letter-message")).to_contain_text("Your edit is saved")
    page.locator("#approve-button").click()
    expect(page.locator("#letter-message")).to_contain_text("Approved")
    expect(page.locator("#letter-status")).to_contain_text("approved (by ann)")
    with page.expect_download() as download:
        page.locator("#docx-link").click()
    assert download.value.suggested_filename == f"{letter.letter_id}.docx"
    path = download.value.path()
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as docx:
        assert "Signed in the browser test." in docx.read("word/document.xml").decode()
    assert server.letter(letter.letter_id).status == "approved"


def test_reject_with_a_reason(browsing: Browsing, server: Server) -> None:
    letter = server.letters()[0]
    page = browsing.open("ann")
    page.goto(f"/letters/{letter.letter_id}")
    page.get_by_label("Why reject it (kept in the audit)").fill("Wrong payer address")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#letter-message")).to_contain_text("Rejected")
    expect(page.locator("#history-table")).to_contain_text("Wrong payer address")
    assert server.letter(letter.letter_id).status == "rejected"


def test_supply_a_missing_fact_by_selecting_its_words(browsing: Browsing,
                                                      server: Server) -> None:
    browsing.expect_console(r"status of 400")  # the refused span's page
    denial_id = _denial_id(server, EXTRA_CLAIM)
    page = browsing.open("ann")
    page.get_by_label("Action").select_option("needs_review")
    page.get_by_role("button", name="Apply").click()
    page.locator(f"#denial-{denial_id}").click()
    expect(page.locator("#missing-facts")).to_contain_text("Conservative treatment")
    expect(page.locator(f"#supply-fact-{FACT}")).to_be_checked()
    # Numbers typed by keyboard: the words they choose are shown as the server reads them
    # (code points: the emoji before them counts once).
    page.get_by_label("From character").fill(str(START))
    page.get_by_label("To character (not included)").fill(str(END))
    expect(page.locator("#supply-selection")).to_have_text(CARE)
    # A span the denial cannot use is refused, on the page, and nothing changes.
    page.get_by_label("To character (not included)").fill(str(START))
    page.get_by_role("button", name="Record as evidence").click()
    expect(page.locator("#supply-error")).to_contain_text("not a non-empty span")
    assert page.locator("#supply-error").inner_text().count("\n") == 0
    # The button says when nothing is selected.
    page.evaluate("window.getSelection().removeAllRanges()")
    page.get_by_role("button", name="Use the selected words").click()
    expect(page.locator("#supply-selection-problem")).to_have_text(
        "Select words in a chart document first.")
    # Words selected with the mouse fill the form in, as they are selected and again with
    # the button.
    page.get_by_label("From character").fill("")
    page.get_by_label("To character (not included)").fill("")
    drag_over(page, CARE)
    expect(page.get_by_label("From character")).to_have_value(str(START))
    expect(page.get_by_label("To character (not included)")).to_have_value(str(END))
    expect(page.locator("#supply-selection")).to_have_text(CARE)
    expect(page.locator("#supply-selection-problem")).to_be_hidden()
    page.get_by_label("From character").fill("")
    page.get_by_role("button", name="Use the selected words").click()
    expect(page.get_by_label("From character")).to_have_value(str(START))
    utf16 = NEEDS_REVIEW_NOTE.encode("utf-16-le").index(CARE.encode("utf-16-le")) // 2
    assert utf16 == START + 1  # the page's own offsets would be one off
    page.get_by_role("button", name="Record as evidence").click()
    expect(page).to_have_url(re.compile(r"/letters/lt_[0-9a-f]+\?done=supplied$"))
    expect(page.locator("#letter-message")).to_contain_text("this letter was drafted")
    expect(page.locator("#evidence-list")).to_contain_text("found by ann")
    expect(page.locator("#letter-markdown")).to_contain_text(CARE)
    store = server.store()
    try:
        (entry,) = [e for e in store.audit_about(f"denial:{denial_id}")
                    if e.action == "evidence_supplied"]
    finally:
        store.close()
    assert entry.actor == "ann"
    assert entry.note == f"{FACT}: DocumentReference/lom-doc-10699-clinic, characters " \
        f"{START}-{END}"


def test_attach_a_document_found_outside_the_chart(browsing: Browsing,
                                                  server: Server) -> None:
    denial_id = _denial_id(server, EXTRA_CLAIM)
    page = browsing.open("ann")
    page.goto(f"{server.url}/denials/{denial_id}")
    expect(page.locator("#attach-help")).to_contain_text("PDF with a text layer")
    exported = pdf(["PT discharge summary", "Completed 8 wks of physical therapy for the L "
                    "knee without improvement."])
    page.get_by_label("File").set_input_files(
        files=[{"name": "pt-discharge.pdf", "mimeType": "application/pdf", "buffer": exported}])
    page.get_by_label("Date of the document (optional)").fill("2026-07-30")
    page.get_by_role("button", name="Attach to the chart").click()
    # The extractors read the PDF's text like any note: the appeal is drafted from it.
    expect(page).to_have_url(re.compile(r"/letters/lt_[0-9a-f]+\?done=attached$"))
    expect(page.locator("#letter-message")).to_contain_text("The document you attached")
    expect(page.locator("#letter-markdown")).to_contain_text("8 wks of physical therapy")
    expect(page.locator("pre.document-text").filter(has_text="PT discharge summary")
           ).to_have_count(1)
    store = server.store()
    try:
        (record,) = store.get_denials([denial_id])
    finally:
        store.close()
    (ref,) = record.attached_documents
    assert ref.content_type == "application/pdf" and str(ref.date) == "2026-07-30"


def test_a_lead_approves_a_work_queue(browsing: Browsing, server: Server) -> None:
    ready = next(x for x in server.letters() if server.approvable(x))
    page = browsing.open("lee")
    page.get_by_role("link", name="Work queues").click()
    page.locator(f"#queue-approve-{ready.group_id}").click()
    expect(page.locator("#bulk-summary")).to_contain_text("can be approved as they stand")
    page.locator("#bulk-approve-button").click()
    expect(page.locator("main")).to_contain_text("approved")
    approved = server.letter(ready.letter_id)
    assert approved.status == "approved" and approved.reviewer == "lee"


def test_a_forged_csrf_token_is_refused(browsing: Browsing, server: Server) -> None:
    # The refusal, and the favicon the plain-text refusal leaves Chromium to ask for.
    browsing.expect_console(r"status of 403|status of 404")
    letter = server.letters()[0]
    page = browsing.open("ann")
    page.goto(f"/letters/{letter.letter_id}")
    page.evaluate("""document.querySelector('#reject-form input[name="csrf_token"]')
                     .value = 'forged-token'""")
    page.get_by_label("Why reject it (kept in the audit)").fill("Forged")
    with page.expect_response(re.compile(r"/reject$")) as response:
        page.get_by_role("button", name="Reject").click()
    assert response.value.status == 403
    expect(page.locator("body")).to_contain_text("Refused")
    assert server.letter(letter.letter_id).status == "pending_review"


def test_an_auditor_is_refused_an_admin_page(browsing: Browsing) -> None:
    browsing.expect_console(r"status of 403")
    page = browsing.open("ann")
    expect(page.locator("#nav-users")).to_have_count(0)
    response = page.goto("/users")
    assert response is not None and response.status == 403
    expect(page.locator("main > h1")).to_have_text("Not allowed")
    admin = browsing.open("ada")
    admin.get_by_role("link", name="Users").click()
    expect(admin.locator("#add-user-form")).to_be_visible()


def test_sign_out(browsing: Browsing) -> None:
    page = browsing.open("ann")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_no_page_breaks_the_content_security_policy(browsing: Browsing,
                                                   server: Server) -> None:
    # The detector works: a script added to the page is refused and reported.
    page = browsing.open()
    response = page.goto("/login")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.ranInline = true';
                             document.head.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.ranInline === undefined")
    assert any("CSP violation" in p or "Content Security Policy" in p
               for p in browsing.problems)
    browsing.problems.clear()
    # Every kind of page, and the scripts at work on them: none reports a problem.
    admin = browsing.open("ada")
    letter = server.letters()[0]
    denial_id = _denial_id(server, EXTRA_CLAIM)
    for path in ("/", "/?group=queue", "/?sort=amount&dir=desc", f"/letters/{letter.letter_id}",
                 f"/denials/{denial_id}", f"/queues/{letter.group_id}/approve", "/users"):
        shown = admin.goto(path)
        assert shown is not None and shown.status == 200, path
        admin.wait_for_load_state("load")
    admin.goto(f"/letters/{letter.letter_id}")
    admin.get_by_label("Letter text (Markdown)").press("End")
    admin.get_by_label("Letter text (Markdown)").type(" More.")
    expect(admin.locator("#preview-body")).to_contain_text("More.")
    admin.goto(f"/denials/{denial_id}")
    drag_over(admin, CARE)
    expect(admin.locator("#supply-selection")).to_have_text(CARE)
    assert browsing.problems == []


def test_the_keyboard_reaches_the_rows_and_the_evidence(browsing: Browsing,
                                                        server: Server) -> None:
    page = browsing.open("ann")
    page.keyboard.press("Tab")
    assert _focused_id(page) == "skip-link"
    _tab_to(page, "denial-")  # a worklist row's link
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/denials/dn_"))
    letter = _letter_of(server, "LOM26-10433")
    page.goto(f"/letters/{letter.letter_id}")
    found = _tab_to(page, "evidence-link-")
    number = found.removeprefix("evidence-link-")
    page.keyboard.press("Enter")
    assert _hash(page) == f"#quote-{number}"
    # The next stop after the highlight's anchor is the highlight's own link, back.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == \
        f"#evidence-{number}"
    page.keyboard.press("Enter")
    assert _hash(page) == f"#evidence-{number}"


def _tab_to(page: Page, prefix: str, limit: int = 200) -> str:
    """Press Tab until an element whose id starts with ``prefix`` has the focus; its id."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused_id(page)
        if focused.startswith(prefix):
            return focused
    raise AssertionError(f"Tab never reached #{prefix}*")
