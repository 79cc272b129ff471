"""Call recording (REC-1, REC-2): the mode decisions, in-call codes, the monthly minutes
read model and retention, on a real Pbx (temp SQLite) with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.domain.recordings import MODES, Recording
from esl_controller.errors import ValidationError
from esl_controller.recordings import RecordingService, wav_seconds
from esl_controller.routing.recording import (
    RecorderState,
    at_bridge,
    cap_seconds,
    feed_digit,
    on_code,
)
from projections.directory import Directory

NOV_26 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice")
    pbx.add_user(None, "102", "Bob")
    return pbx


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


# -- what happens at the bridge ---------------------------------------------------------------
def test_always_modes_record_from_the_answer_and_keep() -> None:
    for mode in ("always", "always-pause"):
        start = at_bridge(mode, "90d", 0)
        assert start is not None and start.record_now and start.keep_unless_told is True
        assert start.limit_seconds is None


def test_on_demand_records_at_once_but_discards_unless_told() -> None:
    start = at_bridge("on-demand", "365d", 0)
    assert start is not None and start.record_now and start.keep_unless_told is False


def test_on_demand_start_waits_for_the_users_code() -> None:
    start = at_bridge("on-demand-start", "90d", 0)
    assert start is not None and not start.record_now


def test_never_records_nothing() -> None:
    assert at_bridge("never", "7y-3500", 0) is None


def test_the_monthly_cap_limits_and_then_refuses() -> None:
    start = at_bridge("always", "7y-1000", 999 * 60)
    assert start is not None and start.limit_seconds == 60 and not start.refused_by_cap
    full = at_bridge("always", "7y-1000", 1000 * 60)
    assert full is not None and full.refused_by_cap and not full.record_now
    assert "monthly cap of 1000 minutes reached" in full.why
    assert cap_seconds("7y-3500", 0) == 3500 * 60
    assert cap_seconds("365d", 10**9) is None


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        at_bridge("sometimes", "90d", 0)


# -- in-call codes --------------------------------------------------------------------------
def test_keep_code_keeps_an_on_demand_recording_once() -> None:
    state, effect, _ = on_code(RecorderState("on-demand", started=True), "1")
    assert effect == "keep" and state.kept
    _, again, words = on_code(state, "1")
    assert again is None and "ignored" in words


def test_start_pause_resume_stop_with_user_start() -> None:
    state = RecorderState("on-demand-start")
    _, effect, _ = on_code(state, "2")
    assert effect is None  # nothing to pause before the start
    state, effect, _ = on_code(state, "1")
    assert effect == "start" and state.started
    state, effect, _ = on_code(state, "2")
    assert effect == "pause" and state.paused
    state, effect, _ = on_code(state, "3")
    assert effect == "resume" and not state.paused
    state, effect, _ = on_code(state, "4")
    assert effect == "stop" and state.stopped
    assert on_code(state, "1")[1] is None


def test_always_cannot_be_paused_but_always_pause_can() -> None:
    assert on_code(RecorderState("always", started=True), "2")[1] is None
    assert on_code(RecorderState("always-pause", started=True), "2")[1] == "pause"


def test_digits_make_a_code_only_after_a_star() -> None:
    pending, code = feed_digit(False, "1")
    assert (pending, code) == (False, None)
    pending, code = feed_digit(False, "*")
    assert (pending, code) == (True, None)
    assert feed_digit(pending, "2") == (False, "2")


@given(st.sampled_from(MODES), st.lists(st.sampled_from("12345*#"), max_size=30))
def test_codes_never_break_the_recording_rules(mode: str, codes: list[str]) -> None:
    """Whatever the user presses: a stopped recording stays stopped, a kept one kept,
    only pausable modes pause, nothing pauses before it started, 'always' never stops."""
    start = at_bridge(mode, "90d", 0)
    state = RecorderState(mode, started=bool(start and start.record_now))
    for code in codes:
        before = state
        state, effect, _ = on_code(state, code)
        if before.stopped or before.kept:
            assert state.stopped >= before.stopped and state.kept >= before.kept
        if effect in ("pause", "resume"):
            assert mode in ("always-pause", "on-demand-start") and before.started
        if state.paused:
            assert state.started and not state.stopped
        if mode in ("always", "always-pause", "never"):
            assert not state.stopped and not state.kept
        if mode == "never":
            assert effect is None


# -- policies and the minutes read model --------------------------------------------------------
def test_policy_is_folded_and_changes_keep_the_other_setting(app: Pbx) -> None:
    service = RecordingService(app)
    service.set_policy(None, "101", "always-pause", "7y-3500")
    service.set_policy(None, "101", "on-demand", None)
    directory = fresh(app)
    alice = directory.user(app.enterprise(None).id, "101")
    assert alice is not None
    assert RecordingService.policy_of(directory, alice) == ("on-demand", "7y-3500")
    bob = directory.user(app.enterprise(None).id, "102")
    assert bob is not None and RecordingService.policy_of(directory, bob) == ("never", "90d")


def test_bad_policy_input_changes_nothing(app: Pbx) -> None:
    service = RecordingService(app)
    before = app.last_position()
    for mode, retention in (("sometimes", None), (None, "10y"), (None, None)):
        with pytest.raises(ValidationError):
            service.set_policy(None, "101", mode, retention)
    assert app.last_position() == before


def _recorded(app: Pbx, tmp_path: Path, ext: str, at: datetime, seconds: float,
              retention: str = "90d", call: str = "c1") -> tuple[Recording, Path]:
    user = app.user(None, ext)
    path = tmp_path / f"{call}-{ext}.wav"
    path.write_bytes(b"RIFF")
    recording = Recording(call, user.enterprise_id, user.id, ext, "+31201234567", "inbound",
                          "always", str(path), retention, at)
    recording.stop(at + timedelta(seconds=seconds), seconds, "call-ended")
    app.save(recording)
    return recording, path


def test_minutes_are_counted_per_user_per_month(app: Pbx, tmp_path: Path) -> None:
    _recorded(app, tmp_path, "101", NOV_26, 120, call="a")
    _recorded(app, tmp_path, "101", NOV_26 + timedelta(days=1), 30, call="b")
    _recorded(app, tmp_path, "101", NOV_26 + timedelta(days=10), 600, call="c")  # December
    directory = fresh(app)
    alice = app.user(None, "101")
    assert directory.recorded_seconds(alice.id, "2026-11") == 150
    assert directory.recorded_seconds(alice.id, "2026-12") == 600
    again = fresh(app)
    assert again.state() == directory.state()  # rebuild equals live


# -- retention (fake clock) -----------------------------------------------------------------------
def test_purge_deletes_audio_past_its_class_and_keeps_the_evidence(
    app: Pbx, tmp_path: Path
) -> None:
    short, short_file = _recorded(app, tmp_path, "101", NOV_26, 60, "90d", call="short")
    _, year_file = _recorded(app, tmp_path, "102", NOV_26, 60, "365d", call="year")
    _, long_file = _recorded(app, tmp_path, "101", NOV_26, 60, "7y-1000", call="long")
    service = RecordingService(app, tmp_path, clock=lambda: NOV_26 + timedelta(days=89))
    assert service.purge() == []  # day 89: nothing is due yet
    assert short_file.exists()

    purged = service.purge(NOV_26 + timedelta(days=91))
    assert [r.call_id for r in purged] == ["short"]
    assert not short_file.exists() and year_file.exists() and long_file.exists()
    evidence: Recording = app.repository.get(short.id)
    assert evidence.purged and evidence.seconds == 60 and evidence.extension == "101"
    assert service.purge(NOV_26 + timedelta(days=91)) == []  # once only

    later = service.purge(NOV_26 + timedelta(days=366))
    assert [r.call_id for r in later] == ["year"] and long_file.exists()
    assert [r.call_id for r in service.purge(NOV_26 + timedelta(days=7 * 365 + 1))] == ["long"]
    assert not long_file.exists()
    listed = {r.call_id: r.purged for r in service.recordings()}
    assert listed == {"short": "retention", "year": "retention", "long": "retention"}


def test_wav_seconds_of_a_missing_file_is_zero(tmp_path: Path) -> None:
    assert wav_seconds(str(tmp_path / "none.wav")) == 0.0
