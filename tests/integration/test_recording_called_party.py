"""In-call recording codes pressed by the CALLED party (REC-1), through the real controller
and the simulator over TCP: the controller binds ``*1``..``*4`` on the A-leg with
``bind_meta_app KEY b ai event::...`` before ringing a user whose mode has codes; the
called party's keys (B-leg DTMF, which ``myevents`` never delivers) run the bound ``event``
app, whose CUSTOM ``pbx::incall`` event tells the controller; the code goes to the called
user's own recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent.queue
import pytest
from gevent.server import StreamServer

from esl_controller import recording_access
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.recordings import RecordingService, RecordingSummary
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD
from tests.integration.test_recording import (
    audio,
    call,
    internal,
    longest_silence,
    policy,
    recordings_of,
    talked,
)
from tests.integration.test_simulator_switch import Client


@pytest.fixture
def recording(pbx: Pbx, inbound: FakeInboundESL, tmp_path: Path) -> Iterator[Controller]:
    """A controller that records into ``tmp_path`` (as tests/integration/test_recording)."""
    config = ServeConfig(
        db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
        esl=("127.0.0.1", inbound.port), esl_password=ESL_PASSWORD, gateway="trunk",
        poll_interval=0.01, recordings_dir=str(tmp_path / "recordings"),
    )
    running = Controller(config).start()
    yield running
    running.stop()


def by_user(controller: Controller, sim: SimCall, count: int) -> dict[str, RecordingSummary]:
    """The call's recordings by user once every one is settled (kept, discarded, purged)."""
    recordings_of(controller, sim.call_uuid, count)

    def settled() -> dict[str, RecordingSummary] | None:
        found = {r.extension: r for r in RecordingService(controller.app).recordings()
                 if r.call_id == sim.call_uuid}
        done = all(r.kept is not None or r.mode not in ("on-demand", "on-demand-start")
                   for r in found.values())
        done = done and all(r.purged or r.kept is not False for r in found.values())
        return found if done and len(found) >= count else None

    result: dict[str, RecordingSummary] = wait_until(settled, timeout=20,
                                                     what="the recordings to settle")
    return result


def explain(pbx: Pbx, call_id: str) -> str:
    return " | ".join(s["detail"] for s in pbx.call(call_id).steps)


def test_called_party_on_demand_keeps_with_star_1_and_the_index_lists_it(
    recording: Controller, pbx: Pbx
) -> None:
    policy(recording, "102", "on-demand")
    sim = call(recording, internal("101", "102", called_dtmf_while_talking=[
        (1.0, "*"), (1.2, "1")]))
    assert sim.bridged_to == "102"
    assert ("bind_meta_app", "1 b ai event::Event-Name=CUSTOM,Event-Subclass=pbx::incall,"
            "Pbx-Code=1,Pbx-Party=bleg") in sim.apps
    assert "CUSTOM" in sim.events  # the bound event app fired on the A-leg
    rec = by_user(recording, sim, 1)["102"]
    assert (rec.other_party, rec.direction, rec.mode) == ("101", "internal", "on-demand")
    assert rec.kept is True and rec.purged is None and Path(rec.path).exists()
    assert rec.path in sim.recordings
    assert len(audio(rec.path)) / 8000 >= 3.0  # the whole 4 s conversation
    assert "102: *1: this recording is kept (from the called party's phone)" in explain(
        pbx, sim.call_uuid)
    # The recording index (REC-3) lists it for Bob, who may hear his own recordings.
    found = wait_until(lambda: [r for r in recording_access.search(pbx, None, "102")
                                if r.call_id == sim.call_uuid], what="the index")
    assert [(r.extension, r.state) for r in found] == [("102", "kept")]

    # Without *1 Bob's recording is discarded: the file is gone, the evidence stays.
    dropped = call(recording, internal("101", "102"))
    gone = by_user(recording, dropped, 1)["102"]
    assert gone.kept is False and gone.purged == "discarded"
    assert gone.path in dropped.recordings and not Path(gone.path).exists()


def test_each_party_presses_codes_for_their_own_recording(
    recording: Controller, pbx: Pbx
) -> None:
    policy(recording, "101", "on-demand")
    policy(recording, "102", "on-demand")
    callee = call(recording, internal("101", "102", called_dtmf_while_talking=[
        (1.0, "*"), (1.2, "1")]))
    mine = by_user(recording, callee, 2)
    assert mine["102"].kept is True and Path(mine["102"].path).exists()
    assert mine["101"].kept is False and mine["101"].purged == "discarded"

    caller = call(recording, internal("101", "102", dtmf_while_talking=[
        (1.0, "*"), (1.2, "1")]))
    theirs = by_user(recording, caller, 2)
    assert theirs["101"].kept is True and Path(theirs["101"].path).exists()
    assert theirs["102"].kept is False and theirs["102"].purged == "discarded"
    assert "101: *1: this recording is kept (from the caller's phone)" in explain(
        pbx, caller.call_uuid)


def test_nothing_bound_the_called_partys_keys_are_not_seen(
    recording: Controller, pbx: Pbx
) -> None:
    policy(recording, "101", "on-demand")  # the caller's recording; Bob has no codes
    sim = call(recording, internal("101", "102", called_dtmf_while_talking=[
        (1.0, "*"), (1.2, "1")]))
    assert not [a for a, _ in sim.apps if a == "bind_meta_app"]
    assert "CUSTOM" not in sim.events and "DTMF" not in sim.events
    rec = by_user(recording, sim, 1)["101"]
    assert rec.kept is False and rec.purged == "discarded"  # Bob's *1 is not Alice's


def test_called_party_on_demand_start_records_only_from_star_1_to_star_4(
    recording: Controller, pbx: Pbx
) -> None:
    policy(recording, "102", "on-demand-start")
    sim = call(recording, internal("101", "102", called_dtmf_while_talking=[
        (2.0, "*"), (2.1, "1"), (3.0, "*"), (3.1, "2"), (4.5, "*"), (4.6, "3"),
        (6.0, "*"), (6.1, "4")]), **{"102": Endpoint(talk_seconds=9.0)})
    bound = sorted(arg.split()[0] for app, arg in sim.apps if app == "bind_meta_app")
    assert bound == ["1", "2", "3", "4"]
    rec = by_user(recording, sim, 1)["102"]
    assert rec.kept is True and rec.stop_reason == "user"
    verbs = [c.split()[3] for c, _, _ in sim.commands if c.startswith("api uuid_record")]
    assert verbs == ["start", "mask", "unmask", "stop"]
    samples = audio(rec.path)
    seconds = len(samples) / 8000
    assert 1.5 <= seconds <= 5.5  # from *1 (2 s in) to *4 (6 s in), not the 9 s call
    assert seconds <= talked(pbx, sim.call_uuid) - 3.0
    assert 0.5 <= longest_silence(samples) < seconds  # paused between *2 and *3 ...
    assert any(samples[:800]) and any(samples[-800:])  # ... talking before and after
    names = [type(e).__name__ for e in pbx.repository.event_store.get(rec.id)]
    assert names == ["RecordingStarted", "RecordingPaused", "RecordingResumed",
                     "RecordingStopped", "RecordingKept"]
    assert "102: *4: recording stopped (from the called party's phone)" in explain(
        pbx, sim.call_uuid)


# -- the simulator plays FreeSWITCH's side faithfully (a scripted controller) ----------------
@pytest.fixture
def scripted() -> Iterator[tuple[int, Any, Any]]:
    """A StreamServer at port 0 running a test's script per connection."""
    scripts: gevent.queue.Queue[Any] = gevent.queue.Queue()
    results: gevent.queue.Queue[Any] = gevent.queue.Queue()

    def handle(sock: Any, _addr: Any) -> None:
        try:
            results.put(scripts.get()(Client(sock)))
        except BaseException as exc:  # report failures to the test greenlet
            results.put(exc)
        finally:
            sock.close()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    yield server.server_port, scripts, results
    server.stop()


def meta_script(subscribe: bool) -> Any:
    """Bind ``*1`` (run on the A-leg) and ``*2`` (run on the B-leg) for keys heard on the
    B-leg, bridge, and return every event received."""
    def script(c: Client) -> list[dict[str, str]]:
        c.reply("connect\n\n")
        c.reply("myevents\n\n")
        c.reply("linger 30\n\n")
        if subscribe:
            c.reply("event plain CUSTOM pbx::incall\n\n")
        for code, flags in (("1", "ai"), ("2", "bi")):
            c.reply("sendmsg\ncall-command: execute\nexecute-app-name: bind_meta_app\n"
                    f"execute-app-arg: {code} b {flags} event::Event-Name=CUSTOM,"
                    f"Event-Subclass=pbx::incall,Pbx-Code={code}\nevent-lock: true\n\n")
        c.reply("sendmsg\ncall-command: execute\nexecute-app-name: bridge\n"
                "execute-app-arg: user/102@acme.example\nEvent-UUID: app-1\n"
                "event-lock: true\n\n")
        done = c.wait_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID="app-1")
        if done is not None and dict(done.event()[0]).get("Answer-State") == "hangup":
            c.wait_event("CHANNEL_HANGUP_COMPLETE")
        c.send("exit\n\n")
        c.drain()
        return [dict(f.event()[0]) for f in c.received if f.content_type == "text/event-plain"]
    return script


def test_simulator_runs_the_bound_meta_app_for_the_called_partys_keys(
    scripted: tuple[int, Any, Any]
) -> None:
    port, scripts, results = scripted
    keys = [(0.5, "*"), (0.6, "1"),  # *1: runs the event app on the A-leg
            (1.0, "*"), (1.1, "2"),  # *2: bound to run on the B-leg: never on this socket
            (1.5, "1"),  # no meta key: passes on to the caller
            (2.0, "*"), (12.0, "1")]  # more than 5 s after the *: passes on
    spec = CallSpec("101", "102", auth_user="101", domain="acme.example",
                    called_dtmf_while_talking=keys)
    switch = FakeSwitch("127.0.0.1", port, {"102": Endpoint("answer", 0.1, 14.0)},
                        time_scale=0.05)
    for subscribe in (True, False):
        scripts.put(meta_script(subscribe))
        sim = switch.place_call(spec, timeout=20)
        events = results.get(timeout=20)
        assert not isinstance(events, BaseException), events
        custom = [e for e in events if e.get("Event-Name") == "CUSTOM"]
        # the event app ran once (on the A-leg), whether or not anyone listens
        assert [a for a in sim.apps if a[0] == "event"] == [
            ("event", "Event-Name=CUSTOM,Event-Subclass=pbx::incall,Pbx-Code=1")]
        assert not [e for e in events if e.get("Event-Name") == "DTMF"]  # B-leg DTMF: never
        if subscribe:
            assert [(e["Event-Subclass"], e["Pbx-Code"], e["Unique-ID"]) for e in custom] == [
                ("pbx::incall", "1", sim.call_uuid)]
        else:
            assert custom == []  # a CUSTOM subclass nobody subscribed is not delivered
