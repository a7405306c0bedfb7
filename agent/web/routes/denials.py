"""A denial's page (facts, triage, what is missing, chart documents) and its supply form.

On a denial in needs_review the auditor selects words in a stored chart document
(``static/app.js`` turns the selection into the document's character offsets) or types
the offsets, picks the fact, and submits. The workbench checks the span against the
stored text and decides the denial again; a drafted letter's page follows, or this page
with the new action and what is still missing. A refusal is one line on the page; the
address carries only the ids.

The same page takes a document the auditor found outside the EHR (an exported PDF, RTF,
HTML, C-CDA or text note, up to :data:`~agent.application.evidence.MAX_ATTACHMENT` bytes):
it joins the chart, the denial is decided again with it, and the auditor can select
evidence in it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.application.evidence import MAX_ATTACHMENT
from agent.ehr.formats import SUFFIXES
from agent.store.lease import LeaseHeldError, LeaseLostError
from agent.web.routes.common import endpoint, field, user
from agent.workflow.supply import SupplyError

if TYPE_CHECKING:
    from agent.web.app import Web

SUPPLY_FIELDS = ("document_id", "start", "end", "fact")
"""The needs-review form's fields (besides ``csrf_token``)."""

_DONE = {"supplied": "Your evidence is recorded and the denial was decided again: its action "
                     "and what is still missing are below.",
         "attached": "The document is in the chart below and the denial was decided again "
                     "with it: select evidence in it if it shows what is missing."}


def routes() -> list[BaseRoute]:
    """The denial routes."""
    return [Route("/denials/{denial_id}", endpoint(denial_page), methods=["GET"]),
            Route("/denials/{denial_id}/evidence", endpoint(supply), methods=["POST"]),
            Route("/denials/{denial_id}/documents", endpoint(attach), methods=["POST"])]


def _denial_id(request: Request) -> str:
    return str(request.path_params["denial_id"])


def _page(request: Request, web: Web, status: int = 200, **options: Any) -> Response:
    """The denial page (audited), with a message, or an error and the form as sent."""
    page = web.workbench.denial(user(request), _denial_id(request))
    context: dict[str, Any] = {"page": page, "chart": page.chart, "message": None,
                               "error": None, "attach_error": None, "sent": {},
                               "attach_accept": ",".join(sorted(SUFFIXES)),
                               "max_attachment_mb": MAX_ATTACHMENT // 1_000_000}
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
    return _decided(request, done.record.letter_id, done.letter_ids, "supplied")


def attach(request: Request, form: FormData, web: Web) -> Response:
    """Add an uploaded exported note to the chart; the denial is decided again with it."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, web, 400, attach_error="Not attached: choose a file.")
    data = upload.file.read(MAX_ATTACHMENT + 1)
    written = field(form, "date").strip()
    try:
        document_date = date.fromisoformat(written) if written else None
    except ValueError:
        return _page(request, web, 400, attach_error="Not attached: the document's date "
                     "must be a day as YYYY-MM-DD, or left empty.")
    try:
        done = web.workbench.attach(user(request), _denial_id(request), upload.filename,
                                    data, document_date)
    except SupplyError as exc:
        return _page(request, web, 400, attach_error=f"Not attached: {str(exc).rstrip('.')}.")
    except LeaseHeldError as exc:
        return _page(request, web, 409, attach_error="Not attached: the store is in use by "
                     f"{exc.holder.command}; try again when it has finished.")
    except LeaseLostError:
        return _page(request, web, 409, attach_error="Attached, but another writer took the "
                     "store over meanwhile: check the denial below and its letter.")
    return _decided(request, done.record.letter_id, done.letter_ids, "attached")


def _decided(request: Request, letter_id: str | None, drafted: list[str],
             done: str) -> Response:
    """After the denial was decided again: its new letter's page, else the denial's."""
    letter_id = letter_id or (drafted[-1] if drafted else None)
    if drafted and letter_id:
        return RedirectResponse(f"/letters/{letter_id}?done={done}", status_code=303)
    return RedirectResponse(f"/denials/{_denial_id(request)}?done={done}", status_code=303)
