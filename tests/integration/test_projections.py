"""SQL projections on a real SQLite file: what a user's call list and lamps show."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import gevent
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from projections.blf import (
    BlfProjection,
    LineChange,
    line_states,
    presence_headers,
    read_line_states,
)
from projections.call_log import CallLogProjection, entries, read_entries
from projections.directory import TOPICS as DIRECTORY_TOPICS
from projections.directory import Directory
from projections.tracking import Follower
from tests.conftest import wait_until

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Scenario:
    """Writes one call's events the way the ESL session does, one save per step."""

    app: Pbx
    enterprise_id: UUID
    clock: Clock
    positions: list[int] = field(default_factory=list)

    def start(
        self, caller: str, destination: str, caller_user: str | None, direction: str = "inbound"
    ) -> Call:
        call = Call(
            call_uuid=str(uuid4()),
            enterprise_id=self.enterprise_id,
            caller=caller,
            caller_user=caller_user,
            destination=destination,
            direction=direction,
            channel=f"sofia/internal/{caller}@acme.example",
            at=self.clock.tick(),
        )
        return self.save(call)

    def save(self, call: Call) -> Call:
        recordings = self.app.save(call)
        self.positions.extend(r.notification.id for r in recordings)
        return call

    def route(self, call: Call, kind: str, target: str | None) -> Call:
        call.route(kind, target, [{"service": "alerting", "rule": "all", "detail": "ring"}])
        return self.save(call)

    def alert(self, call: Call, *targets: str) -> Call:
        call.alert(list(targets), self.clock.tick())
        return self.save(call)

    def answer(self, call: Call, by: str) -> Call:
        call.answer(by, self.clock.tick(2))
        call.bridge(by, self.clock.now)
        return self.save(call)

    def end(self, call: Call, cause: str, outcome: str, talk: float = 0.0) -> Call:
        at = self.clock.tick(talk or 5)
        call.end(cause, outcome, at, (at - call.offered_at).total_seconds(), talk)
        return self.save(call)

    # -- whole calls -----------------------------------------------------------------------
    def internal(self, caller: str, callee: str, outcome: str, talk: float = 0.0) -> Call:
        call = self.route(self.start(caller, callee, caller), "internal", callee)
        if outcome == "busy":
            return self.end(call, "USER_BUSY", "busy")
        self.alert(call, callee)
        if outcome == "answered":
            self.answer(call, callee)
            return self.end(call, "NORMAL_CLEARING", "answered", talk)
        cause = {"no-answer": "NO_ANSWER", "cancelled": "ORIGINATOR_CANCEL"}[outcome]
        return self.end(call, cause, outcome)


def make_pbx(db_url: str) -> tuple[Pbx, UUID]:
    app = Pbx(db_url)
    if not app.directory().enterprises:
        app.create_enterprise("Acme", "acme.example")
        for ext, name in (("101", "Alice Martin"), ("102", "Bob Dupont"), ("103", "Carol Li")):
            app.add_user(None, ext, name, number=f"+3120555{ext}0")
    return app, app.enterprise(None).id


@pytest.fixture()
def pbx(db_url: str) -> Iterator[tuple[Pbx, UUID]]:
    app, eid = make_pbx(db_url)
    yield app, eid
    app.close()


def summary(eid: UUID, engine: Any, extension: str) -> list[tuple[str, str, str | None, bool]]:
    return [
        (e.kind, e.other_number, e.other_name, e.answered)
        for e in entries(engine, eid, extension, limit=100)
    ]


def run_day(s: Scenario) -> None:
    s.internal("101", "102", "answered", talk=25)
    s.internal("101", "103", "no-answer")
    s.internal("102", "101", "busy")
    s.internal("103", "102", "cancelled")
    out = s.route(s.start("101", "0612345678", "101", "inbound"), "outbound", None)
    s.alert(out, "+31612345678")
    s.answer(out, "+31612345678")
    s.end(out, "NORMAL_CLEARING", "answered", talk=60)
    incoming = s.route(s.start("+31201234567", "+3120555102", None), "inbound", "102")
    s.alert(incoming, "102")
    s.answer(incoming, "102")
    s.end(incoming, "NORMAL_CLEARING", "answered", talk=10)


def test_call_log_shows_each_user_their_calls(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    run_day(Scenario(app, eid, Clock()))
    follower = Follower(app, CallLogProjection(), batch=7)
    assert follower.catch_up() > 0
    assert summary(eid, follower.engine, "101") == [
        ("placed", "0612345678", None, True),
        ("missed", "102", "Bob Dupont", False),
        ("placed", "103", "Carol Li", False),
        ("placed", "102", "Bob Dupont", True),
    ]
    assert summary(eid, follower.engine, "102") == [
        ("received", "+31201234567", None, True),
        ("missed", "103", "Carol Li", False),
        ("placed", "101", "Alice Martin", False),
        ("received", "101", "Alice Martin", True),
    ]
    assert summary(eid, follower.engine, "103") == [
        ("placed", "102", "Bob Dupont", False),
        ("missed", "101", "Alice Martin", False),
    ]
    missed = entries(follower.engine, eid, "103", kind="missed")
    assert [(m.cause, m.outcome, m.talk) for m in missed] == [("NO_ANSWER", "no-answer", 0.0)]
    first = entries(follower.engine, str(eid), "101", kind="placed")[-1]
    assert first.as_dict()["started_at"] == "2025-03-03T09:00:01+00:00"
    assert (first.talk, first.duration, first.outcome) == (25.0, 28.0, "answered")


def test_lamps_follow_a_call_and_presence_goes_out_after_commit(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    s = Scenario(app, eid, Clock())
    seen: list[tuple[LineChange, dict[str, str]]] = []
    follower: Follower[LineChange]

    def sink(change: LineChange) -> None:  # the view is already committed when this runs
        assert line_states(follower.engine, eid).get(change.extension, "idle") == change.state
        seen.append((change, presence_headers(change)))

    follower = Follower(app, BlfProjection(), sink=sink)
    follower.catch_up()
    call = s.route(s.start("101", "102", "101"), "internal", "102")
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "busy"}
    s.alert(call, "102")
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "busy", "102": "ringing"}
    s.answer(call, "102")
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "busy", "102": "busy"}
    s.end(call, "NORMAL_CLEARING", "answered", talk=3)
    follower.catch_up()
    assert line_states(follower.engine, eid) == {}

    lamps = [(c.extension, c.state, c.direction) for c, _ in seen]
    assert lamps == [
        ("101", "busy", "outbound"),
        ("102", "ringing", "inbound"),
        ("102", "busy", "inbound"),
        ("101", "idle", "outbound"),
        ("102", "idle", "inbound"),
    ]
    bob = [h for c, h in seen if c.extension == "102"]
    assert [h["answer-state"] for h in bob] == ["early", "confirmed", "terminated"]
    assert bob[0] == {
        "proto": "sip",
        "from": "102@acme.example",
        "login": "102@acme.example",
        "event_type": "presence",
        "alt_event_type": "dialog",
        "Presence-Call-Direction": "inbound",
        "answer-state": "early",
        "status": "Ringing",
        "rpid": "unknown",
        "unique-id": str(call.id),
        "event_count": "1",
    }


def test_two_calls_busy_wins_and_unanswered_ringing_stops(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    s = Scenario(app, eid, Clock())
    follower = Follower(app, BlfProjection())
    first = s.route(s.start("102", "101", "102"), "internal", "101")
    s.alert(first, "101")
    s.answer(first, "101")
    second = s.route(s.start("103", "101", "103"), "internal", "101")
    s.alert(second, "101")  # call waiting: 101 is busy, not ringing
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "busy", "102": "busy", "103": "busy"}
    s.end(first, "NORMAL_CLEARING", "answered", talk=4)
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "ringing", "103": "busy"}
    s.alert(second, "+31612345678")  # forwarded off-net: 101 stops ringing
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"103": "busy"}


def test_restart_mid_call_resumes_exactly_once(db_url: str) -> None:
    restart_mid_call(db_url)


@pytest.mark.pg
def test_restart_mid_call_resumes_exactly_once_on_postgresql(pg_url: str) -> None:
    restart_mid_call(pg_url)


def restart_mid_call(db_url: str) -> None:
    app, eid = make_pbx(db_url)
    s = Scenario(app, eid, Clock())
    run_day(s)
    middle = s.positions[len(s.positions) // 2 + 1]  # inside a call
    changes: list[LineChange] = []
    log1, blf1 = Follower(app, CallLogProjection(), 3), Follower(app, BlfProjection(), 3)
    log1.catch_up(until=middle)
    blf1.catch_up(until=middle)
    assert middle - 2 <= log1.position <= middle and middle - 2 <= blf1.position <= middle
    assert log1.state()["call_log_active"] and blf1.state()["blf_lines"]  # mid-call
    position = log1.position
    log1.close(), blf1.close(), app.close()

    again, _ = make_pbx(db_url)  # a new process on the same file
    log2 = Follower(again, CallLogProjection(), 3)
    blf2 = Follower(again, BlfProjection(), 3, sink=changes.append)
    assert log2.position == position
    assert log2.catch_up() > 0 and blf2.catch_up() > 0
    assert log2.catch_up() == 0
    resumed_log, resumed_blf = log2.state(), blf2.state()
    assert len(resumed_log["call_log_entries"]) == 10
    assert resumed_log["call_log_active"] == [] and resumed_blf["blf_lines"] == []
    pushed = len(changes)
    assert pushed > 0
    log2.rebuild()
    blf2.rebuild()
    assert (log2.state(), blf2.state()) == (resumed_log, resumed_blf)
    assert len(changes) == pushed  # a rebuild pushes no presence
    assert log2.position == blf2.position == again.last_position()
    again.close()


def test_directory_rebuilt_from_zero_equals_live(pbx: tuple[Pbx, UUID]) -> None:
    app, _ = pbx
    app.assign_number(None, "+31205550000")
    app.remove_user(None, "103")
    app.add_user(None, "103", "Carol Li-Smith", password="correct horse")
    fresh = Directory()
    for position, event in app.events_after(0, DIRECTORY_TOPICS):
        fresh.apply(event)
        fresh.position = position
    assert fresh.state() == app.directory().state()
    assert fresh.position == app.directory().position


def test_follower_runs_in_a_greenlet_until_stopped(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    follower = Follower(app, BlfProjection())
    runner = gevent.spawn(follower.run, 0.01)
    Scenario(app, eid, Clock()).route(
        Scenario(app, eid, Clock()).start("101", "102", "101"), "internal", "102"
    )
    wait_until(lambda: line_states(follower.engine, eid) == {"101": "busy"})
    follower.stop()
    runner.join(timeout=5)
    assert runner.dead


OUTCOMES = st.sampled_from(["answered", "no-answer", "busy", "cancelled"])
CALLS = st.lists(
    st.tuples(
        st.sampled_from(["101", "102", "103"]), st.sampled_from(["101", "102"]), OUTCOMES
    ).filter(lambda c: c[0] != c[1]),
    min_size=1,
    max_size=6,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=CALLS, cut=st.integers(min_value=0, max_value=40))
def test_call_log_property(calls: list[tuple[str, str, str]], cut: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app, eid = make_pbx(f"sqlite:///{tmp}/pbx.sqlite")
        for caller, callee, outcome in calls:
            Scenario(app, eid, Clock()).internal(caller, callee, outcome, talk=7)
        follower = Follower(app, CallLogProjection(), batch=2)
        follower.catch_up(until=cut)
        follower.catch_up()
        got = entries(follower.engine, eid, limit=1000)
        placed = sorted(e.extension for e in got if e.kind == "placed")
        assert placed == sorted(c[0] for c in calls)
        called = sorted((e.extension, e.kind) for e in got if e.kind != "placed")
        expected = [(c[1], "received" if c[2] == "answered" else "missed") for c in calls]
        assert called == sorted(expected)
        assert all(e.talk == (7.0 if e.answered else 0.0) for e in got)
        live = follower.state()
        follower.rebuild()
        assert follower.state() == live
        follower.close()
        app.close()


def test_cli_readers_fold_the_call_log_but_leave_lamps_to_the_server(
    pbx: tuple[Pbx, UUID],
) -> None:
    app, eid = pbx
    s = Scenario(app, eid, Clock())
    s.internal("101", "102", "no-answer")
    ringing = s.alert(s.route(s.start("103", "102", "103"), "internal", "102"), "102")
    [missed] = read_entries(app, eid, "102", kind="missed")
    assert missed.other_party == "Alice Martin (101)"
    assert read_line_states(app, eid) == {}  # nobody follows the lamps yet
    server = Follower(app, BlfProjection())
    assert server.catch_up() > 0
    assert read_line_states(app, str(eid)) == {"102": "ringing", "103": "busy"}
    assert ringing.alerted == ["102"]
