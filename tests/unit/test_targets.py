"""Calls to non-user targets (routing/targets.py): dispatch by extension and number, the
frames, loop protection, and ``reach`` to users, voicemail and external numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.routing import targets
from esl_controller.routing.actions import Action, GatewayNumber, Hangup, Ring, UserDevices
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory
from projections.targets import TargetView

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice")
    pbx.add_user(None, "102", "Bob")
    return pbx


@pytest.fixture
def kind() -> Iterator[str]:
    """A target kind whose script sends the call to the destination in its name."""
    name = "test-relay"

    @targets.register(name)
    def relay(call: targets.TargetCall) -> Script:
        yield from targets.reach(call, call.target.name, f"relay {call.target.name}")

    yield name
    targets.SCRIPTS.pop(name)


def directory_with(app: Pbx, *views: tuple[str, str, str | None, tuple[str, ...]]) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    ent = app.enterprise(None)
    for kind, name, ext, numbers in views:
        directory._put_target(TargetView(kind, uuid4(), ent.id, name, ext, numbers))
    return directory


def run(directory: Directory, ctx: CallContext) -> tuple[list[Action], str]:
    trace = Trace()
    script = route_call(ctx, directory, RoutingSettings(gateway="trunk"), trace, NOW)
    actions: list[Action] = []
    outcome: Outcome = Done()
    try:
        action = next(script)
        while True:
            assert len(actions) < 30
            actions.append(action)
            outcome = (Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "x")
                       if isinstance(action, Ring) else Done())
            action = script.send(outcome)
    except StopIteration:
        pass
    return actions, " | ".join(s.detail for s in trace.steps)


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext(str(uuid4()), f"sofia/internal/{caller}", caller, caller, dialled,
                       Origin.INTERNAL, "acme.example", caller)


def test_a_target_extension_runs_its_kind_and_reaches_a_user(app: Pbx, kind: str) -> None:
    directory = directory_with(app, (kind, "102", "600", ()))
    actions, story = run(directory, internal("101", "600"))
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (UserDevices("102", "acme.example"),)
    assert "600 is test relay 102 (ext. 600)" in story
    assert "relay 102: to 102 (Bob)" in story


def test_a_target_number_from_outside_goes_out_under_the_calling_plan(
    app: Pbx, kind: str
) -> None:
    directory = directory_with(app, (kind, "0612345678", None, ("+31201110000",)),
                               (kind, "0900 1234567", None, ("+31201110001",)))
    outside = CallContext(str(uuid4()), "sofia/external/x", "+31301234567", "",
                          "+31201110000", Origin.EXTERNAL)
    actions, story = run(directory, outside)
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (GatewayNumber("trunk", "+31612345678"),)
    premium = CallContext(str(uuid4()), "sofia/external/x", "+31301234567", "",
                          "+31201110001", Origin.EXTERNAL)
    actions, story = run(directory, premium)
    assert actions[-1] == Hangup(HangupCause.OUTGOING_CALL_BARRED)
    assert "premium number, which the outgoing calling plan blocks" in story


def test_targets_sending_a_call_in_a_circle_end_it(app: Pbx, kind: str) -> None:
    directory = directory_with(app, (kind, "601", "600", ()), (kind, "600", "601", ()))
    actions, story = run(directory, internal("101", "600"))
    assert actions[-1] == Hangup(HangupCause.NO_ROUTE_DESTINATION)
    assert "was already passed by this call" in story


def test_a_frame_that_takes_the_call_ends_it_there(app: Pbx, kind: str) -> None:
    def closed(call: targets.TargetCall) -> targets.Generator[Action, Outcome, bool]:
        call.trace.add("test", "closed", f"{call.target.label()} is closed")
        yield Hangup(HangupCause.CALL_REJECTED)
        return True

    targets.FRAMES.append(closed)
    try:
        actions, story = run(directory_with(app, (kind, "102", "600", ())),
                             internal("101", "600"))
    finally:
        targets.FRAMES.remove(closed)
    assert actions == [Hangup(HangupCause.CALL_REJECTED)]
    assert "test relay 102 (ext. 600) is closed" in story


def test_extensions_and_numbers_of_targets_cannot_be_given_out_again(
    app: Pbx, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = directory_with(app, (kind, "102", "600", ("+31201110000",)))
    monkeypatch.setattr(app, "directory", lambda: taken)
    ent = app.enterprise(None)
    with pytest.raises(ValidationError, match="600 is taken by test relay 102"):
        app.check_extension_free(ent, "600")
    with pytest.raises(ValidationError, match="belongs to test relay 102"):
        app.check_number_free(ent, "020 111 0000")
    assert app.check_extension_free(ent, " 601 ") == "601"



def test_a_user_forwards_to_a_target_extension(
    app: Pbx, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from esl_controller import user_services

    app.add_user(None, "103", "Carol")
    before = directory_with(app, (kind, "103", "600", ()))
    with monkeypatch.context() as patch:
        patch.setattr(app, "directory", lambda: before)
        user_services.forward(app, None, "101", "always", "600")
    actions, story = run(directory_with(app, (kind, "103", "600", ())), internal("102", "101"))
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (UserDevices("103", "acme.example"),)
    assert "101 forwards (always): to test relay 103 (ext. 600)" in story
    assert "relay 103: to 103 (Carol)" in story


def test_a_forwarded_call_knows_the_new_user_is_on_a_call(app: Pbx) -> None:
    from esl_controller import user_services

    app.add_user(None, "103", "Carol")
    user_services.forward(app, None, "101", "always", "102")
    user_services.set_call_waiting(app, None, "102", False)
    directory = Directory()
    app.catch_up(directory)
    trace = Trace()
    script = route_call(internal("103", "101"), directory, RoutingSettings(gateway="trunk"),
                        trace, NOW, busy=lambda _ent, ext: ext == "102")
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            actions.append(action)
            action = script.send(Done())
    except StopIteration:
        pass
    assert not any(isinstance(a, Ring) for a in actions)  # 102 is busy: nothing rings
    assert actions[-1] == Hangup(HangupCause.USER_BUSY)
    assert any("102 is already on a call and call waiting is off" in s.detail
               for s in trace.steps)
