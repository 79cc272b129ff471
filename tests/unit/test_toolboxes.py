"""Forwarding toolboxes (OPT-2) around a target: the frame (reject anonymous, always,
selective), the fallback (busy, no answer, not reachable), and their validation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from esl_controller import night_service, schedules
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.night_service import RuleChange
from esl_controller.routing import announcements
from esl_controller.routing.actions import Action, GatewayNumber, Hangup, Playback, PreAnswer, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import Done, Outcome, Rang, RingResult
from projections.directory import Directory
from projections.targets import TargetView
from tests.unit import test_night_service as base
from tests.unit.test_night_service import MONDAY_10, MONDAY_20, external, internal, run, rung

app = base.app  # the fixtures: Acme with 101-103 and schedule 'office'
desk = base.desk  # a target of a test kind on extension 600 that rings 102


def toolbox(app: Pbx, *changes: RuleChange, reject_anonymous: bool | None = None) -> None:
    night_service.add_toolbox(app, None, "Desk box", changes, reject_anonymous)
    night_service.attach_toolbox(app, None, "Desk box", "600")


def desk_fails(cause: HangupCause) -> Callable[[Action], Outcome]:
    """102 (the desk) does not connect with ``cause``; everyone else answers."""

    def respond(action: Action) -> Outcome:
        if isinstance(action, Ring):
            label = action.targets[0].label()
            if label == "102":
                return Rang.failed_with(cause)
            return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, label)
        return Done()

    return respond


def test_reject_anonymous_refuses_outside_callers_without_a_number(
    app: Pbx, desk: TargetView
) -> None:
    toolbox(app, reject_anonymous=True)
    actions, story = run(app, external("anonymous", "+31201110000"))
    assert actions == [PreAnswer(), Playback(announcements.ANONYMOUS_REJECTED),
                       Hangup(HangupCause.CALL_REJECTED)]
    assert "toolbox 'Desk box' of front desk Reception (ext. 600) rejects calls without" in story
    actions, _ = run(app, external("+31301234567", "+31201110000"))
    assert rung(actions) == ["102"]


def test_forward_always_sends_every_call_before_the_target_rings(
    app: Pbx, desk: TargetView
) -> None:
    toolbox(app, RuleChange("always", "103"))
    actions, story = run(app, internal("101", "600"))
    assert rung(actions) == ["103"]
    assert "forwards every call: to 103" in story


def test_selective_forwarding_needs_the_schedule_open_and_the_caller_matching(
    app: Pbx, desk: TargetView
) -> None:
    toolbox(app, RuleChange("selective", "0612345678", schedule="office",
                            from_pattern="+3130*"))
    actions, story = run(app, external("+31301234567", "+31201110000"), MONDAY_10)
    assert [a.targets for a in actions if isinstance(a, Ring)] == [
        (GatewayNumber("trunk", "+31612345678"),)]
    assert "schedule 'office' is open and the caller matches +3130*" in story
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.diversion == "<sip:600@acme.example>;reason=time-of-day"
    actions, story = run(app, external("+31201234567", "+31201110000"), MONDAY_10)
    assert rung(actions) == ["102"]
    assert "does not match +3130*" in story
    actions, story = run(app, external("+31301234567", "+31201110000"), MONDAY_20)
    assert rung(actions) == ["102"]
    assert "selective forwarding not now" in story


@pytest.mark.parametrize(
    ("cause", "kind", "reason"),
    [
        (HangupCause.USER_BUSY, "busy", "user-busy"),
        (HangupCause.NO_ANSWER, "no-answer", "no-answer"),
        (HangupCause.USER_NOT_REGISTERED, "not-reachable", "unavailable"),
    ],
)
def test_after_rules_take_the_call_the_target_could_not_connect(
    app: Pbx, desk: TargetView, cause: HangupCause, kind: str, reason: str
) -> None:
    toolbox(app, RuleChange("busy", "103"), RuleChange("no-answer", "vm:103"),
            RuleChange("not-reachable", "0612345678"))
    toolbox_view = app.directory().toolbox_of_target(desk.id)
    assert toolbox_view is not None
    rule = toolbox_view.rule(kind)
    assert rule is not None
    actions, story = run(app, internal("101", "600"), respond=desk_fails(cause))
    rings = [a for a in actions if isinstance(a, Ring)]
    assert rings[0].targets[0].label() == "102"
    if kind == "no-answer":  # to voicemail: no second ring
        assert "to the voicemail box of 103" in story
        return
    assert len(rings) == 2
    assert rings[1].diversion == f"<sip:600@acme.example>;reason={reason}"
    expected = "103" if kind == "busy" else "+31612345678"
    assert rings[1].targets[0].label().endswith(expected)
    assert "toolbox 'Desk box' of front desk Reception (ext. 600) forwards when" in story


def test_the_no_answer_rule_sets_how_long_the_target_rings(
    app: Pbx, desk: TargetView
) -> None:
    toolbox(app, RuleChange("no-answer", "103", after_seconds=15))
    actions, _ = run(app, internal("101", "600"), respond=desk_fails(HangupCause.NO_ANSWER))
    rings = [a for a in actions if isinstance(a, Ring)]
    assert (rings[0].timeout, rings[1].targets[0].label()) == (15, "103")


def test_without_a_matching_rule_the_caller_gets_the_targets_cause(
    app: Pbx, desk: TargetView
) -> None:
    toolbox(app, RuleChange("no-answer", "103"))
    actions, story = run(app, internal("101", "600"), respond=desk_fails(HangupCause.USER_BUSY))
    assert rung(actions) == ["102"]
    assert actions[-1] == Hangup(HangupCause.USER_BUSY)


def test_detaching_or_removing_the_toolbox_stops_its_rules(app: Pbx, desk: TargetView) -> None:
    toolbox(app, RuleChange("always", "103"))
    night_service.detach_toolbox(app, None, "Desk box", "Reception")
    assert rung(run(app, internal("101", "600"))[0]) == ["102"]
    night_service.attach_toolbox(app, None, "Desk box", "600")
    assert rung(run(app, internal("101", "600"))[0]) == ["103"]
    night_service.remove_toolbox(app, None, "Desk box")
    assert rung(run(app, internal("101", "600"))[0]) == ["102"]
    again = night_service.add_toolbox(app, None, "desk box")  # the name is free again
    assert (again.rules, again.attached) == ((), ())


def test_set_changes_and_clears_rules(app: Pbx, desk: TargetView) -> None:
    toolbox(app, RuleChange("busy", "103"), reject_anonymous=True)
    box = night_service.change_toolbox(app, None, "desk box", (
        RuleChange("busy", "off"), RuleChange("no-answer", "101", after_seconds=30)), False)
    assert [(r.kind, r.destination, r.after_seconds) for r in box.rules] == [
        ("no-answer", "101", 30)]
    assert box.reject_anonymous is False
    with pytest.raises(ValidationError, match="nothing to change"):
        night_service.change_toolbox(app, None, "desk box", (RuleChange("busy", "off"),))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (RuleChange("busy", "09001234567"), "premium number"),
        (RuleChange("busy", "600"), "would send calls of front desk Reception"),
        (RuleChange("no-answer", "103", after_seconds=2), "5 to 120"),
        (RuleChange("busy", "103", after_seconds=20), "--after applies to the no-answer"),
        (RuleChange("selective", "103"), "needs --schedule"),
        (RuleChange("night", "103", schedule="nope"), "unknown schedule"),
        (RuleChange("busy", "103", schedule="office"), "--schedule applies to the night"),
        (RuleChange("selective", "103", schedule="office", from_pattern="abc"),
         "invalid caller pattern"),
        (RuleChange("sometimes", "103"), "unknown rule"),
        (RuleChange("busy", "off", after_seconds=20), "takes no --after"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(
    app: Pbx, desk: TargetView, change: RuleChange, message: str
) -> None:
    toolbox(app)
    before = app.last_position()
    with pytest.raises(ValidationError, match=message):
        night_service.change_toolbox(app, None, "Desk box", (change,))
    assert app.last_position() == before


def test_attaching_is_checked(app: Pbx, desk: TargetView) -> None:
    night_service.add_toolbox(app, None, "Loop", (RuleChange("busy", "600"),))
    night_service.add_toolbox(app, None, "Other")
    before = app.last_position()
    with pytest.raises(ValidationError, match="it cannot serve front desk Reception"):
        night_service.attach_toolbox(app, None, "Loop", "600")
    with pytest.raises(ValidationError, match="not users"):
        night_service.attach_toolbox(app, None, "Other", "102")
    with pytest.raises(ValidationError, match="no user or target 'Lobby'"):
        night_service.attach_toolbox(app, None, "Other", "Lobby")
    with pytest.raises(ValidationError, match="no toolbox named 'Nope'"):
        night_service.attach_toolbox(app, None, "Nope", "600")
    with pytest.raises(ValidationError, match="already exists"):
        night_service.add_toolbox(app, None, "other")
    assert app.last_position() == before
    night_service.attach_toolbox(app, None, "Other", "600")
    with pytest.raises(ValidationError, match="already has toolbox 'Other': detach it first"):
        night_service.attach_toolbox(app, None, "Loop", "600")
    with pytest.raises(ValidationError, match="is not attached"):
        night_service.detach_toolbox(app, None, "Loop", "600")


def test_rebuilt_directory_equals_the_live_one(app: Pbx, desk: TargetView) -> None:
    live = Directory()
    app.catch_up(live)
    schedules.add_schedule(app, None, "lunch", "weekdays 12:00-13:00")
    toolbox(app, RuleChange("night", "103", schedule="office"),
            RuleChange("selective", "101", schedule="lunch", from_pattern="+31*"),
            reject_anonymous=True)
    night_service.change_toolbox(app, None, "Desk box", (RuleChange("night", "off"),))
    night_service.add_toolbox(app, None, "Spare", (RuleChange("busy", "103"),))
    night_service.remove_toolbox(app, None, "Spare")
    app.catch_up(live)
    rebuilt = Directory()
    app.catch_up(rebuilt)
    assert live.state() == rebuilt.state()
    assert [t.name for t in live.toolboxes.values()] == ["Desk box"]


def test_the_night_service_comes_before_the_toolbox_rules(app: Pbx, desk: TargetView) -> None:
    toolbox(app, RuleChange("always", "103"), reject_anonymous=True)
    night_service.set_night_service(app, None, "600", "on", to="101")
    actions, story = run(app, external("anonymous", "+31201110000"))
    assert rung(actions) == ["101"]
    assert "night service of front desk Reception (ext. 600) is on (manual): to 101" in story
    assert "toolbox" not in story
