"""The rules for names, e-mail addresses and lengths; each check returns the cleaned value.

Every check trims surrounding whitespace first, so "  alice " and "alice" are the same
name, then refuses with a ValidationError naming the field and the reason.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ValidationError

USERNAME_MAX = 64
DISPLAY_NAME_MAX = 200
EMAIL_MAX = 254
ROLE_NAME_MAX = 100
RESOURCE_NAME_MAX = 200
ACTION_MAX = 64
DESCRIPTION_MAX = 2000
SSD_NAME_MAX = 100
PASSWORD_MIN = 8
PASSWORD_MAX = 1024

# Usernames end up in logs, scripts and other systems: keep them to portable ASCII.
_USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
# Role and resource names are read by people: letters of any script, digits, spaces and a
# little punctuation; no control characters, no quotes that break reports.
_NAME_RE = re.compile(r"[^\W_][\w .,:/&()+#'-]*")
_ACTION_RE = re.compile(r"[a-z][a-z0-9_.:-]*")
# Deliberately simple: one @, no spaces, a dot in the domain. RFC 5322 in full accepts
# addresses no mail system delivers to and people never type.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _has_control(text: str, *, allow_newlines: bool = False) -> bool:
    for ch in text:
        if allow_newlines and ch in "\n\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return True
    return False


def _required(
    field: str, label: str, value: object, limit: int, *, collapse_spaces: bool = False
) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"{label} must be text.")
    # NFC: "é" typed as e + combining accent (macOS, some paste sources) is the same name
    # as the precomposed "é" — for lookups, duplicates and the character rules alike.
    text = unicodedata.normalize("NFC", value).strip()
    if collapse_spaces:
        text = re.sub(r" {2,}", " ", text)
    if not text:
        raise ValidationError(field, f"{label} must not be empty.")
    if len(text) > limit:
        raise ValidationError(
            field, f"{label} is too long: {len(text)} characters, at most {limit} allowed."
        )
    return text


def username(value: object) -> str:
    text = _required("username", "Username", value, USERNAME_MAX)
    if not _USERNAME_RE.fullmatch(text):
        raise ValidationError(
            "username",
            "Username may contain only letters A\u2013Z, digits and . _ @ - "
            "and must start with a letter or digit.",
        )
    return text


def display_name(value: object) -> str:
    text = _required("display_name", "Display name", value, DISPLAY_NAME_MAX)
    if _has_control(text):
        raise ValidationError("display_name", "Display name contains control characters.")
    return text


def email(value: object) -> str | None:
    """An optional e-mail address: empty means none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("email", "E-mail must be text.")
    text = value.strip()
    if not text:
        return None
    if len(text) > EMAIL_MAX:
        raise ValidationError("email", f"E-mail is too long: at most {EMAIL_MAX} characters.")
    if not _EMAIL_RE.fullmatch(text) or _has_control(text):
        raise ValidationError("email", f"\u201c{text}\u201d is not an e-mail address.")
    return text


def _name(field: str, label: str, value: object, limit: int) -> str:
    text = _required(field, label, value, limit, collapse_spaces=True)
    if not _NAME_RE.fullmatch(text) or _has_control(text):
        raise ValidationError(
            field,
            f"{label} may contain letters, digits, spaces and . , : / & ( ) + # ' - "
            "and must start with a letter or digit.",
        )
    return text


def role_name(value: object) -> str:
    return _name("name", "Role name", value, ROLE_NAME_MAX)


def resource_name(value: object) -> str:
    return _name("name", "Resource name", value, RESOURCE_NAME_MAX)


def ssd_name(value: object) -> str:
    return _name("name", "Separation-of-duty set name", value, SSD_NAME_MAX)


def action(value: object) -> str:
    """Actions are lower-case identifiers ("read", "open", "approve-invoice")."""
    text = _required("action", "Action", value, ACTION_MAX).lower()
    if not _ACTION_RE.fullmatch(text):
        raise ValidationError(
            "action",
            "Action may contain only letters a\u2013z, digits and _ . : - "
            "and must start with a letter.",
        )
    return text


def description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("description", "Description must be text.")
    # Windows line ends (pasted text, imported files) are line ends, not control characters.
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.strip()
    if len(text) > DESCRIPTION_MAX:
        raise ValidationError(
            "description", f"Description is too long: at most {DESCRIPTION_MAX} characters."
        )
    if _has_control(text, allow_newlines=True):
        raise ValidationError("description", "Description contains control characters.")
    return text


def cardinality(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("cardinality", "Cardinality must be a whole number.")
    if value < 2:
        raise ValidationError(
            "cardinality", "Cardinality must be at least 2 (a user may hold at most n\u22121 roles)."
        )
    return value


def password(value: object) -> str:
    """Passwords are not trimmed: spaces are part of a passphrase."""
    if not isinstance(value, str):
        raise ValidationError("password", "Password must be text.")
    if len(value) < PASSWORD_MIN:
        raise ValidationError(
            "password", f"Password is too short: at least {PASSWORD_MIN} characters."
        )
    if len(value) > PASSWORD_MAX:
        raise ValidationError(
            "password", f"Password is too long: at most {PASSWORD_MAX} characters."
        )
    if "\x00" in value:
        raise ValidationError("password", "Password contains a NUL character.")
    return value
