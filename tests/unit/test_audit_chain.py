"""The audit of the event log (issue 6 item 4): hash chain, tampering, state at a moment,
export. A real store on a temp SQLite file, tampered with through sqlite3 directly."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_controller import audit, user_services
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError


@pytest.fixture
def store(tmp_path: Path) -> tuple[Pbx, Path]:
    path = tmp_path / "pbx.sqlite"
    app = Pbx(f"sqlite:///{path}")
    app.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol")):
        app.add_user(None, ext, name)
    user_services.set_dnd(app, None, "101", True)
    user_services.set_dnd(app, None, "102", True)
    user_services.set_dnd(app, None, "101", False)
    assert app.last_position() == 7
    return app, path


def sealed(store: tuple[Pbx, Path], every: int = 3) -> tuple[Pbx, Path]:
    app, _path = store
    assert audit.Sealer(app, checkpoint_every=every).seal() == app.last_position()
    return store


def tamper(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


def finding(app: Pbx, offsite: dict[int, bytes] | None = None) -> tuple[int, str] | None:
    report = audit.verify(app, offsite)
    return None if report.finding is None else (report.finding.position, report.finding.kind)


def shift(path: Path, from_id: int, by: int) -> None:
    """Renumber the rows from ``from_id`` on by ``by`` (what hiding an insert or delete in
    SQLite takes: its ids are dense)."""
    tamper(path,
           f"UPDATE pbx_events SET id = id + 1000000 WHERE id >= {from_id}",
           f"UPDATE pbx_events SET id = id - 1000000 + ({by}) WHERE id >= 1000000")


FORGED = ("INSERT INTO pbx_events (id, originator_id, originator_version, topic, state) "
          "SELECT {id}, originator_id, 99, topic, state FROM pbx_events WHERE id = 2")


# -- the chain ---------------------------------------------------------------------------------
def test_a_sealed_log_verifies_with_a_summary_and_checkpoints(store: tuple[Pbx, Path]) -> None:
    app, _ = sealed(store)
    report = audit.verify(app)
    assert report.intact
    assert (report.events, report.sealed, report.unsealed, report.checkpoints) == (7, 7, 0, 2)
    assert report.summary().startswith(
        "chain intact: 7 sealed events intact up to position 7; 2 checkpoint(s) match")
    assert [(c.position, c.events) for c in audit.checkpoints(app)] == [(3, 3), (6, 6)]
    # sealing again adds nothing; new events are sealed where the chain left off
    assert audit.Sealer(app, checkpoint_every=3).seal() == 0
    user_services.set_dnd(app, None, "103", True)
    report = audit.verify(app)
    assert report.intact and report.unsealed == 1 and "1 newer event(s) not sealed yet" in \
        report.summary()
    assert audit.Sealer(app, checkpoint_every=3).seal() == 1
    assert audit.verify(app).sealed == 8


def test_two_sealers_at_once_write_each_position_once(store: tuple[Pbx, Path]) -> None:
    app, _ = store
    first = audit.Sealer(app, checkpoint_every=3, batch=2)
    second = audit.Sealer(app, checkpoint_every=3, batch=2)
    assert first._seal_batch() == 2
    assert second.seal() == 5  # from the head the first one wrote
    assert first.seal() == 0  # its own idea of the head was stale: it looks again
    assert audit.verify(app).intact
    assert [c.position for c in audit.checkpoints(app)] == [3, 6]


def test_chain_rows_that_do_not_fit_stop_the_sealer_with_a_clear_error(
        store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    tamper(path, "DELETE FROM event_chain WHERE position >= 4")  # checkpoint 6 kept
    with pytest.raises(ValidationError, match="do not fit the chain"):
        audit.Sealer(app, checkpoint_every=3).seal()


def test_each_link_covers_the_previous_link_and_every_column_of_its_row() -> None:
    base = audit.link(audit.GENESIS, 1, b"\x01" * 16, 1, b"topic", b"state")
    assert len(base) == 32
    assert base != audit.link(b"\x00" * 32, 1, b"\x01" * 16, 1, b"topic", b"state")
    assert base != audit.link(audit.GENESIS, 2, b"\x01" * 16, 1, b"topic", b"state")
    assert base != audit.link(audit.GENESIS, 1, b"\x02" * 16, 1, b"topic", b"state")
    assert base != audit.link(audit.GENESIS, 1, b"\x01" * 16, 2, b"topic", b"state")
    assert base != audit.link(audit.GENESIS, 1, b"\x01" * 16, 1, b"topicX", b"state")
    assert base != audit.link(audit.GENESIS, 1, b"\x01" * 16, 1, b"topic", b"statX")
    # a byte moved from the topic to the state is a different link (lengths are hashed)
    assert base != audit.link(audit.GENESIS, 1, b"\x01" * 16, 1, b"topi", b"cstate")


def test_a_changed_event_is_named_at_its_position(store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    tamper(path, "UPDATE pbx_events SET state = replace(state, 'Bob', 'Rob') WHERE id = 3")
    assert finding(app) == (3, "changed")
    assert audit.verify(app).finding.line() == (  # type: ignore[union-attr]
        "position 3: changed event: its hash differs from the sealed chain")


def test_a_changed_version_or_originator_is_a_changed_event(store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    tamper(path, "UPDATE pbx_events SET originator_version = 7 WHERE id = 6")
    assert finding(app) == (6, "changed")
    tamper(path, "UPDATE pbx_events SET originator_version = 3 WHERE id = 6",
           "UPDATE pbx_events SET originator_id = X'00112233445566778899aabbccddeeff' "
           "WHERE id = 5")
    assert finding(app) == (5, "changed")


def test_a_deleted_event_is_named_where_the_gap_is(store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    tamper(path, "DELETE FROM pbx_events WHERE id = 4")
    assert finding(app) == (4, "deleted")


def test_deleting_the_last_events_is_caught(store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    tamper(path, "DELETE FROM pbx_events WHERE id >= 6")
    assert finding(app) == (6, "deleted")


def test_a_deleted_event_with_the_later_ones_moved_down_is_named(store: tuple[Pbx, Path]
                                                                  ) -> None:
    app, path = sealed(store)
    tamper(path, "DELETE FROM pbx_events WHERE id = 4")
    shift(path, 5, -1)
    report = audit.verify(app)
    assert (report.finding.position, report.finding.kind) == (4, "deleted")  # type: ignore
    assert "moved down" in report.finding.detail  # type: ignore[union-attr]


def test_an_inserted_forged_row_is_named_at_its_position(store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    shift(path, 4, +1)  # make room at 4, as SQLite's dense ids require
    tamper(path, FORGED.format(id=4))
    report = audit.verify(app)
    assert (report.finding.position, report.finding.kind) == (4, "inserted")  # type: ignore
    assert "moved up" in report.finding.detail  # type: ignore[union-attr]


def test_a_forged_row_in_a_gap_of_the_log_is_an_unknown_notification_id(tmp_path: Path) -> None:
    # PostgreSQL's sequences leave gaps; a forged row put in one is a position the chain
    # does not know
    path = tmp_path / "pbx.sqlite"
    app = Pbx(f"sqlite:///{path}")
    app.create_enterprise("Acme", "acme.example")
    for ext in ("101", "102", "103"):
        app.add_user(None, ext, f"User {ext}")
    tamper(path, "DELETE FROM pbx_events WHERE id = 2")  # the gap, before sealing
    audit.Sealer(app).seal()
    assert audit.verify(app).intact
    tamper(path, FORGED.format(id=2).replace("WHERE id = 2", "WHERE id = 3"))
    assert finding(app) == (2, "inserted")


def test_a_rewritten_chain_is_caught_by_its_checkpoints_or_by_offsite_ones(
        store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    offsite = audit.parse_checkpoints(
        f"{c.position} {c.events} {c.hash} {c.sealed_at}" for c in audit.checkpoints(app))
    # an attacker changes an event and rewrites its link and every link after it ...
    tamper(path, "UPDATE pbx_events SET state = replace(state, 'Bob', 'Rob') WHERE id = 3",
           "DELETE FROM event_chain WHERE position >= 3")
    audit.Sealer(app, checkpoint_every=1000).seal()
    # ... but not the checkpoints table: the checkpoint at 3 no longer matches
    assert finding(app) == (3, "checkpoint")
    # with the checkpoints table rewritten too, only the copy kept elsewhere tells
    tamper(path, "DELETE FROM event_checkpoints")
    assert audit.verify(app).intact
    assert finding(app, offsite) == (3, "checkpoint")
    assert "off-site checkpoint" in audit.verify(app, offsite).finding.detail  # type: ignore


def test_cutting_the_chain_back_with_the_log_is_caught_by_offsite_checkpoints(
        store: tuple[Pbx, Path]) -> None:
    app, path = sealed(store)
    offsite = {c.position: bytes.fromhex(c.hash) for c in audit.checkpoints(app)}
    tamper(path, "DELETE FROM pbx_events WHERE id >= 5", "DELETE FROM event_chain "
           "WHERE position >= 5", "DELETE FROM event_checkpoints WHERE position >= 5")
    assert audit.verify(app).intact  # the store alone cannot tell
    assert finding(app, offsite) == (6, "checkpoint")


def test_offsite_checkpoints_are_read_from_the_printed_table() -> None:
    text = ("POSITION  EVENTS  HASH  SEALED AT\n"
            f"1000  1000  {'ab' * 32}  2026-11-26T05:44:04+00:00\n")
    assert audit.parse_checkpoints(text.splitlines()) == {1000: bytes.fromhex("ab" * 32)}
    with pytest.raises(ValidationError, match="no checkpoints found"):
        audit.parse_checkpoints(["nothing here"])


# -- the verify walk, as a property over any single tampering ----------------------------------
def _rows(n: int) -> list[tuple[int, bytes, int, bytes, bytes]]:
    return [(i, i.to_bytes(16, "big"), 1, b"t.Event", b'{"n":%d}' % i) for i in range(1, n + 1)]


def _chain(rows: list[tuple[int, bytes, int, bytes, bytes]]) -> list[tuple[int, bytes]]:
    prev, out = audit.GENESIS, []
    for row in rows:
        prev = audit.link(prev, *row)
        out.append((row[0], prev))
    return out


def _walk(rows: list[Any], chain: list[tuple[int, bytes]]) -> tuple[int, str] | None:
    """``audit._walk`` over lists, as ``verify`` feeds it from SQL: each row joined to the
    link sealed at its position."""
    links = dict(chain)
    ids = {row[0] for row in rows}
    missing = [p for p, _h in chain if p not in ids]

    def next_link(position: int) -> tuple[int, bytes] | None:
        return next(((p, h) for p, h in chain if p > position), None)

    report = audit.Report(last_sealed=chain[-1][0] if chain else 0)
    joined = iter([(*row, links.get(row[0])) for row in rows])
    audit._walk(report, joined, min(missing, default=None), {}, {}, next_link)
    return None if report.finding is None else (report.finding.position, report.finding.kind)


def _changed(rows: list[Any], i: int) -> list[Any]:
    pos, oid, ver, topic, state = rows[i]
    return [*rows[:i], (pos, oid, ver, topic, state + b" "), *rows[i + 1:]]


def _deleted(rows: list[Any], i: int) -> list[Any]:
    return rows[:i] + rows[i + 1:]


def _deleted_moved(rows: list[Any], i: int) -> list[Any]:
    return rows[:i] + [(r[0] - 1, *r[1:]) for r in rows[i + 1:]]


def _inserted_moved(rows: list[Any], i: int) -> list[Any]:
    forged = (rows[i][0], b"\xff" * 16, 1, b"t.Forged", b"{}")
    return [*rows[:i], forged, *[(r[0] + 1, *r[1:]) for r in rows[i:]]]


TAMPERINGS: dict[str, tuple[Callable[[list[Any], int], list[Any]], str]] = {
    "change": (_changed, "changed"),
    "delete": (_deleted, "deleted"),
    "delete and move down": (_deleted_moved, "deleted"),
    "insert and move up": (_inserted_moved, "inserted"),
}


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), data=st.data(), how=st.sampled_from(sorted(TAMPERINGS)))
def test_any_single_tampering_is_named_at_its_position(n: int, data: st.DataObject,
                                                       how: str) -> None:
    rows = _rows(n)
    chain = _chain(rows)
    assert _walk(rows, chain) is None
    i = data.draw(st.integers(0, n - 1))
    change, kind = TAMPERINGS[how]
    found = _walk(change(rows, i), chain)
    position = i + 1
    if how == "delete and move down" and i == n - 1:
        kind = "deleted"  # the last one: nothing moved, a plain gap at the end
    assert found == (position, kind)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 30), extra=st.integers(1, 5))
def test_events_after_the_last_seal_are_not_a_finding(n: int, extra: int) -> None:
    rows = _rows(n + extra)
    assert _walk(rows, _chain(rows[:n])) is None


# -- the configuration at a moment -------------------------------------------------------------
def test_state_at_a_time_between_two_changes(store: tuple[Pbx, Path]) -> None:
    app, _ = store
    stamps = {pos: event.timestamp for pos, event in app.events_after(0)}
    between = stamps[5] + (stamps[6] - stamps[5]) / 2  # after 101's DND on, before 102's
    found = audit.directory_at(app, between)
    ent = found.directory.enterprise_named("Acme")
    assert ent is not None
    users = {u.extension: u for u in found.directory.users_of(ent.id)}
    assert (users["101"].dnd, users["102"].dnd) == (True, False)
    assert (found.position, found.folded, found.last_at) == (5, 5, stamps[5])
    later = audit.directory_at(app, stamps[7])
    assert {u.extension: u.dnd for u in later.directory.users_of(ent.id)} == {
        "101": False, "102": True, "103": False}
    before = audit.directory_at(app, stamps[1] - timedelta(seconds=1))
    assert before.directory.enterprises == {} and before.position == 0


def test_moments_parse_with_and_without_offset() -> None:
    assert audit.parse_moment("2026-11-26") == datetime(2026, 11, 26, tzinfo=UTC)
    assert audit.parse_moment("2026-11-26", end_of_day=True) == datetime(
        2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC)
    assert audit.parse_moment("2026-11-26 14:05") == datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
    assert audit.parse_moment("2026-11-26T15:05:00+01:00") == datetime(
        2026, 11, 26, 14, 5, tzinfo=UTC)
    assert audit.parse_moment("2026-11-26T14:05:00Z") == datetime(
        2026, 11, 26, 14, 5, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", "26-11-2026", ""):
        with pytest.raises(ValidationError, match="not a timestamp"):
            audit.parse_moment(bad)


# -- export ------------------------------------------------------------------------------------
def test_export_writes_json_lines_of_the_range_without_secret_hashes(tmp_path: Path) -> None:
    app = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice", password="s3cret-pass", pin="1234")
    user_services.set_dnd(app, None, "101", True)
    stamps = {pos: event.timestamp for pos, event in app.events_after(0)}
    out = io.StringIO()
    assert audit.export(app, stamps[1], stamps[3], out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["position"] for line in lines] == [1, 2, 3]
    created = lines[1]
    assert created["topic"] == "esl_controller.domain.users:User.UserCreated"
    assert created["version"] == 1 and created["timestamp"] == stamps[2].isoformat()
    assert created["data"]["extension"] == "101" and created["data"]["name"] == "Alice"
    assert not [key for key in created["data"] if "hash" in key]
    assert "s3cret" not in out.getvalue()
    assert lines[2]["data"] == {"on": True}
    assert lines[2]["originator"] == created["originator"]
    # only what lies in the range
    out = io.StringIO()
    assert audit.export(app, stamps[2], stamps[2], out) == 1
    assert json.loads(out.getvalue())["position"] == 2
    # a reversed range is refused before anything is written
    out = io.StringIO()
    with pytest.raises(ValidationError, match="reversed"):
        audit.export(app, stamps[3], stamps[1], out)
    assert out.getvalue() == ""
