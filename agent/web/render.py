"""Server-rendered pages: the Jinja environment, its filters, and Markdown as HTML.

Templates live in ``agent/web/templates`` and ship in the wheel with the package. Every
value is escaped (autoescape) and a name the template does not get is an error
(``StrictUndefined``). Letter Markdown is rendered with raw HTML turned off, so a letter
(or an edit being previewed) cannot inject markup or script.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from agent.application.accounts import SignedIn

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def _headings_below_the_page(state: StateCore) -> None:
    """Put a letter's headings one level down (its ``#`` becomes an ``<h2>``).

    The page's title stays the page's only ``<h1>``, as screen readers expect.
    """
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_MARKDOWN.core.ruler.push("headings_below_the_page", _headings_below_the_page)


def markdown_html(text: str) -> Markup:
    """A letter's Markdown as HTML (CommonMark with tables; raw HTML is shown as text)."""
    return Markup(_MARKDOWN.render(text))


def money(amount: Decimal | int | float | None) -> str:
    """``$1,234.50``."""
    if amount is None:
        return ""
    return f"${Decimal(amount):,.2f}"


def day(value: date | datetime | None) -> str:
    """An ISO date (a time shown to the minute, in UTC)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def words(value: str | None) -> str:
    """``needs_review`` as ``needs review``."""
    return (value or "").replace("_", " ")


def pre_text(text: str) -> Markup:
    """Text for a ``<pre>`` that the browser keeps character for character.

    Escaped; a carriage return becomes a character reference (the HTML parser would read
    CR LF as one LF) and a NUL one to U+FFFD (the parser would drop it), so the page holds
    as many characters as the stored text and a selection's offsets are the stored ones.
    """
    return Markup(str(escape(text)).replace("\r", "&#13;").replace("\x00", "&#xFFFD;"))


class Pages:
    """Renders the templates for a request, with the signed-in user and their CSRF token."""

    def __init__(self, idle: timedelta) -> None:
        self.idle = idle
        self.env = Environment(loader=FileSystemLoader(TEMPLATES),
                               autoescape=select_autoescape(["html"]),
                               undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)
        self.env.filters.update(money=money, day=day, words=words, pre_text=pre_text)
        self.env.globals.update(markdown_html=markdown_html)

    def render(self, request: Request, name: str, status: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        """The template ``name`` as a response."""
        signed_in = getattr(request.state, "signed_in", None)
        base = {"signed_in": signed_in if isinstance(signed_in, SignedIn) else None,
                "csrf_token": signed_in.csrf_token if isinstance(signed_in, SignedIn) else "",
                "idle_seconds": int(self.idle.total_seconds())}
        html = self.env.get_template(name).render(**base, **context)
        return HTMLResponse(html, status_code=status, headers=headers)
