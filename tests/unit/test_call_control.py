"""Call control from the phone (USR-11, USR-12, USR-20), driven as pure routing scripts.

A real Pbx on a temp SQLite file; the ``calls`` service is either the real one (reading the
calls' events written to that log) or answers given by the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.call_history import CallsService
from esl_controller.callback_on_busy import CallbackOnBusy, CallbackRequest, originate_command
from esl_controller.domain.calls import Call
from esl_controller.domain.users import User
from esl_controller.errors import ValidationError
from esl_controller.esl.session import dial_string
from esl_controller.lines import ActiveLines
from esl_controller.routing.actions import (
    Action,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    Ring,
    UserDevices,
)
from esl_controller.routing.call_control import NUMBER_WITHHELD
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory

GATEWAY = RoutingSettings(gateway="trunk")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Commands = Callable[[Command], CommandResult]


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    return pbx


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext(str(uuid.uuid4()), f"sofia/internal/{caller}", caller, caller, dialled,
                       Origin.INTERNAL, "acme.example", caller)


def answering(action: Action) -> Outcome:
    if isinstance(action, Ring):
        return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, action.targets[0].label())
    return Done()


class Run:
    """One call driven to its end: the actions the switch got, the commands, the trace."""

    def __init__(self, app: Pbx, ctx: CallContext, commands: Commands | None = None,
                 busy: Callable[[str, str], bool] | None = None) -> None:
        self.trace = Trace()
        self.actions: list[Action] = []
        self.commands: list[Command] = []
        answer = commands or (lambda c: CommandResult(True, ""))
        script = route_call(ctx, fresh(app), GATEWAY, self.trace, NOW, busy)
        try:
            action = next(script)
            while True:
                assert len(self.actions) + len(self.commands) < 40, "the script never ends"
                if isinstance(action, Command):
                    self.commands.append(action)
                    action = script.send(answer(action))
                    continue
                self.actions.append(action)
                action = script.send(answering(action))
        except StopIteration:
            pass

    @property
    def rung(self) -> list[Ring]:
        return [a for a in self.actions if isinstance(a, Ring)]

    @property
    def hangup(self) -> HangupCause | None:
        found = [a.cause for a in self.actions if isinstance(a, Hangup)]
        return found[-1] if found else None

    @property
    def story(self) -> str:
        return " | ".join(s.detail for s in self.trace.steps)


# -- speed dial (USR-12) ----------------------------------------------------------------------
def test_speed_dial_short_slot_rings_the_colleague_it_names(app: Pbx) -> None:
    user_services.set_speed_dial(app, None, "101", "2", "102")
    run = Run(app, internal("101", "#2"))
    assert [r.targets for r in run.rung] == [(UserDevices("102", "acme.example"),)]
    assert "speed dial #2 of 101 is 102" in run.story
    assert run.trace.classification.target_user == "102"
    assert [(c.service, c.name, c.arg("number")) for c in run.commands] == [
        ("session", "dialled", "102")
    ]


def test_speed_dial_long_slot_goes_out_through_the_gateway(app: Pbx) -> None:
    user_services.set_speed_dial(app, None, "101", "07", "06 12345678")
    run = Run(app, internal("101", "#07"))
    assert run.rung[0].targets == (GatewayNumber("trunk", "+31612345678"),)
    assert run.rung[0].caller_id_number == "+31201234567"


def test_a_speed_dial_obeys_the_calling_plan_when_dialled(app: Pbx) -> None:
    # A slot recorded before the calling plan refused premium numbers still cannot reach one.
    view = app.user(None, "101")
    alice: User = app.repository.get(view.id)
    alice.set_speed_dial("3", "+319001234567")
    app.save(alice)
    run = Run(app, internal("101", "#3"))
    assert run.rung == []
    assert run.hangup is HangupCause.OUTGOING_CALL_BARRED
    assert "premium number, which the outgoing calling plan blocks" in run.story


def test_an_empty_speed_dial_slot_is_refused(app: Pbx) -> None:
    run = Run(app, internal("101", "#5"))
    assert run.rung == [] and run.hangup is HangupCause.UNALLOCATED_NUMBER
    assert "101 has no speed dial in slot 5" in run.story


def test_speed_dial_slots_are_8_short_and_100_long(app: Pbx) -> None:
    for slot in ("1", "0", "100", "a", ""):
        with pytest.raises(ValidationError):
            user_services.set_speed_dial(app, None, "101", slot, "102")
    for slot in ("2", "9", "00", "99"):
        user_services.set_speed_dial(app, None, "101", slot, "102")
    assert [s for s, _ in app.user(None, "101").speed_dials] == ["2", "9", "00", "99"]
    with pytest.raises(ValidationError, match="premium"):
        user_services.set_speed_dial(app, None, "101", "4", "0900 1234567")
    with pytest.raises(ValidationError, match="itself"):
        user_services.set_speed_dial(app, None, "101", "4", "101")


@pytest.mark.parametrize(
    ("dialled", "name", "args"),
    [
        ("*7420612345678", "speed-dial", {"slot": "2", "number": "0612345678"}),
        ("*7507102", "speed-dial", {"slot": "07", "number": "102"}),
        ("*749", "speed-dial-off", {"slot": "9"}),
    ],
)
def test_speed_dial_is_programmed_from_the_phone(
    app: Pbx, dialled: str, name: str, args: dict[str, str]
) -> None:
    run = Run(app, internal("101", dialled))
    assert [(c.service, c.name, dict(c.args)) for c in run.commands] == [("calls", name, args)]
    assert run.trace.classification.outcome == "feature-code"


def test_programming_slot_1_is_refused_without_asking_the_service(app: Pbx) -> None:
    run = Run(app, internal("101", "*741102"))
    assert run.commands == []
    assert run.trace.classification.outcome == "refused"


def test_the_calls_service_programs_a_slot_through_the_use_case(app: Pbx) -> None:
    service = CallsService(app)
    ctx = internal("101", "*7420612345678")
    ok = service.handle(Command("calls", "speed-dial", (("slot", "2"), ("number", "0612345678"))),
                        ctx)
    refused = service.handle(
        Command("calls", "speed-dial", (("slot", "3"), ("number", "09001234567"))), ctx)
    assert ok.ok and not refused.ok and "premium" in refused.value
    assert app.user(None, "101").speed_dials == (("2", "+31612345678"),)


# -- call return and redial (USR-11) ---------------------------------------------------------
def _finished_call(app: Pbx, caller: str, caller_user: str | None, destination: str,
                   target: str | None, withheld: bool = False, dialled: str | None = None,
                   at: datetime = NOW) -> None:
    ent = app.enterprise("Acme")
    call = Call(str(uuid.uuid4()), ent.id, caller, caller_user, destination,
                "internal" if caller_user else "external", "sofia/x", at)
    call.route("internal" if caller_user else "inbound", target, [])
    if withheld:
        call.withhold()
    if dialled is not None:
        call.dial(dialled, "speed dial #2")
    call.end("NO_ANSWER", "no-answer", at + timedelta(seconds=5), 5.0, 0.0)
    app.save(call)


def test_call_return_calls_back_the_last_outside_caller(app: Pbx) -> None:
    _finished_call(app, "0301234567", None, "+31201234567", "101")
    _finished_call(app, "0612345678", None, "+31201234567", "101")
    service = CallsService(app)
    run = Run(app, internal("101", "*69"), lambda c: service.handle(c, internal("101", "*69")))
    assert run.rung[0].targets == (GatewayNumber("trunk", "+31612345678"),)
    assert "101 calls back the last caller, 0612345678" in run.story


def test_call_return_to_a_colleague_rings_the_colleague(app: Pbx) -> None:
    _finished_call(app, "103", "103", "101", "101")
    service = CallsService(app)
    run = Run(app, internal("101", "*69"), lambda c: service.handle(c, internal("101", "*69")))
    assert [t.label() for r in run.rung for t in r.targets] == ["103"]
    assert run.trace.classification.target_user == "103"


def test_call_return_never_reveals_a_withheld_number(app: Pbx) -> None:
    _finished_call(app, "0612345678", None, "+31201234567", "101", withheld=True)
    service = CallsService(app)
    run = Run(app, internal("101", "*69"), lambda c: service.handle(c, internal("101", "*69")))
    assert run.rung == []
    assert Playback(NUMBER_WITHHELD) in run.actions
    assert "withheld their number" in run.story
    assert "0612345678" not in run.story


def test_call_return_with_no_call_received_is_refused(app: Pbx) -> None:
    service = CallsService(app)
    run = Run(app, internal("102", "*69"), lambda c: service.handle(c, internal("102", "*69")))
    assert run.rung == [] and run.hangup is HangupCause.UNALLOCATED_NUMBER
    assert "102 has no call received to call" in run.story


def test_redial_dials_the_number_a_speed_dial_stood_for(app: Pbx) -> None:
    _finished_call(app, "101", "101", "0201112233", None)
    _finished_call(app, "101", "101", "#2", "102", dialled="102")
    _finished_call(app, "101", "101", "*73", None)  # a feature code is never redialled
    service = CallsService(app)
    run = Run(app, internal("101", "*66"), lambda c: service.handle(c, internal("101", "*66")))
    assert [t.label() for r in run.rung for t in r.targets] == ["102"]
    assert "101 redials the last number dialled, 102" in run.story


def test_redial_obeys_the_calling_plan(app: Pbx) -> None:
    run = Run(app, internal("101", "*66"), lambda c: CommandResult(True, "09001234567"))
    assert run.rung == [] and run.hangup is HangupCause.OUTGOING_CALL_BARRED


# -- intercom (USR-20) -------------------------------------------------------------------------
def test_intercom_rings_the_colleague_desk_phone_with_auto_answer(app: Pbx) -> None:
    user_services.update(app, None, "102", mobile="0612345678", mobility=True)
    run = Run(app, internal("101", "*96102"))
    assert len(run.rung) == 1
    ring = run.rung[0]
    assert ring.targets == (UserDevices("102", "acme.example"),)  # never the mobile
    assert ring.auto_answer and ring.caller_id_number == "101"
    assert "101 calls 102 (Bob) on intercom" in run.story
    dial = dial_string(ring, "local_stream://moh", "acme.example")
    assert "sip_auto_answer=true" in dial
    assert "sip_h_Call-Info=<sip:acme.example>;answer-after=0" in dial


def test_intercom_is_refused_for_a_colleague_on_do_not_disturb(app: Pbx) -> None:
    user_services.set_dnd(app, None, "102", True)
    run = Run(app, internal("101", "*96102"))
    assert run.rung == [] and run.hangup is HangupCause.USER_BUSY
    assert "102 is on do not disturb: no intercom" in run.story


def test_intercom_is_refused_for_a_colleague_already_on_a_call(app: Pbx) -> None:
    run = Run(app, internal("101", "*96102"), busy=lambda ent, ext: ext == "102")
    assert run.rung == [] and run.hangup is HangupCause.USER_BUSY


@pytest.mark.parametrize("dialled", ["*96101", "*96555", "*96"])
def test_intercom_to_oneself_or_no_colleague_is_refused(app: Pbx, dialled: str) -> None:
    run = Run(app, internal("101", dialled))
    assert run.rung == [] and run.hangup in (HangupCause.CALL_REJECTED,
                                              HangupCause.UNALLOCATED_NUMBER)


def test_an_ordinary_ring_carries_hold_music_but_no_auto_answer(app: Pbx) -> None:
    run = Run(app, internal("101", "102"))
    dial = dial_string(run.rung[0], "local_stream://acme", "acme.example")
    assert "hold_music=local_stream://acme" in dial
    assert "sip_auto_answer" not in dial


def test_hold_music_can_be_chosen_per_enterprise() -> None:
    settings = RoutingSettings(hold_music_by_enterprise=(("e1", "local_stream://acme"),))
    assert settings.hold_music_for("e1") == "local_stream://acme"
    assert settings.hold_music_for("e2") == "local_stream://moh"


# -- automatic callback on busy (USR-11) -------------------------------------------------------
@pytest.mark.parametrize(
    ("dialled", "name", "args"),
    [("*5", "request", {"target": ""}), ("*5103", "request", {"target": "103"}),
     ("*55", "cancel", {})],
)
def test_callback_codes_ask_the_callback_service(
    app: Pbx, dialled: str, name: str, args: dict[str, str]
) -> None:
    run = Run(app, internal("101", dialled))
    assert [(c.service, c.name, dict(c.args)) for c in run.commands] == [("callback", name, args)]
    assert run.trace.classification.outcome == "feature-code"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _callbacks(app: Pbx, lines: ActiveLines, clock: Clock) -> CallbackOnBusy:
    # No inbound event socket: nothing can ring, so requests stay pending until they expire.
    return CallbackOnBusy(app, lines, CallsService(app), None, None, clock=clock)


def test_star_5_after_a_busy_colleague_asks_for_that_colleague(app: Pbx) -> None:
    ent = app.enterprise("Acme")
    call = Call(str(uuid.uuid4()), ent.id, "101", "101", "102", "internal", "sofia/x", NOW)
    call.route("internal", "102", [])
    call.end("USER_BUSY", "busy", NOW, 1.0, 0.0)
    app.save(call)
    callbacks = _callbacks(app, ActiveLines(), Clock())
    result = callbacks.handle(Command("callback", "request", (("target", ""),)),
                              internal("101", "*5"))
    assert result == CommandResult(True, "102")
    assert [(p.caller, p.target) for p in callbacks.pending.values()] == [("101", "102")]


def test_star_5_without_a_busy_call_before_is_refused(app: Pbx) -> None:
    callbacks = _callbacks(app, ActiveLines(), Clock())
    result = callbacks.handle(Command("callback", "request", (("target", ""),)),
                              internal("101", "*5"))
    assert not result.ok and "did not reach a busy colleague" in result.value
    assert callbacks.pending == {}


def test_a_callback_request_expires_after_30_minutes_and_55_cancels(app: Pbx) -> None:
    clock = Clock()
    callbacks = _callbacks(app, ActiveLines(), clock)
    callbacks.request(None, "101", "102")
    callbacks.request(None, "103", "102")
    assert callbacks.check() == []  # no event socket: nothing rang, both still pending
    assert callbacks.cancel(None, "103") and not callbacks.cancel(None, "103")
    clock.now = NOW + timedelta(minutes=30)
    callbacks.check()
    assert callbacks.pending == {}
    events = list(app.events.get(CallbackRequest.create_id(app.enterprise("Acme").id, "101")))
    assert [type(e).__name__ for e in events] == ["CallbackRequested", "CallbackCancelled"]
    assert getattr(events[-1], "reason", None) == "expired"


def test_a_callback_waits_while_either_line_is_busy(app: Pbx) -> None:
    lines = ActiveLines()
    callbacks = CallbackOnBusy(app, lines, CallsService(app), ("127.0.0.1", 1), "secret",
                               clock=Clock())
    callbacks.request(None, "101", "102")
    ent = str(app.enterprise("Acme").id)
    lines.add(ent, "102", "call-1")
    assert callbacks.check() == [] and len(callbacks.pending) == 1
    assert callbacks._retry_at == {}  # never tried: the colleague is still on a call


def test_the_callback_originate_rings_the_requester_then_dials_the_colleague() -> None:
    command = originate_command("101", "acme.example", "102", "Bob, the builder")
    assert command.startswith("originate {origination_caller_id_number=102,")
    assert "origination_caller_id_name='Callback Bob the builder'" in command
    assert "user_name=101,domain_name=acme.example,sip_authorized=true" in command
    assert command.endswith("}user/101@acme.example 102 XML default")
