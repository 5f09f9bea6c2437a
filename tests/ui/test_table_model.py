"""RecordTableModel: lazy pages, SQL sort and search, the pending overlay, Qt's model tester."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from accessguard_gui.core import browse, rbac
from accessguard_gui.core.browse import TableSpec
from accessguard_gui.core.changes import Create, Delete, Entity, Update
from accessguard_gui.core.database import Database
from accessguard_gui.ui.pending import PendingStore
from accessguard_gui.ui.table_model import PAGE_SIZE, ItemRole, RecordTableModel, RowState
from accessguard_gui.ui.table_reads import FIRST_ROWS

STAMP = "2026-01-01 00:00:00.000000"


def add_users(path: Path, count: int, start: int = 0) -> None:
    """Bulk-insert users the fast way (the search index fills through its triggers)."""
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO users(username, username_key, display_name, email, active, created_at,"
            " updated_at, version) VALUES (?,?,?,?,?,?,?,1)",
            (
                (f"user{i:06d}", f"user{i:06d}", f"User {i:06d}", f"u{i}@example.org",
                 int(i % 3 != 0), STAMP, STAMP)
                for i in range(start, start + count)
            ),
        )
    con.close()


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.action("Seed") as s:
        rbac.add_user(s, "alice", "Alice Adams", email="alice@example.org")
        rbac.add_user(s, "bob", "Bob Brown")
        rbac.add_role(s, "Staff", "Everyone")
        rbac.add_resource(s, "Door A1", "Main door")
        rbac.add_permission(s, "Door A1", "open")
        rbac.assign_user(s, "alice", "Staff")
    return db


def loaded(model: RecordTableModel) -> RecordTableModel:
    model.ensure_loaded(0, model.rowCount() - 1)
    return model


def column(model: RecordTableModel, key: str) -> list[Any]:
    c = model.column_of(key)
    return [model.index(r, c).data() for r in range(model.rowCount())]


@pytest.mark.parametrize("spec", list(browse.SPECS.values()), ids=list(browse.SPECS))
def test_every_model_passes_qts_model_tester(
    seeded: Database, spec: TableSpec, qtmodeltester: Any
) -> None:
    model = loaded(RecordTableModel(seeded, spec, PendingStore()))
    qtmodeltester.check(model)
    assert model.rowCount() >= 1


def test_users_show_formatted_cells(seeded: Database) -> None:
    model = loaded(RecordTableModel(seeded, browse.USERS))
    assert column(model, "username") == ["alice", "bob"]
    assert column(model, "email") == ["alice@example.org", ""]
    active = model.column_of("active")
    assert model.index(0, active).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.counts() == (2, 2)


# ---------------------------------------------------------------------- 100,000 users


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """100,000 users, bulk-inserted (the search index fills through its triggers)."""
    path = tmp_path_factory.mktemp("big") / "big.db"
    Database(path, operator="tester").close()
    add_users(path, 100_000)
    database = Database(path, operator="tester")
    yield database
    database.close()


def expected_username(row: int, count: int = 100_000, descending: bool = False) -> str:
    return f"user{(count - 1 - row) if descending else row:06d}"


def test_a_large_table_reads_a_screenful_first_then_the_rest_of_its_first_page(
    big: Database, qtbot: Any
) -> None:
    """Opening a large table reads what a window shows (FIRST_ROWS rows): the rest of
    page 0 is read once the first paint is done, and a row past them that is asked
    for meanwhile (data, a record, a jump) reads the whole page."""
    model = RecordTableModel(big, browse.USERS)
    assert model.rowCount() == PAGE_SIZE and model.is_counting()  # "256+ users, counting…"
    assert model.index(FIRST_ROWS - 1, 0).data() == expected_username(FIRST_ROWS - 1)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda first, last: changed.append((first.row(), last.row())))
    with qtbot.waitSignal(model.counting_finished, timeout=20_000):
        pass
    qtbot.waitUntil(lambda: model.index(PAGE_SIZE - 1, 0).data() is not None)
    assert [model.index(r, 0).data() for r in range(PAGE_SIZE)] == [
        expected_username(r) for r in range(PAGE_SIZE)
    ]
    assert all(first >= FIRST_ROWS for first, _last in changed)  # shown rows stay as painted
    # Asked for before the rest arrived (nothing asked for from idle time here): a record
    # or a jump past the first rows reads the whole page at once.
    for asked in ("record", "jump"):
        again = RecordTableModel(big, browse.USERS)
        again._want = lambda _page: None  # type: ignore[method-assign]
        again.finish_counting()
        assert again.index(FIRST_ROWS + 10, 0).data() is None  # page 0 is still in part
        if asked == "record":
            record = again.record(FIRST_ROWS + 10)
            assert record is not None
            assert record.values["username"] == expected_username(FIRST_ROWS + 10)
        else:
            again.ensure_loaded(PAGE_SIZE - 2, PAGE_SIZE + 3)
        assert again.index(FIRST_ROWS + 10, 0).data() == expected_username(FIRST_ROWS + 10)
        assert again.index(PAGE_SIZE - 2, 0).data() == expected_username(PAGE_SIZE - 2)


def test_a_large_tables_sort_and_indexed_search_read_a_screenful_first(
    big: Database, qtbot: Any
) -> None:
    """A sort or a search whose count is known before its page is read shows its first
    FIRST_ROWS rows at once; the rest of page 0 follows from idle time."""
    model = RecordTableModel(big, browse.USERS)
    model.finish_counting()
    model.sort(0, Qt.SortOrder.DescendingOrder)
    model.wait_shown()
    assert model.rowCount() == 100_000
    assert model.index(FIRST_ROWS - 1, 0).data() == expected_username(
        FIRST_ROWS - 1, descending=True
    )
    qtbot.waitUntil(lambda: model.index(PAGE_SIZE - 1, 0).data() is not None)
    assert [model.index(r, 0).data() for r in range(PAGE_SIZE)] == [
        expected_username(r, descending=True) for r in range(PAGE_SIZE)
    ]
    model.set_search("user0123")  # user012300..user012399: the search index narrows it
    model.wait_shown()
    assert model.rowCount() == 100
    record = model.record(99)  # past the rows read first: reads the page
    assert record is not None and record.values["username"] == "user012300"
    assert model.index(99, 0).data() == "user012300"


def test_a_large_table_shows_its_count_and_loads_only_what_is_seen(
    big: Database, qtbot: Any
) -> None:
    model = RecordTableModel(big, browse.USERS, max_pages=8)
    with qtbot.waitSignal(model.anchors_ready, timeout=10_000):
        pass
    assert model.rowCount() == 100_000
    assert model.counts() == (100_000, 100_000)
    assert model.cached_pages() == 1
    assert model.known_anchors() >= 100_000 // PAGE_SIZE - 1
    # Rows far away are asked for by the view through data(); fetchMore loads them.
    index = model.index(50_000, 0)
    assert index.data() is None
    assert model.canFetchMore()
    with qtbot.waitSignal(model.dataChanged, timeout=5_000):
        pass
    assert not model.canFetchMore()
    assert index.data() == expected_username(50_000)
    # Reading every page keeps the cache bounded.
    for row in range(0, 100_000, 997):
        model.ensure_loaded(row)
        assert model.index(row, 0).data() == expected_username(row)
    assert model.cached_pages() <= 8


def test_sorting_a_large_table_happens_in_sql(big: Database) -> None:
    model = RecordTableModel(big, browse.USERS)
    user = model.column_of("username")
    model.sort(user, Qt.SortOrder.DescendingOrder)
    model.wait_ready()  # large: read off the GUI thread
    model.ensure_loaded(0, 2 * PAGE_SIZE + 5)
    assert [model.index(r, 0).data() for r in (0, 1, PAGE_SIZE, 2 * PAGE_SIZE + 5)] == [
        expected_username(r, descending=True) for r in (0, 1, PAGE_SIZE, 2 * PAGE_SIZE + 5)
    ]
    # Jump to the middle and the end without reading what lies between.
    model.ensure_loaded(60_000)
    model.ensure_loaded(99_999)
    assert model.index(60_000, 0).data() == expected_username(60_000, descending=True)
    assert model.index(99_999, 0).data() == "user000000"
    assert model.cached_pages() <= 5
    # Inactive users first (active is sorted, ties by id).
    model.sort(model.column_of("active"), Qt.SortOrder.AscendingOrder)
    model.wait_ready()  # large: read off the GUI thread
    model.ensure_loaded(33_333, 33_334)
    active = model.column_of("active")
    assert model.index(33_333, active).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert model.index(33_334, active).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.sort_column() == active


def test_searching_a_large_table_happens_in_sql(big: Database, qtbot: Any) -> None:
    model = RecordTableModel(big, browse.USERS)
    with qtbot.waitSignal(model.counts_changed) as blocker:
        model.set_search("ER0123")  # substring, any case: user012300..user012399
    assert blocker.args == [100, 100_000]
    loaded(model)
    names = column(model, "username")
    assert names[0] == "user012300" and names[-1] == "user012399"
    assert all("er0123" in n for n in names)
    model.set_search("User 09999")  # display name, prefix of ten
    model.wait_ready()
    assert model.rowCount() == 10
    model.set_search("")
    model.wait_ready()  # large: read off the GUI thread
    assert model.rowCount() == 100_000


def test_a_search_that_scans_shows_its_first_page_then_counts_from_idle_time(
    big: Database, qtbot: Any
) -> None:
    model = RecordTableModel(big, browse.USERS)
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append(last - first + 1))
    model.set_search("u9")  # two characters: no search index; e-mails u9…, u19…, …
    qtbot.waitUntil(lambda: not model.is_searching())  # the first page, off the GUI thread
    assert model.rowCount() == PAGE_SIZE and model.is_counting()
    assert model.index(0, 0).data() == "user000009"
    with qtbot.waitSignal(model.counting_finished, timeout=20_000):
        pass
    assert not model.is_counting()
    expected = sum(1 for i in range(100_000) if "9" in str(i) and f"u{i}".find("u9") >= 0)
    assert model.counts() == (expected, 100_000)
    assert sum(inserted) == expected - PAGE_SIZE
    model.ensure_loaded(expected - 1)
    assert model.index(expected - 1, 0).data() == "user099999"


def test_row_for_id_finds_a_row_far_away(big: Database) -> None:
    model = RecordTableModel(big, browse.USERS)
    model.sort(model.column_of("display_name"), Qt.SortOrder.DescendingOrder)
    model.wait_ready()  # large: read off the GUI thread
    row = model.row_for_id(12_346)  # user012345
    assert row == 100_000 - 1 - 12_345
    assert model.id_at(row) == 12_346
    record = model.record(row)
    assert record is not None and record.values["username"] == "user012345"


# ---------------------------------------------------------------------- refresh


def test_refresh_keeps_sort_and_search_and_sees_new_rows(seeded: Database, qtbot: Any) -> None:
    model = RecordTableModel(seeded, browse.USERS)
    model.sort(0, Qt.SortOrder.DescendingOrder)
    model.set_search("b")
    assert column(loaded(model), "username") == ["bob"]
    with seeded.action("Add") as s:
        rbac.add_user(s, "barbara")
    with qtbot.waitSignal(model.counts_changed) as blocker:
        model.refresh()
    assert blocker.args == [2, 3]
    assert column(loaded(model), "username") == ["bob", "barbara"]


# ---------------------------------------------------------------------- pending overlay


@pytest.fixture
def editing(seeded: Database) -> tuple[RecordTableModel, PendingStore]:
    store = PendingStore()
    return loaded(RecordTableModel(seeded, browse.USERS, store)), store


def test_set_data_pushes_a_validated_update(editing: Any, qtbot: Any) -> None:
    model, store = editing
    name = model.index(0, model.column_of("display_name"))
    with qtbot.waitSignal(model.dataChanged):
        assert model.setData(name, "  Alice Cooper ")
    (edit,) = store.edits()
    assert edit == Update(Entity.USER, model.id_at(0), 1, {"display_name": "Alice Cooper"},
                          "alice", before={"display_name": "Alice Adams"})
    assert edit.describe() == "Change user alice: display name Alice Adams \u2192 Alice Cooper"
    assert name.data() == "Alice Cooper"
    assert name.data(Qt.ItemDataRole.FontRole).bold()
    assert name.data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(0, 0).data(Qt.ItemDataRole.FontRole) is None  # unchanged cell
    assert model.row_state(0) is RowState.CHANGED
    assert model.record(0).values["display_name"] == "Alice Adams"  # the stored snapshot
    store.undo()
    assert name.data() == "Alice Adams"
    assert name.data(Qt.ItemDataRole.FontRole) is None


def test_an_invalid_value_is_refused_with_a_reason(editing: Any, qtbot: Any) -> None:
    model, store = editing
    with qtbot.waitSignal(model.edit_refused) as blocker:
        assert not model.setData(model.index(0, 0), "no spaces allowed")
    assert "Username" in blocker.args[0]
    assert store.is_empty()
    assert model.setData(model.index(0, 0), "alice")  # unchanged value: nothing pending
    assert store.is_empty()


def test_the_active_check_box_edits_through_the_check_state(editing: Any) -> None:
    model, store = editing
    active = model.index(1, model.column_of("active"))
    assert model.flags(active) & Qt.ItemFlag.ItemIsUserCheckable
    assert not model.flags(active) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(active, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert active.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert store.pending_values(Entity.USER, model.id_at(1)) == {"active": False}
    created = model.index(0, model.column_of("created_at"))
    assert not model.flags(created) & Qt.ItemFlag.ItemIsEditable


def test_deleted_new_and_failed_rows_look_different(editing: Any, qtbot: Any) -> None:
    model, store = editing
    bob = model.id_at(1)
    store.push(Delete(Entity.USER, bob, 1, "bob"))
    assert model.index(1, 0).data(Qt.ItemDataRole.FontRole).strikeOut()
    assert not model.flags(model.index(1, 0)) & Qt.ItemFlag.ItemIsEditable
    assert model.row_state(1) is RowState.DELETED
    with qtbot.waitSignal(model.rowsInserted) as blocker:
        store.push(Create(Entity.USER, {"username": "zoe", "display_name": "Zoe"}))
    assert blocker.args[1:] == [0, 0]
    assert model.rowCount() == 3
    assert model.index(0, 0).data() == "zoe"
    assert model.index(0, 0).data(ItemRole.STATE) == "new"
    assert model.created_edit(0) is not None and model.record(0) is None
    assert model.index(0, model.column_of("active")).data(
        Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.index(2, 0).data() == "bob"  # stored rows move down
    assert model.headerData(0, Qt.Orientation.Vertical) == "+"
    delete = store.edits()[0]
    store.mark_failed(delete, "Someone else changed bob meanwhile.")
    assert model.index(2, 0).data(Qt.ItemDataRole.ToolTipRole) == (
        "Someone else changed bob meanwhile.")
    assert model.row_state(2) is RowState.FAILED
    with qtbot.waitSignal(model.rowsRemoved):
        store.undo()
    assert model.rowCount() == 2
    store.clear()
    assert model.row_state(1) is RowState.STORED


def test_without_a_pending_store_nothing_is_editable(seeded: Database) -> None:
    model = loaded(RecordTableModel(seeded, browse.USERS))
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(model.index(0, 0), "carl")


def test_data_for_unhandled_roles_does_not_leak_none(editing: Any) -> None:
    """PySide6 6.12.0 dropped a reference to None for every None a model returned,
    until the interpreter died in none_dealloc. Through Qt, a thousand times."""
    model, _store = editing
    index = model.index(0, 0)
    roles = [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.WhatsThisRole,
             Qt.ItemDataRole.SizeHintRole, Qt.ItemDataRole.CheckStateRole]
    assert all(index.data(role) is None for role in roles)
    before = sys.getrefcount(None)
    for _ in range(1000):
        for role in roles:
            index.data(role)
        model.index(1, 1).data(Qt.ItemDataRole.FontRole)
    # A leak loses one reference per call (5,000 here); a few come and go with frames.
    assert before - sys.getrefcount(None) < 50


def test_a_view_paints_the_first_page(big: Database, qtbot: Any) -> None:
    model = RecordTableModel(big, browse.USERS)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 600)
    view.show()
    view.grab()
    view.scrollToBottom()
    qtbot.waitUntil(lambda: model.index(99_999, 0).data() == "user099999")
    assert model.cached_pages() <= 3


def test_sorting_while_a_search_is_being_counted_still_counts_it(
    big: Database, qtbot: Any
) -> None:
    model = RecordTableModel(big, browse.USERS)
    model.set_search("u9")
    qtbot.waitUntil(lambda: not model.is_searching())
    assert model.is_counting()
    model.sort(model.column_of("email"), Qt.SortOrder.DescendingOrder)
    with qtbot.waitSignal(model.counting_finished, timeout=20_000):
        pass
    assert model.counts() == (11_111, 100_000)
    model.ensure_loaded(0)
    assert model.index(0, model.column_of("email")).data() == "u9@example.org"  # "@" sorts after digits


def test_a_search_with_few_matches_keeps_their_order_and_finds_rows(big: Database) -> None:
    model = RecordTableModel(big, browse.USERS)
    model.set_search("er01")  # user01xxxx: 10,000 matches, found through the search index
    model.wait_ready()
    assert model.counts() == (10_000, 100_000)
    model.sort(model.column_of("username"), Qt.SortOrder.DescendingOrder)
    model.wait_ready()  # large: read off the GUI thread
    model.ensure_loaded(9_999)
    assert model.index(9_999, 0).data() == "user010000"
    assert model.row_for_id(10_001) == 9_999  # user010000 has id 10,001
    model.ensure_loaded(0, 3 * PAGE_SIZE)
    assert column(model, "username")[: 3 * PAGE_SIZE] == [
        f"user{19_999 - i:06d}" for i in range(3 * PAGE_SIZE)
    ]


def test_the_model_tester_passes_with_pending_edits_and_a_search(
    seeded: Database, qtmodeltester: Any
) -> None:
    store = PendingStore()
    model = loaded(RecordTableModel(seeded, browse.USERS, store))
    store.push(Create(Entity.USER, {"username": "zoe"}))
    store.push(Delete(Entity.USER, model.id_at(2), 1, "bob"))
    store.push(Update(Entity.USER, model.id_at(1), 1, {"active": False}, "alice"))
    qtmodeltester.check(model)
    model.set_search("ali")
    qtmodeltester.check(model)
    assert model.rowCount() == 2  # the new row stays on top of the search result
