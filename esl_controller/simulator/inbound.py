"""``FakeInboundESL``: FreeSWITCH's inbound event socket (port 8021 side, ESL-NOTES A.9)."""

from __future__ import annotations

import logging
import re
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
from gevent import socket as gsocket
from gevent.server import StreamServer

from . import frames
from .replies import api_output, background_job
from .wire import Command, CommandReader

__all__ = ["FakeInboundESL", "wait_for"]

log = logging.getLogger(__name__)

CORE_UUID = "54f56e17-fcaa-4e19-8045-e6340d59995e"  # the captured switch's


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> Any:
    """Poll ``predicate`` cooperatively until it returns a truthy value; raise on timeout."""
    with gevent.Timeout(timeout, TimeoutError(f"condition not met within {timeout}s")):
        while True:
            result = predicate()
            if result:
                return result
            gevent.sleep(interval)


class _Conn:
    """State of one inbound client connection."""

    def __init__(self, sock: gsocket.socket) -> None:
        self.sock = sock
        self.authed = False
        self.all_events = False
        self.subscribed: set[str] = set()
        self._lock = gevent.lock.Semaphore()  # replies and emitted events never interleave

    def send(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def wants(self, name: str) -> bool:
        return self.authed and (self.all_events or name.upper() in self.subscribed)


class FakeInboundESL:
    """A fake FreeSWITCH inbound ESL server recording what clients send.

    Recorded: ``events`` (every ``sendevent`` as a dict with ``Event-Name`` plus the headers
    as sent, body under ``_body`` if any), ``presence`` (the PRESENCE_IN ones),
    ``api_commands`` (``api``/``bgapi`` command lines without the verb), ``auth_attempts``.
    """

    def __init__(self, password: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.password = password
        self.host = host
        self._port = port
        self._server: StreamServer | None = None
        self.events: list[dict[str, str]] = []
        self.presence: list[dict[str, str]] = []
        self.api_commands: list[str] = []
        self.auth_attempts: list[str] = []
        self.connections = 0
        self.changed = gevent.event.Event()
        self._conns: list[_Conn] = []
        self._sequence = 723

    @property
    def port(self) -> int:
        """The bound TCP port (valid after :meth:`start`)."""
        if self._server is None:
            return self._port
        return int(self._server.server_port)

    def start(self) -> FakeInboundESL:
        """Bind and start serving in the background."""
        self._server = StreamServer((self.host, self._port), self._serve)
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close client connections."""
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None
        for conn in list(self._conns):  # as FreeSWITCH going away: clients see the close
            try:
                conn.sock.shutdown(gsocket.SHUT_RDWR)
            except OSError:
                pass

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (e.g. ``lambda: len(esl.presence) >= 2``)."""
        return wait_for(predicate, timeout)

    # ------------------------------------------------------------------ connection
    def _serve(self, sock: gsocket.socket, address: tuple[str, int]) -> None:
        self.connections += 1
        conn = _Conn(sock)
        self._conns.append(conn)
        parser = CommandReader()
        try:
            conn.send(frames.auth_request())
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for cmd in parser.feed(data):
                    if not self._handle(conn, cmd):
                        return
        except OSError as exc:
            log.debug("inbound client %s gone: %s", address, exc)
        finally:
            self._conns.remove(conn)
            sock.close()

    def _handle(self, conn: _Conn, cmd: Command) -> bool:
        """Answer one command; False ends the connection."""
        verb, _, rest = cmd.line.partition(" ")
        verb = verb.lower()
        if verb in ("exit", "..."):
            conn.send(frames.command_reply("+OK bye"))
            conn.send(frames.disconnect_inbound())
            return False
        if not conn.authed:
            if verb != "auth":
                conn.send(frames.command_reply("-ERR command not found"))
                return True
            self.auth_attempts.append(rest)
            if rest.strip() != self.password:
                conn.send(frames.command_reply("-ERR invalid"))
                return False
            conn.authed = True
            conn.send(frames.command_reply("+OK accepted"))
            return True
        if verb == "event":
            return self._event(conn, rest.split())
        if verb == "sendevent":
            return self._sendevent(conn, rest.strip(), cmd)
        if verb in ("api", "bgapi"):
            return self._api(conn, verb, rest.strip(), cmd)
        if verb == "noevents":
            conn.subscribed.clear()
            conn.all_events = False
            conn.send(frames.command_reply("+OK no longer listening for events"))
            return True
        conn.send(frames.command_reply("-ERR command not found"))
        return True

    def _event(self, conn: _Conn, args: list[str]) -> bool:
        fmt, names = (args[0], args[1:]) if args else ("plain", [])
        if not names:
            conn.send(frames.command_reply("-ERR no keywords supplied"))
            return True
        for name in names:
            if name.upper() == "ALL":
                conn.all_events = True
            conn.subscribed.add(name.upper())
        conn.send(frames.command_reply(f"+OK event listener enabled {fmt}"))
        return True

    def _sendevent(self, conn: _Conn, name: str, cmd: Command) -> bool:
        event_uuid = str(uuidlib.uuid4())
        record = {"Event-Name": name, **cmd.headers}
        if cmd.body:
            record["_body"] = cmd.body.decode("utf-8", "replace")
        self.events.append(record)
        if name.upper() == "PRESENCE_IN":
            self.presence.append(dict(cmd.headers))
        self.changed.set()
        conn.send(frames.command_reply(f"+OK {event_uuid}"))
        return True

    def _api(self, conn: _Conn, verb: str, line: str, cmd: Command) -> bool:
        self.api_commands.append(line)
        self.changed.set()
        command, _, args = line.partition(" ")
        output = api_output(command, args)
        if command == "originate" and output.startswith("+OK"):
            # FreeSWITCH answers "+OK <uuid>" of the new channel: origination_uuid if given
            given = re.search(r"[{,]origination_uuid=([0-9a-fA-F-]{36})[,}]", args)
            output = f"+OK {given.group(1)}\n" if given else output
        if verb == "api":
            conn.send(frames.api_response(output))
            return True
        job = cmd.headers.get("Job-UUID") or str(uuidlib.uuid4())
        conn.send(frames.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
        if conn.all_events or "BACKGROUND_JOB" in conn.subscribed:
            conn.send(background_job(job, command, args, output))
        return True

    # ------------------------------------------------------------------ events it fires
    def listening(self, name: str) -> int:
        """How many connected clients have subscribed to event ``name`` (or to ALL)."""
        return sum(1 for conn in self._conns if conn.wants(name))

    def emit(self, headers: list[tuple[str, str]]) -> int:
        """Send one ``text/event-plain`` event to every client subscribed to its
        ``Event-Name``; returns how many got it."""
        name = dict(headers)["Event-Name"]
        frame = frames.event_plain(headers)
        sent = 0
        for conn in list(self._conns):
            if conn.wants(name):
                try:
                    conn.send(frame)
                    sent += 1
                except OSError as exc:
                    log.debug("event %s not delivered: %s", name, exc)
        return sent

    def message_query(self, account: str, profile: str = "internal",
                      call_id: str | None = None) -> int:
        """A phone subscribed to message-summary (or registered): mod_sofia's MESSAGE_QUERY,
        header for header as in freeswitch-1.10.12/inbound-bridge-sip-events.txt.raw."""
        self._sequence += 1
        headers = [
            ("Event-Name", "MESSAGE_QUERY"),
            ("Core-UUID", CORE_UUID),
            ("FreeSWITCH-Hostname", "vm"),
            ("FreeSWITCH-Switchname", "vm"),
            ("FreeSWITCH-IPv4", "192.0.2.2"),
            ("FreeSWITCH-IPv6", "fd00::2"),
            ("Event-Date-Local", "2026-11-26 01:07:57"),
            ("Event-Date-GMT", "Thu, 26 Nov 2026 01:07:57 GMT"),
            ("Event-Date-Timestamp", "1795655277538501"),
            ("Event-Calling-File", "sofia_reg.c"),
            ("Event-Calling-Function", "sofia_reg_handle_register_token"),
            ("Event-Calling-Line-Number", "2168"),
            ("Event-Sequence", str(self._sequence)),
            ("Message-Account", account),
            ("VM-Sofia-Profile", profile),
            ("VM-Call-ID", call_id or f"{uuidlib.uuid4()}@127.0.0.1"),
        ]
        return self.emit(headers)
