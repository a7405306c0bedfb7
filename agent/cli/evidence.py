"""``appeals evidence``: what a denial in needs_review is missing, and supplying it.

The same service as the web workbench's needs-review page
(:class:`agent.application.evidence.EvidenceService`): ``needs`` prints the missing facts
and the stored documents the decision read (``--document`` prints one's text); ``attach``
adds a note the auditor found (PDF, HTML, RTF, C-CDA, text) to the chart; ``supply``
records a span of one of them as evidence for a fact. Both decide the denial again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli.review import ConfigOption, DbOption, OutOption, _fail, _service

if TYPE_CHECKING:  # imported where used: `appeals --help` stays fast
    from agent.application.evidence import StoredDocument

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="What a denial is missing, and evidence an auditor found for it.")


@app.command("needs")
def needs_command(denial_id: str, db: DbOption = Path("appeals.db"),
                  out: OutOption = Path("appeals-out"),
                  document: Annotated[str | None, typer.Option(
                      help="Print this stored document's text exactly (offsets count from "
                      "its first character).", show_default=False)] = None,
                  config: ConfigOption = None) -> None:
    """Print, as JSON, what the denial is missing, its playbook's facts and its documents."""
    from agent.application.evidence import EvidenceService
    from agent.workflow.supply import SupplyError

    with _service(db, out, config) as session:
        try:
            needs = EvidenceService(session.workflow).needs(denial_id)
        except SupplyError as exc:
            raise _fail(exc) from None
    if document is not None:
        text = next((d.text for d in needs.documents if d.ref.document_id == document), None)
        if text is None:
            raise _fail(ValueError(f"{document} is not a stored document of {denial_id}"))
        sys.stdout.write(text)
        return
    record = needs.record
    report = {
        "denial_id": denial_id,
        "action": record.triage.action if record.triage else None,
        "reason": record.triage.reason if record.triage else None,
        "playbook": record.playbook_id,
        "missing": list(needs.missing),
        "facts": [{"id": f.id, "required": f.required, "description": f.description}
                  for f in needs.facts],
        "documents": [{"document_id": d.ref.document_id, "title": d.ref.title,
                       "date": d.ref.date.isoformat() if d.ref.date else None,
                       "characters": len(d.text)} for d in needs.documents],
        "supplied": [{"fact": e.fact, "document_id": e.document_id, "start": e.start,
                      "end": e.end, "found_by": e.found_by}
                     for e in record.supplied_evidence],
    }
    sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


@app.command("supply")
def supply_command(denial_id: str,
                   fact: Annotated[str, typer.Option(help="The playbook fact the span shows "
                                                     "(`evidence needs` lists them).")],
                   document: Annotated[str, typer.Option(help="The stored document's id.")],
                   start: Annotated[int | None, typer.Option(help="First character of the "
                                                             "span.", show_default=False)
                                    ] = None,
                   end: Annotated[int | None, typer.Option(help="One past its last "
                                                           "character.", show_default=False)
                                  ] = None,
                   quote: Annotated[str | None, typer.Option(
                       help="The span's exact text instead of --start/--end; it must occur "
                       "once in the document.", show_default=False)] = None,
                   db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                   config: ConfigOption = None) -> None:
    """Record a span of a stored document as evidence for a fact; decide the denial again.

    Acts as the configured user ([review] user or APPEALS_USER). Exits 1 when the span
    cannot be evidence for the denial or a run is writing the store.
    """
    from agent.application.evidence import EvidenceService
    from agent.store.lease import LeaseHeldError
    from agent.workflow.supply import SupplyError

    if (quote is None) == (start is None or end is None):
        typer.echo("appeals evidence supply: give --start and --end, or --quote", err=True)
        raise typer.Exit(2)
    with _service(db, out, config, acting=True) as session:
        service = EvidenceService(session.workflow)
        try:
            if quote is not None:
                start, end = _locate(service.needs(denial_id).documents, document, quote)
            assert start is not None and end is not None
            done = service.supply(denial_id, document, start, end, fact, session.user)
        except (SupplyError, LeaseHeldError) as exc:
            raise _fail(exc) from None
    triage = done.record.triage
    action = triage.action if triage else "?"
    typer.echo(f"{denial_id}: {fact} supplied by {session.user} "
               f"({document}, characters {start}-{end}); now {action}"
               + (f"; letter {', '.join(done.letter_ids)} drafted" if done.letter_ids else ""))
    if done.record.missing_evidence:
        typer.echo("still missing: " + "; ".join(done.record.missing_evidence))
    if action == "appeal" and not done.letter_ids and triage and triage.past_deadline \
            and not done.record.letter_id:
        typer.echo("past its appeal deadline: no draft (`appeals run --include-late` "
                   "drafts it)")


@app.command("attach")
def attach_command(denial_id: str,
                   file: Annotated[Path, typer.Argument(help="The exported note: .pdf (with a "
                                                        "text layer), .html, .rtf, .xml "
                                                        "(C-CDA), .txt or .md.")],
                   document_date: Annotated[str | None, typer.Option(
                       "--date", help="The note's date (YYYY-MM-DD), if known.",
                       show_default=False)] = None,
                   db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                   config: ConfigOption = None) -> None:
    """Add a note the auditor found to the denial's chart and decide it again.

    The extractors read it like any note; `evidence supply` can then quote it. Acts as
    the configured user. Exits 2 for a file that cannot be read, 1 when it has no readable
    text or a run is writing the store.
    """
    from datetime import date

    from agent.application.evidence import EvidenceService
    from agent.store.lease import LeaseHeldError
    from agent.workflow.supply import SupplyError

    try:
        data = file.read_bytes()
        day = date.fromisoformat(document_date) if document_date else None
    except (OSError, ValueError) as exc:
        typer.echo(f"appeals evidence attach: {exc}", err=True)
        raise typer.Exit(2) from None
    with _service(db, out, config, acting=True) as session:
        try:
            done = EvidenceService(session.workflow).attach(denial_id, file.name, data,
                                                            session.user, day)
        except (SupplyError, LeaseHeldError) as exc:
            raise _fail(exc) from None
    triage = done.record.triage
    typer.echo(f"{denial_id}: {done.document.document_id} attached by {session.user} "
               f"({done.document.content_type}); now {triage.action if triage else '?'}"
               + (f"; letter {', '.join(done.letter_ids)} drafted" if done.letter_ids else ""))
    if done.record.missing_evidence:
        typer.echo("still missing: " + "; ".join(done.record.missing_evidence))


def _locate(documents: Sequence[StoredDocument], document_id: str,
            quote: str) -> tuple[int, int]:
    """The span of ``quote``'s one occurrence in the stored document."""
    from agent.workflow.supply import SupplyError

    text = next((d.text for d in documents if d.ref.document_id == document_id), None)
    if text is None:
        raise SupplyError(f"{document_id} is not a stored document of this denial")
    first = text.find(quote)
    if first < 0 or not quote:
        raise SupplyError(f"the quote does not occur in {document_id} exactly as given")
    if text.find(quote, first + 1) >= 0:
        raise SupplyError(f"the quote occurs more than once in {document_id}: give "
                          "--start and --end")
    return first, first + len(quote)
