"""The rules for names, e-mail addresses and lengths; each check returns the cleaned value.

Every check trims surrounding whitespace first, so "  alice " and "alice" are the same
name, then refuses with a ValidationError naming the field and the reason.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ValidationError
from .lookalike import is_invisible, joiner_allowed

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
OPERATOR_MAX = 64
#: Combining marks in a row after one letter: enough for any script (Vietnamese, Tamil,
#: Hebrew with cantillation use two or three), not for "Zalgo" text stacked off the line.
MARKS_IN_A_ROW_MAX = 4

# Usernames end up in logs, scripts and other systems: keep them to portable ASCII.
_USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
# Role and resource names are read by people: letters of any script (with their combining
# marks: Hindi, Tamil, Thai, Arabic and Hebrew vowel signs), digits, spaces and a little
# punctuation; no control or invisible characters, no quotes that break reports.
_NAME_PUNCTUATION = frozenset(" .,:/&()+#'-_")
_ACTION_RE = re.compile(r"[a-z][a-z0-9_.:-]*")
# Deliberately simple: one @, no spaces, a dot in the domain. RFC 5322 in full accepts
# addresses no mail system delivers to and people never type.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _has_control(text: str, *, allow_newlines: bool = False) -> bool:
    if text.isascii() and text.isprintable():  # most names: no per-character walk (imports)
        return False
    for index, ch in enumerate(text):
        if allow_newlines and ch in "\n\t":
            continue
        if joiner_allowed(text, index):  # a joiner that shapes the letters around it
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


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"


def _name_characters_ok(text: str) -> bool:
    """Letters or digits first; then letters, combining marks (a few in a row at most),
    digits, spaces and the listed punctuation."""
    if unicodedata.category(text[0])[0] not in "LN":
        return False
    marks = 0
    for index, ch in enumerate(text[1:], start=1):
        if joiner_allowed(text, index):
            continue
        kind = unicodedata.category(ch)
        if kind[0] == "M":
            marks += 1
            if marks > MARKS_IN_A_ROW_MAX:
                return False
            continue
        marks = 0
        if kind[0] in "LN" or ch in _NAME_PUNCTUATION:
            continue
        return False
    return True


def _name(field: str, label: str, value: object, limit: int) -> str:
    text = _required(field, label, value, limit, collapse_spaces=True)
    hidden = next(
        (ch for i, ch in enumerate(text) if is_invisible(ch) and not joiner_allowed(text, i)),
        None,
    )
    if hidden is not None:
        raise ValidationError(
            field,
            f"{label} contains an invisible character ({_describe(hidden)}): "
            "names must show every character they hold.",
        )
    if not _name_characters_ok(text) or _has_control(text):
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


def operator(value: object) -> str:
    """The name the audit trail records as "who" (the OS user by default): refused unless
    it is short, visible text. See ``safe_operator`` for the form used when it is not."""
    text = _required("operator", "Operator name", value, OPERATOR_MAX)
    bad = next((ch for ch in text if _has_control(ch) or is_invisible(ch)), None)
    if bad is not None:
        raise ValidationError(
            "operator", f"Operator name contains a control or invisible character ({_describe(bad)})."
        )
    return text


def safe_operator(value: object) -> tuple[str, str | None]:
    """The operator name to record, and why it differs from ``value`` (None: unchanged).

    The environment says who the user is ($LOGNAME, $USER...): anything at all. Control,
    bidi, format and invisible characters are written as ``\\uXXXX`` (visible, and the
    original stays recoverable), then the name is cut to ``OPERATOR_MAX`` characters
    ("…" marks the cut); empty becomes "unknown". Never raises: an odd environment must
    not stop anyone from working, but it must not forge or flood the audit trail either.
    """
    raw = value if isinstance(value, str) else ""
    try:
        return operator(raw), None
    except ValidationError as exc:
        reason = exc.message
    if len(raw.strip()) > OPERATOR_MAX:  # the length was the first complaint: the rest too
        bad = next((ch for ch in raw[: OPERATOR_MAX * 8] if _has_control(ch) or is_invisible(ch)), None)
        if bad is not None:
            reason += f" It contains a control or invisible character ({_describe(bad)})."
    # At most what can survive the cut is looked at: a 1 MB name costs nothing here.
    text = unicodedata.normalize("NFC", raw[: OPERATOR_MAX * 8]).strip()
    shown = "".join(
        f"\\u{ord(ch):04x}" if (_has_control(ch) or is_invisible(ch)) else ch for ch in text
    )
    if len(shown) > OPERATOR_MAX or len(raw) > OPERATOR_MAX * 8:
        shown = shown[: OPERATOR_MAX - 1] + "\u2026"
    if not shown:
        shown = "unknown"
    return shown, f"{reason} The audit trail records it as \u201c{shown}\u201d."


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
