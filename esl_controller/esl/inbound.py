"""Inbound ESL client (greenswitch's InboundESL with our parser and timeouts) and the
presence publisher that keeps one connection up to feed PRESENCE_IN events (BLF lamps)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import gevent.socket
from greenswitch.esl import InboundESL, NotConnectedError

from esl_controller.esl.protocol import Frame, FrameReader, ProtocolError
from esl_controller.esl.replies import send_in_order, wait_replies
from esl_controller.esl.server import EslError, EslTimeoutError

log = logging.getLogger(__name__)

__all__ = [
    "AuthenticationError",
    "EventSubscriber",
    "InboundClient",
    "NotConnectedError",
    "PresencePublisher",
]

DEFAULT_PASSWORD = "ClueCon"
_STOP = object()


class AuthenticationError(EslError, ValueError):
    """FreeSWITCH refused the event-socket password."""


def _check_header(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"newline in ESL header {text[:40]!r}")
    return text


class InboundClient(InboundESL):  # type: ignore[misc]
    """A client connection to FreeSWITCH's event socket (``mod_event_socket``)."""

    def __init__(self, host: str, port: int, password: str, timeout: float = 5) -> None:
        if password == DEFAULT_PASSWORD:
            raise ValueError("refusing FreeSWITCH's default event-socket password")
        super().__init__(host, port, password, timeout)
        self._write_lock = gevent.lock.Semaphore()
        self._commands_sent: list[gevent.event.AsyncResult] = []

    # -- connection ----------------------------------------------------------------------
    def connect(self) -> None:
        try:
            self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)
        except OSError as exc:
            raise NotConnectedError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        self.sock_file = None
        self.connected = True
        self._run = True
        self.start_event_handlers()
        if not self._auth_request_event.wait(self.timeout):
            self.close()
            raise NotConnectedError(f"no auth/request from {self.host}:{self.port}")
        if not self.connected:
            self.close()
            raise NotConnectedError(f"{self.host}:{self.port} refused the connection")
        try:
            reply = self.send(f"auth {self.password}", self.timeout).reply_text
        except NotConnectedError:
            reply = "-ERR connection closed"
        if not reply.startswith("+OK"):
            self.close()
            raise AuthenticationError(f"{self.host}:{self.port} refused the password")

    def authenticate(self) -> None:  # done inside connect()
        return None

    # -- reader / dispatcher -------------------------------------------------------------
    def receive_events(self) -> None:
        reader = FrameReader(self.sock)
        reason = "closed by FreeSWITCH"
        try:
            while self._run:
                frame = reader.read()
                if frame is None:
                    break
                kind = frame.content_type
                if kind in ("command/reply", "api/response"):
                    if self._commands_sent:
                        self._commands_sent.pop(0).set(frame)
                elif kind == "auth/request":
                    self._auth_request_event.set()
                elif kind in ("text/rude-rejection", "text/disconnect-notice"):
                    self.connected = False
                    self._auth_request_event.set()
                elif frame.is_event:
                    self._esl_event_queue.put(frame)
        except (ProtocolError, OSError) as exc:
            reason = str(exc)
        if self._run:
            log.info("esl inbound %s:%s connection ended: %s", self.host, self.port, reason)
        self.connected = False
        self._auth_request_event.set()
        pending: list[gevent.event.AsyncResult] = self._commands_sent
        self._commands_sent = []
        for result in pending:
            result.set_exception(NotConnectedError(reason))
        self._esl_event_queue.put(_STOP)

    def process_events(self) -> None:
        while (item := self._esl_event_queue.get()) is not _STOP:
            try:
                headers = dict(item.event)
            except ProtocolError as exc:
                log.warning("esl inbound: bad event ignored: %s", exc)
                continue
            if item.event_body is not None:
                headers["_body"] = item.event_body
            name = headers.get("Event-Name", "")
            if name == "CUSTOM":
                name = headers.get("Event-Subclass", name)
            event = _Event(headers, item.event_body)
            for handler in self.event_handlers.get(name, []) + self.event_handlers.get("*", []):
                try:
                    handler(event)
                except Exception:  # boundary: a bad observer must not stop the dispatcher
                    log.exception("esl inbound handler %r failed", handler)

    # -- commands ------------------------------------------------------------------------
    def send(self, data: str, timeout: float | None = None) -> Frame:
        """Send one command; return its reply frame (EslTimeoutError after ``timeout``)."""
        if not self.connected:
            raise NotConnectedError("not connected")
        results = send_in_order(self.sock, self._write_lock, self._commands_sent,
                                (data + "\n\n").encode("utf-8"), 1, NotConnectedError)
        label = f"{self.host}:{self.port} {data.split(chr(10), 1)[0].split(' ', 1)[0]}"
        wait = self.timeout if timeout is None else timeout
        return wait_replies(results, [label], wait, EslTimeoutError)[0]

    def send_event(self, name: str, headers: dict[str, str]) -> str:
        """``sendevent NAME`` with headers; returns Reply-Text (``+OK <event-uuid>``)."""
        lines = [f"sendevent {_check_header(name)}"]
        lines += [f"{_check_header(k)}: {_check_header(v)}" for k, v in headers.items()]
        return self.send("\n".join(lines)).reply_text

    def api(self, cmd: str) -> str:
        """``api CMD``; returns the output (``-ERR ...`` is returned, not raised)."""
        return self.send(f"api {_check_header(cmd)}").text

    def originate(self, dial_string: str, app_or_ext: str) -> str:
        return self.api(f"originate {dial_string} {app_or_ext}")

    def close(self) -> None:
        """Close the connection (idempotent); pending commands fail with NotConnectedError."""
        self._run = False
        self.connected = False
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.close()
        for greenlet in (self._receive_events_greenlet, self._process_events_greenlet):
            if greenlet is not None and greenlet is not gevent.getcurrent():
                greenlet.join(self.timeout)

    def stop(self) -> None:  # greenswitch's name
        self.close()


class _Event:
    __slots__ = ("headers", "data")

    def __init__(self, headers: dict[str, str], data: str | None) -> None:
        self.headers = headers
        self.data = data


class PresencePublisher:
    """Sends events (PRESENCE_IN by default) over one kept-up inbound connection.

    ``publish`` never blocks; beyond ``max_pending`` the oldest waiting event is dropped
    (counted in ``dropped``). Failures reconnect with exponential back-off.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        event_name: str = "PRESENCE_IN",
        max_pending: int = 10000,
        timeout: float = 5,
        min_backoff: float = 0.05,
        max_backoff: float = 10,
    ) -> None:
        if password == DEFAULT_PASSWORD:
            raise ValueError("refusing FreeSWITCH's default event-socket password")
        self._host, self._port, self._password = host, port, password
        self._event_name = event_name
        self._timeout = timeout
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self._queue: gevent.queue.Queue[dict[str, str]] = gevent.queue.Queue(max_pending)
        self._idle = gevent.event.Event()
        self._idle.set()
        self._stopping = gevent.event.Event()
        self._client: InboundClient | None = None
        self._greenlet: gevent.Greenlet | None = None
        self.sent = 0
        self.dropped = 0
        self.failures = 0

    def start(self) -> None:
        if self._greenlet is None or self._greenlet.dead:
            self._stopping.clear()
            self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5) -> None:
        self._stopping.set()
        if self._greenlet is not None:
            self._greenlet.kill(timeout=timeout)
        self._disconnect()

    def publish(self, headers: dict[str, str]) -> None:
        self._idle.clear()
        while True:
            try:
                self._queue.put_nowait(dict(headers))
                return
            except gevent.queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except gevent.queue.Empty:
                    pass

    def wait_idle(self, timeout: float) -> bool:
        """True once everything published so far has been sent."""
        return bool(self._idle.wait(timeout))

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run(self) -> None:
        backoff = self._min_backoff
        pending: dict[str, str] | None = None
        while not self._stopping.is_set():
            if pending is None:
                if self._queue.empty():
                    self._idle.set()
                pending = self._queue.get()
            try:
                if self._client is None:
                    client = InboundClient(self._host, self._port, self._password, self._timeout)
                    client.connect()
                    self._client = client
                    log.info("presence: connected to %s:%s", self._host, self._port)
                reply = self._client.send_event(self._event_name, pending)
                if not reply.startswith("+OK"):
                    log.warning("presence: FreeSWITCH refused event: %s", reply)
                self.sent += 1
                pending = None
                backoff = self._min_backoff
            except (NotConnectedError, EslError, OSError) as exc:
                self.failures += 1
                log.warning(
                    "presence: %s:%s failed (%s: %s); retry in %.2fs",
                    self._host,
                    self._port,
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                self._disconnect()
                self._stopping.wait(backoff)
                backoff = min(self._max_backoff, backoff * 2)

    def __repr__(self) -> str:  # never shows the password
        return f"PresencePublisher({self._host!r}, {self._port!r}, sent={self.sent})"


EventHandler = Callable[[dict[str, str]], object]  # what it returns is ignored


class EventSubscriber:
    """Keeps one inbound connection subscribed to some events; hands each to its handler.

    For events FreeSWITCH asks the controller to answer, e.g. ``MESSAGE_QUERY`` (a phone
    subscribed to message-summary: the current MWI is wanted). Handlers get the decoded
    headers, run one at a time on the connection's dispatcher greenlet and must not block
    for long. A lost connection is made again with exponential back-off.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        handlers: dict[str, EventHandler],
        timeout: float = 5,
        min_backoff: float = 0.05,
        max_backoff: float = 10,
    ) -> None:
        if password == DEFAULT_PASSWORD:
            raise ValueError("refusing FreeSWITCH's default event-socket password")
        if not handlers or any(not name.isupper() for name in handlers):
            raise ValueError("event names are upper case, e.g. MESSAGE_QUERY")
        self._host, self._port, self._password = host, port, password
        self._handlers = dict(handlers)
        self._timeout = timeout
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self._stopping = gevent.event.Event()
        self.subscribed = gevent.event.Event()  # set while the subscription is in place
        self._client: InboundClient | None = None
        self._greenlet: gevent.Greenlet | None = None
        self.received = 0
        self.failures = 0

    def start(self) -> None:
        if self._greenlet is None or self._greenlet.dead:
            self._stopping.clear()
            self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5) -> None:
        self._stopping.set()
        if self._greenlet is not None:
            self._greenlet.kill(timeout=timeout)
        self._disconnect()

    def _disconnect(self) -> None:
        self.subscribed.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _dispatch(self, event: _Event) -> None:
        self.received += 1
        handler = self._handlers.get(event.headers.get("Event-Name", ""))
        if handler is not None:
            handler(event.headers)

    def _run(self) -> None:
        backoff = self._min_backoff
        names = " ".join(self._handlers)
        while not self._stopping.is_set():
            try:
                client = InboundClient(self._host, self._port, self._password, self._timeout)
                self._client = client
                client.connect()
                for name in self._handlers:
                    client.register_handle(name, self._dispatch)
                reply = client.send(f"event plain {names}").reply_text
                if not reply.startswith("+OK"):
                    raise EslError(f"FreeSWITCH refused 'event plain {names}': {reply}")
                log.info("esl inbound: subscribed to %s on %s:%s", names, self._host, self._port)
                self.subscribed.set()
                backoff = self._min_backoff
                reader = client._receive_events_greenlet
                if reader is not None:
                    reader.join()  # until the connection ends
            except (NotConnectedError, EslError, OSError) as exc:
                self.failures += 1
                log.warning("esl inbound %s:%s: %s: %s; retry in %.2fs", self._host,
                            self._port, type(exc).__name__, exc, backoff)
            self._disconnect()
            self._stopping.wait(backoff)
            backoff = min(self._max_backoff, backoff * 2)

    def __repr__(self) -> str:  # never shows the password
        return f"EventSubscriber({self._host!r}, {self._port!r}, {sorted(self._handlers)})"
