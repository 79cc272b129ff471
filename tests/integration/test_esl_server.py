"""ControllerServer against a tiny fake FreeSWITCH that replays captured frames."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import gevent.event
import gevent.socket
import pytest
from greenswitch.esl import OutboundSessionHasGoneAway

from esl_controller.esl.server import ControllerServer, ControllerSession

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl-captures"
WAIT = 5.0


def _set_header(block: bytes, name: str, value: str) -> bytes:
    pattern = re.compile(rb"^" + re.escape(name.encode()) + rb": .*$", re.MULTILINE)
    return pattern.sub(name.encode() + b": " + value.encode(), block, count=1)


def connect_reply(call_id: str, destination: str) -> bytes:
    block = (CAPTURES / "outbound-connect-reply.txt").read_bytes()
    block = _set_header(block, "Unique-ID", call_id)
    return _set_header(block, "Caller-Destination-Number", destination)


def event_frame(capture: str, **headers: str) -> bytes:
    raw = (CAPTURES / capture).read_bytes()
    body = raw.split(b"\n\n", 1)[1]
    for name, value in headers.items():
        body = _set_header(body, name.replace("_", "-"), value)
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


@dataclass
class Command:
    line: str
    headers: dict[str, str]
    body: bytes = b""


class FakeFreeSwitch:
    """The FreeSWITCH side of one outbound socket connection."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = gevent.socket.create_connection(address, timeout=WAIT)
        self.sock.settimeout(WAIT)
        self.buf = b""

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("controller closed the connection")
        return chunk

    def expect(self, first_line: str) -> Command:
        while b"\n\n" not in self.buf:
            self.buf += self._recv()
        block, self.buf = self.buf.split(b"\n\n", 1)
        line, *rest = block.decode().split("\n")
        headers = dict(h.split(": ", 1) for h in rest)
        length = int(headers.get("content-length", 0))
        while len(self.buf) < length:
            self.buf += self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        assert line == first_line, (line, first_line)
        return Command(line, headers, body)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer_connect(self, call_id: str, destination: str = "3000") -> None:
        self.expect("connect")
        self.send(connect_reply(call_id, destination))

    def closed_by_controller(self) -> bool:
        """True when the controller closes (answering a pending ``exit`` on the way)."""
        try:
            while True:
                self.buf += self._recv()
                if b"exit\n\n" in self.buf:
                    self.buf = b""
                    self.send(reply("+OK bye"))
        except EOFError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


@dataclass
class Recorder:
    """What each call's handler achieved, by destination number."""

    results: dict[str, object] = field(default_factory=dict)
    events: dict[str, list[str]] = field(default_factory=dict)
    done: dict[str, gevent.event.Event] = field(default_factory=dict)
    seen: dict[str, gevent.event.Event] = field(default_factory=dict)

    def finished(self, destination: str) -> gevent.event.Event:
        return self.done.setdefault(destination, gevent.event.Event())


def make_handler(rec: Recorder) -> Callable[[ControllerSession], None]:
    def handler(sess: ControllerSession) -> None:
        dest = sess.session_data["Caller-Destination-Number"]
        seen = rec.seen.setdefault(dest, gevent.event.Event())

        def observe(headers: dict[str, str]) -> None:
            rec.events.setdefault(dest, []).append(headers["Event-Name"])
            seen.set()

        sess.on("*", observe)
        try:
            if dest == "boom":
                raise RuntimeError("routing bug")
            rec.results[dest + ":data"] = sess.connect()
            rec.results[dest + ":myevents"] = sess.command("myevents", timeout=WAIT)
            rec.results[dest] = sess.execute("playback", "/tmp/x.wav", timeout=WAIT)
        except OutboundSessionHasGoneAway as exc:
            rec.results[dest] = exc
            raise
        finally:
            rec.finished(dest).set()

    return handler


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def server(rec: Recorder) -> Iterator[ControllerServer]:
    srv = ControllerServer("127.0.0.1", 0, make_handler(rec))
    srv.start()
    yield srv
    srv.stop(timeout=1)


def play_normal_call(fs: FakeFreeSwitch, rec: Recorder, dest: str) -> None:
    call_id = str(uuid.uuid4())
    fs.answer_connect(call_id, dest)
    fs.expect("myevents")
    fs.send(reply("+OK Events Enabled"))
    cmd = fs.expect("sendmsg")
    fs.send(reply("+OK"))
    fs.send(
        event_frame(
            "channel-execute-complete-playback.event",
            Unique_ID=call_id,
            Application_UUID=cmd.headers["Event-UUID"],
        )
    )
    assert rec.finished(dest).wait(WAIT)


def test_execute_resolves_only_on_its_own_application_uuid(
    server: ControllerServer, rec: Recorder
) -> None:
    fs = FakeFreeSwitch(server.address)
    call_id = str(uuid.uuid4())
    fs.answer_connect(call_id, "3001")
    fs.expect("myevents")
    fs.send(reply("+OK Events Enabled"))
    cmd = fs.expect("sendmsg")
    assert cmd.headers["execute-app-name"] == "playback"
    assert cmd.headers["execute-app-arg"] == "/tmp/x.wav"
    assert cmd.headers["event-lock"] == "true"
    fs.send(reply("+OK"))
    # A completion for some other execution (same app name!) must not resolve ours.
    fs.send(
        event_frame("channel-execute-complete-playback.event", Application_UUID=str(uuid.uuid4()))
    )
    assert rec.seen["3001"].wait(WAIT)
    assert rec.events["3001"] == ["CHANNEL_EXECUTE_COMPLETE"]
    assert not rec.finished("3001").is_set()
    fs.send(
        event_frame(
            "channel-execute-complete-playback.event", Application_UUID=cmd.headers["Event-UUID"]
        )
    )
    assert rec.finished("3001").wait(WAIT)
    data = rec.results["3001:data"]
    assert isinstance(data, dict) and data["Unique-ID"] == call_id
    assert data["Channel-Name"] == "sofia/internal/1001@172.16.50.134"
    assert rec.results["3001:myevents"] == "+OK Events Enabled"
    done = rec.results["3001"]
    assert isinstance(done, dict)
    assert done["Application-UUID"] == cmd.headers["Event-UUID"]
    assert done["Application-Response"] == "FILE PLAYED"
    assert fs.closed_by_controller()


def test_multiline_argument_travels_as_body(server: ControllerServer) -> None:
    got: dict[str, dict[str, str]] = {}
    finished = gevent.event.Event()

    def handler(sess: ControllerSession) -> None:
        got["done"] = sess.execute("set", "note=a\nb", timeout=WAIT)
        finished.set()

    srv = ControllerServer("127.0.0.1", 0, handler)
    srv.start()
    try:
        fs = FakeFreeSwitch(srv.address)
        fs.answer_connect(str(uuid.uuid4()))
        cmd = fs.expect("sendmsg")
        assert "execute-app-arg" not in cmd.headers
        assert cmd.headers["content-type"] == "text/plain"
        assert cmd.body == b"note=a\nb"
        fs.send(reply("+OK"))
        fs.send(
            event_frame(
                "channel-execute-complete-playback.event",
                Application_UUID=cmd.headers["Event-UUID"],
            )
        )
        assert finished.wait(WAIT)
    finally:
        srv.stop(timeout=1)


BAD_ENDINGS: dict[str, bytes | None] = {
    "malformed-frame": b"Content-Type: command/reply\nthis line has no colon\n\n",
    "truncated-frame": b"Content-Type: api/response\nContent-Length: 500\n\n+OK",
    "oversized-content-length": b"Content-Type: api/response\nContent-Length: 999999999999\n\n",
    "disconnect-mid-command": None,
}


@pytest.mark.parametrize("ending", list(BAD_ENDINGS))
def test_broken_connection_ends_only_itself(
    server: ControllerServer, rec: Recorder, ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = FakeFreeSwitch(server.address)
    good = FakeFreeSwitch(server.address)
    bad_id = str(uuid.uuid4())
    bad.answer_connect(bad_id, "bad")
    good.answer_connect(str(uuid.uuid4()), "good")
    bad.expect("myevents")  # the bad call is now waiting for a reply
    payload = BAD_ENDINGS[ending]
    if payload is None:
        bad.close()
    else:
        bad.send(payload)
        if ending == "truncated-frame":
            bad.sock.shutdown(gevent.socket.SHUT_WR)  # EOF in the middle of the body
    assert rec.finished("bad").wait(WAIT)
    assert isinstance(rec.results["bad"], OutboundSessionHasGoneAway)
    assert any(bad_id in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    if payload is not None:
        assert bad.closed_by_controller()
    # The other call, already running, completes normally ...
    good.expect("myevents")
    good.send(reply("+OK Events Enabled"))
    cmd = good.expect("sendmsg")
    good.send(reply("+OK"))
    good.send(
        event_frame(
            "channel-execute-complete-playback.event", Application_UUID=cmd.headers["Event-UUID"]
        )
    )
    assert rec.finished("good").wait(WAIT)
    assert isinstance(rec.results["good"], dict)
    # ... and new calls are still served.
    play_normal_call(FakeFreeSwitch(server.address), rec, "after")
    assert isinstance(rec.results["after"], dict)


def test_handler_exception_closes_that_connection_only(
    server: ControllerServer, rec: Recorder
) -> None:
    fs = FakeFreeSwitch(server.address)
    fs.answer_connect(str(uuid.uuid4()), "boom")
    assert fs.closed_by_controller()
    play_normal_call(FakeFreeSwitch(server.address), rec, "next")
    assert isinstance(rec.results["next"], dict)
    assert server.active in (0, 1)


def test_server_sends_connect_promptly_to_50_sequential_calls(server: ControllerServer) -> None:
    for _ in range(50):
        sock = gevent.socket.create_connection(server.address, timeout=WAIT)
        sock.settimeout(1.0)  # generous: the server must not poll its accept loop
        assert sock.recv(64) == b"connect\n\n"
        sock.close()


def test_over_capacity_call_is_sent_back_to_the_dialplan(rec: Recorder) -> None:
    srv = ControllerServer("127.0.0.1", 0, make_handler(rec), max_connections=1)
    srv.start()
    try:
        held = FakeFreeSwitch(srv.address)
        held.answer_connect(str(uuid.uuid4()), "held")
        held.expect("myevents")  # the one allowed call is in progress
        extra = FakeFreeSwitch(srv.address)
        extra.answer_connect(str(uuid.uuid4()), "extra")
        extra.expect("exit")
        extra.send(reply("+OK bye"))
        assert extra.closed_by_controller()
        assert "extra" not in rec.done
    finally:
        srv.stop(timeout=1)
