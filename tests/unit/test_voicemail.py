"""Voicemail: the pure scripts driven by feeding outcomes, and the service over a real log."""

from __future__ import annotations

import wave
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from esl_controller.application import Pbx
from esl_controller.domain.mailboxes import Mailbox
from esl_controller.errors import ValidationError
from esl_controller.esl import media
from esl_controller.routing import voicemail as vm
from esl_controller.routing.actions import (
    Action,
    Answer,
    CollectDigits,
    Command,
    Hangup,
    Playback,
    Record,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import CommandResult, Digits, Done, Outcome, Recorded
from esl_controller.routing.trace import Trace
from esl_controller.voicemail import VoicemailService

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class FakeMwi:
    """Records what would be sent to FreeSWITCH as MESSAGE_WAITING."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []

    def publish(self, headers: dict[str, str]) -> None:
        self.events.append(dict(headers))


def run(script: Generator[Action, Outcome, Any], respond: Callable[[Action], Outcome]
        ) -> tuple[list[Action], Any]:
    actions: list[Action] = []
    try:
        action = next(script)
        while len(actions) < 200:
            actions.append(action)
            action = script.send(respond(action))
    except StopIteration as stop:
        return actions, stop.value
    raise AssertionError("script did not end")


def write_wav(path: str, seconds: float) -> None:
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x10\x00" * int(8000 * seconds))


class Switch:
    """Answers a script's actions: commands go to the real service, media is faked."""

    def __init__(self, service: VoicemailService, ctx: CallContext, talk: float = 3.0,
                 digits: list[str] | None = None) -> None:
        self.service, self.ctx, self.talk = service, ctx, talk
        self.digits = list(digits or [])

    def __call__(self, action: Action) -> Outcome:
        if isinstance(action, Command):
            assert action.service == "voicemail"
            return self.service.handle(action, self.ctx)
        if isinstance(action, Record):
            seconds = min(self.talk, action.max_seconds)
            write_wav(action.path, seconds)
            return Recorded(action.path, seconds)
        if isinstance(action, CollectDigits):
            return Digits(self.digits.pop(0) if self.digits else "")
        return Done()


@pytest.fixture
def pbx(tmp_path: Path) -> Pbx:
    app = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice", email="alice@acme.example", pin="1234")
    app.add_user(None, "102", "Bob", email="bob@acme.example", pin="4321")
    app.add_user(None, "103", "Carol")
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mwi() -> FakeMwi:
    return FakeMwi()


@pytest.fixture
def service(pbx: Pbx, tmp_path: Path, clock: Clock, mwi: FakeMwi) -> VoicemailService:
    return VoicemailService(pbx, tmp_path / "vm", None, mwi, clock)


CTX = CallContext("c0ffee00-0000-4000-8000-000000000001", "sofia/internal/101@acme.example",
                  "101", "Alice", "102", Origin.INTERNAL, "acme.example", "101")


def incoming(pbx: Pbx, ext: str = "102") -> IncomingCall:
    ent = pbx.enterprise("Acme")
    return IncomingCall(CTX, ent, pbx.user(None, ext), "101", "Alice", True, Trace())


# -- leave_message ---------------------------------------------------------------------------
def test_a_user_without_a_box_is_left_to_the_chain(pbx: Pbx, service: VoicemailService) -> None:
    call = incoming(pbx)
    actions, took = run(vm.leave_message(call, "busy"), Switch(service, CTX))
    assert took is False
    assert [type(a) for a in actions] == [Command]
    assert call.trace.steps[-1].rule == "no mailbox"


def test_a_message_is_recorded_kept_and_lights_the_lamp(
    pbx: Pbx, service: VoicemailService, mwi: FakeMwi
) -> None:
    service.enable(None, "102", email_audio=True)
    call = incoming(pbx)
    actions, took = run(vm.leave_message(call, "busy"), Switch(service, CTX, talk=4.0))
    assert took is True
    kinds = [type(a).__name__ for a in actions]
    assert kinds == ["Command", "Answer", "Playback", "Playback", "Record", "Command", "Hangup"]
    assert actions[2] == Playback(vm.GREETING_BUSY)
    record = actions[4]
    assert isinstance(record, Record) and record.max_seconds == 300
    assert actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)
    box = service.mailbox(call.enterprise.id, "102")
    assert box is not None
    [message] = box.messages.values()
    assert (message.caller, message.caller_name, message.seconds) == ("101", "Alice", 4.0)
    assert Path(message.path).exists() and message.path == record.path
    assert mwi.events[-1] == {"MWI-Messages-Waiting": "yes",
                              "MWI-Message-Account": "sip:102@acme.example",
                              "MWI-Voice-Message": "1/0 (0/0)"}
    assert [s.rule for s in call.trace.steps] == ["busy greeting", "message left"]


def test_the_unavailable_greeting_plays_for_no_answer(pbx: Pbx, service: VoicemailService
                                                      ) -> None:
    service.enable(None, "102", email_audio=False)
    actions, _ = run(vm.leave_message(incoming(pbx), "no-answer"), Switch(service, CTX))
    assert Playback(vm.GREETING_UNAVAILABLE) in actions


def test_a_long_message_is_cut_to_what_is_left_and_a_full_box_takes_nothing(
    pbx: Pbx, service: VoicemailService
) -> None:
    service.enable(None, "102", email_audio=False)
    box = service.mailbox(pbx.enterprise("Acme").id, "102")
    assert box is not None
    box.leave_message("old", "103", "Carol", 3500.0, "/nowhere.wav", START)
    pbx.save(box)
    actions, _ = run(vm.leave_message(incoming(pbx), "busy"), Switch(service, CTX, talk=250))
    record = next(a for a in actions if isinstance(a, Record))
    assert record.max_seconds == 100
    box = service.mailbox(pbx.enterprise("Acme").id, "102")
    assert box is not None and box.seconds_left == 0 and box.full
    call = incoming(pbx)
    actions, took = run(vm.leave_message(call, "busy"), Switch(service, CTX))
    assert took is True
    assert actions[1:] == [Answer(), Playback(vm.MAILBOX_FULL),
                           Hangup(HangupCause.NORMAL_CLEARING)]
    assert call.trace.steps[-1].rule == "mailbox full"
    assert len(box.messages) == 2


def test_scripts_fed_by_hand_full_box_and_silence() -> None:
    call = IncomingCall(CTX, None, None, "101", "Alice", True, Trace())  # type: ignore[arg-type]
    object.__setattr__(call, "enterprise", type("E", (), {"id": "e"})())
    object.__setattr__(call, "user", type("U", (), {"extension": "102"})())
    script = vm.leave_message(call, "not-reachable")
    assert next(script) == Command("voicemail", "status", (
        ("enterprise", "e"), ("extension", "102"), ("reason", "not-reachable")))
    assert script.send(CommandResult(True, "seconds_left=20;record_to=/v/x.wav;greeting=/g.wav")
                       ) == Answer()
    assert script.send(Done()) == Playback("/g.wav")
    assert script.send(Done()) == Playback(vm.BEEP)
    assert script.send(Done()) == Record("/v/x.wav", 20, vm.SILENCE_SECONDS)
    assert script.send(Recorded("/v/x.wav", 0.0)) == Hangup(HangupCause.NORMAL_CLEARING)
    assert call.trace.steps[-1].rule == "nothing recorded"


def test_deposit_outside_the_box_folder_is_refused(pbx: Pbx, service: VoicemailService,
                                                  tmp_path: Path) -> None:
    service.enable(None, "102", email_audio=False)
    ent = str(pbx.enterprise("Acme").id)
    stray = tmp_path / "elsewhere.wav"
    write_wav(str(stray), 1)
    result = service.handle(Command("voicemail", "deposit", (
        ("enterprise", ent), ("extension", "102"), ("path", str(stray)), ("seconds", "1"))), CTX)
    assert not result.ok


# -- portal ----------------------------------------------------------------------------------
def _leave(pbx: Pbx, service: VoicemailService, ext: str = "102", talk: float = 3.0) -> None:
    run(vm.leave_message(incoming(pbx, ext), "busy"), Switch(service, CTX, talk=talk))


def portal(pbx: Pbx, ext: str = "102") -> tuple[Generator[Action, Outcome, None], Trace]:
    trace = Trace()
    return vm.portal(CTX, pbx.enterprise("Acme"), pbx.user(None, ext), trace), trace


def test_three_wrong_pins_lock_the_box_for_fifteen_minutes(
    pbx: Pbx, service: VoicemailService, clock: Clock
) -> None:
    service.enable(None, "102", email_audio=False)
    script, trace = portal(pbx)
    actions, _ = run(script, Switch(service, CTX, digits=["1111", "2222", "3333"]))
    assert sum(isinstance(a, CollectDigits) for a in actions) == 3
    assert actions[-2:] == [Playback(vm.LOCKED), Hangup(HangupCause.NORMAL_CLEARING)]
    assert [s.rule for s in trace.steps] == ["wrong PIN", "wrong PIN", "locked"]
    box = service.mailbox(pbx.enterprise("Acme").id, "102")
    assert box is not None and box.locked_until == START + timedelta(minutes=15)
    # Even the right PIN is refused while locked ...
    script, trace = portal(pbx)
    actions, _ = run(script, Switch(service, CTX, digits=["4321"]))
    assert not any(isinstance(a, CollectDigits) for a in actions)
    assert trace.steps[-1].rule == "refused"
    # ... and accepted once the lock has run out.
    clock.now = START + timedelta(minutes=16)
    script, trace = portal(pbx)
    run(script, Switch(service, CTX, digits=["4321", "#"]))
    assert trace.steps[0].rule == "PIN accepted"


def test_portal_plays_saves_deletes_and_forwards(
    pbx: Pbx, service: VoicemailService, mwi: FakeMwi
) -> None:
    service.enable(None, "101", email_audio=False)
    service.enable(None, "102", email_audio=False)
    for _ in range(3):
        _leave(pbx, service)
    ent = pbx.enterprise("Acme").id
    box = service.mailbox(ent, "102")
    assert box is not None
    first, second, third = sorted(box.messages.values(), key=lambda m: m.at)
    # PIN, listen (1); msg 1: replay (1) then save (2); msg 2: delete (7); msg 3: forward (8)
    # to 101; then back in the main menu: leave (#).
    digits = ["4321", "1", "1", "2", "7", "8", "101", "#"]
    script, trace = portal(pbx)
    actions, _ = run(script, Switch(service, CTX, digits=digits))
    played = [a.media for a in actions if isinstance(a, Playback)]
    assert played.count(first.path) == 2 and second.path in played and third.path in played
    box = service.mailbox(ent, "102")
    assert box is not None
    assert {m.message_id: m.status for m in box.messages.values()} == {
        first.message_id: "saved", third.message_id: "new"}
    assert not Path(second.path).exists()
    alice = service.mailbox(ent, "101")
    assert alice is not None
    [copy] = alice.messages.values()
    assert copy.caller == "101" and Path(copy.path).exists() and copy.path != third.path
    assert mwi.events[-1]["MWI-Message-Account"] == "sip:101@acme.example"
    assert "1/1 (0/0)" in [e["MWI-Voice-Message"] for e in mwi.events]


def test_portal_records_the_busy_greeting_which_callers_then_hear(
    pbx: Pbx, service: VoicemailService
) -> None:
    service.enable(None, "102", email_audio=False)
    script, _ = portal(pbx)
    run(script, Switch(service, CTX, digits=["4321", "6", "#"]))
    box = service.mailbox(pbx.enterprise("Acme").id, "102")
    assert box is not None and set(box.greetings) == {"busy"}
    actions, _ = run(vm.leave_message(incoming(pbx), "busy"), Switch(service, CTX))
    assert Playback(box.greetings["busy"]) in actions
    actions, _ = run(vm.leave_message(incoming(pbx), "no-answer"), Switch(service, CTX))
    assert Playback(vm.GREETING_UNAVAILABLE) in actions


# -- retention and administration ------------------------------------------------------------
def test_messages_older_than_two_weeks_are_purged(
    pbx: Pbx, service: VoicemailService, clock: Clock
) -> None:
    service.enable(None, "102", email_audio=False)
    _leave(pbx, service)
    clock.now = START + timedelta(days=10)
    _leave(pbx, service)
    clock.now = START + timedelta(days=15)
    box = service.mailbox(pbx.enterprise("Acme").id, "102")
    assert box is not None
    old = min(box.messages.values(), key=lambda m: m.at)
    assert service.purge_expired() == 1
    assert not Path(old.path).exists()
    box = service.mailbox(pbx.enterprise("Acme").id, "102")
    assert box is not None and len(box.messages) == 1
    purged = [e for _, e in pbx.events_after(0) if type(e).__name__ == "MessagePurged"]
    assert [(p.message_id, p.reason) for p in purged] == [(old.message_id, "expired")]  # type: ignore[attr-defined]
    assert service.purge_expired() == 0


def test_enable_refuses_bad_input_and_writes_nothing(pbx: Pbx, service: VoicemailService
                                                     ) -> None:
    before = pbx.last_position()
    with pytest.raises(ValidationError):
        service.enable(None, "199")
    with pytest.raises(ValidationError, match="e-mail"):
        service.enable(None, "103", email_audio=True)
    assert pbx.last_position() == before
    service.enable(None, "103", email_audio=False)
    service.disable(None, "103")
    box = service.mailbox(pbx.enterprise("Acme").id, "103")
    assert box is not None and not box.enabled
    assert Mailbox.create_id(pbx.user(None, "103").id) == box.id


# -- ESL arguments ---------------------------------------------------------------------------
def test_media_arguments_follow_mod_dptools() -> None:
    assert media.record_arg(Record("/v/a.wav", 120, 5)) == "/v/a.wav 120 200 5"
    arg = media.digits_arg(CollectDigits("voicemail/vm-enter_pass.wav", 4, 8, 10, "#", 1))
    assert arg.split() == ["4", "8", "1", "10000", "#", "voicemail/vm-enter_pass.wav",
                           "silence_stream://250", "pbx_collected_digits", "^[0-9*#]{4,8}$",
                           "10000"]
    assert media.digits_arg(CollectDigits("p.wav", 1, 1, 5, "")).split()[4] == "none"
    assert media.recorded_seconds({"variable_record_ms": "2500"}) == 2.5
    assert media.recorded_seconds({"variable_record_seconds": "3"}) == 3.0
    assert media.recorded_seconds({}) == 0.0
