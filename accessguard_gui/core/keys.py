"""What "the same name, ignoring case" means: the stored key every name is unique by."""

from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    """The comparison key of a username or a role, resource or SSD set name.

    NFC (so "A\\u0308rzte" typed with a combining accent is "Ärzte"), then Unicode case
    folding, then NFC again (folding can decompose). Computed in Python and stored in a
    ``*_key`` column with a UNIQUE index, because SQLite's lower() folds ASCII only: an
    index on lower(name) let "Ärzte" and "ärzte" both exist. The same rule on every
    database, for uniqueness and for every lookup by name.
    """
    folded = unicodedata.normalize("NFC", name.strip()).casefold()
    return unicodedata.normalize("NFC", folded)
