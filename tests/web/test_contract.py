"""The workbench's contract, point by point (outside checks rely on each exactly)."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from tests.web.conftest import PASSWORD, Elements, Site, login_token


def test_login_page_is_a_form_with_a_hidden_csrf_token(site: Site) -> None:
    page = site.client.get("/login")
    assert page.status_code == 200
    inputs = {a.get("name"): a for tag, a in Elements(page.text).elements if tag == "input"}
    assert inputs["csrf_token"]["type"] == "hidden" and inputs["csrf_token"]["value"]
    assert {"username", "password"} <= set(inputs)
    form = next(a for tag, a in Elements(page.text).elements if tag == "form"
                and a.get("action") == "/login")
    assert form["method"] == "post"


def test_login_answers_303_to_the_worklist_401_on_bad_credentials_403_without_token(
        site: Site) -> None:
    client = site.client
    good = {"username": "ann", "password": PASSWORD, "csrf_token": login_token(client)}
    assert client.post("/login", data={**good, "password": "wrong"}).status_code == 401
    assert client.post("/login", data={**good, "username": "nobody"}).status_code == 401
    assert client.post("/login", data={**good, "username": "system"}).status_code == 401
    assert client.post("/login", data={k: v for k, v in good.items()
                                       if k != "csrf_token"}).status_code == 403
    assert client.post("/login", data={**good, "csrf_token": "1.2.3"}).status_code == 403
    assert client.post("/login", data={**good, "csrf_token": ""}).status_code == 403
    assert "appeals_session" not in client.cookies
    signed_in = client.post("/login", data=good)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    assert client.get("/").status_code == 200


def _phi(site: Site) -> list[str]:
    """Patient names, member ids, claim ids and payer claim numbers of the fixtures."""
    found: set[str] = set()
    for record in site.denials():
        denial = record.denial
        found |= {x for x in (denial.patient.last_name, denial.patient.first_name,
                              denial.patient.member_id, denial.claim_id,
                              denial.payer_claim_number) if x and len(x) > 2}
    return sorted(found)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/?q=LOM26-10502"), ("GET", "/letters/lt_0"),
    ("GET", "/denials/dn_0"), ("GET", "/users"), ("GET", "/queues/grp_0/approve"),
    ("GET", "/no/such/page"), ("GET", "/ping"), ("POST", "/"),
    ("POST", "/letters/lt_0/approve"), ("POST", "/logout"), ("POST", "/users"),
    ("POST", "/denials/dn_0/evidence"),
    ("GET", "/static"), ("GET", "/loginx"),
])
def test_without_a_session_everything_but_login_and_static_is_sent_to_login(
        site: Site, method: str, path: str) -> None:
    # No token either: the session is checked before CSRF.
    response = site.client.request(method, path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert not any(value.lower() in response.text.lower() for value in _phi(site))


def test_login_and_static_need_no_session(site: Site) -> None:
    assert site.client.get("/login").status_code == 200
    for name in ("app.css", "app.js", "htmx.min.js"):
        assert site.client.get(f"/static/{name}").status_code == 200


def test_the_worklist_lists_every_denial_when_there_are_50_or_fewer(site: Site) -> None:
    site.login("ann")
    page = site.client.get("/")
    assert page.status_code == 200
    listed = set(re.findall(r'href="/denials/(dn_[0-9a-f]+)"', page.text))
    stored = {r.denial.denial_id for r in site.denials()}
    assert 0 < len(stored) <= 50 and listed == stored


def test_q_keeps_the_denials_whose_claim_number_or_claim_id_equals_it(site: Site) -> None:
    site.login("ann")
    records = site.denials()
    target = next(r.denial for r in records if r.denial.payer_claim_number)
    for text, field in ((target.claim_id.lower(), "claim_id"),
                        (str(target.payer_claim_number).upper(), "payer_claim_number"),
                        (f"  {target.claim_id.swapcase()} ", "claim_id")):
        page = site.client.get("/", params={"q": text})
        listed = set(re.findall(r'href="/denials/(dn_[0-9a-f]+)"', page.text))
        wanted = {r.denial.denial_id for r in records
                  if (getattr(r.denial, field) or "").casefold() == text.strip().casefold()}
        assert listed == wanted and target.denial_id in listed
    partial = site.client.get("/", params={"q": target.claim_id[:-1]})
    assert not re.findall(r'href="/denials/(dn_[0-9a-f]+)"', partial.text)


def test_the_search_form_posts_the_claim_number(site: Site) -> None:
    token = site.login("ann")
    target = site.denials()[0].denial
    page = site.client.post("/", data={"q": target.claim_id, "csrf_token": token})
    assert page.status_code == 200
    assert target.denial_id in page.text


def _post_routes(site: Site) -> list[str]:
    app = site.client.app
    paths = []
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            paths.append(route.path.replace("{letter_id}", "lt_0").replace(
                "{group_id}", "grp_0").replace("{name}", "ann"))
    return paths


def test_every_state_changing_request_needs_the_csrf_token(site: Site) -> None:
    token = site.login("ann")
    paths = _post_routes(site)
    assert {"/login", "/logout", "/letters/lt_0/approve", "/letters/lt_0/edit",
            "/letters/lt_0/reject", "/users", "/queues/grp_0/approve"} <= set(paths)
    for path in paths:
        assert site.client.post(path, data={"x": "1"}).status_code == 403, path
        assert site.client.post(path, data={"csrf_token": token + "x"}).status_code == 403
        assert site.client.post(path, headers={"X-CSRF-Token": "nope"}).status_code == 403
    for method in ("PUT", "PATCH", "DELETE"):
        assert site.client.request(method, "/").status_code == 403
    # With the token (field or header) the request goes through to its route.
    assert site.client.post("/", data={"csrf_token": token}).status_code == 200
    assert site.client.post("/", headers={"X-CSRF-Token": token}).status_code == 200


def test_users_are_the_stores_users_added_with_appeals_users_add(site: Site) -> None:
    from typer.testing import CliRunner

    from agent.cli import app

    db = site.store.path
    result = CliRunner().invoke(app, ["users", "add", "zoe", "--role", "auditor", "--db",
                                      str(db)], input="zoe's password\n")
    assert result.exit_code == 0, result.output
    site.login("zoe", "zoe's password")
    assert site.client.get("/").status_code == 200
