"""Argon2id password hashing (argon2-cffi); plain passwords are never stored or logged.

argon2 is imported on first use, not with this module: the app imports the rules (and so
this module) at start, but hashes only when someone sets or checks a password.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    # argon2-cffi's defaults are RFC 9106's "low memory" profile (t=3, m=64 MiB, p=4),
    # Argon2id.
    return PasswordHasher(type=Type.ID)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password_hash(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; False for a wrong password or an unreadable hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    from argon2.exceptions import InvalidHashError

    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
