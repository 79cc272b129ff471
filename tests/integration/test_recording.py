"""Call recording through the real controller and the simulator over TCP (REC-1, REC-2):
the WAV files FreeSWITCH would write, in-call codes as the caller's DTMF, the monthly cap."""

from __future__ import annotations

import uuid
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.domain.recordings import Recording
from esl_controller.recordings import CAP_TONE, RecordingService, RecordingSummary
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD

SCALE = 0.1  # 10x: 4 simulated seconds of talk take 0.4 s


@pytest.fixture
def recorder(pbx: Pbx, inbound: FakeInboundESL, tmp_path: Path) -> Iterator[Controller]:
    config = ServeConfig(
        db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
        esl=("127.0.0.1", inbound.port), esl_password=ESL_PASSWORD, gateway="trunk",
        poll_interval=0.01, recordings_dir=str(tmp_path / "recordings"),
    )
    running = Controller(config).start()
    yield running
    running.stop()


def policy(controller: Controller, ext: str, mode: str, retention: str = "90d") -> None:
    RecordingService(controller.app).set_policy(None, ext, mode, retention)
    last = controller.app.last_position()
    wait_until(lambda: controller.directory.position >= last, what="the directory")


def call(controller: Controller, spec: CallSpec, **endpoints: Endpoint) -> SimCall:
    host, port = controller.esl_address
    table = {"101": Endpoint(), "102": Endpoint(talk_seconds=4.0), "103": Endpoint(),
             **endpoints}
    return FakeSwitch(host, port, endpoints=table, time_scale=SCALE).place_call(spec)


def internal(caller: str, destination: str, **kw: object) -> CallSpec:
    return CallSpec(caller, destination, auth_user=caller, domain="acme.example",
                    call_uuid=str(uuid.uuid4()), **kw)  # type: ignore[arg-type]


def recordings_of(controller: Controller, call_id: str, count: int = 1
                  ) -> list[RecordingSummary]:
    def done() -> list[RecordingSummary] | None:
        found = [r for r in RecordingService(controller.app).recordings()
                 if r.call_id == call_id and r.stop_reason is not None]
        return found if len(found) >= count else None
    found: list[RecordingSummary] = wait_until(done, timeout=20, what="the recording to stop")
    return found


def talked(pbx: Pbx, call_id: str) -> float:
    """Simulated seconds between the answer and the end, as the controller measured them
    (both clocks stretch alike on a loaded machine: the simulator runs in this process)."""
    ended = wait_until(lambda: [e for e in pbx.repository.event_store.get(uuid.UUID(call_id))
                                if type(e).__name__ == "CallEnded"], what="the call's end")
    return float(ended[-1].talk) / SCALE


def audio(path: str) -> list[int]:
    with wave.open(path, "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        raw = wav.readframes(wav.getnframes())
    return [int.from_bytes(raw[i:i + 2], "little", signed=True) for i in range(0, len(raw), 2)]


def longest_silence(samples: list[int]) -> float:
    best = run = 0
    for sample in samples:
        run = run + 1 if sample == 0 else 0
        best = max(best, run)
    return best / 8000


def test_always_records_the_whole_conversation_into_a_wav(
    recorder: Controller, pbx: Pbx
) -> None:
    policy(recorder, "101", "always")
    sim = call(recorder, internal("101", "102"))
    assert sim.bridged_to == "102"
    [rec] = recordings_of(recorder, sim.call_uuid)
    assert (rec.extension, rec.other_party, rec.direction) == ("101", "102", "internal")
    assert rec.stop_reason == "call-ended" and rec.kept is None
    assert Path(rec.path).exists() and rec.path in sim.recordings
    seconds = len(audio(rec.path)) / 8000
    assert talked(pbx, sim.call_uuid) - 2.0 <= seconds <= talked(pbx, sim.call_uuid) + 0.5
    assert seconds >= 3.5  # the 4 s conversation, as the file says
    assert rec.seconds == pytest.approx(seconds, abs=0.01)
    starts = [c for c, _, _ in sim.commands if "uuid_record" in c]
    assert starts == [f"api uuid_record {sim.call_uuid} start {rec.path}"]
    explain = " | ".join(s["detail"] for s in pbx.call(sim.call_uuid).steps)
    assert "101: always: recorded from the answer" in explain


def test_on_demand_is_kept_only_when_the_user_presses_star_1(
    recorder: Controller, pbx: Pbx
) -> None:
    policy(recorder, "101", "on-demand")
    kept = call(recorder, internal("101", "102", dtmf_while_talking=[(1.0, "*"), (1.2, "1")]))
    [rec] = recordings_of(recorder, kept.call_uuid)
    assert rec.kept is True and rec.purged is None and Path(rec.path).exists()

    dropped = call(recorder, internal("101", "102"))
    [gone] = recordings_of(recorder, dropped.call_uuid)
    wait_until(lambda: RecordingService(recorder.app).recordings()[-1].purged,
               what="the discard")
    gone = next(r for r in RecordingService(recorder.app).recordings()
                if r.call_id == dropped.call_uuid)
    assert gone.kept is False and gone.purged == "discarded"
    assert gone.path in dropped.recordings and not Path(gone.path).exists()
    assert gone.seconds is not None and gone.seconds > 2  # the evidence keeps the length


def test_pause_writes_silence_until_resume(recorder: Controller, pbx: Pbx) -> None:
    policy(recorder, "101", "always-pause")
    sim = call(recorder, internal("101", "102", dtmf_while_talking=[
        (1.0, "*"), (1.1, "2"), (3.0, "*"), (3.1, "3")]), **{"102": Endpoint(talk_seconds=6.0)})
    [rec] = recordings_of(recorder, sim.call_uuid)
    verbs = [c.split()[3] for c, _, _ in sim.commands if c.startswith("api uuid_record")]
    assert verbs == ["start", "mask", "unmask"]
    samples = audio(rec.path)
    assert 1.0 <= longest_silence(samples) <= len(samples) / 8000 - 2.0  # about 2 s paused
    assert any(samples[-800:])  # talking again after the resume
    recording: Recording = pbx.repository.get(rec.id)
    names = [type(e).__name__ for e in pbx.repository.event_store.get(recording.id)]
    assert names == ["RecordingStarted", "RecordingPaused", "RecordingResumed",
                     "RecordingStopped"]


def test_on_demand_start_keeps_only_the_part_after_star_1(
    recorder: Controller, pbx: Pbx
) -> None:
    policy(recorder, "101", "on-demand-start")
    sim = call(recorder, internal("101", "102", dtmf_while_talking=[(3.0, "*"), (3.1, "1")]),
               **{"102": Endpoint(talk_seconds=20.0)})  # ample time after *1 when loaded
    [rec] = recordings_of(recorder, sim.call_uuid)
    assert rec.kept is True
    seconds = len(audio(rec.path)) / 8000
    assert 1.0 <= seconds <= talked(pbx, sim.call_uuid) - 2.0  # not the first three seconds


def test_monthly_cap_stops_the_recording_and_tells_the_user(
    recorder: Controller, pbx: Pbx
) -> None:
    policy(recorder, "101", "always", "7y-1000")
    alice = pbx.user(None, "101")
    now = datetime.now(UTC)
    earlier = Recording("earlier", alice.enterprise_id, alice.id, "101", "102", "internal",
                        "always", "", "7y-1000", now)
    earlier.stop(now, 1000 * 60 - 2, "call-ended")  # two seconds left this month
    pbx.save(earlier)
    last = pbx.last_position()
    wait_until(lambda: recorder.directory.position >= last, what="the directory")

    sim = call(recorder, internal("101", "102"))
    [rec] = recordings_of(recorder, sim.call_uuid)
    assert rec.stop_reason == "monthly-cap"
    assert 1.5 <= len(audio(rec.path)) / 8000 <= 2.05  # stopped at the cap, not the hang-up
    assert (CAP_TONE, "aleg") in sim.broadcasts
    assert f"start {rec.path} 2" in next(c for c, _, _ in sim.commands if "start" in c)

    wait_until(lambda: recorder.directory.recorded_seconds(alice.id, now.strftime("%Y-%m"))
               >= 1000 * 60, what="the minutes")
    refused = call(recorder, internal("101", "102"))
    [none] = recordings_of(recorder, refused.call_uuid)
    assert none.stop_reason == "monthly-cap" and none.seconds == 0 and not none.path
    assert refused.recordings == [] and (CAP_TONE, "aleg") in refused.broadcasts


def test_mobile_leg_of_a_mobility_user_is_recorded(recorder: Controller, pbx: Pbx) -> None:
    user_services.update(pbx, None, "102", mobile="0612345678", mobility=True)
    policy(recorder, "102", "always")
    sim = call(recorder, internal("101", "102"), **{
        "102": Endpoint("no-answer"), "+31612345678": Endpoint("answer", 0.3, 3.0)})
    assert sim.bridged_to == "+31612345678"
    [rec] = recordings_of(recorder, sim.call_uuid)
    assert (rec.extension, rec.other_party, rec.direction) == ("102", "101", "internal")
    seconds = len(audio(rec.path)) / 8000
    assert 2.0 <= seconds <= talked(pbx, sim.call_uuid) + 0.5

    # ... and a call placed from that mobile is the user's own call: recorded too.
    out = call(recorder, CallSpec("0612345678", "103", call_uuid=str(uuid.uuid4())),
               **{"103": Endpoint(talk_seconds=3.0)})
    assert out.bridged_to == "103"
    [own] = recordings_of(recorder, out.call_uuid)
    assert (own.extension, own.other_party, own.direction) == ("102", "103", "internal")
    assert Path(own.path).exists()
