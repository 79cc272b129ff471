"""Drive FakeSwitch with a tiny raw-socket scripted controller, and FakeInboundESL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.queue
import pytest
from gevent import socket as gsocket
from gevent.server import StreamServer

from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from esl_controller.simulator.wire import Frame, FrameReader

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl-captures"
SCALE = 0.02
TIMEOUT = 10.0


@dataclass
class Client:
    """The controller side of one connection, as seen by a scripted test."""

    sock: Any
    reader: FrameReader = field(default_factory=FrameReader)
    pending: list[Frame] = field(default_factory=list)
    received: list[Frame] = field(default_factory=list)

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def next_frame(self) -> Frame | None:
        """Next frame, or None at EOF."""
        with gevent.Timeout(TIMEOUT):
            while not self.pending:
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.pending.extend(self.reader.feed(data))
        frame = self.pending.pop(0)
        self.received.append(frame)
        return frame

    def reply(self, command: str) -> Frame:
        """Send a command and return its reply (skipping events)."""
        self.send(command)
        while True:
            frame = self.next_frame()
            assert frame is not None, f"EOF waiting for reply to {command!r}"
            if frame.content_type in ("command/reply", "api/response"):
                return frame

    def wait_event(self, name: str, **match: str) -> Frame | None:
        """Wait for an event (decoded header match); None at EOF."""
        while True:
            frame = self.next_frame()
            if frame is None:
                return None
            if frame.content_type != "text/event-plain":
                continue
            headers = dict(frame.event()[0])
            if headers.get("Event-Name") == name and all(
                headers.get(k.replace("_", "-")) == v for k, v in match.items()
            ):
                return frame

    def drain(self) -> list[Frame]:
        """Read until EOF."""
        while self.next_frame() is not None:
            pass
        return self.received

    def event_names(self) -> list[str]:
        return [dict(f.event()[0]).get("Event-Name", "") for f in self.received
                if f.content_type == "text/event-plain"]


Script = Any


@pytest.fixture
def controller() -> Any:
    """A StreamServer at port 0 running ``script(client)`` per connection."""
    scripts: gevent.queue.Queue[Script] = gevent.queue.Queue()
    results: gevent.queue.Queue[Any] = gevent.queue.Queue()

    def handle(sock: Any, _addr: Any) -> None:
        script = scripts.get()
        client = Client(sock)
        try:
            results.put(script(client))
        except BaseException as exc:  # report failures to the test greenlet
            results.put(exc)
        finally:
            sock.close()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    yield server.server_port, scripts, results
    server.stop()


def run_call(controller: Any, script: Script, spec: CallSpec,
             endpoints: dict[str, Endpoint] | None = None) -> tuple[SimCall, Any]:
    port, scripts, results = controller
    scripts.put(script)
    switch = FakeSwitch("127.0.0.1", port, endpoints or {}, time_scale=SCALE)
    call = switch.place_call(spec, timeout=TIMEOUT)
    outcome = results.get(timeout=TIMEOUT)
    if isinstance(outcome, BaseException):
        raise outcome
    return call, outcome


BRIDGE = ("{call_timeout=20,hangup_after_bridge=true,continue_on_fail=true,"
          "origination_caller_id_number=101,origination_caller_id_name=Alice}user/102@acme.example")


def bridge_script(dial: str = BRIDGE, linger: str = "linger 30") -> Script:
    def script(c: Client) -> dict[str, Any]:
        connect = c.reply("connect\n\n")
        data = dict((k, v) for k, v in connect.headers)
        assert data["Reply-Text"] == "%2BOK%0A"
        assert c.reply("myevents\n\n").get("Reply-Text") == "+OK Events Enabled"
        if linger:
            c.reply(f"{linger}\n\n")
        c.reply("sendmsg\ncall-command: execute\nexecute-app-name: bridge\n"
                f"execute-app-arg: {dial}\nEvent-UUID: app-1\nevent-lock: true\n\n")
        done = c.wait_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID="app-1")
        result: dict[str, Any] = {"uuid": data["Unique-ID"]}
        if done is not None:
            result["complete"] = dict(done.event()[0])
            if linger:
                if result["complete"].get("Answer-State") == "hangup":
                    c.wait_event("CHANNEL_HANGUP_COMPLETE")
                c.send("exit\n\n")
        c.drain()
        result["names"] = c.event_names()
        result["frames"] = c.received
        return result
    return script


def test_bridge_answer_callee_hangs_up(controller: Any) -> None:
    spec = CallSpec(caller="101", destination="102", auth_user="101", domain="acme.example")
    call, out = run_call(controller, bridge_script(), spec, {"102": Endpoint("answer", 0.1, 0.2)})
    assert call.error is None and call.closed_cleanly and call.exit_received
    assert call.bridged_to == "102" and call.answered
    assert call.hangup_cause == "NORMAL_CLEARING" and call.hangup_by == "callee"
    assert out["complete"]["variable_DIALSTATUS"] == "SUCCESS"
    assert out["complete"]["variable_originate_disposition"] == "SUCCESS"
    names = out["names"]
    order = ["CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
             "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE"]
    assert [n for n in names if n in order] == order
    assert call.apps == [("bridge", BRIDGE)]
    kinds = [f.get("Content-Disposition") for f in out["frames"]]
    assert "linger" in kinds and kinds[-1] == "disconnect"
    assert out["frames"][-2].get("Reply-Text") == "+OK bye"


@pytest.mark.parametrize("behaviour,disposition,dialstatus", [
    ("busy", "USER_BUSY", "BUSY"),
    ("no-answer", "NO_ANSWER", "NOANSWER"),
    ("unregistered", "USER_NOT_REGISTERED", "USER_NOT_REGISTERED"),
    ("reject", "CALL_REJECTED", "DONTCALL"),
])
def test_bridge_failures_continue_on_fail(controller: Any, behaviour: str, disposition: str,
                                          dialstatus: str) -> None:
    spec = CallSpec(caller="+31201234567", destination="0201234567", hangup_after=50)
    dial = BRIDGE.replace("call_timeout=20", "call_timeout=2")
    call, out = run_call(controller, bridge_script(dial), spec, {"102": Endpoint(behaviour)})
    assert out["complete"]["variable_originate_disposition"] == disposition
    assert out["complete"]["variable_DIALSTATUS"] == dialstatus
    assert out["complete"]["Answer-State"] != "hangup"  # continue_on_fail keeps A up
    assert call.bridged_to is None and call.hangup_by == "controller" and call.exit_received


def test_bridge_failure_without_continue_hangs_up_a(controller: Any) -> None:
    spec = CallSpec(caller="101", destination="102", auth_user="101", domain="acme.example")
    call, out = run_call(controller, bridge_script("user/102@acme.example"), spec,
                         {"102": Endpoint("busy", 0.05)})
    assert call.hangup_cause == "USER_BUSY"
    assert "CHANNEL_HANGUP_COMPLETE" in out["names"] and call.closed_cleanly


def test_missing_user_is_unregistered_and_gateway_answers(controller: Any) -> None:
    spec = CallSpec(caller="101", destination="0612345678", auth_user="101", domain="acme.example")
    dial = "{continue_on_fail=true}user/555@acme.example"
    _, out = run_call(controller, bridge_script(dial), spec)
    assert out["complete"]["variable_originate_disposition"] == "USER_NOT_REGISTERED"
    call, out = run_call(controller, bridge_script("sofia/gateway/trunk/+31612345678"), spec)
    assert call.bridged_to == "+31612345678"


def test_simultaneous_ring_first_answer_wins(controller: Any) -> None:
    spec = CallSpec(caller="101", destination="600", auth_user="101", domain="acme.example")
    eps = {"102": Endpoint("answer", 0.3), "103": Endpoint("answer", 0.05), "104": Endpoint("busy")}
    call, _ = run_call(controller, bridge_script(
        "{hangup_after_bridge=true}user/102@a,user/103@a,user/104@a"), spec, eps)
    assert call.bridged_to == "103"


def test_caller_hangup_while_ringing_with_linger(controller: Any) -> None:
    spec = CallSpec(caller="101", destination="102", auth_user="101", domain="acme.example",
                    hangup_while_ringing=0.1)
    call, out = run_call(controller, bridge_script(), spec, {"102": Endpoint("no-answer")})
    assert call.hangup_cause == "NORMAL_CLEARING" and call.hangup_by == "caller"
    assert out["complete"]["variable_originate_disposition"] == "ORIGINATOR_CANCEL"
    assert out["complete"]["variable_DIALSTATUS"] == "CANCEL"
    kinds = [f.content_type for f in out["frames"]]
    linger = kinds.index("text/disconnect-notice")
    assert out["frames"][linger].get("Linger-Time") == "30"
    assert "CHANNEL_HANGUP_COMPLETE" in out["names"] and call.closed_cleanly


def test_caller_hangup_during_bridge_without_linger(controller: Any) -> None:
    spec = CallSpec(caller="101", destination="102", auth_user="101", domain="acme.example",
                    hangup_while_talking=0.2)
    call, out = run_call(controller, bridge_script(linger=""), spec,
                         {"102": Endpoint("answer", 0.05, 5)})
    assert "complete" not in out  # like the 1.10.12 outbound-bridge capture
    assert out["names"][-2:] == ["CHANNEL_BRIDGE", "CHANNEL_HANGUP"]
    assert out["frames"][-1].get("Content-Disposition") == "disconnect"
    assert call.bridged_to == "102" and call.hangup_by == "caller" and call.closed_cleanly


def test_silent_until_connect_and_unknown_command(controller: Any) -> None:
    def script(c: Client) -> list[str]:
        c.send("myevents\n\n")
        c.sock.settimeout(0.1)
        with pytest.raises(gsocket.timeout):
            c.sock.recv(10)
        c.sock.settimeout(None)
        c.reply("connect\n\n")
        texts = [c.reply(cmd).get("Reply-Text") or "" for cmd in
                 ("myevents\n\n", "linger\n\n", "event plain DTMF\n\n", "bogus\n\n")]
        c.send("sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
               "execute-app-arg: ivr/hello.wav\n\n")
        done = c.wait_event("CHANNEL_EXECUTE_COMPLETE")
        assert done is not None
        texts.append(dict(done.event()[0])["Application-Response"])
        assert c.wait_event("DTMF") is not None  # pressed once the listener is subscribed
        c.send("sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n")
        c.wait_event("CHANNEL_HANGUP_COMPLETE")
        texts.append(c.reply("exit\n\n").get("Reply-Text") or "")
        c.drain()
        return texts

    spec = CallSpec(caller="101", destination="*97", dtmf=[(2.0 / SCALE, "#")])  # 2 s
    call, texts = run_call(controller, script, spec)
    assert texts == ["+OK Events Enabled", "+OK will linger", "+OK event listener enabled plain",
                     "-ERR command not found", "FILE PLAYED", "+OK bye"]
    assert call.commands[0][0] == "myevents" and call.hangup_cause == "USER_BUSY"
    assert b"DTMF-Digit: %23\n" in call.frames_sent
    assert call.early_media and not call.answered


def test_close_after_connect(controller: Any) -> None:
    def script(c: Client) -> int:
        c.reply("connect\n\n")
        return len(c.drain())

    call, count = run_call(controller, script, CallSpec("101", "102", close_after_connect=True))
    assert count == 1 and not call.closed_cleanly


# ---------------------------------------------------------------------------- inbound
def _inbound_client(esl: FakeInboundESL) -> Client:
    client = Client(gsocket.create_connection(("127.0.0.1", esl.port)))
    assert client.next_frame() is not None  # auth/request
    return client


def test_inbound_auth_ok_and_presence() -> None:
    esl = FakeInboundESL("ClueCon").start()
    try:
        c = _inbound_client(esl)
        assert c.received[0].content_type == "auth/request"
        assert c.reply("auth ClueCon\n\n").get("Reply-Text") == "+OK accepted"
        assert c.reply("event plain BACKGROUND_JOB\n\n").get("Reply-Text") == \
            "+OK event listener enabled plain"
        for state in ("early", "confirmed", "terminated"):
            raw = (CAPTURES / f"presence-in-sendevent-{state}.txt").read_text()
            assert (c.reply(raw).get("Reply-Text") or "").startswith("+OK ")
        esl.wait_for(lambda: len(esl.presence) == 3)
        assert [p["answer-state"] for p in esl.presence] == ["early", "confirmed", "terminated"]
        assert esl.presence[0]["from"] == "801@example.com"
        assert c.reply("api uuid_kill abc\n\n").body == b"+OK\n"
        assert c.reply("bgapi originate user/1 &park\n\n").get("Job-UUID")
        job = c.wait_event("BACKGROUND_JOB")
        assert job is not None and job.event()[1].startswith(b"+OK ")
        assert esl.api_commands == ["uuid_kill abc", "originate user/1 &park"]
        assert c.reply("exit\n\n").get("Reply-Text") == "+OK bye"
    finally:
        esl.stop()


def test_inbound_wrong_password() -> None:
    esl = FakeInboundESL("ClueCon").start()
    try:
        c = _inbound_client(esl)
        assert c.reply("auth nope\n\n").get("Reply-Text") == "-ERR invalid"
        assert c.next_frame() is None
    finally:
        esl.stop()


def test_controller_hangup_without_linger_gets_hangup_complete(controller: Any) -> None:
    def script(c: Client) -> list[str]:
        c.reply("connect\n\n")
        c.reply("myevents\n\n")
        c.reply("sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: a1\n\n")
        c.wait_event("CHANNEL_EXECUTE_COMPLETE", Application_UUID="a1")
        c.reply("sendmsg\ncall-command: execute\nexecute-app-name: hangup\n"
                "execute-app-arg: NORMAL_CLEARING\nEvent-UUID: h1\n\n")
        c.drain()
        return c.event_names()

    call, names = run_call(controller, script, CallSpec("+3120555", "0201234567"))
    assert names[-3:] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE"]
    assert call.answered and call.hangup_by == "controller" and call.closed_cleanly
    assert call.frames_sent.endswith(b"See you at ClueCon! http://www.cluecon.com/\n")
    assert b"Caller-Context: public\n" in call.frames_sent
