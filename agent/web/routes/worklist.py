"""The worklist (``/``), its work queues, and a lead's approval of a whole queue.

Every denial is listed, filtered, sorted and paged by the store.

Filters, order and page travel in the address (none of them is PHI). A claim number
searched (``q``) never does in the pages' own links: the search form posts it, and a
search shows its matches on one page, without sort or page links that would carry it.
``/?q=TEXT`` still answers (it is part of the contract), and the server logs no query
string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, cast, get_args
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.store.records import LetterStatus
from agent.store.worklist import NO_LETTER, SORTS, DeadlineFilter, WorklistQuery, WorklistSort
from agent.web.routes.common import endpoint, field, user

if TYPE_CHECKING:
    from agent.web.app import Web

SIZES = (25, 50, 100, 200)
DEFAULT_SIZE = 50
SEARCH_LIMIT = 200
"""A claim-number search shows at most this many matches, on one page."""
_LONGEST = 128
"""Longer filter values are ignored."""
_STATUSES = (*get_args(LetterStatus), NO_LETTER)
_COLUMNS = (("claim", "Claim"), ("action", "Action"), ("status", "Letter"),
            ("payer", "Payer"), ("playbook", "Playbook"), ("procedure", "Procedure"),
            ("amount", "Amount"), ("deadline", "Appeal deadline"))


def routes() -> list[BaseRoute]:
    """The worklist and work-queue routes."""
    return [Route("/", endpoint(worklist_page), methods=["GET", "POST"]),
            Route("/queues/{group_id}/approve", endpoint(queue_confirm), methods=["GET"]),
            Route("/queues/{group_id}/approve", endpoint(queue_approve), methods=["POST"])]


@dataclass(frozen=True, slots=True)
class Params:
    """The worklist's options as the form shows them (text; '' when not set)."""

    q: str = ""
    action: str = ""
    status: str = ""
    payer: str = ""
    playbook: str = ""
    queue: str = ""
    deadline: str = ""
    group: str = ""
    sort: str = "deadline"
    dir: str = "asc"
    size: str = str(DEFAULT_SIZE)
    page: str = "1"

    @property
    def page_number(self) -> int:
        """The page asked for, from 1."""
        return int(self.page)

    @property
    def page_size(self) -> int:
        """Rows per page."""
        return int(self.size)

    def link(self, **changes: str) -> str:
        """The worklist's address with these options changed (never the search)."""
        values = {**asdict(self), **changes, "q": ""}
        defaults = asdict(Params())
        kept = {k: v for k, v in values.items() if v and v != defaults[k]}
        return "/?" + urlencode(kept) if kept else "/"


def parse(values: Mapping[str, str], q: str) -> Params:
    """The options of a request; a value that is not one of the choices is dropped."""
    def pick(name: str, choices: tuple[str, ...] | None = None, default: str = "") -> str:
        value = (values.get(name) or "").strip()
        if len(value) > _LONGEST or (choices is not None and value not in choices):
            return default
        return value or default

    page = pick("page", default="1")
    return Params(
        q=q.strip()[:_LONGEST], action=pick("action"), status=pick("status", _STATUSES),
        payer=pick("payer"), playbook=pick("playbook"), queue=pick("queue"),
        deadline=pick("deadline", ("past", "open")), group=pick("group", ("queue",)),
        sort=pick("sort", SORTS, "deadline"), dir=pick("dir", ("asc", "desc"), "asc"),
        size=pick("size", tuple(str(s) for s in SIZES), str(DEFAULT_SIZE)),
        page=page if page.isdigit() and 0 < int(page) < 10**7 else "1")


def to_query(params: Params) -> WorklistQuery:
    """The store query of the options (a search: its first matches, on one page)."""
    searched = bool(params.q)
    size = SEARCH_LIMIT if searched else params.page_size
    page = 1 if searched else params.page_number
    return WorklistQuery(
        q=params.q or None, action=params.action or None,
        letter_status=params.status or None, payer=params.payer or None,
        playbook=params.playbook or None, queue=params.queue or None,
        deadline=cast(DeadlineFilter, params.deadline) if params.deadline else None,
        sort=cast(WorklistSort, params.sort), descending=params.dir == "desc",
        limit=size, offset=(page - 1) * size)


@dataclass(frozen=True, slots=True)
class Pager:
    """Where a page stands and the links to its neighbours ('' where there is none)."""

    current: int
    count: int
    first: str
    previous: str
    next: str
    last: str


def _pager(params: Params, total: int) -> Pager:
    if params.q:
        return Pager(1, 1, "", "", "", "")
    count = max(1, -(-total // params.page_size))
    current = min(params.page_number, count)

    def at(number: int) -> str:
        return params.link(page=str(number)) if number != current else ""

    return Pager(current, count, at(1), at(current - 1) if current > 1 else "",
                 at(current + 1) if current < count else "", at(count))


def worklist_page(request: Request, form: FormData, web: Web) -> Response:
    """The worklist: every denial (or its work queues), one page of them; audited."""
    q = field(form, "q") if request.method == "POST" else \
        request.query_params.get("q", "")
    params = parse(request.query_params, q)
    by_queue = params.group == "queue" and not params.q
    view = web.workbench.worklist(user(request), to_query(params), by_queue)
    total = view.queues.total if view.queues is not None else \
        view.page.total if view.page is not None else 0
    pager = _pager(params, total)
    if pager.current != params.page_number:  # past the last page: show the last one
        params = parse({**request.query_params, "page": str(pager.current)}, q)
        view = web.workbench.worklist(user(request), to_query(params), by_queue)
    return web.pages.render(request, "worklist.html", view=view, params=params, pages=pager,
                            link=params.link, sort_link=_sort_links(params),
                            columns=_COLUMNS, sorts=SORTS, sizes=SIZES,
                            message=_DONE.get(request.query_params.get("done", "")))


def _sort_links(params: Params) -> Callable[[str], str]:
    def link(column: str) -> str:
        if params.q:
            return ""
        flip = "desc" if params.sort == column and params.dir == "asc" else "asc"
        return params.link(sort=column, dir=flip, page="")
    return link


_DONE = {"bulk": "The work queue's approval is done (see each letter's history)."}


def queue_confirm(request: Request, form: FormData, web: Web) -> Response:
    """What approving the work queue would approve, to confirm (lead role)."""
    approval = web.workbench.queue_approval(user(request), request.path_params["group_id"])
    return web.pages.render(request, "queue_approve.html", approval=approval)


def queue_approve(request: Request, form: FormData, web: Web) -> Response:
    """Approve the confirmed letters of the work queue, each at the hash shown (lead)."""
    group_id = request.path_params["group_id"]
    seen: dict[str, str] = {}
    for value in form.getlist("letter"):
        if isinstance(value, str) and " " in value:
            letter_id, digest = value.split(" ", 1)
            seen[letter_id] = digest
    result = web.workbench.bulk_approve(user(request), group_id, seen)
    return web.pages.render(request, "queue_result.html", group_id=group_id, result=result)
