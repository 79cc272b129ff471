"""Conference rooms (USR-11 N-way) and the music-on-hold / ringback media checks."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.call_services import CallServices, check_media
from esl_controller.errors import ValidationError
from esl_controller.lines import ActiveLines
from esl_controller.park import CallServicesRuntime
from esl_controller.routing.actions import Action, CollectDigits, Command, Execute, Hangup
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import Digits, Done, Outcome
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice")
    return pbx


def dial_in(app: Pbx, runtime: CallServicesRuntime, call_id: str, room: str,
            digits: str = "") -> tuple[list[Action], Trace]:
    directory = Directory()
    app.catch_up(directory)
    ctx = CallContext(call_id, "sofia/internal/101", "101", "Alice", room, Origin.INTERNAL,
                      "acme.example", "101")
    trace = Trace()
    script = route_call(ctx, directory, RoutingSettings(), trace)
    actions: list[Action] = []
    outcome: Outcome | None = None
    try:
        action = next(script)
        while True:
            if isinstance(action, Command):
                action = script.send(runtime.conference(action, ctx))
                continue
            actions.append(action)
            outcome = Digits(digits) if isinstance(action, CollectDigits) else Done()
            action = script.send(outcome)
    except StopIteration:
        pass
    return actions, trace


def joined(actions: list[Action]) -> bool:
    return any(isinstance(a, Execute) and a.app == "conference" for a in actions)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(most=st.integers(min_value=2, max_value=16), extra=st.integers(min_value=1, max_value=3))
def test_a_room_admits_exactly_its_maximum(app: Pbx, most: int, extra: int) -> None:
    services = CallServices(app)
    name = f"Room {most}-{extra}"
    room = services.add_conference(None, name, str(800 + most * 4 + extra), max_members=most)
    runtime = CallServicesRuntime(app, ActiveLines())
    results = [joined(dial_in(app, runtime, f"{name}-{n}", room.extension)[0])
               for n in range(most + extra)]
    assert results == [True] * most + [False] * extra
    services.remove_conference(None, name)


def test_the_seventeenth_caller_hears_a_tone_and_gets_busy(app: Pbx) -> None:
    CallServices(app).add_conference(None, "All hands", "800")
    runtime = CallServicesRuntime(app, ActiveLines())
    for n in range(16):
        assert joined(dial_in(app, runtime, f"call-{n}", "800")[0])
    actions, trace = dial_in(app, runtime, "call-16", "800")
    assert not joined(actions)
    assert actions[-1] == Hangup(HangupCause.USER_BUSY)
    assert "is full (16 callers)" in "\n".join(s.detail for s in trace.steps)
    runtime.lines.end("call-3")  # someone leaves: a seat is free again
    assert joined(dial_in(app, runtime, "call-17", "800")[0])


def test_a_wrong_pin_three_times_keeps_the_caller_out(app: Pbx) -> None:
    CallServices(app).add_conference(None, "Board", "801", pin="2468")
    runtime = CallServicesRuntime(app, ActiveLines())
    actions, trace = dial_in(app, runtime, "c1", "801", digits="1111")
    assert not joined(actions)
    assert sum(isinstance(a, CollectDigits) for a in actions) == 3
    assert actions[-1] == Hangup(HangupCause.CALL_REJECTED)
    actions, _ = dial_in(app, runtime, "c2", "801", digits="2468")
    assert joined(actions)
    assert runtime.calls.in_room(str(CallServices(app).conference(None, "Board").id)) == 1


def test_conference_rooms_validate_their_settings(app: Pbx) -> None:
    services = CallServices(app)
    with pytest.raises(ValidationError, match="2 to 16 callers"):
        services.add_conference(None, "Huge", "800", max_members=17)
    with pytest.raises(ValidationError, match="PIN is 4 to 8 digits"):
        services.add_conference(None, "Board", "800", pin="12")
    with pytest.raises(ValidationError, match="extension 101 already exists"):
        services.add_conference(None, "Board", "101")
    services.add_conference(None, "Board", "800")
    with pytest.raises(ValidationError, match="already exists"):
        services.add_conference(None, "board", "801")
    assert [r.name for r in services.conferences(None)] == ["Board"]


def _wav(path: Path, width: int = 2, rate: int = 8000, frames: int = 800) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\x00" * width * frames)
    return path


def test_media_accepted_and_refused(tmp_path: Path) -> None:
    good = _wav(tmp_path / "music.wav")
    assert check_media(str(good)) == str(good.resolve())
    assert check_media("local_stream://moh") == "local_stream://moh"
    assert check_media("%(1000,4000,425)", tones=True) == "%(1000,4000,425)"
    with pytest.raises(ValidationError, match="16-bit PCM"):
        check_media(str(_wav(tmp_path / "8bit.wav", width=1)))
    with pytest.raises(ValidationError, match="11025 Hz"):
        check_media(str(_wav(tmp_path / "odd.wav", rate=11025)))
    with pytest.raises(ValidationError, match="holds no audio"):
        check_media(str(_wav(tmp_path / "empty.wav", frames=0)))
    (tmp_path / "fake.wav").write_bytes(b"not a wav")
    with pytest.raises(ValidationError, match="not a valid WAV"):
        check_media(str(tmp_path / "fake.wav"))
    with pytest.raises(ValidationError, match="unsupported stream"):
        check_media("http://example.com/x.mp3")
    with pytest.raises(ValidationError, match="no .wav file"):
        check_media("%(1000,4000,425)")  # a tone is ringback, not music on hold
