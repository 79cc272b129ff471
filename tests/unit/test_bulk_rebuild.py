"""Bulk rebuild of the SQL read models (issue 6): one pass over the log, folded in memory,
written once, must give exactly the rows the live, event-by-event fold gives."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commands.main  # noqa: F401  (the CLI's registry of read models)
from commands.projections_cmd import NAMES, rebuild_all
from esl_controller import audit, user_services
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.domain.recordings import Recording
from esl_controller.domain.users import User
from esl_controller.privacy import CallLogPurge
from projections import bulk
from projections.blf import BlfBulk, BlfProjection
from projections.call_log import CallLogBulk, CallLogProjection
from projections.recording_index import RecordingIndexProjection
from projections.tracking import Follower, SqlProjection

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
USERS = ("101", "102", "103", "104")


class Phones:
    """Writes calls the way the ESL session does: the Call aggregate, saved per step."""

    def __init__(self, app: Pbx, enterprise_id: UUID) -> None:
        self.app, self.enterprise_id, self.now = app, enterprise_id, T0

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def start(self, caller: str, callee: str, internal: bool = True,
              enterprise: bool = True, target: str | None = "") -> Call:
        call = Call(str(uuid4()), self.enterprise_id if enterprise else None, caller,
                    caller if internal else None, callee, "internal" if internal else "inbound",
                    f"sofia/internal/{caller}@acme.example", self.tick())
        call.route("internal", callee if target == "" else target,
                   [{"service": "alerting", "rule": "all", "detail": "ring"}])
        self.app.save(call)
        return call

    def alert(self, call: Call, *targets: str) -> None:
        call.alert(list(targets), self.tick())
        self.app.save(call)

    def answer(self, call: Call, by: str) -> None:
        call.answer(by, self.tick())
        call.bridge(f"sofia/internal/{by}", self.now)
        self.app.save(call)

    def dial(self, call: Call, number: str) -> None:
        call.dial(number, "redial")
        self.app.save(call)

    def end(self, call: Call, outcome: str = "answered", cause: str = "NORMAL_CLEARING") -> None:
        at = self.tick(30)
        call.end(cause, outcome, at, 31.5, 29.0 if outcome == "answered" else 0.0)
        self.app.save(call)


def _app(path: Path) -> tuple[Pbx, UUID]:
    app = Pbx(f"sqlite:///{path}/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    for ext in USERS:
        app.add_user(None, ext, f"User {ext}")
    return app, app.enterprise(None).id


@pytest.fixture()
def pbx(tmp_path: Path) -> Iterator[tuple[Pbx, UUID]]:
    app, eid = _app(tmp_path)
    yield app, eid
    app.close()


def _record(app: Pbx, eid: UUID, ext: str, call: Call, other: str, at: datetime,
            seconds: float, kept: bool | None) -> None:
    user_id = User.create_id(eid, ext)
    rec = Recording(str(call.id), eid, user_id, ext, other, "inbound", "always",
                    f"/var/rec/{call.id}.wav", "90d", at)
    rec.pause(at + timedelta(seconds=1))
    rec.resume(at + timedelta(seconds=2))
    rec.stop(at + timedelta(seconds=seconds), seconds, "call-ended")
    if kept is True:
        rec.keep(at + timedelta(seconds=seconds))
    elif kept is False:
        rec.discard(at + timedelta(seconds=seconds))
    app.save(rec)


def mixed_day(app: Pbx, eid: UUID) -> None:
    """A working day: answered, unanswered, busy, forwarded, hunted and cancelled calls,
    outsiders, calls still going, DND and privacy switched, a user removed and given back,
    a redial, recordings kept and discarded, and a retention run in the middle."""
    phones = Phones(app, eid)
    answered = phones.start("101", "102")
    phones.alert(answered, "102")
    phones.answer(answered, "102")
    _record(app, eid, "102", answered, "101", phones.now, 20.0, True)
    phones.end(answered)
    missed = phones.start("102", "103")
    phones.alert(missed, "103")
    phones.end(missed, "no-answer", "NO_ANSWER")
    old = phones.now
    phones.tick(3600 * 24)
    app.save(CallLogPurge(old, 2, phones.now))  # retention: the calls above go
    busy = phones.start("103", "101")
    phones.end(busy, "busy", "USER_BUSY")
    forwarded = phones.start("104", "101")  # 101 forwards to 103, who answers
    phones.alert(forwarded, "101")
    phones.alert(forwarded, "103")
    phones.answer(forwarded, "103")
    phones.end(forwarded)
    hunted = phones.start("+31205550199", "600", internal=False, target=None)
    phones.alert(hunted, "101", "102", "103")
    phones.alert(hunted, "102", "103")  # the next round: 101 stops ringing
    phones.answer(hunted, "103")
    _record(app, eid, "103", hunted, "+31205550199", phones.now, 60.0, False)
    phones.end(hunted)
    cancelled = phones.start("+31205550123", "104", internal=False)
    phones.alert(cancelled, "104")
    phones.end(cancelled, "cancelled", "ORIGINATOR_CANCEL")
    user_services.set_dnd(app, None, "102", True)
    over_dnd = phones.start("102", "104")  # a user on DND still places calls
    phones.dial(over_dnd, "104")
    phones.alert(over_dnd, "104")
    phones.answer(over_dnd, "104")
    phones.end(over_dnd)
    user_services.set_privacy(app, None, "104", True)
    private = phones.start("101", "104")
    phones.alert(private, "104")
    user_services.set_privacy(app, None, "104", False)
    phones.end(private, "no-answer", "NO_ANSWER")
    user_services.set_dnd(app, None, "103", True)
    app.remove_user(None, "103")  # the DND lamp goes off with the user
    nowhere = phones.start("101", "103")
    phones.alert(nowhere, "103")
    phones.end(nowhere, "unavailable", "USER_NOT_REGISTERED")
    app.add_user(None, "103", "Carol Again")  # reinstated, under a new name
    again = phones.start("103", "101")
    phones.alert(again, "101")
    phones.answer(again, "101")
    phones.end(again)
    stray = phones.start("999", "101", enterprise=False)  # no enterprise: nobody to log
    phones.end(stray)
    going = phones.start("101", "104")  # still in progress at the rebuild
    phones.alert(going, "104")
    phones.answer(going, "104")
    ringing = phones.start("+31205550777", "102", internal=False)
    phones.alert(ringing, "102")
    group = phones.start("+31205550778", "600", internal=False, target=None)
    phones.alert(group, "103", "102")
    phones.answer(group, "103")  # 102 stops ringing for this call, still rings for the other
    user_services.set_privacy(app, None, "101", True)


def _live(app: Pbx, projection: SqlProjection[Any]) -> Any:
    """The view as the worker keeps it: the follower's own event-by-event path."""
    follower = Follower(app, projection, batch=7)
    follower.catch_up()
    state = follower.state()
    follower.close()
    return state


def _bulk(app: Pbx, *projections: SqlProjection[Any]) -> list[Any]:
    followers = [Follower(app, p) for p in projections]
    done = bulk.rebuild(app, followers)
    assert done is not None
    states = [f.state() for f in followers]
    for f in followers:
        f.close()
    return states


def test_bulk_rebuild_gives_the_rows_the_live_fold_gives(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    mixed_day(app, eid)
    live_log, live_blf = _live(app, CallLogProjection()), _live(app, BlfProjection())
    # the day is what it claims: every kind of entry, lamps of every state, a call going on
    entries = live_log["call_log_entries"]
    assert {row[2] for row in entries} == {"placed", "received", "missed"}
    assert len(live_log["call_log_active"]) == 3
    assert {row[3] for row in live_blf["blf_lines"]} == {"busy", "ringing", "dnd"}
    assert len(live_blf["blf_private"]) == 1
    assert "User 103" in str(entries) and "Carol Again" in str(entries)  # name at the time

    rebuilt_log, rebuilt_blf = _bulk(app, CallLogProjection(), BlfProjection())
    assert rebuilt_log == live_log
    assert rebuilt_blf == live_blf

    # the tracking position moved with the rows: the next events fold on top exactly once
    phones = Phones(app, eid)
    later = phones.start("104", "101")
    phones.alert(later, "101")
    phones.end(later, "no-answer", "NO_ANSWER")
    follower = Follower(app, CallLogProjection())
    assert follower.catch_up() == 3
    follower.close()
    log_after = _live(app, CallLogProjection())
    assert len(log_after["call_log_entries"]) == len(entries) + 2


def test_rebuild_all_compares_every_read_model_and_finds_them_equal(
        pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    mixed_day(app, eid)
    for name in NAMES:
        _live(app, NAMES[name]())
    results = rebuild_all(app, jobs=2)  # the others in a child process meanwhile
    assert {r.name for r in results} == {*NAMES, "directory"}
    assert all(r.equal for r in results), [r for r in results if not r.equal]
    by_name = {r.name: r for r in results}
    assert by_name["call_log"].size > 0 and by_name["blf"].size > 0
    assert by_name["recording_index"].folded == 10  # two recordings, five events each
    # a view that was tampered with is found: the rebuild is really compared
    follower = Follower(app, CallLogProjection())
    with follower.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE call_log_entries SET talk = talk + 1")
    follower.close()
    [log] = [r for r in rebuild_all(app, jobs=1) if r.name == "call_log"]
    assert not log.equal


def test_a_handler_the_fold_lacks_sends_the_rebuild_event_by_event(
        pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx

    class Grown(CallLogProjection):  # someone adds a handler but not its bulk twin
        def on_CallHeld(self, conn: Any, e: Any) -> list[None]:
            return []

    assert bulk.fold_for(CallLogProjection()) is not None
    assert bulk.fold_for(Grown()) is None
    assert bulk.fold_for(RecordingIndexProjection()) is None  # none written
    assert bulk.rebuild(app, [Follower(app, Grown())]) is None
    mixed_day(app, eid)
    result = audit.rebuild(app, "call_log", Grown)
    assert result.equal and result.folded > 0


def test_a_failed_bulk_rebuild_leaves_the_old_view_and_position(
        pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    mixed_day(app, eid)
    before = _live(app, BlfProjection())

    class Broken(BlfBulk):
        def on_CallEnded(self, key: str, d: dict[str, Any]) -> None:
            raise RuntimeError("disk full")

    class Failing(BlfProjection):
        def bulk_fold(self) -> BlfBulk:
            return Broken()

    follower = Follower(app, Failing())
    position = follower.position
    with pytest.raises(RuntimeError, match="disk full"):
        bulk.rebuild(app, [follower])
    assert follower.position == position == app.last_position()
    assert follower.state() == before
    follower.close()


def test_the_bulk_fold_refuses_a_second_entry_as_the_table_key_would() -> None:
    fold = CallLogBulk()
    eid = str(uuid4())
    call = str(uuid4())
    at = {"_type_": "datetime_iso", "_data_": "2025-03-03T09:00:00+00:00"}
    offer = {"enterprise_id": {"_type_": "uuid_hex", "_data_": UUID(eid).hex}, "caller": "101",
             "caller_user": "101", "destination": "102", "at": at}
    ended = {"duration": 1, "talk": 0, "cause": "NO_ANSWER", "outcome": "no-answer"}
    fold.on_CallOffered(call, offer)
    fold.on_CallEnded(call, ended)
    assert [(r[1], r[2], r[6]) for r in fold.rows()["call_log_entries"]] == [
        ("101", "placed", "2025-03-03T09:00:00.000000+00:00")]
    fold.on_CallOffered(call, offer)
    with pytest.raises(ValueError, match="second placed entry"):
        fold.on_CallEnded(call, ended)


OPS = st.lists(
    st.tuples(st.integers(0, 8), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
    min_size=8, max_size=40,
)


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=OPS)
def test_bulk_equals_live_for_any_sequence_of_calls_and_switches(
        ops: list[tuple[int, int, int, int]]) -> None:
    parties = [*USERS, "105", "+31205550100"]  # 105 is nobody; the last an outsider
    with tempfile.TemporaryDirectory() as tmp:
        app, eid = _app(Path(tmp))
        phones = Phones(app, eid)
        calls: list[Call] = []
        removed: set[str] = set()
        for op, a, b, c in ops:
            who, other = parties[a], parties[b]
            if op == 0 or not calls:
                calls.append(phones.start(who, other, internal=who in USERS,
                                          target=other if c % 3 else None))
                continue
            call = calls[c % len(calls)]
            if op == 1:
                phones.alert(call, *{parties[a], parties[b]})
            elif op == 2:
                phones.answer(call, who)
            elif op == 3:
                phones.end(call, ("answered", "no-answer", "busy")[a % 3])
                calls.remove(call)
            elif op == 4:
                phones.dial(call, other)
            elif op == 5 and who in USERS and who not in removed:
                user_services.set_dnd(app, None, who, bool(b % 2))
            elif op == 6 and who in USERS and who not in removed:
                user_services.set_privacy(app, None, who, bool(b % 2))
            elif op == 7 and who in USERS:
                if who in removed:
                    app.add_user(None, who, f"Back {who}")
                    removed.discard(who)
                else:
                    app.remove_user(None, who)
                    removed.add(who)
            elif op == 8:
                app.save(CallLogPurge(phones.tick(), 0, phones.now))
        live = [_live(app, CallLogProjection()), _live(app, BlfProjection())]
        assert _bulk(app, CallLogProjection(), BlfProjection()) == live
        app.close()


@pytest.mark.pg
def test_bulk_rebuild_on_postgresql_equals_live(pg_url: str) -> None:
    app = Pbx(pg_url)
    app.create_enterprise("Acme", "acme.example")
    for ext in USERS:
        app.add_user(None, ext, f"User {ext}")
    eid = app.enterprise(None).id
    mixed_day(app, eid)
    live = [_live(app, CallLogProjection()), _live(app, BlfProjection())]
    assert _bulk(app, CallLogProjection(), BlfProjection()) == live
    results = rebuild_all(app, jobs=1)
    assert all(r.equal for r in results), [r for r in results if not r.equal]
    app.close()
