"""A denial's page (facts, triage, what is missing, chart documents) and its supply form.

On a denial in needs_review the auditor selects words in a stored chart document
(``static/app.js`` turns the selection into the document's character offsets) or types
the offsets, picks the fact, and submits. The workbench checks the span against the
stored text and decides the denial again; a drafted letter's page follows, or this page
with the new action and what is still missing. A refusal is one line on the page; the
address carries only the ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.store.lease import LeaseHeldError, LeaseLostError
from agent.web.routes.common import endpoint, field, user
from agent.workflow.supply import SupplyError

if TYPE_CHECKING:
    from agent.web.app import Web

SUPPLY_FIELDS = ("document_id", "start", "end", "fact")
"""The needs-review form's fields (besides ``csrf_token``)."""

_DONE = {"supplied": "Your evidence is recorded and the denial was decided again: its action "
                     "and what is still missing are below."}


def routes() -> list[BaseRoute]:
    """The denial routes."""
    return [Route("/denials/{denial_id}", endpoint(denial_page), methods=["GET"]),
            Route("/denials/{denial_id}/evidence", endpoint(supply), methods=["POST"])]


def _denial_id(request: Request) -> str:
    return str(request.path_params["denial_id"])


def _page(request: Request, web: Web, status: int = 200, **options: Any) -> Response:
    """The denial page (audited), with a message, or an error and the form as sent."""
    page = web.workbench.denial(user(request), _denial_id(request))
    context: dict[str, Any] = {"page": page, "chart": page.chart, "message": None,
                               "error": None, "sent": {}}
    context.update(options)
    return web.pages.render(request, "denial.html", status, **context)


def denial_page(request: Request, form: FormData, web: Web) -> Response:
    """One denial with its missing facts and chart documents; audited."""
    return _page(request, web, message=_DONE.get(request.query_params.get("done", "")))


def supply(request: Request, form: FormData, web: Web) -> Response:
    """Record the selected span as evidence for a fact; the denial is decided again."""
    sent = {name: field(form, name).strip() for name in SUPPLY_FIELDS}
    try:
        start, end = int(sent["start"]), int(sent["end"])
    except ValueError:
        return _page(request, web, 400, sent=sent, error="Not recorded: select the words in "
                     "a document, or type the first character's number and one past the "
                     "last as whole numbers.")
    try:
        done = web.workbench.supply(user(request), _denial_id(request), sent["document_id"],
                                    start, end, sent["fact"])
    except SupplyError as exc:
        return _page(request, web, 400, sent=sent, error=f"Not recorded: {exc}.")
    except LeaseHeldError as exc:
        return _page(request, web, 409, sent=sent, error="Not recorded: the store is in use "
                     f"by {exc.holder.command}; try again when it has finished.")
    except LeaseLostError:
        return _page(request, web, 409, error="Recorded, but another writer took the store "
                     "over meanwhile: check the denial below and its letter.")
    letter_id = done.record.letter_id or (done.letter_ids[-1] if done.letter_ids else None)
    if done.letter_ids and letter_id:
        return RedirectResponse(f"/letters/{letter_id}?done=supplied", status_code=303)
    return RedirectResponse(f"/denials/{_denial_id(request)}?done=supplied", status_code=303)
