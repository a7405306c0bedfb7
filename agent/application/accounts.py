"""Who may use the web workbench: sign-in, sessions, roles and user management.

The users are the store's (``appeals users add``), with their argon2id hashes. A session is
a random token in an HttpOnly cookie; the store keeps only its hash, the user, the token
every state-changing request must carry (CSRF) and when it was last used, so a session ends
after :attr:`AccountService.idle` without a request (or :attr:`AccountService.lifetime`
after sign-in), and at sign-out. Roles are checked here, on the server, for every action:

========  ==============================================================
auditor   view, edit, approve and reject letters; supply evidence
lead      also approve a whole work queue at once
admin     also list users, add them and change their role
========  ==============================================================

Every sign-in, failed sign-in, sign-out, user added and role changed is an audit row with
the user; so is every page that shows PHI (:meth:`AccountService.record_view`). A user's
wrong passwords in a row, counted from those rows, lock the user's sign-in for a while
(:class:`LoginThrottle`), in every process that shares the store.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from agent.store.protocols import Store
from agent.store.records import SYSTEM_USER, AuditEntry, Role, SessionRecord, UserRecord
from agent.store.sqlite import UserExistsError

Permission = Literal["review", "bulk_approve", "manage_users"]
"""What a role may do: ``review`` (view, edit, approve, reject, supply evidence),
``bulk_approve`` (a whole work queue at once) and ``manage_users``."""

ROLES: tuple[Role, ...] = ("auditor", "lead", "admin")
"""The roles, each allowed what the ones before it are, and more."""

_NEEDS: dict[Permission, Role] = {"review": "auditor", "bulk_approve": "lead",
                                  "manage_users": "admin"}

ANONYMOUS = "anonymous"
"""The actor of a failed sign-in (the name typed is recorded only when it is a user's)."""


WRONG_PASSWORD = "wrong password"
LOCKED_OUT = "locked out: too many wrong passwords in a row"
"""The notes of a failed sign-in's audit row for a user's name."""


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """How many wrong passwords in a row lock a user's sign-in, and for how long.

    Counted from the audit trail: the user's ``login_failed`` rows for a wrong password
    within ``window`` and since their last sign-in. While locked, no password is checked
    and the attempt is audited as locked out (it does not extend the lock). The page says
    the same for a locked user as for a wrong password, so it tells no one which names
    are users.
    """

    failures: int = 5
    window: timedelta = timedelta(minutes=15)


class Forbidden(Exception):
    """The signed-in user's role does not allow the action (the message has no PHI)."""


class AccountError(ValueError):
    """A user cannot be added or changed as asked (a name taken, the last admin...)."""


def may(user: UserRecord, permission: Permission) -> bool:
    """Whether ``user``'s role allows ``permission`` (the system user is allowed nothing)."""
    if user.role not in ROLES:
        return False
    return ROLES.index(user.role) >= ROLES.index(_NEEDS[permission])


def require(user: UserRecord, permission: Permission) -> None:
    """:class:`Forbidden` unless ``user`` may do ``permission``."""
    if not may(user, permission):
        raise Forbidden(f"the {user.role} role may not do this "
                        f"(it needs the {_NEEDS[permission]} role)")


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session and its user (read again from the store on every request)."""

    user: UserRecord
    session: SessionRecord

    @property
    def csrf_token(self) -> str:
        """The token this session's state-changing requests must carry."""
        return self.session.csrf_token


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just started: ``token`` goes into the cookie and nowhere else."""

    token: str
    signed_in: SignedIn


class AccountService:
    """Sign-in, sessions with an idle timeout, roles and users, over a store."""

    def __init__(self, store: Store, idle: timedelta = timedelta(minutes=15),
                 lifetime: timedelta = timedelta(hours=12),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 throttle: LoginThrottle = LoginThrottle()) -> None:
        self.store = store
        self.idle = idle
        self.lifetime = lifetime
        self.clock = clock
        self.throttle = throttle

    # Sessions

    def sign_in(self, name: str, password: str) -> NewSession | None:
        """A new session when the password is the user's; None otherwise (audited both ways).

        A failed attempt names the user in the audit only when the name is a user's.
        """
        now = self.clock()
        user = self.store.get_user(name) if name else None
        known = user is not None and user.role in ROLES
        if known and self.locked(name, now):
            self._audit(ANONYMOUS, "login_failed", f"user:{name}", LOCKED_OUT, now)
            return None
        if not self.store.verify_password(name, password) or user is None or not known:
            self._audit(ANONYMOUS, "login_failed", f"user:{name}" if known else "login",
                        WRONG_PASSWORD if known else "unknown user", now)
            return None
        self.store.purge_sessions(now - self.idle, now - self.lifetime)
        token = secrets.token_urlsafe(32)
        session = SessionRecord(token_hash=token_hash(token), user=user.name,
                                csrf_token=secrets.token_urlsafe(32), created_at=now,
                                last_seen=now)
        self.store.save_session(session)
        self._audit(user.name, "logged_in", f"user:{user.name}", None, now)
        return NewSession(token, SignedIn(user, session))

    def locked(self, name: str, now: datetime) -> bool:
        """Whether the user's sign-in is locked by wrong passwords in a row (the throttle)."""
        since = now - self.throttle.window
        wrong = 0
        for entry in reversed(self.store.audit_about(f"user:{name}")):
            if entry.action == "logged_in" or entry.at < since:
                break
            if entry.action == "login_failed" and entry.note == WRONG_PASSWORD:
                wrong += 1
        return wrong >= self.throttle.failures

    def session(self, token: str | None) -> SignedIn | None:
        """The live session of a cookie's token; None when unknown, idle or too old.

        An idle or too old session is ended here. Each request starts the idle time again
        (written at most every few seconds).
        """
        if not token:
            return None
        digest = token_hash(token)
        session = self.store.get_session(digest)
        if session is None:
            return None
        now = self.clock()
        user = self.store.get_user(session.user)
        if now - session.last_seen > self.idle or now - session.created_at > self.lifetime \
                or user is None or user.role not in ROLES:
            self.store.delete_session(digest)
            return None
        if now - session.last_seen > min(timedelta(seconds=15), self.idle / 10):
            self.store.touch_session(digest, now)
            session = session.model_copy(update={"last_seen": now})
        return SignedIn(user, session)

    def sign_out(self, token: str | None) -> None:
        """End the session of ``token`` (audited with its user); nothing when there is none."""
        if not token:
            return
        session = self.store.get_session(token_hash(token))
        if session is None:
            return
        self.store.delete_session(session.token_hash)
        self._audit(session.user, "logged_out", f"user:{session.user}", None, self.clock())

    # Users

    def users(self, actor: UserRecord) -> list[UserRecord]:
        """Every user who may sign in (admin only)."""
        require(actor, "manage_users")
        return self.store.list_users()

    def add_user(self, actor: UserRecord, name: str, role: Role, password: str) -> UserRecord:
        """Add a user (admin only), audited with the admin as actor.

        Raises:
            AccountError: The name is taken or not valid, or the password is empty.
        """
        require(actor, "manage_users")
        try:
            return self.store.add_user(name, role, password, actor=actor.name)
        except (ValueError, UserExistsError) as exc:
            raise AccountError(str(exc)) from None

    def change_role(self, actor: UserRecord, name: str, role: Role) -> UserRecord:
        """Give a user another role (admin only), audited; the last admin stays one.

        Raises:
            AccountError: No such user, or it would leave the store without an admin.
        """
        require(actor, "manage_users")
        users = {u.name: u for u in self.store.list_users()}
        user = users.get(name)
        if user is None:
            raise AccountError(f"no user named {name}")
        admins = [u for u in users.values() if u.role == "admin"]
        if user.role == "admin" and role != "admin" and len(admins) == 1:
            raise AccountError("the last admin cannot be given another role; make another "
                               "user an admin first")
        # Sessions read the role again on every request: the change holds at once.
        return self.store.set_user_role(name, role, actor=actor.name)

    # The audit of what was seen

    def record_view(self, actor: UserRecord, note: str, letter_id: str | None = None,
                    subject: str | None = None) -> None:
        """Audit that ``actor`` was shown PHI: a letter, a denial or a worklist page.

        ``note`` says what (never the PHI itself).
        """
        self.store.append_audit(AuditEntry(
            letter_id=letter_id, subject=subject, actor=actor.name, at=self.clock(),
            action="viewed", hash_before=None, hash_after=None, note=note))

    def _audit(self, actor: str, action: Literal["logged_in", "logged_out", "login_failed"],
               subject: str, note: str | None, at: datetime) -> None:
        self.store.append_audit(AuditEntry(subject=subject, actor=actor or SYSTEM_USER, at=at,
                                           action=action, hash_before=None, hash_after=None,
                                           note=note))
