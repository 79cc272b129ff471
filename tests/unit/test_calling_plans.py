"""Calling plans (GRP-1) in routing: levels, classes, the enhanced plan's PIN, the incoming
plan, and forwarding and speed dial never bypassing the plan.

Pure: a Directory folded from real events of a real Pbx on a temp SQLite file; the PIN is
checked by the real ``calling-plan`` service against the scrypt hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller import calling_plans as plans
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.calling_plans import PinService
from esl_controller.domain.calling_plan import PLAN_CLASSES
from esl_controller.errors import ValidationError
from esl_controller.routing.actions import (
    Action,
    CollectDigits,
    Command,
    GatewayNumber,
    Hangup,
    Ring,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Digits, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory

GATEWAY = RoutingSettings(gateway="trunk")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# One destination of every class, dialled by Alice (number 020 ..., so 020 is local).
NUMBERS = {
    "local": "0207654321",
    "national": "0101234567",
    "mobile": "0612345678",
    "service": "08001234567",
    "premium": "09001234567",
    "international": "0044 20 7946 0958",
}


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567", pin="1234")
    pbx.add_user(None, "102", "Bob", number="020 1234568")
    pbx.add_user(None, "103", "Carol")
    return pbx


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000001", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller)


def external(caller: str, dialled: str = "+31201234568") -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000002", "sofia/external/x", caller, "",
                       dialled, Origin.EXTERNAL)


def answering(action: Action) -> Outcome:
    if isinstance(action, Ring):
        return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, action.targets[0].label())
    return Done()


def run(app: Pbx, ctx: CallContext, pins: list[str] | None = None,
        service: PinService | None = None) -> tuple[list[Action], Trace]:
    """Drive the call; ``pins`` are the digits the caller enters at each PIN prompt."""
    directory = Directory()
    app.catch_up(directory)
    trace = Trace()
    script: Script = route_call(ctx, directory, GATEWAY, trace, NOW)
    entered = list(pins or [])
    service = service or PinService(app)
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            assert len(actions) < 60
            actions.append(action)
            outcome: Outcome
            if isinstance(action, CollectDigits):
                outcome = Digits(entered.pop(0) if entered else "")
            elif isinstance(action, Command):
                outcome = (service.handle(action, ctx) if action.service == "calling-plan"
                           else CommandResult(False, ""))
            else:
                outcome = answering(action)
            action = script.send(outcome)
    except StopIteration:
        pass
    return actions, trace


def out_through_gateway(actions: list[Action]) -> list[str]:
    return [t.number for a in actions if isinstance(a, Ring) for t in a.targets
            if isinstance(t, GatewayNumber)]


def cause(actions: list[Action]) -> HangupCause | None:
    return next((a.cause for a in reversed(actions) if isinstance(a, Hangup)), None)


def story(trace: Trace) -> str:
    return " | ".join(step.detail for step in trace.steps)


def scope(app: Pbx, user: str | None = None, group: str | None = None) -> plans.Scope:
    return plans.scope(app, None, user, group)


# -- levels ------------------------------------------------------------------------------------
def test_the_default_plan_blocks_premium_and_international_and_allows_the_rest(app: Pbx) -> None:
    for klass, number in NUMBERS.items():
        actions, trace = run(app, internal("101", number))
        if klass in ("premium", "international"):
            assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED, klass
            assert "which the outgoing calling plan blocks" in story(trace)
        else:
            assert out_through_gateway(actions), klass


def test_a_user_plan_beats_the_department_plan_which_beats_the_enterprise_plan(app: Pbx) -> None:
    plans.add_department(app, None, "Sales", "102,103")
    plans.set_outgoing(app, scope(app), allow="international")
    plans.set_outgoing(app, scope(app, group="Sales"), block="international")
    plans.set_outgoing(app, scope(app, user="103"), allow="international,premium")
    abroad = NUMBERS["international"]

    assert out_through_gateway(run(app, internal("101", abroad))[0])  # the enterprise's
    actions, trace = run(app, internal("102", abroad))  # the department's
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED
    assert "(the plan of department Sales)" in story(trace)
    assert out_through_gateway(run(app, internal("103", abroad))[0])  # Carol's own
    assert out_through_gateway(run(app, internal("103", NUMBERS["premium"]))[0])

    plans.clear_outgoing(app, scope(app, user="103"))
    assert cause(run(app, internal("103", abroad))[0]) is HangupCause.OUTGOING_CALL_BARRED


def test_local_numbers_are_their_own_class(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app, user="101"), block="national")
    assert out_through_gateway(run(app, internal("101", NUMBERS["local"]))[0]) == [
        "+31207654321"]
    actions, trace = run(app, internal("101", NUMBERS["national"]))
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED
    assert "010 123 4567 is a national number" in story(trace)


def test_112_is_allowed_whatever_the_plan_says(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app), block=",".join(PLAN_CLASSES))
    actions, _ = run(app, internal("102", "112"))
    assert out_through_gateway(actions) == ["112"]
    assert cause(run(app, internal("102", "103"))[0]) is HangupCause.OUTGOING_CALL_BARRED


def test_a_plan_that_blocks_internal_calls_refuses_extensions(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app, user="103"), block="internal")
    actions, trace = run(app, internal("103", "101"))
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED
    assert not [a for a in actions if isinstance(a, Ring)]
    assert "does not allow internal calls (the plan of user 103)" in story(trace)


# -- the enhanced plan (PIN) -----------------------------------------------------------------
def test_a_pin_class_goes_out_after_the_right_pin(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app, user="101"), with_pin="international")
    actions, trace = run(app, internal("101", NUMBERS["international"]), pins=["9999", "1234"])
    assert out_through_gateway(actions) == ["+442079460958"]
    assert len([a for a in actions if isinstance(a, CollectDigits)]) == 2
    assert "allows only with the caller's PIN (the plan of user 101)" in story(trace)
    assert "entered the right PIN (try 2)" in story(trace)


def test_three_wrong_pins_refuse_the_call(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app, user="101"), with_pin="international")
    actions, trace = run(app, internal("101", NUMBERS["international"]),
                         pins=["0000", "1111", ""])
    assert not out_through_gateway(actions)
    assert len([a for a in actions if isinstance(a, CollectDigits)]) == 3
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED
    assert "3 wrong PINs: the call is refused" in story(trace)


def test_wrong_pins_call_after_call_lock_the_pin_even_against_the_right_one(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app, user="101"), with_pin="international")
    service = PinService(app)
    abroad = internal("101", NUMBERS["international"])
    for _ in range(2):
        run(app, abroad, pins=["0000", "1111", "2222"], service=service)
    actions, trace = run(app, abroad, pins=["1234"], service=service)
    assert not out_through_gateway(actions)
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED
    assert "too many wrong PINs of 101 lately: refused" in story(trace)
    # The lock is the controller's own (in memory): a fresh service accepts the PIN.
    assert out_through_gateway(run(app, abroad, pins=["1234"])[0])


def test_a_user_without_a_pin_cannot_use_a_pin_class(app: Pbx) -> None:
    plans.set_outgoing(app, scope(app), with_pin="international")
    actions, trace = run(app, internal("103", NUMBERS["international"]))
    assert not [a for a in actions if isinstance(a, CollectDigits)]
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED
    assert "103 has no PIN" in story(trace)


# -- no bypass -------------------------------------------------------------------------------
def test_forwarding_cannot_be_set_to_what_the_plan_blocks(app: Pbx) -> None:
    plans.add_department(app, None, "Sales", "102")
    plans.set_outgoing(app, scope(app, group="Sales"), block="mobile")
    with pytest.raises(ValidationError, match="outgoing calling plan of 102"):
        user_services.forward(app, None, "102", "always", "0612345678")
    with pytest.raises(ValidationError, match="outgoing calling plan of 102"):
        user_services.set_speed_dial(app, None, "102", "2", "0612345678")


def test_forwarding_and_speed_dial_set_before_a_plan_change_are_checked_again(app: Pbx) -> None:
    user_services.forward(app, None, "102", "always", "0612345678")
    user_services.set_speed_dial(app, None, "101", "2", "0612345678")
    plans.set_outgoing(app, scope(app), with_pin="mobile")  # a PIN class: no diversion
    actions, trace = run(app, external("0101234567"))
    assert not out_through_gateway(actions)
    assert "forwarding of 102 to +31612345678 refused" in story(trace)
    actions, trace = run(app, internal("101", "#2"), pins=["4321", "4321", "4321"])
    assert not out_through_gateway(actions)
    assert cause(actions) is HangupCause.OUTGOING_CALL_BARRED


# -- the incoming plan -----------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "caller", "refused"), [
    ("internal", "0101234567", True),
    ("national", "0101234567", False),
    ("national", "+442079460958", True),
    ("national", "anonymous", True),
    ("no-anonymous", "anonymous", True),
    ("no-anonymous", "+442079460958", False),
    ("all", "anonymous", False),
])
def test_the_incoming_plan_decides_which_outside_callers_ring(
    app: Pbx, mode: str, caller: str, refused: bool,
) -> None:
    plans.set_incoming(app, scope(app, user="102"), mode)
    actions, trace = run(app, external(caller))
    rang = [t.label() for a in actions if isinstance(a, Ring) for t in a.targets]
    if refused:
        assert rang == []
        assert cause(actions) is HangupCause.CALL_REJECTED
        assert "the incoming calling plan of 102 (the plan of user 102) refuses" in story(trace)
        assert trace.classification.target_user is None  # not a missed call for Bob
    else:
        assert rang == ["102"]


def test_colleagues_always_pass_the_incoming_plan(app: Pbx) -> None:
    plans.set_incoming(app, scope(app), "internal")
    actions, _ = run(app, internal("101", "102"))
    assert [t.label() for a in actions if isinstance(a, Ring) for t in a.targets] == ["102"]
    assert cause(run(app, external("0101234567"))[0]) is HangupCause.CALL_REJECTED
    plans.set_incoming(app, scope(app, user="102"), "all")  # the user's own plan wins
    assert cause(run(app, external("0101234567"))[0]) is None


def test_bad_plans_are_refused_and_write_nothing(app: Pbx) -> None:
    before = app.last_position()
    for bad in ({"allow": "galactic"}, {"allow": "mobile", "block": "mobile"}, {}):
        with pytest.raises(ValidationError):
            plans.set_outgoing(app, scope(app), **bad)
    with pytest.raises(ValidationError):
        plans.set_incoming(app, scope(app), "friends-only")
    with pytest.raises(ValidationError, match="unknown member"):
        plans.add_department(app, None, "Sales", "102,999")
    plans.add_department(app, None, "Sales", "102")
    before = app.last_position()
    with pytest.raises(ValidationError, match="already a member of department Sales"):
        plans.add_department(app, None, "Support", "103,102")
    assert app.last_position() == before


# -- property ------------------------------------------------------------------------------------
classes = st.frozensets(st.sampled_from(sorted(NUMBERS)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(allowed=classes, pinned=classes, klass=st.sampled_from(sorted(NUMBERS)))
def test_a_call_goes_out_exactly_when_the_plan_allows_it(
    app: Pbx, allowed: frozenset[str], pinned: frozenset[str], klass: str,
) -> None:
    """Without the PIN a call goes out iff its class is allowed; with the PIN also when it is
    a PIN class; 112 goes out always."""
    pinned = pinned - allowed
    blocked = frozenset(NUMBERS) - allowed - pinned
    plans.set_outgoing(app, scope(app, user="101"), allow=",".join(allowed) or None,
                       block=",".join(blocked) or None, with_pin=",".join(pinned) or None)
    wrong, _ = run(app, internal("101", NUMBERS[klass]), pins=["0000"] * 3)
    right, _ = run(app, internal("101", NUMBERS[klass]), pins=["1234"])
    assert bool(out_through_gateway(wrong)) == (klass in allowed)
    assert bool(out_through_gateway(right)) == (klass in allowed | pinned)
    assert out_through_gateway(run(app, internal("101", "112"))[0]) == ["112"]


def test_a_user_of_another_enterprise_is_judged_by_their_business_number(app: Pbx) -> None:
    app.create_enterprise("Other", "other.example")
    app.add_user("Other", "201", "Olga", number="010 7654321")
    plans.set_incoming(app, plans.scope(app, "Acme", "102"), "national")
    ctx = CallContext("00000000-0000-4000-8000-000000000003", "sofia/internal/201", "201",
                      "Olga", "0201234568", Origin.INTERNAL, "other.example", "201")
    actions, _ = run(app, ctx)
    assert [t.label() for a in actions if isinstance(a, Ring) for t in a.targets] == ["102"]
    plans.set_incoming(app, plans.scope(app, "Acme", "102"), "internal")
    assert cause(run(app, ctx)[0]) is HangupCause.CALL_REJECTED
