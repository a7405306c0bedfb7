"""Who is reviewing: the configured user, checked against the store.

The CLI acts as ``APPEALS_USER`` or, when that is not set, the ``[review] user`` of the
configuration; a web UI will pass its logged-in user to the same check. The built-in
``system`` user is never a reviewer: only ``--auto-approve`` acts as it, through
:meth:`agent.review.actions.ReviewActions.apply` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from agent.config import AppConfig
from agent.review.actions import ReviewError
from agent.store.protocols import Store
from agent.store.records import SYSTEM_USER, UserRecord

ADD_ONE = ("add one with `appeals users add NAME --role auditor` and set APPEALS_USER=NAME "
           "(or `user = \"NAME\"` under [review] in --config)")


class IdentityError(ReviewError):
    """No reviewer configured, or not one the store knows (a usage error: exit 2)."""


def configured_user(config: AppConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """``APPEALS_USER``, else the configuration's ``[review] user``, else None."""
    env = os.environ if environ is None else environ
    return (env.get("APPEALS_USER") or "").strip() or config.review.user


def reviewer(store: Store, name: str | None) -> UserRecord:
    """The store's user ``name``, who may review; :class:`IdentityError` otherwise."""
    if not name:
        raise IdentityError(f"no reviewer is configured; {ADD_ONE}")
    if name == SYSTEM_USER:
        raise IdentityError(f"the {SYSTEM_USER!r} user only auto-approves (`appeals run "
                            "--auto-approve`); review as a person")
    user = store.get_user(name)
    if user is None:
        raise IdentityError(f"no user {name!r} in this store; {ADD_ONE}")
    if user.role == "system":
        raise IdentityError(f"user {name!r} cannot review")
    return user
