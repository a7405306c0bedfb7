"""Accounts and safety: sessions, idle logout, roles on the server, headers, no inline
script, and no PHI in addresses or server logs."""

from __future__ import annotations

import logging
import re

import pytest

from agent.store.records import AuditEntry
from tests.web.conftest import PASSWORD, Elements, Site, login_token


def _audit(site: Site, action: str) -> list[AuditEntry]:
    rows = site.store.connection.execute("SELECT doc FROM appeal_audit ORDER BY seq")
    entries = [AuditEntry.model_validate_json(r[0]) for r in rows]
    return [e for e in entries if e.action == action]


def _pages(site: Site) -> dict[str, str]:
    """Every kind of page, fetched as the signed-in user (an admin: all of them)."""
    letter = site.store.list_letters()[0]
    # A needs-review denial decided by a playbook: its page has the form to supply a fact.
    denial = next(r for r in site.denials() if r.triage and r.triage.action == "needs_review"
                  and r.playbook_id)
    paths = ["/", "/?group=queue", f"/letters/{letter.letter_id}",
             f"/denials/{denial.denial.denial_id}", f"/queues/{letter.group_id}/approve",
             "/users", "/?sort=amount&dir=desc", f"/?queue={letter.group_id}"]
    pages = {}
    for path in paths:
        response = site.client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        pages[path] = response.text
    return pages


def test_the_session_cookie_is_httponly_and_samesite(site: Site) -> None:
    response = site.client.post("/login", data={"username": "ann", "password": PASSWORD,
                                                "csrf_token": login_token(site.client)})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("appeals_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on 127.0.0.1: a Secure cookie would not return


def test_the_session_cookie_is_secure_over_https(https_site: Site) -> None:
    client = https_site.client
    response = client.post("/login", data={"username": "ann", "password": PASSWORD,
                                           "csrf_token": login_token(client)})
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]
    assert "max-age" in response.headers["strict-transport-security"]


def test_the_store_keeps_only_the_hash_of_the_session_token(site: Site) -> None:
    site.login("ann")
    token = site.client.cookies["appeals_session"]
    rows = site.store.connection.execute("SELECT token_hash, doc FROM appeal_sessions")
    dumped = " ".join(" ".join(r) for r in rows)
    assert dumped and token not in dumped


def test_sign_out_ends_the_session_and_is_audited(site: Site) -> None:
    token = site.login("ann")
    old_cookie = site.client.cookies["appeals_session"]
    response = site.client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert site.client.get("/").status_code == 303
    site.client.cookies.set("appeals_session", old_cookie)  # a copied cookie is dead too
    assert site.client.get("/").headers["location"] == "/login"
    assert [e.actor for e in _audit(site, "logged_in")] == ["ann"]
    assert [e.actor for e in _audit(site, "logged_out")] == ["ann"]


def test_an_idle_session_is_signed_out(site: Site) -> None:
    site.login("ann")
    site.clock.advance(minutes=10)
    assert site.client.get("/ping").status_code == 204  # a request: idle time starts again
    site.clock.advance(minutes=10)
    assert site.client.get("/").status_code == 200
    site.clock.advance(minutes=16)
    response = site.client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    login = site.client.get("/login")
    assert "signed out" in login.text and "15 minutes" in login.text
    assert site.client.get("/").status_code == 303  # the session is gone for good
    assert site.store.connection.execute("SELECT count(*) FROM appeal_sessions"
                                         ).fetchone()[0] == 0


def test_failed_sign_ins_are_audited_without_what_was_typed(site: Site) -> None:
    token = login_token(site.client)
    site.client.post("/login", data={"username": "ann", "password": "nope",
                                     "csrf_token": token})
    site.client.post("/login", data={"username": "hunter2-typed-here", "password": "x",
                                     "csrf_token": token})
    failed = _audit(site, "login_failed")
    assert [e.subject for e in failed] == ["user:ann", "login"]
    assert "hunter2" not in str([e.model_dump() for e in failed])


def test_wrong_passwords_in_a_row_lock_a_user_out_for_a_while(site: Site) -> None:
    def attempt(name: str, password: str) -> int:
        return site.client.post("/login", data={
            "username": name, "password": password,
            "csrf_token": login_token(site.client)}).status_code

    assert [attempt("ann", f"guess {i}") for i in range(5)] == [401] * 5
    # Locked: the right password does not sign in, and the page says what it says for a
    # wrong one (it tells no one that "ann" is a user).
    locked = site.client.post("/login", data={"username": "ann", "password": PASSWORD,
                                              "csrf_token": login_token(site.client)})
    assert locked.status_code == 401
    assert "After 5 wrong passwords in a row a user cannot sign in for 15 minutes" in \
        locked.text
    unknown = site.client.post("/login", data={"username": "nobody", "password": "x",
                                               "csrf_token": login_token(site.client)})
    assert unknown.text.replace("nobody", "ann") == locked.text.replace(
        login_token_in(locked.text), login_token_in(unknown.text))
    notes = [e.note for e in _audit(site, "login_failed") if e.subject == "user:ann"]
    assert notes == ["wrong password"] * 5 + ["locked out: too many wrong passwords in a row"]
    # Other users are not locked; the lock ends with its window, locked attempts or not.
    assert attempt("lee", PASSWORD) == 303
    site.clock.advance(minutes=10)
    assert attempt("ann", PASSWORD) == 401
    site.clock.advance(minutes=6)
    assert attempt("ann", PASSWORD) == 303
    # A sign-in starts the count again.
    assert [attempt("ann", "again") for _ in range(4)] == [401] * 4
    assert attempt("ann", PASSWORD) == 303


def login_token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize(("name", "path", "allowed"), [
    ("ann", "/users", False), ("lee", "/users", False), ("ada", "/users", True),
    ("ann", "/queues/{queue}/approve", False), ("lee", "/queues/{queue}/approve", True),
    ("ada", "/queues/{queue}/approve", True),
])
def test_roles_are_enforced_on_the_server(site: Site, name: str, path: str,
                                          allowed: bool) -> None:
    site.login(name)
    queue = site.store.list_letters()[0].group_id
    response = site.client.get(path.format(queue=queue))
    assert response.status_code == (200 if allowed else 403)


def test_an_auditor_cannot_bulk_approve_or_manage_users(site: Site) -> None:
    token = site.login("ann")
    letter = site.store.list_letters()[0]
    bulk = site.client.post(f"/queues/{letter.group_id}/approve",
                            data={"csrf_token": token,
                                  "letter": f"{letter.letter_id} {letter.content_hash}"})
    assert bulk.status_code == 403
    assert site.store.get_letter(letter.letter_id).status == "pending_review"  # type: ignore[union-attr]
    added = site.client.post("/users", data={"csrf_token": token, "name": "eve",
                                             "role": "admin", "password": "x"})
    assert added.status_code == 403 and site.store.get_user("eve") is None
    promoted = site.client.post("/users/ann/role", data={"csrf_token": token,
                                                         "role": "admin"})
    assert promoted.status_code == 403 and site.store.get_user("ann").role == "auditor"  # type: ignore[union-attr]
    page = site.client.get("/")
    assert 'href="/users"' not in page.text  # not offered either


def test_a_request_from_another_site_is_refused(site: Site) -> None:
    token = site.login("ann")
    response = site.client.post("/", data={"csrf_token": token},
                                headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    ok = site.client.post("/", data={"csrf_token": token},
                          headers={"Origin": "http://testserver"})
    assert ok.status_code == 200


def test_security_headers_on_every_response(site: Site) -> None:
    site.login("ada")
    for path in ("/login", "/", "/static/app.js", "/no/such/page"):
        headers = site.client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "default-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
    assert site.client.get("/").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_handler_or_style(site: Site) -> None:
    site.login("ada")
    for path, html in _pages(site).items():
        parsed = Elements(html)
        assert parsed.scripts and all(a.get("src", "").startswith("/static/") and not text
                                      for a, text in parsed.scripts), path
        for tag, attributes in parsed.elements:
            assert not [a for a in attributes if a.startswith("on")], (path, tag)
            assert "style" not in attributes, (path, tag)
        assert "<style" not in html and "javascript:" not in html


def _phi(site: Site) -> list[str]:
    found: set[str] = set()
    for record in site.denials():
        d = record.denial
        found |= {x for x in (d.patient.last_name, d.patient.first_name, d.patient.member_id,
                              d.claim_id, d.payer_claim_number) if x and len(x) > 2}
    return sorted(found, key=str.lower)


def test_no_phi_in_any_address_the_pages_link_to(site: Site) -> None:
    site.login("ada")
    phi = [x.lower() for x in _phi(site)]
    urls = [url for html in _pages(site).values() for url in Elements(html).urls()]
    assert len(urls) > 50
    leaked = [url for url in urls if any(value in url.lower() for value in phi)]
    assert leaked == []
    # Sorting and paging links never carry a searched claim number.
    target = site.denials()[0].denial.claim_id
    searched = site.client.get("/", params={"q": target}).text
    assert not [u for u in Elements(searched).urls() if target.lower() in u.lower()]


def test_no_phi_or_query_string_in_the_server_log(site: Site,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = site.login("ada")
    records = site.denials()
    target = records[0].denial
    letter = site.store.list_letters()[0]
    site.client.get("/", params={"q": target.claim_id, "payer": "x"})
    site.client.post("/", data={"q": str(target.payer_claim_number), "csrf_token": token})
    site.client.get(f"/letters/{letter.letter_id}")
    site.client.get(f"/denials/{target.denial_id}")
    site.client.get(f"/{target.patient.last_name}/{target.patient.member_id}")
    site.client.post(f"/letters/{letter.letter_id}/reject", data={
        "csrf_token": token, "reason": f"wrong patient {target.patient.last_name}",
        "if_hash": letter.content_hash})
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in server).lower()
    assert "agent.web get / 200" in logged  # the access lines are there
    assert "?" not in "".join(r.getMessage() for r in server if r.name == "agent.web")
    assert not [x for x in _phi(site) if x.lower() in logged]


def test_pages_showing_phi_and_every_action_are_audited_with_the_user(site: Site) -> None:
    token = site.login("ann")
    letter = site.store.list_letters()[0]
    denial = site.denials()[0].denial
    site.client.get("/")
    site.client.get(f"/letters/{letter.letter_id}")
    site.client.get(f"/denials/{denial.denial_id}")
    site.client.post(f"/letters/{letter.letter_id}/reject", data={
        "csrf_token": token, "reason": "duplicate", "if_hash": letter.content_hash})
    viewed = _audit(site, "viewed")
    assert {e.actor for e in viewed} == {"ann"}
    assert {(e.letter_id, e.subject) for e in viewed} >= {
        (None, "worklist"), (letter.letter_id, None), (None, f"denial:{denial.denial_id}")}
    (rejected,) = _audit(site, "rejected")
    assert rejected.actor == "ann" and rejected.note == "duplicate"
    assert site.store.verify_audit().holds


def test_nothing_from_a_cdn(site: Site) -> None:
    site.login("ann")
    html = site.client.get("/").text
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
