"""Privacy (USR-19): a private user is left out of the phone book, other phones' busy lamps
and pickup; their own phone's message-waiting lamp is unaffected. Real Pbx on temp SQLite."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.voicemail import VoicemailService
from projections.blf import BlfProjection, LineChange, line_states
from projections.directory import Directory
from projections.tracking import Follower

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Pbx]:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob", email="bob@acme.example", pin="1357")
    pbx.add_user(None, "103", "Carol")
    yield pbx
    pbx.close()


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


class Calls:
    """Writes a call's events the way the ESL session does."""

    def __init__(self, app: Pbx) -> None:
        self.app, self.eid, self.now = app, app.enterprise(None).id, T0

    def start(self, caller: str, callee: str) -> Call:
        self.now += timedelta(seconds=1)
        call = Call(str(uuid4()), self.eid, caller, caller, callee, "internal",
                    f"sofia/internal/{caller}@acme.example", self.now)
        call.route("internal", callee, [])
        call.alert([callee], self.now)
        self.app.save(call)
        return call

    def answer(self, call: Call, by: str) -> None:
        call.answer(by, self.now)
        self.app.save(call)

    def end(self, call: Call) -> None:
        call.end("NORMAL_CLEARING", "answered", self.now, 1.0, 1.0)
        self.app.save(call)


def follow(app: Pbx) -> tuple[Follower[LineChange], list[LineChange]]:
    seen: list[LineChange] = []
    follower = Follower(app, BlfProjection(), sink=seen.append)
    follower.catch_up()
    return follower, seen


def lamps(seen: list[LineChange]) -> list[tuple[str, str]]:
    return [(c.extension, c.state) for c in seen]


def test_the_flag_is_in_the_directory_for_pickup_and_survives_a_rebuild(app: Pbx) -> None:
    live = fresh(app)
    assert not app.user(None, "102").privacy
    user_services.set_privacy(app, None, "102", True)
    app.catch_up(live)
    assert live.user(app.enterprise(None).id, "102").privacy  # type: ignore[union-attr]
    assert live.state() == fresh(app).state()
    user_services.set_privacy(app, None, "102", True)  # no change: nothing written
    names = [type(e).__name__ for _, e in app.events_after()]
    assert names.count("PrivacyChanged") == 1
    user_services.set_privacy(app, None, "102", False)
    assert not app.user(None, "102").privacy


def test_a_reinstated_extension_starts_without_privacy(app: Pbx) -> None:
    user_services.set_privacy(app, None, "103", True)
    app.remove_user(None, "103")
    app.add_user(None, "103", "Dave")
    assert not app.user(None, "103").privacy


def test_private_users_are_not_in_the_phone_book(app: Pbx) -> None:
    eid = app.enterprise(None).id
    user_services.set_privacy(app, None, "102", True)
    assert [u.extension for u in app.directory().phone_book(eid)] == ["101", "103"]
    assert [u.extension for u in app.directory().users_of(eid)] == ["101", "102", "103"]


def test_no_lamp_is_published_for_a_private_user(app: Pbx) -> None:
    follower, seen = follow(app)
    calls = Calls(app)
    user_services.set_privacy(app, None, "102", True)
    call = calls.start("101", "102")
    calls.answer(call, "102")
    calls.end(call)
    user_services.set_dnd(app, None, "102", True)
    follower.catch_up()
    assert lamps(seen) == [("101", "busy"), ("101", "idle")]  # Alice's lamp only
    assert line_states(follower.engine, app.enterprise(None).id) == {"102": "dnd"}
    follower.close()


def test_privacy_on_during_a_call_darkens_the_lamp_and_off_shows_it_again(app: Pbx) -> None:
    follower, seen = follow(app)
    calls = Calls(app)
    call = calls.start("101", "102")
    calls.answer(call, "102")
    follower.catch_up()
    assert ("102", "busy") in lamps(seen)
    seen.clear()
    user_services.set_privacy(app, None, "102", True)
    follower.catch_up()
    assert lamps(seen) == [("102", "idle")]
    user_services.set_privacy(app, None, "102", False)
    follower.catch_up()
    assert lamps(seen) == [("102", "idle"), ("102", "busy")]
    follower.close()


def test_a_rebuilt_blf_equals_the_live_one_and_pushes_nothing(app: Pbx) -> None:
    follower, seen = follow(app)
    calls = Calls(app)
    call = calls.start("101", "102")
    calls.answer(call, "102")
    user_services.set_privacy(app, None, "102", True)
    user_services.set_privacy(app, None, "103", True)
    user_services.set_privacy(app, None, "103", False)
    follower.catch_up()
    state = follower.state()
    assert state["blf_private"] == [(str(app.enterprise(None).id), "102")]
    count = len(seen)
    follower.rebuild()
    assert follower.state() == state and len(seen) == count
    follower.close()


def test_calls_to_and_from_a_private_user_say_so_in_the_trace(app: Pbx) -> None:
    user_services.set_privacy(app, None, "102", True)
    ctx = CallContext("00000000-0000-4000-8000-000000000019", "sofia/internal/101", "101",
                      "Alice", "102", Origin.INTERNAL, "acme.example", "101")
    trace = Trace()
    script = route_call(ctx, fresh(app), RoutingSettings(), trace, T0)
    next(script)
    assert ("privacy", "private user") in [(s.service, s.rule) for s in trace.steps]
    script.close()
    trace = Trace()
    script = route_call(CallContext(ctx.call_id, "sofia/internal/102", "102", "Bob", "101",
                                    Origin.INTERNAL, "acme.example", "102"),
                        fresh(app), RoutingSettings(), trace, T0)
    next(script)
    assert any(s.rule == "private caller" and "no busy lamp" in s.detail for s in trace.steps)
    script.close()


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def publish(self, headers: dict[str, str]) -> None:
        self.sent.append(headers)


def test_the_private_users_own_message_lamp_still_lights(app: Pbx, tmp_path: Path) -> None:
    user_services.set_privacy(app, None, "102", True)
    mwi = Recorder()
    voicemail = VoicemailService(app, tmp_path / "vm", mwi=mwi)
    voicemail.enable(None, "102", email_audio=False)
    ctx = CallContext("c", "sofia/internal/101", "101", "Alice", "102", Origin.INTERNAL)
    box = (("enterprise", str(app.enterprise(None).id)), ("extension", "102"))
    status = voicemail.handle(Command("voicemail", "status", (*box, ("reason", "busy"))), ctx)
    path = dict(p.split("=", 1) for p in status.value.split(";"))["record_to"]
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000 * 3)
    left = voicemail.handle(Command("voicemail", "deposit", (
        *box, ("path", path), ("seconds", "3"), ("caller", "101"), ("caller_name", "Alice"))),
        ctx)
    assert left.ok
    assert mwi.sent[-1]["MWI-Messages-Waiting"] == "yes"
    assert mwi.sent[-1]["MWI-Message-Account"] == "sip:102@acme.example"



class FailsOnce(BlfProjection):
    """A BLF fold whose first attempt at a CallEnded fails (a briefly unavailable store)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def on_CallEnded(self, conn: Any, e: Any) -> list[LineChange]:
        if not self.failed:
            self.failed = True
            raise OSError("disk I/O error")
        return super().on_CallEnded(conn, e)


def test_a_rolled_back_batch_does_not_leave_a_stale_privacy_cache(app: Pbx) -> None:
    # One batch: 103 rings, then 103 turns privacy on, then the call ends (which fails once).
    # On the retry the ringing lamp of 103 must still be published: it rang before privacy.
    follower = Follower(app, FailsOnce(), sink=(seen := []).append)
    follower.catch_up()
    calls = Calls(app)
    call = calls.start("101", "103")
    user_services.set_privacy(app, None, "103", True)
    calls.end(call)
    with pytest.raises(OSError):
        follower.catch_up()
    follower.catch_up()
    assert ("103", "ringing") in lamps(seen)
