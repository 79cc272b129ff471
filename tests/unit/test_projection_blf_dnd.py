"""BLF and do not disturb (USR-3/USR-16): a real Pbx on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from projections.blf import (
    BlfProjection,
    LineChange,
    dnd_dialog_id,
    line_states,
    presence_headers,
    read_line_states,
)
from projections.tracking import Follower

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Calls:
    """Writes a call's events the way the ESL session does, one save per step."""

    def __init__(self, app: Pbx, enterprise_id: UUID) -> None:
        self.app, self.enterprise_id, self.now = app, enterprise_id, T0

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def start(self, caller: str, callee: str) -> Call:
        call = Call(
            call_uuid=str(uuid4()),
            enterprise_id=self.enterprise_id,
            caller=caller,
            caller_user=caller,
            destination=callee,
            direction="inbound",
            channel=f"sofia/internal/{caller}@acme.example",
            at=self.tick(),
        )
        call.route("internal", callee, [{"service": "alerting", "rule": "all", "detail": "ring"}])
        self.app.save(call)
        return call

    def alert(self, call: Call, *targets: str) -> None:
        call.alert(list(targets), self.tick())
        self.app.save(call)

    def answer(self, call: Call, by: str) -> None:
        call.answer(by, self.tick())
        call.bridge(by, self.now)
        self.app.save(call)

    def end(self, call: Call, outcome: str = "answered") -> None:
        at = self.tick()
        call.end("NORMAL_CLEARING", outcome, at, (at - T0).total_seconds(), 1.0)
        self.app.save(call)


@pytest.fixture()
def pbx(tmp_path: Path) -> Iterator[tuple[Pbx, UUID]]:
    app = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice Martin"), ("102", "Bob Dupont"), ("103", "Carol Li")):
        app.add_user(None, ext, name, number=f"+3120555{ext}0")
    yield app, app.enterprise(None).id
    app.close()


def follow(app: Pbx) -> tuple[Follower[LineChange], list[LineChange]]:
    seen: list[LineChange] = []
    follower = Follower(app, BlfProjection(), batch=3, sink=seen.append)
    follower.catch_up()
    return follower, seen


def lamps(seen: list[LineChange]) -> list[tuple[str, str]]:
    return [(c.extension, c.state) for c in seen]


def test_dnd_lights_the_lamp_and_off_turns_it_off(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    follower, seen = follow(app)
    assert seen == []
    user_services.set_dnd(app, None, "101", True)
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "dnd"}
    assert read_line_states(app, eid) == {"101": "dnd"}
    [on] = seen
    dialog = dnd_dialog_id(str(eid), "101")
    assert on == LineChange(str(eid), "101", "acme.example", "dnd", dialog, "inbound")
    assert presence_headers(on) == {
        "proto": "sip",
        "from": "101@acme.example",
        "login": "101@acme.example",
        "event_type": "presence",
        "alt_event_type": "dialog",
        "Presence-Call-Direction": "inbound",
        "answer-state": "confirmed",
        "status": "Do Not Disturb",
        "rpid": "dnd",
        "unique-id": dialog,
        "event_count": "1",
    }

    user_services.set_dnd(app, None, "101", True)  # no change: no event, no push
    user_services.set_dnd(app, None, "101", False)
    follower.catch_up()
    assert line_states(follower.engine, eid) == {}
    off = seen[-1]
    assert (len(seen), off.state, off.call_id) == (2, "idle", dialog)
    headers = presence_headers(off)
    assert (headers["answer-state"], headers["status"], headers["rpid"]) == (
        "terminated",
        "Available",
        "unknown",
    )
    follower.close()


def test_calls_show_over_dnd_and_the_lamp_returns_to_dnd(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    follower, seen = follow(app)
    calls = Calls(app, eid)
    user_services.set_dnd(app, None, "102", True)
    out = calls.start("102", "103")  # a user on DND can still place calls
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"102": "busy"}
    calls.alert(out, "103")
    calls.answer(out, "103")
    user_services.set_dnd(app, None, "103", True)  # during a call: the lamp stays busy
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"102": "busy", "103": "busy"}
    calls.end(out)
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"102": "dnd", "103": "dnd"}
    assert lamps(seen) == [
        ("102", "dnd"),
        ("102", "busy"),
        ("103", "ringing"),
        ("103", "busy"),
        ("102", "dnd"),
        ("103", "dnd"),
    ]
    back = seen[-2:]  # after the call: the DND dialog again, not the ended call
    assert [(c.call_id, c.direction) for c in back] == [
        (dnd_dialog_id(str(eid), "102"), "inbound"),
        (dnd_dialog_id(str(eid), "103"), "inbound"),
    ]

    ringing = calls.start("101", "103")  # routing would refuse; the lamp still rings over DND
    calls.alert(ringing, "103")
    user_services.set_dnd(app, None, "103", False)
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"101": "busy", "102": "dnd", "103": "ringing"}
    calls.end(ringing, "no-answer")
    follower.catch_up()
    assert line_states(follower.engine, eid) == {"102": "dnd"}
    assert lamps(seen)[6:] == [
        ("101", "busy"),
        ("103", "ringing"),
        ("101", "idle"),
        ("103", "idle"),
    ]
    follower.close()


def test_removing_a_user_turns_the_dnd_lamp_off(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    follower, seen = follow(app)
    user_services.set_dnd(app, None, "103", True)
    app.remove_user(None, "103")
    follower.catch_up()
    assert line_states(follower.engine, eid) == {}
    assert lamps(seen) == [("103", "dnd"), ("103", "idle")]
    app.add_user(None, "103", "Carol Li-Smith")  # reinstated: services reset, DND off
    follower.catch_up()
    assert line_states(follower.engine, eid) == {}
    assert len(seen) == 2
    follower.close()


def test_rebuild_equals_live_and_pushes_nothing(
    pbx: tuple[Pbx, UUID],
) -> None:
    app, eid = pbx
    calls = Calls(app, eid)
    user_services.set_dnd(app, None, "101", True)
    first = calls.start("101", "102")
    calls.alert(first, "102")
    user_services.set_dnd(app, None, "102", True)
    calls.answer(first, "102")
    user_services.set_dnd(app, None, "103", True)
    calls.end(first)
    user_services.set_dnd(app, None, "101", False)
    second = calls.start("103", "102")
    calls.alert(second, "102")

    live, pushed = follow(app)
    expected = {"102": "ringing", "103": "busy"}
    assert line_states(live.engine, eid) == expected
    state = live.state()
    assert len(state["blf_lines"]) == 4  # 102's DND and call, 103's DND and call
    count = len(pushed)
    live.rebuild()
    assert live.state() == state
    assert len(pushed) == count  # a rebuild pushes no presence
    live.close()


def test_restart_half_way_resumes_exactly_once(pbx: tuple[Pbx, UUID]) -> None:
    app, eid = pbx
    calls = Calls(app, eid)
    user_services.set_dnd(app, None, "101", True)
    call = calls.start("102", "101")
    calls.alert(call, "101")
    calls.answer(call, "101")
    middle = app.last_position()
    calls.end(call)
    user_services.set_dnd(app, None, "102", True)
    user_services.set_dnd(app, None, "101", False)

    first: list[LineChange] = []
    one = Follower(app, BlfProjection(), batch=2, sink=first.append)
    one.catch_up(until=middle)
    assert line_states(one.engine, eid) == {"101": "busy", "102": "busy"}
    one.close()
    second: list[LineChange] = []
    two = Follower(app, BlfProjection(), batch=2, sink=second.append)
    assert two.catch_up() > 0
    assert two.catch_up() == 0
    assert line_states(two.engine, eid) == {"102": "dnd"}
    assert lamps(first) == [("101", "dnd"), ("102", "busy"), ("101", "ringing"), ("101", "busy")]
    assert lamps(second) == [("101", "dnd"), ("102", "idle"), ("102", "dnd"), ("101", "idle")]
    live = two.state()
    two.rebuild()
    assert two.state() == live
    two.close()
