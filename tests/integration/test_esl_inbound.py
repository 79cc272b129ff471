"""InboundClient and PresencePublisher against a small fake FreeSWITCH event socket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import gevent
import gevent.event
import gevent.server
import gevent.socket
import pytest

from esl_controller.esl.inbound import AuthenticationError, InboundClient, PresencePublisher

PASSWORD = "s3cret-esl"
WAIT = 5.0


@dataclass
class FakeEventSocket:
    """mod_event_socket's inbound side: auth, sendevent and api; records what it got."""

    drop_after: int | None = None  # close the connection after this many events (once)
    events: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0
    got_event: gevent.event.Event = field(default_factory=gevent.event.Event)

    def handle(self, sock: gevent.socket.socket, _addr: object) -> None:
        self.connections += 1
        sock.sendall(b"Content-Type: auth/request\n\n")
        buf = b""
        while True:
            while b"\n\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            block, buf = buf.split(b"\n\n", 1)
            line, *rest = block.decode().split("\n")
            if line.startswith("auth "):
                if line != f"auth {PASSWORD}":
                    sock.sendall(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
                    sock.close()
                    return
                sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            elif line.startswith("sendevent "):
                self.events.append(dict(h.split(": ", 1) for h in rest))
                self.got_event.set()
                reply = f"Content-Type: command/reply\nReply-Text: +OK {uuid.uuid4()}\n\n"
                sock.sendall(reply.encode())
                if self.drop_after is not None and len(self.events) == self.drop_after:
                    self.drop_after = None
                    sock.close()
                    return
            elif line.startswith("api "):
                body = b"+OK " + str(uuid.uuid4()).encode() + b"\n"
                sock.sendall(
                    b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(body), body)
                )
            else:
                sock.sendall(b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")


@pytest.fixture
def fake() -> FakeEventSocket:
    return FakeEventSocket()


@pytest.fixture
def address(fake: FakeEventSocket) -> Iterator[tuple[str, int]]:
    server = gevent.server.StreamServer(("127.0.0.1", 0), fake.handle)
    server.start()
    yield "127.0.0.1", server.server_port
    server.stop(timeout=1)


def test_default_password_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="default"):
        InboundClient("127.0.0.1", 1, "ClueCon")
    with pytest.raises(ValueError, match="default"):
        PresencePublisher("127.0.0.1", 1, "ClueCon")


def test_wrong_password_raises(address: tuple[str, int]) -> None:
    client = InboundClient(*address, "not-the-password", timeout=WAIT)
    with pytest.raises(AuthenticationError):
        client.connect()


def test_send_event_and_api(address: tuple[str, int], fake: FakeEventSocket) -> None:
    client = InboundClient(*address, PASSWORD, timeout=WAIT)
    client.connect()
    try:
        reply = client.send_event(
            "PRESENCE_IN", {"from": "801@example.com", "answer-state": "early"}
        )
        assert reply.startswith("+OK ")
        assert fake.events == [{"from": "801@example.com", "answer-state": "early"}]
        assert client.originate("user/801", "&park()").startswith("+OK ")
        with pytest.raises(ValueError):
            client.send_event("PRESENCE_IN", {"from": "x\nFake: injected"})
    finally:
        client.close()


def test_publisher_reconnects_after_the_server_drops_it(
    address: tuple[str, int], fake: FakeEventSocket, caplog: pytest.LogCaptureFixture
) -> None:
    fake.drop_after = 1
    publisher = PresencePublisher(*address, PASSWORD)
    publisher.start()
    try:
        publisher.publish({"from": "801@example.com", "answer-state": "early"})
        assert publisher.wait_idle(WAIT)
        assert fake.got_event.wait(WAIT)
        # The fake has dropped the connection; later events still arrive.
        publisher.publish({"from": "801@example.com", "answer-state": "confirmed"})
        publisher.publish({"from": "801@example.com", "answer-state": "terminated"})
        assert publisher.wait_idle(WAIT)
        assert [e["answer-state"] for e in fake.events] == ["early", "confirmed", "terminated"]
        assert fake.connections == 2
        assert publisher.sent == 3
    finally:
        publisher.stop()
    assert PASSWORD not in caplog.text


def test_publisher_drops_oldest_beyond_its_bound(fake: FakeEventSocket) -> None:
    publisher = PresencePublisher("127.0.0.1", 1, PASSWORD, max_pending=2)  # never started
    for state in ("early", "confirmed", "terminated"):
        publisher.publish({"answer-state": state})
    assert publisher.dropped == 1
    assert not publisher.wait_idle(0)
