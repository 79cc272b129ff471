"""Night service (CORE-3) of users and targets, driven as plain generators over a Directory
folded from real events of a real Pbx on a temp SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid5

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller import night_service, schedules, user_services
from esl_controller.application import Pbx
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing import targets
from esl_controller.routing.actions import Action, GatewayNumber, Ring, UserDevices
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.night import night_decision
from esl_controller.routing.outcomes import Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.toolbox import toolbox_no_answer_seconds
from esl_controller.routing.trace import Trace
from projections.directory import Directory
from projections.targets import TargetView

GATEWAY = RoutingSettings(gateway="trunk")
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
MONDAY_20 = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 20:00 in Amsterdam
CHRISTMAS_10 = datetime(2026, 12, 25, 9, 0, tzinfo=UTC)  # a Friday, a holiday in NL
KIND = "front-desk"  # a tiny target kind of these tests: rings 102, then the fallbacks
Responder = Callable[[Action], Outcome]


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    schedules.add_schedule(pbx, None, "office", "mon-fri 08:30-17:30", "NL")
    return pbx


@pytest.fixture
def desk(app: Pbx, monkeypatch: pytest.MonkeyPatch) -> Iterator[TargetView]:
    """A target of kind ``front-desk`` on extension 600, in every directory the app folds."""

    @targets.register(KIND)
    def front_desk(call: targets.TargetCall) -> Script:
        timeout = toolbox_no_answer_seconds(call) or 20
        outcome = yield Ring((UserDevices("102", call.enterprise.domain),), timeout,
                             call.presented_number, call.presented_name)
        assert isinstance(outcome, Rang)
        if outcome.result is not RingResult.ANSWERED:
            yield from targets.unanswered(call, outcome.result, outcome.cause)

    ent = app.enterprise(None)
    view = TargetView(KIND, uuid5(ent.id, "desk"), ent.id, "Reception", "600",
                      ("+31201110000",))
    original = app.directory

    def with_desk() -> Directory:
        directory = original()
        directory._put_target(view)
        return directory

    monkeypatch.setattr(app, "directory", with_desk)
    yield view
    targets.SCRIPTS.pop(KIND)


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000001", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller)


def external(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000002", "sofia/external/x", caller, "",
                       dialled, Origin.EXTERNAL)


def answered(action: Action) -> Outcome:
    if isinstance(action, Ring):
        return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, action.targets[0].label())
    return Done()


def run(app: Pbx, ctx: CallContext, now: datetime = MONDAY_10,
        respond: Responder = answered) -> tuple[list[Action], str]:
    trace = Trace()
    script = route_call(ctx, app.directory(), GATEWAY, trace, now)
    actions: list[Action] = []
    try:
        action = next(script)
        while True:
            assert len(actions) < 40, "the script never ends"
            actions.append(action)
            action = script.send(respond(action))
    except StopIteration:
        pass
    return actions, " | ".join(step.detail for step in trace.steps)


def rung(actions: list[Action]) -> list[str]:
    return [t.label() for a in actions if isinstance(a, Ring) for t in a.targets]


# -- users -----------------------------------------------------------------------------------
def test_manual_night_service_of_a_user_sends_every_call_to_the_night_destination(
    app: Pbx,
) -> None:
    night_service.set_night_service(app, None, "102", "on", to="103")
    actions, story = run(app, internal("101", "102"))
    assert rung(actions) == ["103"]
    assert "night service of 102 (Bob) is on (manual): to 103" in story
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.diversion == "<sip:102@acme.example>;reason=unconditional"


def test_automatic_night_service_follows_the_schedule_and_the_holidays(app: Pbx) -> None:
    night_service.set_night_service(app, None, "102", "auto", to="103", schedule="office")
    actions, story = run(app, internal("101", "102"), MONDAY_10)
    assert rung(actions) == ["102"]
    assert "is automatic and schedule 'office' is open" in story
    actions, story = run(app, internal("101", "102"), MONDAY_20)
    assert rung(actions) == ["103"]
    assert "outside 08:30-17:30): to 103" in story
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.diversion == "<sip:102@acme.example>;reason=time-of-day"
    actions, story = run(app, internal("101", "102"), CHRISTMAS_10)
    assert rung(actions) == ["103"]
    assert "Christmas Day, a holiday in NL" in story


def test_night_service_off_keeps_the_destination_for_the_next_on(app: Pbx) -> None:
    night_service.set_night_service(app, None, "102", "on", to="0612345678")
    night_service.set_night_service(app, None, "102", "off")
    actions, story = run(app, internal("101", "102"), MONDAY_20)
    assert rung(actions) == ["102"]
    assert "night service of 102 (Bob) is off (manual)" in story
    _, view = night_service.set_night_service(app, None, "102", "on")
    assert view.destination == "+31612345678"
    actions, _ = run(app, internal("101", "102"))
    assert [a.targets for a in actions if isinstance(a, Ring)] == [
        (GatewayNumber("trunk", "+31612345678"),)]


def test_a_diverted_call_skips_the_night_service_of_the_next_user(app: Pbx) -> None:
    night_service.set_night_service(app, None, "103", "on", to="0612345678")
    user_services.forward(app, None, "102", "always", "103")
    actions, story = run(app, internal("101", "102"))
    assert rung(actions) == ["103"]
    assert "already diverted by 102: not diverted again" in story


def test_night_destination_may_be_the_users_own_voicemail(app: Pbx) -> None:
    _, view = night_service.set_night_service(app, None, "102", "on", to="vm:102")
    assert view.destination == "vm:102"
    actions, story = run(app, internal("101", "102"))
    assert rung(actions) == []
    assert "is on (manual): to the voicemail box of 102" in story


def test_a_removed_schedule_leaves_automatic_night_service_unapplied(app: Pbx) -> None:
    night_service.set_night_service(app, None, "102", "auto", to="103", schedule="office")
    schedules.remove_schedule(app, None, "office")
    actions, story = run(app, internal("101", "102"), MONDAY_20)
    assert rung(actions) == ["102"]
    assert "schedule 'office' does not exist: not applied" in story


# -- targets ---------------------------------------------------------------------------------
def test_night_service_of_a_target_sends_its_calls_out_under_the_calling_plan(
    app: Pbx, desk: TargetView
) -> None:
    night_service.set_night_service(app, None, "Reception", "on", to="020 123 4999")
    actions, story = run(app, external("+31301234567", "+31201110000"))
    assert [a.targets for a in actions if isinstance(a, Ring)] == [
        (GatewayNumber("trunk", "+31201234999"),)]
    assert ("night service of front desk Reception (ext. 600) is on (manual): "
            "to 020 123 4999") in story
    night_service.set_night_service(app, None, "600", "off")
    actions, story = run(app, external("+31301234567", "+31201110000"))
    assert rung(actions) == ["102"]


def test_a_targets_night_service_can_send_to_a_user_whose_forwarding_is_inhibited(
    app: Pbx, desk: TargetView
) -> None:
    user_services.forward(app, None, "103", "always", "0612345678")
    night_service.set_night_service(app, None, "600", "auto", to="103", schedule="office")
    actions, story = run(app, internal("101", "600"), MONDAY_20)
    assert rung(actions) == ["103"]
    assert "always forwarding of 103 skipped: the call was already diverted by 600" in story
    actions, _ = run(app, internal("101", "600"), MONDAY_10)
    assert rung(actions) == ["102"]


def test_the_toolbox_night_rule_applies_unless_the_target_has_its_own(
    app: Pbx, desk: TargetView
) -> None:
    change = night_service.RuleChange("night", "103", schedule="office")
    night_service.add_toolbox(app, None, "After hours", (change,))
    night_service.attach_toolbox(app, None, "After hours", "600")
    actions, story = run(app, internal("101", "600"), MONDAY_20)
    assert rung(actions) == ["103"]
    assert "(toolbox 'After hours') is on (schedule 'office' is closed" in story
    night_service.set_night_service(app, None, "600", "off", to="101")
    actions, story = run(app, internal("101", "600"), MONDAY_20)
    assert rung(actions) == ["102"]
    assert "night service of front desk Reception (ext. 600) is off (manual)" in story


# -- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "mode", "to", "schedule", "message"),
    [
        ("999", "on", "103", None, "no user or target '999'"),
        ("102", "on", None, None, "needs a destination"),
        ("102", "auto", "103", None, "needs --schedule"),
        ("102", "auto", "103", "nope", "unknown schedule: 'nope'"),
        ("102", "on", "09001234567", None, "premium number"),
        ("102", "on", "00441234567890", None, "international number"),
        ("102", "on", "102", None, "cannot send its calls to itself"),
        ("102", "on", "vm:999", None, "'999' is no user"),
        ("102", "on", "hello", None, "no extension of 'Acme' and no telephone number"),
        ("102", "sometimes", "103", None, "unknown mode"),
    ],
)
def test_bad_night_service_settings_are_refused_and_nothing_is_written(
    app: Pbx, target: str, mode: str, to: str | None, schedule: str | None, message: str
) -> None:
    before = app.last_position()
    with pytest.raises(ValidationError, match=message):
        night_service.set_night_service(app, None, target, mode, to, schedule)
    assert app.last_position() == before


def test_unknown_target_is_a_not_found_error(app: Pbx) -> None:
    with pytest.raises(NotFoundError):
        night_service.night_service_status(app, None, "Nobody", MONDAY_10)


def test_setting_the_same_night_service_again_writes_nothing(app: Pbx) -> None:
    night_service.set_night_service(app, None, "102", "on", to="103")
    before = app.last_position()
    night_service.set_night_service(app, None, "102", "on")
    assert app.last_position() == before


def test_rebuilt_directory_equals_the_live_one(app: Pbx, desk: TargetView) -> None:
    live = Directory()
    app.catch_up(live)
    night_service.set_night_service(app, None, "102", "auto", to="103", schedule="office")
    night_service.set_night_service(app, None, "600", "on", to="vm:103")
    night_service.set_night_service(app, None, "102", "off")
    app.catch_up(live)
    rebuilt = Directory()
    app.catch_up(rebuilt)
    assert live.state() == rebuilt.state()
    assert live.night_service(desk.id) is not None
    view = live.night_service(app.user(None, "102").id)
    assert view is not None and (view.mode, view.destination) == ("off", "103")


# -- the decision as a property --------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(["on", "off", "auto"]),
       at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC)))
def test_night_service_diverts_exactly_when_on_or_when_the_schedule_is_closed(
    app: Pbx, mode: str, at: datetime
) -> None:
    night_service.set_night_service(app, None, "102", mode, to="103", schedule="office")
    directory = app.directory()
    ent = app.enterprise(None)
    view = directory.night_service(app.user(None, "102").id)
    assert view is not None
    _, closed = schedules.schedule_decision(app, None, "office", at)
    expected = mode == "on" or (mode == "auto" and not closed.open)
    assert night_decision(directory, ent, view, at).active is expected
