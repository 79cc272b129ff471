"""Group voicemail (CORE-4 business, OPT-4 department): the routing script, the use cases'
validation, the fold, and the voicemail service keeping a group box's messages.

Routing is driven as plain generators over a Directory folded from a real Pbx on a temp
SQLite file; the voicemail service's answers come from a real VoicemailService.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esl_controller import group_voicemail as use_cases
from esl_controller.application import Pbx
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing import voicemail
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    Hangup,
    Playback,
    Record,
    Ring,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import (
    CommandResult,
    Done,
    Outcome,
    Rang,
    Recorded,
    RingResult,
)
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.voicemail import VoicemailService
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _wav(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return path


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    return pbx


@pytest.fixture
def greeting(tmp_path: Path) -> Path:
    return _wav(tmp_path / "welcome.wav")


@pytest.fixture
def service(app: Pbx, tmp_path: Path) -> VoicemailService:
    return VoicemailService(app, tmp_path / "vm", clock=lambda: NOW)


def add(app: Pbx, tmp_path: Path, **kw: object) -> None:
    args: dict[str, object] = {"email": "sales@acme.example", "audio_dir": tmp_path / "audio"}
    args.update(kw)
    use_cases.add_group_voicemail(app, None, "Sales", "600", **args)  # type: ignore[arg-type]


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000001", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller)


def external(dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000002", "sofia/external/x",
                       "+31612345678", "", dialled, Origin.EXTERNAL)


def run(app: Pbx, ctx: CallContext, commands: Callable[[Command], CommandResult],
        seconds: float = 12.0) -> tuple[list[Action], Trace, list[Command]]:
    """Drive the call: records last ``seconds``, rings are answered, commands answered by
    ``commands``; returns the actions, the trace and the commands asked."""
    directory = Directory()
    app.catch_up(directory)
    trace = Trace()
    script = route_call(ctx, directory, RoutingSettings(gateway="trunk"), trace, NOW)
    actions: list[Action] = []
    asked: list[Command] = []
    try:
        action = next(script)
        while True:
            assert len(actions) < 40, "the script never ends"
            outcome: Outcome
            if isinstance(action, Command):
                asked.append(action)
                outcome = commands(action)
            else:
                actions.append(action)
                if isinstance(action, Record):
                    outcome = Recorded(action.path, seconds)
                elif isinstance(action, Ring):
                    outcome = Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "x")
                else:
                    outcome = Done()
            action = script.send(outcome)
    except StopIteration:
        pass
    return actions, trace, asked


def story(trace: Trace) -> str:
    return " | ".join(step.detail for step in trace.steps)


def real(service: VoicemailService) -> Callable[[Command], CommandResult]:
    """The voicemail service answers; a recording is a real file in the box's folder."""

    def answer(command: Command) -> CommandResult:
        if command.name == "deposit":
            _wav(Path(command.arg("path")), float(command.arg("seconds")))
        return service.handle(command, internal("101", "600"))

    return answer


# -- the script ------------------------------------------------------------------------------
def test_caller_hears_the_greeting_and_leaves_a_message_in_the_group_box(
        app: Pbx, tmp_path: Path, greeting: Path, service: VoicemailService) -> None:
    add(app, tmp_path, cc="boss@acme.example", greeting=greeting)
    actions, trace, _ = run(app, internal("101", "600"), real(service))
    kinds = [type(a).__name__ for a in actions]
    assert kinds == ["Answer", "Playback", "Playback", "Record", "Hangup"]
    played = actions[1]
    assert isinstance(played, Playback) and played.media.endswith(".wav")
    assert Path(played.media).read_bytes() == greeting.read_bytes()  # the box's own greeting
    assert actions[2] == Playback(voicemail.BEEP)
    ent = app.enterprise(None)
    _, stored = use_cases.get_group_voicemail(app, None, "Sales")
    [message] = stored.messages.values()
    assert message.caller == "101" and message.seconds == 12.0
    assert Path(message.path).parent.name.startswith("group-")
    assert Path(message.path).parent.parent.name == str(ent.id)
    text = story(trace)
    assert "e-mailed to sales@acme.example, cc boss@acme.example" in text
    assert "a message of 12 s was left for group voicemail Sales (ext. 600)" in text
    assert trace.classification.outcome == "voicemail"


def test_a_call_to_the_public_number_reaches_the_box(
        app: Pbx, tmp_path: Path, service: VoicemailService) -> None:
    add(app, tmp_path, number="020 7654321")
    actions, trace, asked = run(app, external("+31207654321"), real(service))
    assert any(isinstance(a, Record) for a in actions)
    assert asked[-1].name == "deposit" and asked[-1].arg("caller") == "+31612345678"
    assert "standard greeting" in story(trace)
    assert actions[1] == Playback(voicemail.GREETING_UNAVAILABLE)


def test_greeting_only_then_hangup_records_nothing(
        app: Pbx, tmp_path: Path, greeting: Path, service: VoicemailService) -> None:
    add(app, tmp_path, greeting=greeting, greeting_only="hangup")
    actions, trace, asked = run(app, internal("101", "600"), real(service))
    assert [type(a) for a in actions] == [Answer, Playback, Hangup]
    assert actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)
    assert [c.name for c in asked] == ["status"]
    assert "takes no messages" in story(trace) and "is disconnected" in story(trace)
    _, stored = use_cases.get_group_voicemail(app, None, "Sales")
    assert not stored.messages


def test_greeting_only_then_forward_rings_the_destination_after_the_greeting(
        app: Pbx, tmp_path: Path, greeting: Path, service: VoicemailService) -> None:
    add(app, tmp_path, greeting=greeting, greeting_only="forward:102")
    actions, trace, _ = run(app, internal("101", "600"), real(service))
    assert [type(a) for a in actions[:2]] == [Answer, Playback]
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (UserDevices("102", "acme.example"),)
    assert ring.diversion is not None and "600@acme.example" in ring.diversion
    assert not any(isinstance(a, Record) for a in actions)
    assert "is forwarded to 102" in story(trace)


def test_greeting_only_forward_to_a_number_goes_out_through_the_gateway(
        app: Pbx, tmp_path: Path, greeting: Path, service: VoicemailService) -> None:
    add(app, tmp_path, greeting=greeting, greeting_only="forward:0612345678")
    actions, _, _ = run(app, internal("101", "600"), real(service))
    ring = next(a for a in actions if isinstance(a, Ring))
    assert [t.label() for t in ring.targets] == ["+31612345678"]


def test_a_full_group_box_says_so_and_records_nothing(
        app: Pbx, tmp_path: Path, service: VoicemailService) -> None:
    add(app, tmp_path)

    def full(command: Command) -> CommandResult:
        answer = service.handle(command, internal("101", "600"))
        if command.name == "status":
            return CommandResult(True, answer.value.replace("seconds_left=3600",
                                                            "seconds_left=0"))
        return answer

    actions, trace, _ = run(app, internal("101", "600"), full)
    assert actions[1] == Playback(voicemail.MAILBOX_FULL)
    assert not any(isinstance(a, Record) for a in actions)
    assert "is full" in story(trace)


def test_without_the_voicemail_service_the_caller_gets_a_clear_failure(
        app: Pbx, tmp_path: Path) -> None:
    add(app, tmp_path)
    actions, trace, _ = run(app, internal("101", "600"), lambda c: CommandResult(False, ""))
    assert actions[-1] == Hangup(HangupCause.NORMAL_TEMPORARY_FAILURE)
    assert not any(isinstance(a, (Record, Answer)) for a in actions)
    assert "has no voicemail box on this controller" in story(trace)


# -- the use cases ---------------------------------------------------------------------------
def _events(app: Pbx) -> int:
    return app.last_position()


@pytest.mark.parametrize(("kw", "message"), [
    ({"email": "not-an-address"}, "invalid e-mail address"),
    ({"cc": "sales@acme.example"}, "cc address is the same"),
    ({"greeting_only": "hangup"}, "needs a greeting"),
    ({"greeting_only": "ring:101"}, "invalid greeting-only mode"),
    ({"number": "020 1234567"}, "already belongs to another user"),
])
def test_bad_input_is_refused_and_nothing_is_written(
        app: Pbx, tmp_path: Path, kw: dict[str, object], message: str) -> None:
    before = _events(app)
    with pytest.raises(ValidationError, match=message):
        add(app, tmp_path, **kw)
    assert _events(app) == before
    assert app.directory().target(app.enterprise(None).id, "600") is None


def test_a_greeting_that_is_not_a_wav_file_is_refused(
        app: Pbx, tmp_path: Path) -> None:
    text = tmp_path / "greeting.wav"
    text.write_text("hello")
    before = _events(app)
    with pytest.raises(ValidationError, match="is not a WAV file"):
        add(app, tmp_path, greeting=text)
    assert _events(app) == before


def test_extension_of_a_user_or_another_box_is_refused(app: Pbx, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="already exists"):
        use_cases.add_group_voicemail(app, None, "Support", "101", "s@acme.example")
    add(app, tmp_path)
    with pytest.raises(ValidationError, match="taken by group voicemail Sales"):
        use_cases.add_group_voicemail(app, None, "Support", "600", "s@acme.example")
    with pytest.raises(ValidationError, match="already exists"):
        use_cases.add_group_voicemail(app, None, "sales", "601", "s@acme.example")


def test_forward_to_an_unknown_extension_is_refused(app: Pbx, tmp_path: Path,
                                                    greeting: Path) -> None:
    with pytest.raises(NotFoundError, match="no user or target has extension '555'"):
        add(app, tmp_path, greeting=greeting, greeting_only="forward:555")


def test_change_and_remove_free_the_extension_and_the_fold_rebuilds_the_same(
        app: Pbx, tmp_path: Path, greeting: Path) -> None:
    add(app, tmp_path, number="020 7654321", cc="boss@acme.example")
    changed = use_cases.change_group_voicemail(app, None, "Sales", cc=None, greeting=greeting,
                                               greeting_only="forward:vm:101",
                                               audio_dir=tmp_path / "audio")
    assert changed.cc is None and changed.greeting_only == "forward:vm:101"
    live = app.directory()
    rebuilt = Directory()
    app.catch_up(rebuilt)
    assert rebuilt.state() == live.state()
    use_cases.remove_group_voicemail(app, None, "Sales")
    ent = app.enterprise(None)
    assert app.directory().target(ent.id, "600") is None
    assert app.directory().target_with_number("+31207654321") is None
    again = use_cases.add_group_voicemail(app, None, "Sales", "600", "new@acme.example")
    assert again.email == "new@acme.example" and again.greeting_only is None
    _, box = use_cases.get_group_voicemail(app, None, "Sales")
    assert not box.greetings.get("unavailable")  # the removed box's greeting is not reused


def test_group_box_defaults_are_those_of_a_user_box_and_it_is_email_only(
        app: Pbx, tmp_path: Path) -> None:
    add(app, tmp_path)
    _, box = use_cases.get_group_voicemail(app, None, "Sales")
    assert box.capacity_seconds == 3600 and box.retention_days == 14
    assert box.keep is False  # mailed messages leave the box
