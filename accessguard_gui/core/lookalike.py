"""Names that look the same: the UTS #39 confusable skeleton every name is compared by.

"Аdmins" (Cyrillic А) next to "Admins", "𝐀dmins" (mathematical bold) or "paypa1" next to
"paypal" read as the same name to a person approving access. Each user, role, resource and
SoD set stores ``skeleton_key(name)`` in an indexed ``*_skeleton`` column (migration 0005);
a new or renamed record whose key equals another record's is refused, naming that record
(``rbac`` for single edits; an importer checks whole batches with the same key and column).

The skeleton is Unicode's (UTS #39 §4, data of ``confusables_data``): NFD, default-ignorable
code points dropped, every character replaced by its prototype, NFD again. Names are unique
ignoring case, so the key folds case too: ``skeleton(casefold(skeleton(name)))`` — the
first pass maps a capital I to l before folding would turn it into i.

No library fits: ``confusable-homoglyphs`` (2024) answers "is this character confusable"
without the skeleton's direction, ``confusables`` (2021, unmaintained) approximates with
regular expressions. The table is generated from Unicode's own file
(resources/make_confusables.py) and parsed on first use (~10 ms), not at start-up.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import DuplicateError

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible in every font.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Blank-looking characters that are letters or symbols, not ignorables (fillers).
BLANK_LOOKING = frozenset({0x2800, 0x3164, 0xFFA0, 0x115F, 0x1160, 0x16FE4})


def is_default_ignorable(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in DEFAULT_IGNORABLE)


def is_invisible(ch: str) -> bool:
    """A character that shows nothing: default-ignorable, a format character or a filler."""
    return (
        is_default_ignorable(ch)
        or ord(ch) in BLANK_LOOKING
        or unicodedata.category(ch) == "Cf"
    )


ZWNJ = "\u200c"
ZWJ = "\u200d"


@cache
def _joining() -> tuple[frozenset[int], frozenset[int]]:
    """Arabic-script letters that join on the left (dual-joining) and on the right.

    Python has no Joining_Type property; the presentation forms carry it: a letter with
    an initial or medial form joins the next letter, one with a final or medial form
    joins the previous one. Covers Arabic, Persian, Urdu and Pashto letters; letters
    without presentation forms are treated as non-joining (a joiner beside them is refused).
    """
    left: set[int] = set()
    right: set[int] = set()
    for code in range(0xFB50, 0xFF00):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) != 2:
            continue
        form, base = parts[0], parts[1:]
        letter = int(base[0], 16)
        if form in ("<initial>", "<medial>"):
            left.add(letter)
        if form in ("<final>", "<medial>"):
            right.add(letter)
    return frozenset(left), frozenset(right)


def _neighbour(text: str, index: int, step: int) -> str | None:
    """The nearest character before (step -1) or after (+1) ``index`` that is not a
    transparent combining mark."""
    index += step
    while 0 <= index < len(text):
        if unicodedata.category(text[index]) not in ("Mn", "Me"):
            return text[index]
        index += step
    return None


def joiner_allowed(text: str, index: int) -> bool:
    """Whether the ZWNJ/ZWJ at ``text[index]`` changes what the name looks like.

    IDNA's CONTEXTJ rules (RFC 5892 A.1, A.2): either joiner right after a virama (Hindi,
    Tamil, Malayalam conjuncts), and a ZWNJ between a letter that joins on the left and
    one that joins on the right (Persian "می‌خواهم"). Anywhere else a joiner shows
    nothing and could only tell two identical-looking names apart, so it stays refused.
    """
    ch = text[index]
    if ch not in (ZWNJ, ZWJ):
        return False
    if index > 0 and unicodedata.combining(text[index - 1]) == 9:  # virama
        return True
    if ch == ZWJ:
        return False
    before, after = _neighbour(text, index, -1), _neighbour(text, index, 1)
    if before is None or after is None:
        return False
    left, right = _joining()
    return ord(before) in left and ord(after) in right


@cache
def _prototypes() -> dict[int, str | None]:
    """A ``str.translate`` table: code point -> prototype, ignorables -> None (dropped)."""
    from .confusables_data import MAPPINGS

    table: dict[int, str | None] = {}
    for line in MAPPINGS.splitlines():
        source, target = line.split(";")
        table[int(source, 16)] = "".join(chr(int(cp, 16)) for cp in target.split())
    for low, high in DEFAULT_IGNORABLE:
        for code in range(low, high + 1):
            table[code] = None
    return table


def skeleton(text: str) -> str:
    """UTS #39 skeleton(X): what ``text`` looks like, as the prototype characters."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", decomposed.translate(_prototypes()))


def skeleton_key(name: str) -> str:
    """The key two names share when a reader could take one for the other, ignoring case.

    NFKC first: fullwidth and mathematical letters are compatibility variants, which
    UTS #39 leaves to normalization rather than to the confusables table. Stored in the
    ``*_skeleton`` columns; computed the same way by every writer.
    """
    first = skeleton(unicodedata.normalize("NFKC", name.strip()))
    return skeleton(first.casefold())


def differing_characters(name: str, other: str) -> list[str]:
    """The characters of ``name`` that ``other`` lacks, described for a message
    ("Cyrillic “А” U+0410"); at most five."""
    theirs = set(unicodedata.normalize("NFC", other))
    shown: list[str] = []
    for ch in dict.fromkeys(unicodedata.normalize("NFC", name)):
        if ch in theirs or ch.casefold() in theirs or ch.upper() in theirs:
            continue
        label = unicodedata.name(ch, "").title() or "character"
        glyph = "" if is_invisible(ch) else f"\u201c{ch}\u201d "
        shown.append(f"{glyph}U+{ord(ch):04X} {label}".strip())
        if len(shown) == 5:
            break
    return shown


def refuse_lookalike(
    session: Session,
    model: Any,
    name: str,
    exclude_id: int | None,
    kind: str,
    field: str = "name",
) -> None:
    """Raise DuplicateError when another record's name looks like ``name``.

    One indexed lookup on the ``*_skeleton`` column. The message names the existing
    record and the characters that differ, so the person sees why two different strings
    count as one name.

    Args:
        model: User, Role, Resource or SsdSet (a mapped class with ``*_skeleton``).
        exclude_id: the record being renamed (it may keep looking like itself).
        kind: what a person calls one ("role", "separation-of-duty set").
    """
    is_user = hasattr(model, "username_skeleton")
    skeleton_column = model.username_skeleton if is_user else model.name_skeleton
    name_column = model.username if is_user else model.name
    query = select(name_column).where(skeleton_column == skeleton_key(name))
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    existing = session.scalar(query.limit(1))
    if existing is None:
        return
    differing = differing_characters(name, existing)
    detail = (
        f" It differs only in look-alike characters: {', '.join(differing)}." if differing else ""
    )
    raise DuplicateError(
        f"\u201c{name}\u201d looks the same as the existing {kind} \u201c{existing}\u201d."
        f"{detail} Choose a name that reads differently.",
        field=field,
    )
