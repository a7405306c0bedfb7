"""The auditor's workbench: what each page of the web app shows and every action it takes.

The web routes (agent/web) only read a request, call one method here with the signed-in
user, and render what it returns; roles are enforced and PHI views audited here, so every
client of this service (the web app, a test, a later API) gets the same rules. Review
decisions go through :class:`~agent.application.reviews.ReviewService`, the same
compare-and-set path as ``appeals review``.

Chart evidence is shown where the decision found it: each quote is highlighted in the
stored text of its document (``DenialRecord.documents`` and ``Store.get_document_text``)
at its stored offsets, never found again by searching; a quote the stored text does not
hold at those offsets is listed with the problem instead of being highlighted.

Evidence an auditor finds for a denial in needs_review (:meth:`Workbench.supply`) goes
through the workbench's own :class:`~agent.application.evidence.EvidenceService`: the span is
checked as ``text[start:end]`` of the stored document, and the denial is decided again by
the workflow's decide step, under the store's writer lease. A document the auditor found
outside the EHR (an exported PDF, RTF, HTML or C-CDA note) is attached to the chart the
same way (:meth:`Workbench.attach`) and read like any note.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from pathlib import Path

from agent.application.accounts import AccountService, may, require
from agent.application.evidence import EvidenceService
from agent.application.reviews import Decided, LetterView, ReviewService
from agent.application.workflow import Workflow
from agent.evidence.model import Evidence
from agent.letters.unfinished import approval_problems
from agent.playbooks.model import FactSpec
from agent.review.actions import (
    FileChangedOutside,
    ReviewConflict,
    ReviewError,
    UnfinishedLetter,
    content_hash,
)
from agent.store.protocols import Store
from agent.store.records import (
    DenialRecord,
    DocumentRef,
    GroupRecord,
    LetterRecord,
    OutcomeRecord,
    UserRecord,
)
from agent.store.worklist import QueuePage, WorklistFacets, WorklistPage, WorklistQuery
from agent.workflow.supply import Attached, Supplied


class NotFound(ReviewError):
    """No letter, denial or work queue of that id (the message names only the id)."""


class InvalidRequest(ReviewError):
    """The request cannot be carried out as given (an empty reason, an empty letter...)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a document's text: plain, or inside one or more cited quotes."""

    start: int
    end: int
    text: str
    evidence: tuple[int, ...]
    """The numbers of the evidence whose quote covers this stretch (empty: plain text)."""
    opens: tuple[int, ...]
    """The numbers of the evidence whose quote starts here."""


@dataclass(frozen=True, slots=True)
class ChartDocument:
    """A chart document the decision read, as stored, cut into segments at the quotes."""

    number: int
    document_id: str
    date: date | None
    title: str | None
    text_hash: str
    text: str | None
    """None when the store does not keep its text."""
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class CitedEvidence:
    """One quote of the chart, numbered as the letter numbers it."""

    number: int
    evidence: Evidence
    document: int | None
    """The :attr:`ChartDocument.number` it is highlighted in; None when it is not."""
    problem: str | None = None
    """Why it is not highlighted (structured data, text not kept, offsets off)."""


@dataclass(frozen=True, slots=True)
class Chart:
    """The evidence of some denials and the documents it was read from."""

    evidence: tuple[CitedEvidence, ...]
    documents: tuple[ChartDocument, ...]


@dataclass(frozen=True, slots=True)
class WorklistView:
    """A worklist page: the denials (or work queues) of the query, and its filter values."""

    query: WorklistQuery
    page: WorklistPage | None
    """The denials, unless grouped by work queue."""
    queues: QueuePage | None
    """The work queues, when grouped."""
    facets: WorklistFacets
    today: date
    may_bulk_approve: bool


@dataclass(frozen=True, slots=True)
class LetterPage:
    """A letter with its denials, their chart evidence and what the user may do."""

    view: LetterView
    records: tuple[DenialRecord, ...]
    chart: Chart
    may_review: bool
    docx_ready: bool
    today: date
    outcomes: Mapping[str, OutcomeRecord] = field(default_factory=dict)
    """Each denial's current outcome, by denial id (none while no later 835 answered)."""

    @property
    def paid_since(self) -> bool:
        """Whether the payer has paid every denial of the letter on a later remittance."""
        return bool(self.records) and all(
            (o := self.outcomes.get(r.denial.denial_id)) is not None
            and o.paid for r in self.records)


@dataclass(frozen=True, slots=True)
class SupplyOffer:
    """What the needs-review form offers: the facts an auditor may supply, and where."""

    facts: tuple[FactSpec, ...]
    """The playbook's facts, the missing ones first."""
    missing: frozenset[str]
    """The ids of the facts the decision found missing."""
    documents: tuple[ChartDocument, ...]
    """The stored documents the decision read whose text the store keeps."""


@dataclass(frozen=True, slots=True)
class DenialPage:
    """One denial: its facts, triage, what is missing, its letter and chart documents."""

    record: DenialRecord
    chart: Chart
    letter: LetterRecord | None
    group: GroupRecord | None
    today: date
    supply: SupplyOffer | None = None
    """The form to supply a missing fact (a denial in needs_review decided by a playbook,
    with stored documents to select in); None otherwise."""
    attach: bool = False
    """Whether the page offers to attach a document to the chart (a denial in needs_review
    decided by a playbook, whether or not the EHR gave any document)."""


@dataclass(frozen=True, slots=True)
class QueueLetter:
    """A pending letter of a work queue as the bulk approval shows it."""

    letter: LetterRecord
    seen_hash: str
    """The hash of the text on disk now: the approval applies only to this text."""
    problems: tuple[str, ...]
    """Why it cannot be approved (it is left pending then)."""


@dataclass(frozen=True, slots=True)
class QueueApproval:
    """What approving a work queue would approve: its pending letters."""

    group: GroupRecord | None
    group_id: str
    letters: tuple[QueueLetter, ...]


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk approval did: the letters approved and those left, with why."""

    approved: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]


class Workbench:
    """The workbench's pages and actions, for a signed-in user."""

    def __init__(self, reviews: ReviewService, accounts: AccountService,
                 evidence: EvidenceService, today: Callable[[], date] = date.today) -> None:
        self.reviews = reviews
        self.accounts = accounts
        self.evidence = evidence
        self.store = reviews.actions.store
        self.today = today
        self._acting = threading.Lock()  # one decision at a time from this process

    @classmethod
    def over(cls, workflow: Workflow, accounts: AccountService,
             today: Callable[[], date] = date.today) -> Workbench:
        """The workbench over an open workflow (as ``appeals review`` opens it).

        The workflow may have no EHR: supplied evidence is checked against the stored
        documents and decided on from them.
        """
        return cls(ReviewService.over(workflow), accounts, EvidenceService(workflow), today)

    # Pages

    def worklist(self, user: UserRecord, query: WorklistQuery,
                 by_queue: bool = False) -> WorklistView:
        """A page of the worklist (every denial), or of its work queues; audited."""
        require(user, "review")
        today = self.today()
        query = replace(query, today=today)
        page = None if by_queue else self.store.worklist(query)
        queues = self.store.work_queues(query) if by_queue else None
        shown = len(page.items) if page else len(queues.queues) if queues else 0
        what = "work queues" if by_queue else "denials"
        self.accounts.record_view(user, f"worklist: {shown} {what}"
                                  f"{' (a claim number searched)' if query.q else ''}",
                                  subject="worklist")
        return WorklistView(query, page, queues, self.store.worklist_facets(), today,
                            may(user, "bulk_approve"))

    def letter(self, user: UserRecord, letter_id: str) -> LetterPage:
        """A letter, its denials and their chart evidence highlighted; audited."""
        require(user, "review")
        view = self._show(letter_id)
        records = tuple(self.store.get_denials(view.letter.denial_ids))
        self.accounts.record_view(user, "letter page", letter_id=letter_id)
        letter = view.letter
        docx_ready = letter.docx is not None and letter.status in ("approved", "sent") and \
            (self.reviews.actions.out_dir / letter.docx).is_file()
        return LetterPage(view, records, chart_of(self.store, records), may(user, "review"),
                          docx_ready, self.today(), self.store.current_outcomes(
                              [r.denial.denial_id for r in records]))

    def denial(self, user: UserRecord, denial_id: str) -> DenialPage:
        """One denial with what is missing and its chart documents; audited."""
        require(user, "review")
        found = self.store.get_denials([denial_id])
        if not found:
            raise NotFound(f"no denial {denial_id}")
        record = found[0]
        self.accounts.record_view(user, "denial page", subject=f"denial:{denial_id}")
        letter = self.store.get_letter(record.letter_id) if record.letter_id else None
        group = self.store.get_group(record.group_id) if record.group_id else None
        chart = chart_of(self.store, [record])
        return DenialPage(record, chart, letter, group, self.today(),
                          self._supply_offer(record, chart), _open_to_evidence(record))

    def preview(self, user: UserRecord, letter_id: str, markdown: str) -> list[str]:
        """Why an edited text could not be approved as it stands (empty when it could)."""
        require(user, "review")
        self._letter(letter_id)
        return approval_problems(_unix(markdown), self.reviews.actions.practice)

    def docx(self, user: UserRecord, letter_id: str) -> Path:
        """The approved letter's DOCX file, to download; audited."""
        require(user, "review")
        letter = self._letter(letter_id)
        path = self.reviews.actions.out_dir / letter.docx if letter.docx else None
        if letter.status not in ("approved", "sent") or path is None or not path.is_file():
            raise NotFound(f"letter {letter_id} has no DOCX (it is written on approval)")
        self.accounts.record_view(user, "downloaded the DOCX", letter_id=letter_id)
        return path

    # Decisions (compare-and-set through the review service)

    def edit(self, user: UserRecord, letter_id: str, markdown: str, if_hash: str) -> Decided:
        """Replace the letter's text, if it still has the stored hash the user started from.

        Browsers send a form's text with CRLF line ends; the letter keeps LF.

        Raises:
            InvalidRequest: The text is empty or unchanged.
            ReviewConflict: Someone changed the letter since.
        """
        require(user, "review")
        text = _unix(markdown)
        if not text.strip():
            raise InvalidRequest("the letter is empty; to drop a letter, reject it with a "
                                 "reason")
        letter = self._letter(letter_id)
        if content_hash(text if text.endswith("\n") else text + "\n") == letter.content_hash:
            raise InvalidRequest("no change to save")
        with self._acting:
            return self.reviews.edit(letter_id, user.name, text, if_hash)

    def approve(self, user: UserRecord, letter_id: str, if_hash: str) -> Decided:
        """Approve the text the user saw (its hash); the DOCX is written.

        Raises:
            UnfinishedLetter: A placeholder or practice field is left (each one named).
            ReviewConflict: The letter changed since it was shown.
        """
        require(user, "review")
        self._letter(letter_id)
        with self._acting:
            return self.reviews.approve(letter_id, user.name, if_hash)

    def reject(self, user: UserRecord, letter_id: str, reason: str, if_hash: str) -> Decided:
        """Reject the letter the user saw, with a reason (kept in the audit)."""
        require(user, "review")
        if not reason.strip():
            raise InvalidRequest("say why the letter is rejected")
        self._letter(letter_id)
        with self._acting:
            return self.reviews.reject(letter_id, user.name, reason.strip(), if_hash)

    def supply(self, user: UserRecord, denial_id: str, document_id: str, start: int,
               end: int, fact: str) -> Supplied:
        """Record ``text[start:end]`` of a stored document as evidence for ``fact``.

        The quote is the user's (``found_by``, and the ``evidence_supplied`` audit row);
        the denial is decided again by the workflow's decide step, and its letter drafted
        (or withdrawn) as a run would. ``start`` and ``end`` count characters (code points)
        of the stored text.

        Raises:
            NotFound: No denial of that id.
            SupplyError: The selection is not one this denial can use (nothing changes).
            LeaseHeldError: A run is writing the store.
        """
        require(user, "review")
        if not self.store.get_denials([denial_id]):
            raise NotFound(f"no denial {denial_id}")
        with self._acting:
            return self.evidence.supply(denial_id, document_id, start, end, fact, user.name)

    def attach(self, user: UserRecord, denial_id: str, filename: str, data: bytes,
               document_date: date | None = None) -> Attached:
        """Add an exported note the user uploaded to the denial's chart; decide it again.

        The file's text is extracted (PDF text layer, RTF, HTML, C-CDA, plain text) and kept
        under its hash beside the original's (``document_attached`` audit row, without the
        file's name); the denial is decided again with it and its letter drafted (or
        withdrawn) as a run would. The user may then select evidence in it.

        Raises:
            NotFound: No denial of that id.
            SupplyError: The file is too large or has no readable text, or the denial is
                not one a chart document changes (nothing changes).
            LeaseHeldError: A run is writing the store.
        """
        require(user, "review")
        if not self.store.get_denials([denial_id]):
            raise NotFound(f"no denial {denial_id}")
        with self._acting:
            return self.evidence.attach(denial_id, filename, data, user.name, document_date)

    # Work queues (lead)

    def queue_approval(self, user: UserRecord, group_id: str) -> QueueApproval:
        """The pending letters a bulk approval of the queue would approve (lead); audited."""
        require(user, "bulk_approve")
        group = self.store.get_group(group_id)
        letters = self.store.letters_in_queue(group_id, "pending_review")
        if group is None and not letters:
            raise NotFound(f"no work queue {group_id}")
        self.accounts.record_view(user, f"bulk approval of {len(letters)} letters",
                                  subject=f"queue:{group_id}")
        actions = self.reviews.actions
        shown = []
        for letter in letters:
            try:
                seen = content_hash(actions.markdown(letter))
            except FileNotFoundError:
                seen = ""
            shown.append(QueueLetter(letter, seen, tuple(actions.approval_problems(letter))))
        return QueueApproval(group, group_id, tuple(shown))

    def bulk_approve(self, user: UserRecord, group_id: str,
                     seen: Mapping[str, str]) -> BulkResult:
        """Approve each letter of the queue the lead confirmed, at the hash they saw.

        Each approval is its own compare-and-set and its own audit row (noting the bulk
        approval); a letter changed since, unfinished, or no longer pending in the queue
        is left as it is and listed with why.
        """
        require(user, "bulk_approve")
        pending = {x.letter_id for x in self.store.letters_in_queue(group_id,
                                                                    "pending_review")}
        approved: list[str] = []
        refused: list[tuple[str, str]] = []
        note = f"bulk approval of work queue {group_id}"
        for letter_id, seen_hash in sorted(seen.items()):
            if letter_id not in pending:
                refused.append((letter_id, "no longer pending in this work queue"))
                continue
            try:
                with self._acting:
                    self.reviews.approve(letter_id, user.name, seen_hash, note=note)
            except UnfinishedLetter as exc:
                refused.append((letter_id, "not finished: " + "; ".join(exc.problems)))
            except (ReviewConflict, FileChangedOutside):
                refused.append((letter_id, "changed since the confirmation was shown"))
            else:
                approved.append(letter_id)
        return BulkResult(tuple(approved), tuple(refused))

    # Helpers

    def _supply_offer(self, record: DenialRecord, chart: Chart) -> SupplyOffer | None:
        if not _open_to_evidence(record):
            return None
        documents = tuple(d for d in chart.documents if d.text is not None)
        needs = self.evidence.needs(record.denial.denial_id)
        if not documents or not needs.facts:
            return None
        missing = frozenset(f.id for f in needs.facts if f.description in needs.missing)
        facts = sorted(needs.facts, key=lambda f: f.id not in missing)
        return SupplyOffer(tuple(facts), missing, documents)

    def _letter(self, letter_id: str) -> LetterRecord:
        letter = self.store.get_letter(letter_id)
        if letter is None:
            raise NotFound(f"no letter {letter_id}")
        return letter

    def _show(self, letter_id: str) -> LetterView:
        self._letter(letter_id)
        return self.reviews.show(letter_id)


def _open_to_evidence(record: DenialRecord) -> bool:
    """Whether an auditor's evidence can change the denial: in needs_review, by a playbook."""
    triage = record.triage
    return triage is not None and not triage.final and triage.action == "needs_review" \
        and record.playbook_id is not None


def _unix(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def chart_of(store: Store, records: Sequence[DenialRecord]) -> Chart:
    """The evidence of ``records``, numbered as their letter numbers it, in their documents.

    Evidence is numbered once per (document, offsets, fact), in the records' order, as
    the letter's evidence list is; documents are listed once per (id, text).
    """
    keyed: dict[tuple[str, int | None, int | None, str], Evidence] = {}
    for record in records:
        for item in record.evidence:
            keyed.setdefault((item.document_id, item.start, item.end, item.fact), item)
    refs = list({(d.document_id, d.text_hash): d for r in records for d in r.documents}
                .values())
    texts = {ref.text_hash: store.get_document_text(ref.text_hash) for ref in refs}
    by_id = {ref.document_id: number for number, ref in enumerate(refs, start=1)}
    cited = [_locate(number, item, by_id, refs, texts)
             for number, item in enumerate(keyed.values(), start=1)]
    documents = []
    for number, ref in enumerate(refs, start=1):
        text = texts[ref.text_hash]
        spans = [(c.evidence.start, c.evidence.end, c.number) for c in cited
                 if c.document == number and c.evidence.start is not None
                 and c.evidence.end is not None]
        title = next((c.evidence.document_title for c in cited
                      if c.evidence.document_id == ref.document_id
                      and c.evidence.document_title), None)
        documents.append(ChartDocument(
            number=number, document_id=ref.document_id, date=ref.date, title=title,
            text_hash=ref.text_hash, text=text,
            segments=segments(text, spans) if text is not None else ()))
    return Chart(tuple(cited), tuple(documents))


def _locate(number: int, item: Evidence, by_id: dict[str, int], refs: list[DocumentRef],
            texts: dict[str, str | None]) -> CitedEvidence:
    if item.start is None or item.end is None:
        return CitedEvidence(number, item, None, "from the chart's structured data (no note "
                             "text to highlight)")
    document = by_id.get(item.document_id)
    if document is None:
        return CitedEvidence(number, item, None, "the decision did not keep this document")
    ref = refs[document - 1]
    text = texts.get(ref.text_hash)
    if text is None:
        return CitedEvidence(number, item, None, "the store does not keep this document's "
                             "text")
    if text[item.start:item.end] != item.quote:
        return CitedEvidence(number, item, None, "the stored text does not hold this quote "
                             "at its offsets")
    return CitedEvidence(number, item, document)


def segments(text: str, spans: Sequence[tuple[int, int, int]]) -> tuple[Segment, ...]:
    """``text`` cut at every quote's start and end; each piece knows the quotes over it.

    ``spans`` are (start, end, evidence number); overlapping quotes share the pieces they
    overlap on. Joined, the pieces are ``text``.
    """
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[Segment] = []
    for start, end in pairwise(cuts):
        if start >= end:
            continue
        covering = tuple(n for s, e, n in spans if s <= start and end <= e)
        opens = tuple(n for s, _, n in spans if s == start)
        previous = out[-1] if out else None
        if previous is not None and not covering and not previous.evidence and not opens:
            out[-1] = Segment(previous.start, end, text[previous.start:end], (), ())
            continue
        out.append(Segment(start, end, text[start:end], covering, opens))
    return tuple(out)
