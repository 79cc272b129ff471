"""The called party's in-call recording codes (REC-1), pure: which codes each mode uses,
what the controller binds on the A-leg (``bind_meta_app``), how the CUSTOM event it fires
is read back, and what each code does to the called user's own recorder state; plus the
bindings a real CallRecorder asks for, read from a folded Directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.domain.recordings import MODES
from esl_controller.recordings import CallRecorder, RecordingService
from esl_controller.routing.recording import (
    CALLED_CODE_SUBCLASS,
    CODES,
    RecorderState,
    at_bridge,
    code_of_event,
    codes_of,
    codes_to_bind,
    meta_app_arg,
    on_code,
)
from esl_controller.routing.trace import Trace
from projections.directory import Directory


def run(mode: str, codes: str) -> tuple[RecorderState, list[str | None]]:
    """A called party in ``mode`` presses ``codes`` (one digit each, after ``*``)."""
    start = at_bridge(mode, "90d", 0)
    state = RecorderState(mode, started=bool(start and start.record_now))
    effects = []
    for code in codes:
        state, effect, _ = on_code(state, code)
        effects.append(effect)
    return state, effects


# -- each mode's codes, pressed by the called party ------------------------------------------
def test_on_demand_called_party_keeps_with_star_1_only() -> None:
    state, effects = run("on-demand", "2314")
    assert effects == [None, None, "keep", None] and state.kept
    assert run("on-demand", "")[0].kept is False  # no *1: discarded at the end
    assert codes_of("on-demand") == ("1",)


def test_on_demand_start_called_party_starts_pauses_resumes_stops() -> None:
    state, effects = run("on-demand-start", "2123414")
    assert effects == [None, "start", "pause", "resume", "stop", None, None]
    assert state.started and state.stopped and state.kept
    assert codes_of("on-demand-start") == ("1", "2", "3", "4")


def test_always_pause_called_party_pauses_and_resumes() -> None:
    state, effects = run("always-pause", "12324")
    assert effects == [None, "pause", "resume", "pause", None] and state.paused
    assert codes_of("always-pause") == ("2", "3")


def test_always_and_never_have_no_codes_so_nothing_is_bound() -> None:
    assert codes_of("always") == () == codes_of("never")
    assert codes_to_bind(["always", "never"]) == ()
    with pytest.raises(ValueError):
        codes_of("sometimes")


def _reachable_effects(mode: str) -> set[str]:
    """Every code that has an effect in some state reachable in ``mode``."""
    start = at_bridge(mode, "90d", 0)
    seen = {RecorderState(mode, started=bool(start and start.record_now))}
    todo = list(seen)
    useful: set[str] = set()
    while todo:
        state = todo.pop()
        for code in CODES:
            after, effect, _ = on_code(state, code)
            if effect is not None:
                useful.add(code)
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return useful


@pytest.mark.parametrize("mode", MODES)
def test_the_codes_bound_for_a_mode_are_exactly_those_that_can_do_something(mode: str) -> None:
    assert set(codes_of(mode)) == _reachable_effects(mode)


@given(st.lists(st.sampled_from(MODES), max_size=6),
       st.sets(st.sampled_from(sorted(CODES)), max_size=4))
def test_bindings_cover_every_mode_rung_once(modes: list[str], bound: set[str]) -> None:
    new = codes_to_bind(modes, bound)
    wanted = {code for mode in modes for code in codes_of(mode)}
    assert set(new) == wanted - bound  # nothing missing, nothing bound twice
    assert list(new) == sorted(new)


# -- the binding and the event it fires ------------------------------------------------------
def test_the_meta_app_listens_to_the_b_leg_and_fires_the_event_on_the_a_leg() -> None:
    arg = meta_app_arg("1")
    key, listen, flags, app = arg.split(" ")
    assert (key, listen, flags) == ("1", "b", "ai")  # *1 on the B-leg; runs on A, inline
    name, _, data = app.partition("::")
    assert name == "event"
    headers = dict(item.split("=", 1) for item in data.split(","))
    assert headers == {"Event-Name": "CUSTOM", "Event-Subclass": CALLED_CODE_SUBCLASS,
                       "Pbx-Code": "1", "Pbx-Party": "bleg"}
    assert code_of_event(headers) == "1"
    with pytest.raises(ValueError):
        meta_app_arg("7")


def test_only_our_event_with_a_real_code_counts() -> None:
    ours = {"Event-Name": "CUSTOM", "Event-Subclass": CALLED_CODE_SUBCLASS,
            "Pbx-Party": "bleg", "Pbx-Code": "4"}
    assert code_of_event(ours) == "4"
    assert code_of_event({**ours, "Event-Subclass": "conference::maintenance"}) is None
    assert code_of_event({**ours, "Pbx-Party": "aleg"}) is None
    assert code_of_event({**ours, "Pbx-Code": "9"}) is None
    assert code_of_event({"Event-Name": "DTMF", "DTMF-Digit": "1"}) is None


# -- what a call's recorder binds before ringing ---------------------------------------------
@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol")):
        pbx.add_user(None, ext, name)
    return pbx


def recorder(app: Pbx, tmp_path: Path) -> CallRecorder:
    directory = Directory()
    app.catch_up(directory)
    return CallRecorder(RecordingService(app, tmp_path / "rec"), lambda text: "+OK",
                        "chan-uuid", "call-1", Trace(), lambda: directory)


def test_the_recorder_binds_each_needed_code_once_with_the_subscription_first(
    app: Pbx, tmp_path: Path
) -> None:
    service = RecordingService(app, tmp_path / "rec")
    service.set_policy(None, "102", "on-demand", None)
    service.set_policy(None, "103", "always-pause", None)
    ent = str(app.enterprise(None).id)
    rec = recorder(app, tmp_path)
    assert rec.called_party_bindings(ent, ["101"]) == []  # Alice: never, nothing to bind
    texts = rec.called_party_bindings(ent, ["101", "102"])
    assert texts[0] == f"event plain CUSTOM {CALLED_CODE_SUBCLASS}"
    assert texts[1:] == [
        "sendmsg\ncall-command: execute\nexecute-app-name: bind_meta_app\n"
        f"execute-app-arg: {meta_app_arg('1')}\nevent-lock: true"]
    # Forwarded on to Carol (always-pause): only her codes are new; subscribed already.
    later = rec.called_party_bindings(ent, ["103", "102"])
    assert [t.split("execute-app-arg: ")[1][0] for t in later] == ["2", "3"]
    assert rec.called_party_bindings(ent, ["102", "103"]) == []
    assert rec.called_party_bindings(None, ["102"]) == []
