"""The worklist pages in the store: filters, sort and pages over many denials; work queues
and a lead's bulk approval; the needs-review page; the admin's users page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from agent.store.records import AuditEntry, DenialRecord
from tests.web.conftest import AS_OF, Site


def _rows(html: str) -> list[str]:
    return re.findall(r'href="/denials/(dn_[0-9a-z_]+)"', html)


def _clone(site: Site, count: int) -> list[DenialRecord]:
    """``count`` more denials like the demo's appeals, with their own ids and amounts."""
    base = next(r for r in site.denials() if r.triage and r.triage.action == "appeal")
    assert base.triage is not None and base.triage.appeal_deadline is not None
    clones = []
    for i in range(count):
        denial = base.denial.model_copy(update={
            "denial_id": f"dn_clone{i:05d}", "claim_id": f"CLONE-{i:05d}",
            "payer_claim_number": f"PCN{i:05d}", "denied_amount": Decimal(100 + i)})
        triage = base.triage.model_copy(update={
            "appeal_deadline": AS_OF + timedelta(days=(i % 40) - 20)})
        clones.append(base.model_copy(update={"denial": denial, "triage": triage,
                                              "letter_id": None}))
    site.store.save_denials(clones)
    return clones


def test_pages_through_many_denials_in_the_store(site: Site) -> None:
    site.login("ann")
    clones = _clone(site, 230)
    total = len(site.denials())
    first = site.client.get("/", params={"size": "25"})
    assert f"{total} denials" in first.text and f"page 1 of {-(-total // 25)}" in first.text
    seen: list[str] = []
    page = 1
    while True:
        html = site.client.get("/", params={"size": "25", "page": str(page)}).text
        rows = _rows(html)
        seen += rows
        if 'id="page-next"' not in html:
            break
        assert len(rows) == 25
        page += 1
    assert len(seen) == total == len(set(seen))
    assert {c.denial.denial_id for c in clones} <= set(seen)
    beyond = site.client.get("/", params={"size": "25", "page": "999"})
    assert _rows(beyond.text) == seen[-len(_rows(beyond.text)):]


def test_sorts_and_filters(site: Site) -> None:
    site.login("ann")
    _clone(site, 60)
    by_amount = site.client.get("/", params={"sort": "amount", "dir": "desc",
                                             "size": "200"}).text
    amounts = [Decimal(a.replace(",", "")) for a in
               re.findall(r'<td class="num">\$([0-9,.]+)</td>', by_amount)]
    assert amounts == sorted(amounts, reverse=True) and len(amounts) == len(site.denials())
    assert 'aria-sort="descending"' in by_amount
    needs = site.client.get("/", params={"action": "needs_review"}).text
    wanted = {r.denial.denial_id for r in site.denials()
              if r.triage and r.triage.action == "needs_review"}
    assert set(_rows(needs)) == wanted
    no_letter = site.client.get("/", params={"status": "none", "size": "200"}).text
    assert set(_rows(no_letter)) == {r.denial.denial_id for r in site.denials()
                                     if not r.letter_id}
    past = site.client.get("/", params={"deadline": "past", "size": "200"}).text
    passed = {r.denial.denial_id for r in site.denials() if r.triage and
              r.triage.appeal_deadline and r.triage.appeal_deadline < AS_OF}
    assert set(_rows(past)) == passed and passed
    assert past.count("<strong>passed</strong>") == len(passed)
    payer = site.denials()[0].denial.payer
    by_payer = site.client.get("/", params={"payer": payer.id or "", "size": "200"}).text
    assert set(_rows(by_payer)) == {r.denial.denial_id for r in site.denials()
                                    if r.denial.payer.id == payer.id}
    junk = site.client.get("/", params={"sort": "'; DROP TABLE x", "dir": "sideways",
                                        "size": "7", "page": "-3", "status": "bogus"})
    assert junk.status_code == 200


def test_the_worklist_shows_every_column(site: Site) -> None:
    site.login("ann")
    html = site.client.get("/").text
    for heading in ("Claim", "Action", "Letter", "Payer", "Playbook", "Procedure", "Amount",
                    "Appeal deadline", "Reason", "Missing facts"):
        assert f">{heading}<" in html, heading
    missing = next(r for r in site.denials() if r.missing_evidence)
    assert missing.missing_evidence[0][:40] in html.replace("&#39;", "'")
    for record in site.denials():
        assert record.denial.claim_id in html
        if record.letter_id:
            assert f'href="/letters/{record.letter_id}"' in html


def test_grouped_by_work_queue(site: Site) -> None:
    site.login("lee")
    html = site.client.get("/", params={"group": "queue"}).text
    queues = {r.group_id for r in site.denials() if r.group_id}
    assert f"{len(queues)} work queues" in html
    letter = site.store.list_letters()[0]
    assert f'href="/queues/{letter.group_id}/approve"' in html
    shown = site.client.get("/", params={"queue": letter.group_id}).text
    assert set(_rows(shown)) == {r.denial.denial_id for r in site.denials()
                                 if r.group_id == letter.group_id}


def test_a_lead_approves_a_work_queue_after_confirming(site: Site) -> None:
    token = site.login("lee")
    letter = site.store.list_letters()[0]
    confirm = site.client.get(f"/queues/{letter.group_id}/approve")
    assert confirm.status_code == 200 and 'id="bulk-approve-button"' in confirm.text
    fields = re.findall(r'name="letter" value="([^"]+)"', confirm.text)
    assert fields == [f"{letter.letter_id} {letter.content_hash}"]
    done = site.client.post(f"/queues/{letter.group_id}/approve",
                            data={"csrf_token": token, "letter": fields})
    assert done.status_code == 200 and "1 letter approved" in done.text
    approved = site.store.get_letter(letter.letter_id)
    assert approved is not None and approved.status == "approved" and approved.docx
    entry = [e for e in site.store.audit_trail(letter.letter_id) if e.action == "approved"]
    assert [(e.actor, e.note) for e in entry] == [
        ("lee", f"bulk approval of work queue {letter.group_id}")]


def test_a_bulk_approval_leaves_letters_changed_since_the_confirmation(site: Site) -> None:
    token = site.login("lee")
    letter = site.store.list_letters()[0]
    stale = f"{letter.letter_id} sha256:{'0' * 64}"
    done = site.client.post(f"/queues/{letter.group_id}/approve",
                            data={"csrf_token": token, "letter": [stale, "lt_other x"]})
    assert "0 letters approved, 2 left pending" in done.text
    assert "changed since the confirmation" in done.text
    assert site.store.get_letter(letter.letter_id).status == "pending_review"  # type: ignore[union-attr]


def test_the_needs_review_page_shows_what_is_missing_and_where_to_look(site: Site) -> None:
    site.login("ann")
    record = next(r for r in site.denials() if r.triage and r.triage.action == "needs_review"
                  and r.missing_evidence and r.documents)
    page = site.client.get(f"/denials/{record.denial.denial_id}")
    assert page.status_code == 200
    html = page.text.replace("&#39;", "'")
    assert 'id="missing-facts"' in html
    for fact in record.missing_evidence:
        assert fact in html
    for document in record.documents:
        assert f'data-document="{document.document_id}"' in html
    entries = [AuditEntry.model_validate_json(r[0]) for r in site.store.connection.execute(
        "SELECT doc FROM appeal_audit WHERE subject = ?", (f"denial:{record.denial.denial_id}",))]
    assert [(e.action, e.actor) for e in entries] == [("viewed", "ann")]


def test_an_admin_adds_users_and_changes_roles(site: Site) -> None:
    token = site.login("ada")
    page = site.client.get("/users")
    assert page.status_code == 200
    for name in ("ann", "lee", "ada"):
        assert f">{name}</th>" in page.text
    assert "system" not in re.findall(r"<th scope=\"row\">([^<]+)</th>", page.text)
    added = site.client.post("/users", data={"csrf_token": token, "name": "bea",
                                             "role": "auditor", "password": "bea's pw"})
    assert added.status_code == 303
    assert site.store.verify_password("bea", "bea's pw")
    taken = site.client.post("/users", data={"csrf_token": token, "name": "bea",
                                             "role": "auditor", "password": "x"})
    assert taken.status_code == 400 and "already exists" in taken.text
    changed = site.client.post("/users/bea/role", data={"csrf_token": token, "role": "lead"})
    assert changed.status_code == 303 and site.store.get_user("bea").role == "lead"  # type: ignore[union-attr]
    last = site.client.post("/users/ada/role", data={"csrf_token": token, "role": "auditor"})
    assert last.status_code == 400 and "last admin" in last.text
    about = site.store.audit_about("user:bea")
    assert [(e.action, e.actor) for e in about] == [("user_added", "ada"),
                                                    ("role_changed", "ada")]
    assert about[1].note == "role auditor -> lead"


def test_a_role_change_holds_at_once(site: Site) -> None:
    site.login("ann")
    assert site.client.get("/users").status_code == 403
    site.store.set_user_role("ann", "admin", actor="ada")
    assert site.client.get("/users").status_code == 200
