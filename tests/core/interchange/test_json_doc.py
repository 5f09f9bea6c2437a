"""The JSON organisation document: records survive a write and a streaming read exactly;
malformed documents are refused with file:line; memory does not grow with the file."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessguard_gui.core.interchange import json_doc
from accessguard_gui.core.interchange.json_doc import JsonDocumentError, JsonSource
from accessguard_gui.core.interchange.records import (
    PermissionRecord,
    Record,
    ResourceRecord,
    RoleParentRecord,
    RolePermissionRecord,
    RoleRecord,
    SourceProblem,
    SsdSetRecord,
    SsdSetRoleRecord,
    UserRecord,
    UserRoleRecord,
)

text = st.text(min_size=1, max_size=30)
maybe = st.none() | st.text(max_size=40)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)

ORGANISATION = st.tuples(
    st.lists(st.builds(UserRecord, text, maybe, maybe, st.none() | st.booleans(), maybe)),
    st.lists(st.builds(RoleRecord, text, maybe)),
    st.lists(st.builds(RoleParentRecord, text, text)),
    st.lists(st.builds(ResourceRecord, text, maybe)),
    st.lists(st.builds(PermissionRecord, text, text, maybe)),
    st.lists(st.builds(UserRoleRecord, text, text, st.none() | moments)),
    st.lists(st.builds(RolePermissionRecord, text, text, text)),
    st.lists(st.builds(SsdSetRecord, text, st.integers(2, 10**6), maybe)),
    st.lists(st.builds(SsdSetRoleRecord, text, text)),
)


def _write(records: list[Record]) -> str:
    out = io.StringIO()
    json_doc.write_document(records, out, exported_at=datetime(2026, 11, 30, tzinfo=UTC))
    return out.getvalue()


def _read(document: str, name: str = "org.json") -> list[tuple[int, Record | SourceProblem]]:
    return [(o.line, r) for o, r in json_doc.read_document(io.StringIO(document), name)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ORGANISATION)
def test_every_record_survives_a_write_and_a_read(sections: tuple[list[Record], ...]) -> None:
    records = [r for section in sections for r in section]
    document = _write(records)
    assert json.loads(document)["format"] == "accessguard-organisation"  # plain JSON too
    assert [r for _, r in _read(document)] == records


@settings(max_examples=20, deadline=None)
@given(ORGANISATION, st.integers(1, 97))
def test_reading_in_tiny_chunks_gives_the_same_records(
    sections: tuple[list[Record], ...], chunk: int
) -> None:
    """Entries, strings and numbers cut at any chunk boundary are read whole."""
    records = [r for section in sections for r in section]
    document = _write(records)
    default = json_doc.CHUNK_CHARS
    json_doc.CHUNK_CHARS = chunk
    try:
        assert [r for _, r in _read(document)] == records
    finally:
        json_doc.CHUNK_CHARS = default


def test_each_record_carries_the_line_its_entry_starts_on() -> None:
    document = (
        '{"format": "accessguard-organisation", "version": 1,\n'
        ' "users": [\n'
        '   {"username": "alice"},\n'
        '   {"username": "bob",\n'
        '    "active": false}\n'
        ' ],\n'
        ' "user_roles": [{"username": "bob", "role": "Staff",\n'
        '                 "expires_at": "2027-01-31T00:00:00+01:00"}]}\n'
    )
    assert _read(document) == [
        (3, UserRecord("alice")),
        (4, UserRecord("bob", active=False)),
        (7, UserRoleRecord("bob", "Staff", datetime(2027, 1, 30, 23, tzinfo=UTC))),
    ]


def test_a_written_document_is_documented_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    json_doc.write_file([UserRecord("alice", "Alice", None, True, None),
                         UserRoleRecord("alice", "Staff", datetime(2027, 1, 1, tzinfo=UTC))],
                        path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "accessguard-organisation" and data["version"] == 1
    assert data["users"] == [{"username": "alice", "display_name": "Alice", "active": True}]
    assert data["user_roles"][0]["expires_at"] == "2027-01-01T00:00:00Z"
    assert json_doc.looks_like_document(path.read_bytes())


def test_unknown_fields_are_reported_and_wrong_types_refuse_the_entry() -> None:
    document = (
        '{"format": "accessguard-organisation", "version": 1, "users": [\n'
        '{"username": "alice", "emial": "a@example.org"},\n'
        '{"username": "bob", "active": "yes"},\n'
        '{"display_name": "Nobody"}]}'
    )
    got = _read(document)
    assert got[0][0] == 2 and isinstance(got[0][1], SourceProblem)
    assert not got[0][1].refuses and "'emial'" in got[0][1].message
    assert got[1] == (2, UserRecord("alice"))
    assert got[2][0] == 3 and isinstance(got[2][1], SourceProblem) and got[2][1].refuses
    assert "true or false" in got[2][1].message
    assert got[3][0] == 4 and "without 'username'" in got[3][1].message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("", "org.json:1: the file is empty"),
        ("[]", "org.json:1: expected a JSON object"),
        ('{"format": "keycloak-realm", "version": 1}', "not an AccessGuard"),
        ('{"format": "accessguard-organisation", "version": 2}', "version 2"),
        ('{"version": 1, "users": []}', "no \"format\""),
        ('{"format": "accessguard-organisation", "version": 1,\n"groups": []}',
         "org.json:2: unknown section 'groups'"),
        ('{"format": "accessguard-organisation", "version": 1, "users": [\n{"username": "a"},\n'
         '{"username": "b"\n', "org.json:4: not valid JSON: Expecting ',' delimiter .in the value starting on line 3"),
        ('{"format": "accessguard-organisation", "version": 1, "users": {"a": 1}}',
         "a list"),
        ('{"format": "accessguard-organisation", "version": 1} trailing',
         "text after the end"),
    ],
)
def test_malformed_documents_are_refused_with_file_and_line(document: str, says: str) -> None:
    with pytest.raises(JsonDocumentError, match=says.replace("(", r"\(")):
        _read(document)


def test_bad_encoding_is_refused_and_a_bom_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_bytes(b'\xef\xbb\xbf{"format": "accessguard-organisation", "version": 1,\r\n'
                     b'"roles": [{"name": "Caf\xc3\xa9"}]}')
    assert [r for _, r in JsonSource(path).records()] == [RoleRecord("Café")]
    path.write_bytes(b'{"format": "accessguard-organisation", "version": 1,\n'
                     b'"roles": [{"name": "Caf\xe9"}]}')
    with pytest.raises(JsonDocumentError, match="not UTF-8"):
        list(JsonSource(path).records())


def test_one_endless_entry_is_refused_without_reading_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json_doc, "MAX_ENTRY_CHARS", 10_000)
    huge = '{"format": "accessguard-organisation", "version": 1, "roles": [{"name": "' + (
        "x" * 1_000_000
    )
    with pytest.raises(JsonDocumentError, match="longer than 10,000 characters"):
        _read(huge)


def test_a_large_document_streams_in_flat_memory(tmp_path: Path) -> None:
    """200,000 users are written and read back without holding the document (the
    reader's buffer stays about one chunk)."""
    path = tmp_path / "big.json"
    n = 200_000
    users = (UserRecord(f"user{i:06d}", f"User {i}", None, i % 7 != 0, None) for i in range(n))
    assert json_doc.write_file(users, path) == n
    biggest = 0
    scanner_init = json_doc._Scanner.__init__
    scanners: list[json_doc._Scanner] = []

    def spy(self: json_doc._Scanner, *args: object) -> None:
        scanner_init(self, *args)  # type: ignore[arg-type]
        scanners.append(self)

    json_doc._Scanner.__init__ = spy  # type: ignore[method-assign]
    try:
        count = 0
        for _origin, record in JsonSource(path).records():
            assert isinstance(record, UserRecord)
            count += 1
            biggest = max(biggest, len(scanners[0]._buf))
    finally:
        json_doc._Scanner.__init__ = scanner_init  # type: ignore[method-assign]
    assert count == n
    assert path.stat().st_size > 10 * json_doc.CHUNK_CHARS
    assert biggest <= 2 * json_doc.CHUNK_CHARS


def test_times_without_a_zone_are_utc() -> None:
    document = ('{"format": "accessguard-organisation", "version": 1, "user_roles": '
                '[{"username": "a", "role": "b", "expires_at": "2027-01-01T10:00:00"}]}')
    (_, record), = _read(document)
    assert isinstance(record, UserRoleRecord)
    assert record.expires_at == datetime(2027, 1, 1, 10, tzinfo=UTC)
    assert record.expires_at.utcoffset() == timedelta(0)


def test_a_folder_is_not_a_json_target(tmp_path: Path) -> None:
    from accessguard_gui.core.interchange.table_export import ExportWriteError

    with pytest.raises(ExportWriteError, match="is a folder"):
        json_doc.write_file([UserRecord("ann")], tmp_path)
