"""Pickup, barge-in and park routing (USR-13, USR-14), driven by feeding outcomes.

Pure routing against a Directory folded from a real Pbx on a temp SQLite file; the
``pickup`` / ``park`` commands are answered by the real run-time service over a real
ActiveLines (what the controller knows of its calls), so the scripts see what they would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.call_services import CallServices
from esl_controller.errors import ValidationError
from esl_controller.lines import ActiveLines
from esl_controller.park import CallServicesRuntime
from esl_controller.routing.actions import Action, Command, Execute, Hangup, Playback, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Executed, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory

SETTINGS = RoutingSettings(gateway="trunk")
Responder = Callable[[Action], Outcome]


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol"), ("104", "Dave")):
        pbx.add_user(None, ext, name)
    CallServices(pbx).add_pickup_group(None, "Sales", ["102", "103", "104"])
    CallServices(pbx).set_park_slots(None, "700-702", recall_seconds=45)
    return pbx


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


def ctx(caller: str, dialled: str, channel: str = "ch-picker", number: str | None = None
        ) -> CallContext:
    return CallContext(channel, f"sofia/internal/{caller}", number or caller, caller, dialled,
                       Origin.INTERNAL, "acme.example", caller)


def drive(app: Pbx, runtime: CallServicesRuntime, call: CallContext, respond: Responder,
          channel: str) -> tuple[list[Action], Trace]:
    trace = Trace()
    script: Script = route_call(call, fresh(app), SETTINGS, trace)
    actions: list[Action] = []
    handlers = {"pickup": runtime.pickup, "park": runtime.park, "conference": runtime.conference}
    try:
        action = next(script)
        while True:
            assert len(actions) < 40, "the script never ends"
            if isinstance(action, Command):
                command = Command(action.service, action.name, (*action.args, ("channel", channel)))
                action = script.send(handlers[action.service](command, call))
                continue
            actions.append(action)
            action = script.send(respond(action))
    except StopIteration:
        pass
    return actions, trace


def connected(action: Action) -> Outcome:
    if isinstance(action, Execute):
        return Executed("_none_", action.app in ("intercept",))
    if isinstance(action, Ring):
        return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, action.targets[0].label())
    return Done()


def not_bridged(action: Action) -> Outcome:
    return Executed("FILE PLAYED", False) if isinstance(action, Execute) else Done()


def words(trace: Trace) -> str:
    return "\n".join(s.detail for s in trace.steps)


def ent_id(app: Pbx) -> str:
    return str(app.enterprise(None).id)


def test_group_pickup_intercepts_the_call_ringing_a_group_member(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    runtime.calls.ring(ent_id(app), "102", "ch-ringing")
    actions, trace = drive(app, runtime, ctx("103", "*8"), connected, "ch-picker")
    assert Execute("intercept", "ch-ringing", (("hangup_after_bridge", "true"),),
                   answered_as="103") in actions
    assert runtime.calls.picked_by("ch-ringing") == "103"
    assert runtime.calls.ringing(ent_id(app), "102") == []
    assert "103 takes the call ringing 102" in words(trace)


def test_group_pickup_ignores_calls_ringing_outside_the_group(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    runtime.calls.ring(ent_id(app), "101", "ch-ringing")  # 101 is in no pickup group
    actions, trace = drive(app, runtime, ctx("103", "*8"), connected, "ch-picker")
    assert not any(isinstance(a, Execute) for a in actions)
    assert actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)
    assert runtime.calls.picked_by("ch-ringing") is None
    assert "no call is ringing there now" in words(trace)


def test_user_outside_any_pickup_group_cannot_use_star8(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    runtime.calls.ring(ent_id(app), "102", "ch-ringing")
    actions, trace = drive(app, runtime, ctx("101", "*8"), connected, "ch-picker")
    assert not any(isinstance(a, Execute) for a in actions)
    assert "101 is in no pickup group" in words(trace)


def test_private_members_calls_are_not_picked_up_by_the_group(app: Pbx) -> None:
    user_services.set_privacy(app, None, "102", True)
    runtime = CallServicesRuntime(app, ActiveLines())
    runtime.calls.ring(ent_id(app), "102", "ch-ringing")
    actions, trace = drive(app, runtime, ctx("103", "*8"), connected, "ch-picker")
    assert not any(isinstance(a, Execute) for a in actions)
    assert "102 private" in words(trace)


def test_directed_pickup_of_an_unknown_extension_is_refused(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    actions, trace = drive(app, runtime, ctx("103", "*97555"), connected, "ch-picker")
    assert isinstance(actions[-2], Playback) and actions[-1] == Hangup(
        HangupCause.NORMAL_CLEARING)
    assert "555 is no colleague of 103" in words(trace)


def test_pickup_that_finds_the_call_gone_plays_the_tone(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    runtime.calls.ring(ent_id(app), "102", "ch-ringing")
    actions, trace = drive(app, runtime, ctx("103", "*97102"), not_bridged, "ch-picker")
    assert actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)
    assert "the call stopped ringing before it was picked up" in words(trace)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pickers=st.lists(st.sampled_from(["102", "103", "104"]), min_size=1, max_size=6))
def test_a_ringing_call_is_taken_by_one_picker_only(app: Pbx, pickers: list[str]) -> None:
    """However many group members press *8, one gets the call; the others hear the tone."""
    runtime = CallServicesRuntime(app, ActiveLines())
    runtime.calls.ring(ent_id(app), "101", "ch-ringing")  # 101 rings ...
    runtime.calls.ring(ent_id(app), "102", "ch-ringing")  # ... and 102, in one call
    taken = 0
    for n, picker in enumerate(pickers):
        actions, _ = drive(app, runtime, ctx(picker, "*8", channel=f"ch-{n}"), connected,
                           f"ch-{n}")
        taken += sum(1 for a in actions if isinstance(a, Execute))
    assert taken == (1 if any(p != "102" for p in pickers) else 0)


def test_barge_in_joins_the_call_with_three_way(app: Pbx) -> None:
    lines = ActiveLines()
    runtime = CallServicesRuntime(app, lines)
    lines.add(ent_id(app), "102", "call-1")
    lines.calls.offered("call-1", "ch-talking")
    actions, trace = drive(app, runtime, ctx("103", "*33102"), connected, "ch-picker")
    assert Execute("three_way", "ch-talking") in actions
    assert "103 joins the call of 102 (Bob)" in words(trace)


def test_barge_in_exempt_user_is_not_joined(app: Pbx) -> None:
    CallServices(app).set_barge_in_exempt(None, "102", True)
    lines = ActiveLines()
    runtime = CallServicesRuntime(app, lines)
    lines.add(ent_id(app), "102", "call-1")
    lines.calls.offered("call-1", "ch-talking")
    actions, trace = drive(app, runtime, ctx("103", "*33102"), connected, "ch-picker")
    assert not any(isinstance(a, Execute) for a in actions)
    assert "102 is barge-in exempt" in words(trace)


def test_transferred_call_to_an_empty_slot_waits_with_music_then_recalls_the_parker(
    app: Pbx,
) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    # A blind transfer by 101: routed as a call placed by 101, the caller's number kept.
    call = ctx("101", "701", channel="ch-outside", number="0612345678")
    actions, trace = drive(app, runtime, call, lambda a: (
        Executed("FILE PLAYED", False) if isinstance(a, Execute) else connected(a)),
        "ch-outside")
    music = next(a for a in actions if isinstance(a, Execute))
    assert music.app == "playback" and music.arg == "local_stream://moh"
    assert ("playback_timeout_sec", "45") in music.variables
    recall = next(a for a in actions if isinstance(a, Ring))
    assert [t.label() for t in recall.targets] == ["101"]
    assert "parked on slot 701 by 101; recall after 45 s" in words(trace)
    assert runtime.calls.parked(ent_id(app), "701") is None  # the slot is free again


def test_dialling_an_occupied_slot_retrieves_the_parked_call(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    assert runtime.calls.park(ent_id(app), "700", "ch-parked", "101", "call-parked")
    actions, trace = drive(app, runtime, ctx("104", "700"), connected, "ch-retriever")
    assert Execute("intercept", "ch-parked", (("hangup_after_bridge", "true"),),
                   answered_as="104") in actions
    assert runtime.calls.parked(ent_id(app), "700") is None
    assert runtime.calls.picked_by("ch-parked") == "104"
    assert "104 retrieves the call parked on slot 700 by 101" in words(trace)


def test_a_retrieved_parked_call_is_not_recalled(app: Pbx) -> None:
    runtime = CallServicesRuntime(app, ActiveLines())
    call = ctx("101", "702", channel="ch-outside", number="0612345678")
    # Someone's intercept took the channel out of its music: bridged meanwhile.
    actions, trace = drive(app, runtime, call, lambda a: (
        Executed("FILE PLAYED", True) if isinstance(a, Execute) else Done()), "ch-outside")
    assert not any(isinstance(a, Ring) for a in actions)
    assert "the call on slot 702 was retrieved" in words(trace)


def test_park_slots_take_extensions_from_the_plan(app: Pbx) -> None:
    with pytest.raises(ValidationError, match="extension 101 already exists"):
        CallServices(app).set_park_slots(None, "100-105")
    with pytest.raises(ValidationError, match="recall time"):
        CallServices(app).set_park_slots(None, "700-702", recall_seconds=5)
    lot = CallServices(app).set_park_slots(None, "700-705", recall_seconds=30)  # grow
    assert lot.slots() == ["700", "701", "702", "703", "704", "705"]
    assert fresh(app).target(app.enterprise(None).id, "705") is not None
    CallServices(app).remove_park_slots(None)
    assert fresh(app).target(app.enterprise(None).id, "700") is None


def test_rebuilt_directory_equals_the_live_one(app: Pbx) -> None:
    live = app.directory()
    services = CallServices(app)
    services.add_conference(None, "Weekly", "800", pin="1234")
    services.set_hold_music(None, "102", "local_stream://jazz")
    services.remove_pickup_group(None, "Sales")
    services.add_pickup_group(None, "Sales", ["103"])
    app.directory()
    assert fresh(app).state() == live.state()


def test_barge_in_without_the_warning_tone_when_the_enterprise_turned_it_off(app: Pbx) -> None:
    CallServices(app).set_barge_in_tone(None, False)
    lines = ActiveLines()
    runtime = CallServicesRuntime(app, lines)
    lines.add(ent_id(app), "102", "call-1")
    lines.calls.offered("call-1", "ch-talking")
    asked: list[str] = []
    pickup = runtime.pickup

    def recording(command: Command, call: CallContext) -> CommandResult:
        asked.append(command.name)
        return pickup(command, call)

    runtime.pickup = recording  # type: ignore[method-assign]
    actions, trace = drive(app, runtime, ctx("103", "*33102"), connected, "ch-picker")
    assert Execute("three_way", "ch-talking") in actions
    assert asked == ["answered"]  # no "warn": the parties hear no tone
    assert "no warning tone" in words(trace)


def test_the_call_a_channel_left_by_transfer_ending_late_keeps_the_new_calls_state() -> None:
    """A blind transfer keeps the channel: the old call's end must not undo the parked
    call's retrieval (who took it is what its answer is recorded as)."""
    lines = ActiveLines()
    calls = lines.calls
    calls.offered("call-before", "ch-1")
    calls.offered("call-parked", "ch-1")
    assert calls.park("ent", "700", "ch-1", "101", "call-parked")
    lines.end("call-before")
    assert calls.parked("ent", "700") == ("ch-1", "101")
    assert calls.unpark("ent", "700", "ch-1") and calls.pick("ch-1", "103")
    lines.end("call-before")
    assert calls.picked_by("ch-1") == "103"
    lines.end("call-parked")
    assert calls.picked_by("ch-1") is None
