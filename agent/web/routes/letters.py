"""A letter's page: the letter beside its chart evidence, and what can be done with it.

The auditor edits with a live preview, approves, rejects, downloads the DOCX.

Each decision is compare-and-set on the hash of the text the auditor saw (a hidden
``if_hash``): a letter someone changed meanwhile is refused with a conflict (409) and the
auditor's own text is kept in the form. An unfinished letter's approval is refused (422)
with each problem listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.application.workbench import InvalidRequest
from agent.review.actions import (
    FileChangedOutside,
    ReviewConflict,
    ReviewError,
    UnfinishedLetter,
)
from agent.web.routes.common import endpoint, field, user

if TYPE_CHECKING:
    from agent.web.app import Web

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_DONE = {"edited": "Your edit is saved. The letter is still pending until it is approved.",
         "approved": "Approved. The DOCX is written.",
         "rejected": "Rejected. The reason is in the history.",
         "supplied": "Your evidence is recorded: the denial was decided again, is now an "
                     "appeal, and this letter was drafted for it. It is pending until it is "
                     "approved.",
         "attached": "The document you attached is in the chart: the denial was decided "
                     "again with it, is now an appeal, and this letter was drafted for it. It "
                     "is pending until it is approved."}

_CHANGED_OUTSIDE = ("The letter's file was changed outside the tool. Review the text below "
                    "and save it as an edit (the audit records it), then approve.")


def routes() -> list[BaseRoute]:
    """The letter routes."""
    return [Route("/letters/{letter_id}", endpoint(letter_page), methods=["GET"]),
            Route("/letters/{letter_id}/preview", endpoint(preview), methods=["POST"]),
            Route("/letters/{letter_id}/edit", endpoint(edit), methods=["POST"]),
            Route("/letters/{letter_id}/approve", endpoint(approve), methods=["POST"]),
            Route("/letters/{letter_id}/reject", endpoint(reject), methods=["POST"]),
            Route("/letters/{letter_id}/docx", endpoint(docx), methods=["GET"])]


def _letter_id(request: Request) -> str:
    return str(request.path_params["letter_id"])


def _page(request: Request, web: Web, status: int = 200, **options: Any) -> Response:
    """The letter page (audited), with a message, an error or the auditor's draft."""
    page = web.workbench.letter(user(request), _letter_id(request))
    view = page.view
    draft = options.pop("draft", None)
    draft = view.markdown if draft is None else draft.replace("\r\n", "\n")
    preview_problems = view.problems if draft == view.markdown else \
        web.workbench.preview(user(request), view.letter.letter_id, draft)
    history = [e for e in view.audit if e.action != "viewed"]
    context: dict[str, Any] = {
        "page": page, "chart": page.chart, "draft": draft, "markdown": draft,
        "history": history,
        "views": len(view.audit) - len(history), "problems": list(view.problems),
        "preview_problems": preview_problems, "message": None, "error": None}
    context.update(options)
    return web.pages.render(request, "letter.html", status, **context)


def letter_page(request: Request, form: FormData, web: Web) -> Response:
    """The letter beside its chart documents, every quote highlighted; audited."""
    return _page(request, web, message=_DONE.get(request.query_params.get("done", "")))


def preview(request: Request, form: FormData, web: Web) -> Response:
    """The draft as it would read, and what would keep it from approval (not saved).

    An htmx request gets the fragment; a form posted without script the whole page.
    """
    markdown = field(form, "markdown")
    if request.headers.get("hx-request"):
        problems = web.workbench.preview(user(request), _letter_id(request), markdown)
        return web.pages.render(request, "_preview.html", markdown=markdown.replace("\r\n",
                                                                                    "\n"),
                                preview_problems=problems)
    return _page(request, web, draft=markdown,
                 message="A preview of your edit: it is not saved yet.")


def _done(request: Request, what: str) -> Response:
    return RedirectResponse(f"/letters/{_letter_id(request)}?done={what}", status_code=303)


def edit(request: Request, form: FormData, web: Web) -> Response:
    """Save the edited Markdown if the letter still has the hash the edit started from."""
    markdown = field(form, "markdown")
    try:
        web.workbench.edit(user(request), _letter_id(request), markdown,
                           field(form, "if_hash"))
    except InvalidRequest as exc:
        return _page(request, web, 400, draft=markdown, error=str(exc))
    except FileChangedOutside:
        return _page(request, web, 409, draft=markdown, error=_CHANGED_OUTSIDE)
    except ReviewConflict as exc:
        return _page(request, web, 409, draft=markdown,
                     error=f"Not saved: {exc}. Your text is kept below; compare it with the "
                     "letter as it is now before saving again.")
    return _done(request, "edited")


def approve(request: Request, form: FormData, web: Web) -> Response:
    """Approve the text shown (its hash); refused while unfinished or changed since."""
    try:
        web.workbench.approve(user(request), _letter_id(request), field(form, "if_hash"))
    except UnfinishedLetter as exc:
        return _page(request, web, 422, problems=list(exc.problems),
                     error="Not approved: the letter is not finished. Fix each problem "
                     "listed, save the edit, then approve.")
    except FileChangedOutside:
        return _page(request, web, 409, error=_CHANGED_OUTSIDE)
    except ReviewConflict as exc:
        return _page(request, web, 409, error=f"Not approved: {exc}.")
    except ReviewError as exc:  # e.g. approved, but the letterhead cannot be used
        return _page(request, web, 409, error=str(exc))
    return _done(request, "approved")


def reject(request: Request, form: FormData, web: Web) -> Response:
    """Reject the letter shown, with a reason."""
    try:
        web.workbench.reject(user(request), _letter_id(request), field(form, "reason"),
                             field(form, "if_hash"))
    except InvalidRequest as exc:
        return _page(request, web, 400, error=str(exc))
    except ReviewConflict as exc:
        return _page(request, web, 409, error=f"Not rejected: {exc}.")
    return _done(request, "rejected")


def docx(request: Request, form: FormData, web: Web) -> Response:
    """The approved letter's DOCX, as a download named by the letter id; audited."""
    letter_id = _letter_id(request)
    path = web.workbench.docx(user(request), letter_id)
    return FileResponse(path, media_type=DOCX_TYPE, filename=f"{letter_id}.docx",
                        headers={"cache-control": "no-store"})
