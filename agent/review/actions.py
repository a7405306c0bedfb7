"""What a review decision does to a letter: files, status and the append-only audit trail.

Every decision is compare-and-set: it is written only while the letter still has the
status and the text hash the reviewer saw, in one transaction with its audit row, so of two
reviewers deciding at once exactly one wins and the other is told the letter changed.

An approval is refused while the letter is unfinished (a placeholder for the auditor left
in its text, a practice field still the shipped placeholder: agent/letters/unfinished.py),
whoever approves: :class:`UnfinishedLetter` names each problem.

An edit's new text is first written beside the letter (``.NAME.md.<hash>.<random>.edit``)
and moved over it once the edit is stored: a crash between the two leaves the text
findable, and :meth:`ReviewActions.settle` puts it in place on the next read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from agent.config import LetterSettings
from agent.letters.docx_export import check_template, markdown_to_docx
from agent.letters.files import write_text_atomic
from agent.letters.unfinished import approval_problems
from agent.review.model import ReviewDecision
from agent.store.protocols import Store
from agent.store.records import SYSTEM_USER, AuditEntry, LetterRecord, LetterStatus, SentVia


class ReviewError(Exception):
    """The action cannot be applied (unknown letter or user, already decided); no PHI."""


class ReviewConflict(ReviewError):
    """Someone else changed the letter (status or text) since the reviewer saw it."""


class FileChangedOutside(ReviewError):
    """The letter's file on disk is not the text the store holds."""


class LetterheadUnusable(ReviewError, OSError):
    """The configured letterhead (``[letter] letterhead_docx``) cannot be used for a DOCX.

    Also an ``OSError``, so that a run (which reports those in one line) reports it too.
    """


class UnfinishedLetter(ReviewError):
    """The letter cannot be approved yet; ``problems`` says why, one item each."""

    def __init__(self, letter_id: str, problems: list[str]) -> None:
        self.letter_id = letter_id
        self.problems = tuple(problems)
        super().__init__(f"letter {letter_id} cannot be approved until it is finished "
                         f"({len(problems)} problem{'s' if len(problems) != 1 else ''}): "
                         + "; ".join(problems))


def content_hash(text: str) -> str:
    """The hash recorded in the audit trail before and after each action."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def changed_by_someone_else(letter_id: str, now: str) -> ReviewConflict:
    """The error the loser of a race gets."""
    return ReviewConflict(f"letter {letter_id} was changed by someone else (it is now {now}); "
                          "show it again and decide on what it says now")


class ReviewActions:
    """Applies decisions to letters in ``out_dir`` and records each one.

    ``practice`` is the ``[letter]`` configuration approvals are checked against (default:
    the shipped placeholders, under which no letter can be approved).
    """

    def __init__(self, store: Store, out_dir: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 practice: LetterSettings | None = None) -> None:
        self.store = store
        self.out_dir = out_dir
        self.clock = clock
        self.practice = practice or LetterSettings()

    def letter(self, letter_id: str) -> LetterRecord:
        """The letter, or :class:`ReviewError`."""
        letter = self.store.get_letter(letter_id)
        if letter is None:
            raise ReviewError(f"no letter {letter_id}")
        return letter

    def markdown(self, letter: LetterRecord) -> str:
        """The letter's text on disk (an edit a crash left staged is put in place first)."""
        self.settle(letter)
        return (self.out_dir / letter.markdown).read_text(encoding="utf-8")

    def disk_hash(self, letter: LetterRecord) -> str | None:
        """The hash of the letter's file as it is on disk (None when it is missing)."""
        try:
            return content_hash(self.markdown(letter))
        except FileNotFoundError:
            return None

    def check_file(self, letter: LetterRecord) -> None:
        """:class:`FileChangedOutside` unless the file on disk is the stored text."""
        self._stored_text(letter)

    def approval_problems(self, letter: LetterRecord) -> list[str]:
        """Why the letter's text on disk cannot be approved now; empty when it can.

        See :func:`agent.letters.unfinished.approval_problems`; a missing file is a
        problem too.
        """
        try:
            text = self.markdown(letter)
        except FileNotFoundError:
            return ["the letter's file is missing"]
        return approval_problems(text, self.practice)

    def _stored_text(self, letter: LetterRecord) -> str:
        """The letter's text on disk, which must be the stored text."""
        try:
            text: str | None = self.markdown(letter)
        except FileNotFoundError:
            text = None
        if text is None or content_hash(text) != letter.content_hash:
            raise FileChangedOutside(
                f"letter {letter.letter_id}: the file changed outside the tool; take it in "
                f"with `appeals review edit {letter.letter_id} --file "
                f"{self.out_dir / letter.markdown}` "
                "(the audit trail records the edit), then approve")
        return text

    def settle(self, letter: LetterRecord) -> bool:
        """Put a stored edit's staged text in place; True when it did.

        A crash (or a reviewer still finishing) can leave the staged text beside the letter.
        """
        path = self.out_dir / letter.markdown
        staged = sorted(path.parent.glob(_staged_glob(path, letter.content_hash)))
        if not staged:
            return False
        try:
            current = content_hash(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            current = None
        if current == letter.content_hash:
            for leftover in staged:
                leftover.unlink(missing_ok=True)
            return False
        for candidate in staged:
            if content_hash(candidate.read_text(encoding="utf-8")) == letter.content_hash:
                try:
                    os.replace(candidate, path)
                except FileNotFoundError:
                    continue  # another process put it in place first
                return True
        return False

    def save_draft(self, letter: LetterRecord) -> None:
        """Store a new draft with its "drafted" audit row, in one transaction.

        The row says who drafted it, and its hash.
        """
        self.store.save_letter_and_audit(letter, self._draft_entry(letter))

    def record_draft(self, letter: LetterRecord) -> None:
        """Audit a stored draft that has no "drafted" row.

        That happened when an older release crashed between the two writes.
        """
        self.store.append_audit(self._draft_entry(letter))

    def _draft_entry(self, letter: LetterRecord) -> AuditEntry:
        return self._entry(letter.letter_id, "drafted", letter.drafted_by, None,
                           letter.content_hash)

    def auto_approve(self, letter_id: str) -> LetterRecord:
        """``--auto-approve``: approve the draft as the built-in system user and export it.

        The only path that acts as that user (the review service refuses it). An
        unfinished letter is refused like any approval and left pending for an auditor:
        it is returned as it stands (``appeals run`` then says how many were left and
        why), so the draft and its denials stay as they were.
        """
        try:
            self.apply(ReviewDecision(letter_id=letter_id, action="approve",
                                      actor=SYSTEM_USER))
        except UnfinishedLetter:
            return self.letter(letter_id)
        return self.export(letter_id)

    def apply(self, decision: ReviewDecision) -> LetterRecord:
        """Approve, edit or reject a pending letter.

        Compare-and-set on its status and on the hash the reviewer saw. An approval is
        refused with :class:`UnfinishedLetter` while :meth:`approval_problems` finds any.
        Approval does not write the DOCX: :meth:`export` does (the graph's export step).
        """
        letter = self.letter(decision.letter_id)
        if self.store.get_user(decision.actor) is None:
            raise ReviewError(f"no user {decision.actor!r} in the store")
        expected = decision.seen_hash or letter.content_hash
        if letter.status != "pending_review" or letter.content_hash != expected:
            raise changed_by_someone_else(letter.letter_id, status_word(letter))
        if decision.action == "edit":
            return self._edit(letter, decision, expected)
        if decision.action == "approve":
            problems = approval_problems(self._stored_text(letter), self.practice)
            if problems:
                raise UnfinishedLetter(letter.letter_id, problems)
            decided = letter.model_copy(update={"status": "approved",
                                                "reviewer": decision.actor})
            entry = self._entry(letter.letter_id, "approved", decision.actor, expected,
                                expected, decision.note)
        else:
            decided = letter.model_copy(update={"status": "rejected", "reviewer": decision.actor,
                                                "note": decision.reason})
            entry = self._entry(letter.letter_id, "rejected", decision.actor, expected,
                                expected, decision.reason)
        self._save(decided, entry, expected)
        return decided

    def _edit(self, letter: LetterRecord, decision: ReviewDecision,
              expected: str) -> LetterRecord:
        assert decision.markdown is not None
        text = decision.markdown if decision.markdown.endswith("\n") else \
            decision.markdown + "\n"
        after = content_hash(text)
        path = self.out_dir / letter.markdown
        staged = path.with_name(f".{path.name}.{_short(after)}.{secrets.token_hex(4)}.edit")
        write_text_atomic(staged, text)
        edited = letter.model_copy(update={"content_hash": after, "reviewer": decision.actor})
        try:
            self._save(edited, self._entry(letter.letter_id, "edited", decision.actor,
                                           expected, after, decision.note), expected)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        with contextlib.suppress(FileNotFoundError):  # a reader's settle() moved it already
            os.replace(staged, path)
        return edited

    def _save(self, letter: LetterRecord, entry: AuditEntry, expected: str) -> None:
        if not self.store.save_letter_and_audit(letter, entry, "pending_review", expected):
            now = self.store.get_letter(letter.letter_id)
            raise changed_by_someone_else(letter.letter_id, status_word(now) if now else "gone")

    def supersede(self, letter: LetterRecord, by: str | None, why: str) -> LetterRecord:
        """Mark a pending draft superseded (chart, playbook or settings changed), audited.

        ``by`` is the new draft's id, or None when no letter is drafted any more. The old
        draft's file stays where it was. Compare-and-set: a draft an auditor decided on
        meanwhile is left alone (:class:`ReviewConflict`).
        """
        superseded = letter.model_copy(update={"status": "superseded", "superseded_by": by,
                                               "note": why})
        entry = self._entry(letter.letter_id, "superseded", SYSTEM_USER, letter.content_hash,
                            letter.content_hash, f"{why}; replaced by {by}" if by else why)
        self._save(superseded, entry, letter.content_hash)
        return superseded

    def mark_sent(self, letter_id: str, actor: str, note: str | None = None,
                  sent_on: date | None = None, via: SentVia | None = None) -> LetterRecord:
        """Record that an approved letter was sent to the payer, audited; it never changes.

        ``sent_on`` (default: today) and ``via`` (mail, fax or portal) are kept on the
        letter and in the audit row's note, before the reviewer's ``note``. A day after
        today is refused. Compare-and-set on the approved status and the approved text.
        """
        letter = self.letter(letter_id)
        if self.store.get_user(actor) is None:
            raise ReviewError(f"no user {actor!r} in the store")
        if letter.status != "approved":
            raise ReviewError(f"letter {letter_id} is {status_word(letter)}: only an approved "
                              "letter can be marked sent")
        today = self.clock().astimezone().date()  # the day where the auditor is
        sent_on = sent_on or today
        if sent_on > today:
            raise ReviewError(f"letter {letter_id}: the day it was sent ({sent_on}) is after "
                              f"today ({today})")
        sent = letter.model_copy(update={"status": "sent", "sent_on": sent_on,
                                         "sent_via": via})
        said = f"sent {sent_on.isoformat()}" + (f" by {via}" if via else "")
        entry = self._entry(letter_id, "sent", actor, letter.content_hash,
                            letter.content_hash, f"{said}: {note}" if note else said)
        if not self.store.save_letter_and_audit(sent, entry, "approved", letter.content_hash):
            now = self.store.get_letter(letter_id)
            raise changed_by_someone_else(letter_id, status_word(now) if now else "gone")
        return sent

    def export(self, letter_id: str) -> LetterRecord:
        """Write the DOCX of an approved letter beside its Markdown.

        The DOCX takes the practice's letterhead (``[letter] letterhead_docx``) when one
        is configured; one that cannot be used is :class:`LetterheadUnusable`, and the
        letter stays approved without its DOCX until it is exported again. Safe to
        repeat: it is written again when it is missing.
        """
        letter = self.letter(letter_id)
        if letter.status != "approved":
            raise ReviewError(f"letter {letter_id} is not approved")
        self.check_file(letter)
        letterhead = self.letterhead(letter_id)
        docx = Path(letter.markdown).with_suffix(".docx")
        markdown_to_docx(self.markdown(letter), self.out_dir / docx,
                         title=f"Appeal {letter.claim_id}", template=letterhead)
        exported = letter.model_copy(update={"docx": docx.as_posix()})
        if letter.docx != exported.docx:
            self.store.update_letter_if(exported, "approved", letter.content_hash)
        return exported

    def letterhead(self, letter_id: str | None = None) -> Path | None:
        """The configured letterhead, made ready for the export; None when there is none.

        Args:
            letter_id: The approved letter being exported, named in the error.

        Raises:
            LetterheadUnusable: ``[letter] letterhead_docx`` cannot be used (missing,
                unreadable, or a .docx python-docx cannot open); one line naming the
                setting and, with ``letter_id``, the letter left without its DOCX.
        """
        path = self.practice.letterhead_docx
        if path is None:
            return None
        try:
            check_template(path)
        except (OSError, ValueError) as exc:
            problem = f"[letter] letterhead_docx {path}: {_unusable(exc)}"
            if letter_id is not None:
                problem = (f"letter {letter_id} is approved, but its DOCX was not written: "
                           f"{problem}; fix the setting, then `appeals review approve "
                           f"{letter_id}` writes it")
            raise LetterheadUnusable(problem) from None
        return path

    def docx_missing(self, letter: LetterRecord) -> bool:
        """An approved letter whose DOCX was never written, or is gone."""
        return letter.status == "approved" and (
            letter.docx is None or not (self.out_dir / letter.docx).is_file())

    def _entry(self, letter_id: str, action: str, actor: str, before: str | None,
               after: str | None, note: str | None = None) -> AuditEntry:
        return AuditEntry.model_validate({
            "letter_id": letter_id, "actor": actor, "at": self.clock(), "action": action,
            "hash_before": before, "hash_after": after, "note": note})


def status_word(letter: LetterRecord) -> str:
    """How a letter stands, in the words of a conflict message."""
    status: LetterStatus = letter.status
    return "edited" if status == "pending_review" else status


def _unusable(exc: OSError | ValueError) -> str:
    """Why a letterhead cannot be used, in the words of the configuration's check."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return "not a Word document (.docx) that can be opened"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:16]


def _staged_glob(path: Path, digest: str) -> str:
    return f".{path.name}.{_short(digest)}.*.edit"
