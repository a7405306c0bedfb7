"""Password hashes: argon2id (RFC 9106 defaults of argon2-cffi), never the password itself."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id is the default type


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with its parameters) to store."""
    return _hasher().hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash.

    A missing hash (the system user) never matches, and still costs one hash so the answer's
    timing does not tell which names exist.
    """
    if stored_hash is None:
        _hasher().hash(password)
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
