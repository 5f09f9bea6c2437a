"""The search box takes any text literally: quotes, %, _, backslashes, SQL, any script.

Oracle: a row whose text holds the typed term (letters of either case where SQLite
compares case-insensitively: ASCII) must be found; a row that does not hold it under any
case folding must not be. Checked on both search plans (LIKE scan and FTS5 candidates).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessguard_gui.core import browse, lookup, rbac
from accessguard_gui.core.database import Database

PEOPLE = [
    ("zoe", "Zoë Ärzte-Müller", "zoe@example.org"),
    ("bob", 'Bob 100%_sure \\ "quoted"', None),
    ("ann", "Ann O'Brien; DROP TABLE users; --", "ann.o@example.org"),
    ("per", "Per Ørsted ÅÄÖ", None),
    ("sigma", "ΣΊΣΥΦΟΣ σίσυφος", None),
    ("under_score", "Under_Score 50% off", "under_score@example.org"),
    ("ivan", "Иван Петров", None),
    ("li", "李小龍", "li@example.cn"),
]
ROLES = [
    "Ärzte",
    "Staff",
    "Öffentlichkeit",
    "Finance (100+)",
    "O'Brien team",
    "Ωmega",
    "Ärztekammer",
]
SEARCH = {p[0]: " ".join(x for x in p if x) for p in PEOPLE}


def sql_lower(text: str) -> str:
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def must_find(term: str, fields: list[str]) -> bool:
    """The term as typed, with ASCII letters in either case (what LIKE promises)."""
    return any(sql_lower(term) in sql_lower(f) for f in fields)


def may_find(term: str, fields: list[str]) -> bool:
    """The term under any case folding."""
    return any(
        t in f
        for f in fields
        for t, f in ((term.lower(), f.lower()), (term.casefold(), f.casefold()), (term, f))
    )


@pytest.fixture(scope="module")
def search_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(tmp_path_factory.mktemp("search") / "search.db", operator="t")
    with db.action("Seed") as s:
        for username, display, email in PEOPLE:
            rbac.add_user(s, username, display, email=email)
        for role in ROLES:
            rbac.add_role(s, role)
    try:
        yield db
    finally:
        db.close()


def substrings() -> st.SearchStrategy[str]:
    """Pieces of the stored text, as typed in the case the user happens to use."""
    texts = [t for p in PEOPLE for t in p if t] + ROLES
    return st.tuples(
        st.sampled_from(texts), st.integers(0, 30), st.integers(1, 12), st.integers(0, 3)
    ).map(lambda x: _cased(x[0][x[1] : x[1] + x[2]] or x[0], x[3]))


def _cased(text: str, how: int) -> str:
    return [text, text.lower(), text.upper(), text.swapcase()][how]


terms = st.one_of(
    substrings(),
    st.sampled_from(
        ["%", "_", "\\", "'", '"', "%_", "\\%", "100%", "' OR 1=1 --", "*", "NEAR", "a\x00b"]
    ),
    st.text(max_size=8),
)

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(term=terms)
def test_user_search_is_literal_on_both_plans(search_db: Database, term: str) -> None:
    query = browse.USERS.default_query().searching(term)
    typed = query.term
    with search_db.read() as s:
        for plan in (browse.Plan.SCAN, browse.Plan.INDEXED):
            if plan is browse.Plan.INDEXED and len(typed) < browse.FTS_MIN_CHARS:
                continue
            rows = browse.fetch_page(s, browse.USERS, query, plan=plan, limit=100)
            found = {r[3] for r in rows}  # first cell: the username
            assert browse.count(s, browse.USERS, query, plan=plan) == len(found)
            for username, display, email in PEOPLE:
                fields = [username, display, email or ""]
                if not typed:
                    assert username in found
                elif must_find(typed, fields):
                    assert username in found, (plan, typed, username)
                elif username in found:
                    assert may_find(typed, fields), (plan, typed, username)


@SETTINGS
@given(term=terms)
def test_role_lookup_is_literal(search_db: Database, term: str) -> None:
    typed = term.strip()
    with search_db.read() as s:
        found = {c.label for c in lookup.search_roles(s, term)}
    for role in ROLES:
        if not typed:
            assert role in found
        elif must_find(typed, [role]):
            assert role in found, (typed, role)
        elif role in found:
            assert may_find(typed, [role]), (typed, role)
