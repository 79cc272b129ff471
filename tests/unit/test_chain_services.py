"""The incoming-call chain's services (USR-1 ... USR-6, USR-15), driven by feeding outcomes.

Pure: a Directory folded from real events of a real Pbx on a temp SQLite file, scripts run
as plain generators. Each test asserts what the caller and the callee would notice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    PreAnswer,
    Ring,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory, ForwardRule

GATEWAY = RoutingSettings(gateway="trunk")
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
SUNDAY_10 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
Responder = Callable[[Action], Outcome]


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    pbx.add_user(None, "104", "Dave")
    return pbx


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


def internal(caller: str, dialled: str, privacy: bool = False) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000001", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller,
                       privacy=privacy)


def external(caller: str, dialled: str = "+31201234567") -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000002", "sofia/external/x", caller, "",
                       dialled, Origin.EXTERNAL)


def drive(script: Script, respond: Responder, commands: Callable[[Command], CommandResult]
          = lambda c: CommandResult(False, "")) -> list[Action]:
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            assert len(actions) < 60, "the script never ends"
            if isinstance(action, Command):
                action = script.send(commands(action))
                continue
            actions.append(action)
            action = script.send(respond(action))
    except StopIteration:
        pass
    return actions


def rings(actions: list[Action]) -> list[str]:
    return [t.label() for a in actions if isinstance(a, Ring) for t in a.targets]


def answered_by(who: str) -> Responder:
    def respond(action: Action) -> Outcome:
        if isinstance(action, Ring):
            label = action.targets[0].label()
            if label == who:
                return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, who)
            return Rang.failed_with(HangupCause.USER_BUSY)
        return Done()
    return respond


def nobody(cause: HangupCause) -> Responder:
    return lambda a: Rang.failed_with(cause) if isinstance(a, Ring) else Done()


def run(app: Pbx, ctx: CallContext, respond: Responder, now: datetime = MONDAY_10
        ) -> tuple[list[Action], Trace]:
    trace = Trace()
    return drive(route_call(ctx, fresh(app), GATEWAY, trace, now), respond), trace


def story(trace: Trace) -> str:
    return " | ".join(step.detail for step in trace.steps)


# -- forwarding ------------------------------------------------------------------------------
def test_forward_always_to_a_colleague_rings_the_colleague_not_the_user(app: Pbx) -> None:
    user_services.forward(app, None, "102", "always", "103")
    actions, trace = run(app, internal("101", "102"), answered_by("103"))
    assert rings(actions) == ["103"]
    ring = actions[0]
    assert isinstance(ring, Ring) and ring.caller_id_number == "101"
    assert ring.diversion is not None and "102@acme.example" in ring.diversion
    assert "102 forwards (always) to 103 (Carol)" in story(trace)


def test_forward_always_to_a_mobile_goes_out_through_the_gateway(app: Pbx) -> None:
    user_services.forward(app, None, "101", "always", "06 12345678")
    actions, trace = run(app, external("0301234567"), answered_by("+31612345678"))
    assert len(actions) == 1 and isinstance(actions[0], Ring)
    assert actions[0].targets == (GatewayNumber("trunk", "+31612345678"),)
    assert actions[0].caller_id_number == "0301234567"  # the original caller is shown
    assert "reason=unconditional" in (actions[0].diversion or "")


@pytest.mark.parametrize(
    ("kind", "result", "cause"),
    [("busy", RingResult.BUSY, HangupCause.USER_BUSY),
     ("no-answer", RingResult.NO_ANSWER, HangupCause.NO_ANSWER),
     ("not-reachable", RingResult.NOT_REACHABLE, HangupCause.USER_NOT_REGISTERED)],
)
def test_conditional_forwarding_applies_only_to_its_own_condition(
    app: Pbx, kind: str, result: RingResult, cause: HangupCause
) -> None:
    user_services.forward(app, None, "102", kind, "103")

    def only_103_answers(action: Action) -> Outcome:
        if not isinstance(action, Ring):
            return Done()
        if action.targets[0].label() == "103":
            return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "103")
        return Rang.failed_with(cause)

    actions, trace = run(app, internal("101", "102"), only_103_answers)
    assert rings(actions) == ["102", "103"]
    assert f"102 forwards ({kind}) to 103" in story(trace)
    other = {"busy": "no-answer", "no-answer": "busy", "not-reachable": "busy"}[kind]
    user_services.forward_off(app, None, "102", kind)
    user_services.forward(app, None, "102", other, "103")
    actions, _ = run(app, internal("101", "102"), nobody(cause))
    assert rings(actions) == ["102"]
    assert actions[-1] == Hangup(cause)


def test_no_answer_forwarding_rings_for_the_configured_seconds(app: Pbx) -> None:
    user_services.forward(app, None, "102", "no-answer", "103", after_seconds=12)
    actions, _ = run(app, internal("101", "102"), nobody(HangupCause.NO_ANSWER))
    first = actions[0]
    assert isinstance(first, Ring) and first.timeout == 12


def test_diversion_inhibitor_stops_a_second_diversion(app: Pbx) -> None:
    user_services.forward(app, None, "102", "always", "103")
    user_services.forward(app, None, "103", "always", "104")
    actions, trace = run(app, internal("101", "102"), answered_by("103"))
    assert rings(actions) == ["103"]
    assert "already diverted by 102" in story(trace)


def test_forwarding_loops_end(app: Pbx) -> None:
    user_services.forward(app, None, "102", "always", "103")
    user_services.forward(app, None, "103", "busy", "102")
    actions, _ = run(app, internal("101", "102"), nobody(HangupCause.USER_BUSY))
    assert rings(actions) == ["103"]
    assert actions[-1] == Hangup(HangupCause.USER_BUSY)


def test_a_call_already_diverted_by_the_network_is_not_diverted_again(app: Pbx) -> None:
    user_services.forward(app, None, "101", "always", "102")
    ctx = CallContext("00000000-0000-4000-8000-000000000003", "sofia/external/x", "0301234567",
                      "", "+31201234567", Origin.EXTERNAL, diverted_from="0201111111")
    actions, trace = run(app, ctx, answered_by("101"))
    assert rings(actions) == ["101"]
    assert "already diverted" in story(trace)


def test_selective_forwarding_follows_its_schedule_and_caller_pattern(app: Pbx) -> None:
    from esl_controller.schedules import add_schedule

    add_schedule(app, None, "office", "mon-fri 08:30-17:30", "NL")
    user_services.forward(app, None, "101", "selective", "103", schedule="office",
                          from_pattern="+3130*")
    actions, trace = run(app, external("+31301234567"), answered_by("103"), MONDAY_10)
    assert rings(actions) == ["103"]
    actions, trace = run(app, external("+31301234567"), answered_by("101"), SUNDAY_10)
    assert rings(actions) == ["101"]
    assert "is closed now" in story(trace)
    actions, trace = run(app, external("+31201112222"), answered_by("101"), MONDAY_10)
    assert rings(actions) == ["101"]
    assert "does not match +3130*" in story(trace)


# -- DND, anonymous rejection, intercept -----------------------------------------------------
def test_do_not_disturb_treats_the_caller_as_busy_without_ringing(app: Pbx) -> None:
    user_services.set_dnd(app, None, "102", True)
    actions, trace = run(app, internal("101", "102"), answered_by("102"))
    assert rings(actions) == []
    assert actions == [Hangup(HangupCause.USER_BUSY)]
    user_services.forward(app, None, "102", "busy", "103")
    actions, _ = run(app, internal("101", "102"), answered_by("103"))
    assert rings(actions) == ["103"]


def test_anonymous_rejection_refuses_withheld_outside_callers_only(app: Pbx) -> None:
    user_services.set_anonymous_rejection(app, None, "101", True)
    actions, trace = run(app, external("anonymous"), answered_by("101"))
    assert [type(a) for a in actions] == [PreAnswer, Playback, Hangup]
    assert actions[-1] == Hangup(HangupCause.CALL_REJECTED)
    actions, _ = run(app, external("0301234567"), answered_by("101"))
    assert rings(actions) == ["101"]
    actions, trace = run(app, internal("102", "101", privacy=True), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "inside the enterprise" in story(trace)


def test_intercept_plays_an_announcement_or_redirects(app: Pbx) -> None:
    user_services.set_intercept(app, None, "102", "announcement")
    actions, _ = run(app, internal("101", "102"), answered_by("102"))
    assert actions[-1] == Hangup(HangupCause.CALL_REJECTED) and rings(actions) == []
    user_services.set_intercept(app, None, "102", "104")
    actions, trace = run(app, internal("101", "102"), answered_by("104"))
    assert rings(actions) == ["104"]
    assert "intercepted to 104" in story(trace)


# -- caller identity and feature codes ------------------------------------------------------
def test_identity_and_clir_decide_the_presented_number(app: Pbx) -> None:
    def presented(ctx: CallContext) -> tuple[str, bool]:
        actions, _ = run(app, ctx, answered_by("+31612345678"))
        ring = actions[0]
        assert isinstance(ring, Ring)
        return ring.caller_id_number, ring.privacy

    assert presented(internal("101", "0612345678")) == ("+31201234567", False)
    assert presented(internal("101", "*670612345678")) == ("anonymous", True)
    user_services.update(app, None, "101", mobile="0687654321", identity="mobile")
    assert presented(internal("101", "0612345678")) == ("+31687654321", False)
    user_services.update(app, None, "101", identity="anonymous")
    assert presented(internal("101", "0612345678")) == ("anonymous", True)
    actions, _ = run(app, internal("101", "102"), answered_by("102"))
    assert isinstance(actions[0], Ring) and actions[0].caller_id_number == "101"


def test_feature_codes_ask_the_settings_service_and_confirm(app: Pbx) -> None:
    asked: list[Command] = []

    def settings_service(command: Command) -> CommandResult:
        asked.append(command)
        return CommandResult(command.arg("destination") != "09001234567", "refused")

    trace = Trace()
    actions = drive(route_call(internal("101", "*72103"), fresh(app), GATEWAY, trace),
                    answered_by("x"), settings_service)
    assert asked[-1].service == "settings" and asked[-1].name == "forward"
    assert dict(asked[-1].args) == {"kind": "always", "destination": "103"}
    assert [type(a) for a in actions] == [Answer, Playback, Hangup]
    trace = Trace()
    drive(route_call(internal("101", "*7209001234567"), fresh(app), GATEWAY, trace),
          answered_by("x"), settings_service)
    assert "refused" in story(trace)
    for code, name in [("*73", "forward-off"), ("*78", "dnd"), ("*79", "dnd"),
                       ("*77", "anonymous-rejection")]:
        drive(route_call(internal("101", code), fresh(app), GATEWAY, Trace()),
              answered_by("x"), settings_service)
        assert asked[-1].name == name


# -- invariants ------------------------------------------------------------------------------
KINDS = ["always", "busy", "no-answer", "not-reachable"]
USERS = ["101", "102", "103", "104"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules=st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(KINDS),
                             st.sampled_from(USERS)), max_size=8),
    dnd=st.sets(st.sampled_from(USERS)),
    results=st.lists(st.sampled_from(list(RingResult)), min_size=1, max_size=6),
)
def test_every_call_ends_and_is_never_diverted_twice(
    app: Pbx, rules: list[tuple[str, str, str]], dnd: set[str], results: list[RingResult]
) -> None:
    directory = fresh(app)
    acme = app.enterprise("Acme").id
    for owner, kind, target in rules:  # any graph, loops included (the CLI refuses self)
        if owner != target:
            user = directory.user(acme, owner)
            assert user is not None
            kept = tuple(r for r in user.forwarding if r.kind != kind)
            directory.users[user.id] = replace(user, forwarding=(*kept, ForwardRule(kind, target)))
    for ext in dnd:
        user = directory.user(acme, ext)
        assert user is not None
        directory.users[user.id] = replace(user, dnd=True)
    feed = iter(results * 10)

    def respond(action: Action) -> Outcome:
        if isinstance(action, Ring):
            result = next(feed)
            if result is RingResult.ANSWERED:
                return Rang(result, HangupCause.NORMAL_CLEARING, action.targets[0].label())
            cause = {RingResult.BUSY: HangupCause.USER_BUSY,
                     RingResult.NO_ANSWER: HangupCause.NO_ANSWER,
                     RingResult.NOT_REACHABLE: HangupCause.USER_NOT_REGISTERED,
                     RingResult.REJECTED: HangupCause.CALL_REJECTED}.get(
                result, HangupCause.DESTINATION_OUT_OF_ORDER)
            return Rang.failed_with(cause)
        return Done()

    trace = Trace()
    actions = drive(route_call(internal("101", "102"), directory, GATEWAY, trace), respond)
    rung = [t for a in actions if isinstance(a, Ring) for t in a.targets
            if isinstance(t, UserDevices)]
    diversions = [s for s in trace.steps if s.rule.startswith("forward ")]
    assert len(diversions) <= 1, "a call is diverted at most once"
    assert len(rung) <= 2
    last = actions[-1] if actions else None
    assert isinstance(last, Hangup) or any(
        isinstance(a, Ring) for a in actions
    ), "the call ends with a cause or rings somebody"
    assert trace.steps


# -- selective rejection / acceptance, call waiting -----------------------------------------
def test_selective_rejection_with_dont_reject_exceptions(app: Pbx) -> None:
    user_services.add_screening(app, None, "101", "reject", "+3130*")
    user_services.add_screening(app, None, "101", "dont-reject", "+31301111111")
    actions, trace = run(app, external("+31302222222"), answered_by("101"))
    assert actions[-1] == Hangup(HangupCause.CALL_REJECTED) and rings(actions) == []
    assert "101 rejects +3130*" in story(trace)
    actions, trace = run(app, external("+31301111111"), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "don't-reject" in story(trace)
    actions, _ = run(app, external("+31201112222"), answered_by("101"))
    assert rings(actions) == ["101"]


def test_selective_rejection_follows_its_schedule(app: Pbx) -> None:
    from esl_controller.schedules import add_schedule

    add_schedule(app, None, "weekend", "weekend 00:00-24:00", None)
    user_services.add_screening(app, None, "101", "reject", "anonymous", schedule="weekend")
    assert run(app, external("anonymous"), answered_by("101"), SUNDAY_10)[0][-1] == Hangup(
        HangupCause.CALL_REJECTED)
    assert rings(run(app, external("anonymous"), answered_by("101"), MONDAY_10)[0]) == ["101"]


def test_selective_acceptance_lets_only_matching_callers_through(app: Pbx) -> None:
    user_services.add_screening(app, None, "101", "accept", "+3130*")
    assert rings(run(app, external("+31301234567"), answered_by("101"))[0]) == ["101"]
    actions, trace = run(app, external("+31201234000"), answered_by("101"))
    assert actions[-1] == Hangup(HangupCause.CALL_REJECTED)
    assert "matches none of 101's acceptance rules" in story(trace)


def test_call_waiting_off_makes_a_user_on_a_call_busy(app: Pbx) -> None:
    user_services.set_call_waiting(app, None, "102", False)
    user_services.forward(app, None, "102", "busy", "103")
    directory = fresh(app)
    acme = str(app.enterprise("Acme").id)
    on_a_call = {(acme, "102")}
    trace = Trace()
    actions = drive(route_call(internal("101", "102"), directory, GATEWAY, trace, MONDAY_10,
                               lambda e, x: (e, x) in on_a_call), answered_by("103"))
    assert rings(actions) == ["103"]
    assert "call waiting is off" in story(trace)
    user_services.set_call_waiting(app, None, "102", True)
    actions = drive(route_call(internal("101", "102"), fresh(app), GATEWAY, Trace(), MONDAY_10,
                               lambda e, x: (e, x) in on_a_call), answered_by("102"))
    assert rings(actions) == ["102"]


# -- mobility (USR-9) ------------------------------------------------------------------------
def test_mobility_rings_desk_and_mobile_together_or_one_of_them(app: Pbx) -> None:
    user_services.update(app, None, "102", mobile="0612345678", mobility=True)
    actions, trace = run(app, internal("101", "102"), answered_by("+31612345678"))
    ring = actions[0]
    assert isinstance(ring, Ring)
    assert ring.targets == (UserDevices("102", "acme.example"),
                            GatewayNumber("trunk", "+31612345678"))
    assert ring.answered_as == "102"  # answered on the mobile is answered by Bob
    assert "and the mobile 06 12345678" in story(trace)
    user_services.update(app, None, "102", ring="mobile")
    assert rings(run(app, internal("101", "102"), answered_by("x"))[0]) == ["+31612345678"]
    user_services.update(app, None, "102", ring="desk")
    assert rings(run(app, internal("101", "102"), answered_by("x"))[0]) == ["102"]
    user_services.update(app, None, "102", mobility=False)
    assert rings(run(app, internal("101", "102"), answered_by("x"))[0]) == ["102"]


def test_the_mobile_dials_colleagues_by_extension_and_presents_the_business_number(
    app: Pbx,
) -> None:
    user_services.update(app, None, "101", mobile="0687654321", mobility=True)
    actions, trace = run(app, external("+31687654321", "102"), answered_by("102"))
    assert rings(actions) == ["102"]
    assert isinstance(actions[0], Ring) and actions[0].caller_id_number == "101"
    assert "is the mobile of 101" in story(trace)
    assert trace.classification.caller_user == "101"
    actions, _ = run(app, external("+31687654321", "0201112222"), answered_by("+31201112222"))
    assert isinstance(actions[0], Ring)
    assert actions[0].caller_id_number == "+31201234567"  # the business number
    user_services.update(app, None, "101", mobility=False)
    actions, _ = run(app, external("+31687654321", "102"), answered_by("102"))
    assert rings(actions) == []  # an outside caller cannot dial extensions
