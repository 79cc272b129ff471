"""Outbound ESL server: greenswitch's OutboundSession, fixed where we stand on it.

* frames are read with our :class:`~esl_controller.esl.protocol.FrameReader`; a malformed or
  truncated frame, or EOF, ends only that connection and fails every pending wait with
  greenswitch's ``OutboundSessionHasGoneAway``;
* ``command/reply`` and ``api/response`` resolve the oldest pending command (FIFO);
* every event goes to the handlers registered under ``'*'`` *and* under its name (no
  greenswitch issue #72), executes are matched on ``Application-UUID``;
* accept is a :class:`gevent.server.StreamServer` (no 0.1 s polling, backlog 2048).
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.pool
import gevent.server
from greenswitch.esl import OutboundSession, OutboundSessionHasGoneAway

from esl_controller.errors import PbxError
from esl_controller.esl.protocol import Frame, FrameReader, ProtocolError
from esl_controller.esl.replies import send_in_order, wait_replies

log = logging.getLogger(__name__)

__all__ = [
    "ControllerServer",
    "ControllerSession",
    "EslError",
    "EslTimeoutError",
    "EventCallback",
    "OutboundSessionHasGoneAway",
]

EventCallback = Callable[[dict[str, str]], None]
_REPLY_TYPES = ("command/reply", "api/response")


class EslError(PbxError):
    """Base of the errors raised by the ESL layer."""


class EslTimeoutError(EslError, TimeoutError):
    """FreeSWITCH did not answer within the given timeout."""


class _Gone:
    """Queue sentinel: the connection is over (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class EslEvent:
    """What greenswitch-style handlers receive: ``.headers`` (decoded) and ``.data`` (body)."""

    __slots__ = ("headers", "data")

    def __init__(self, headers: dict[str, str], data: str | None = None) -> None:
        self.headers = headers
        self.data = data


_ALWAYS_WANTED = frozenset(
    {"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CUSTOM"}
)


def _peek_event_name(body: bytes) -> str | None:
    """The Event-Name of a plain event without parsing it (FreeSWITCH writes it first)."""
    if not body.startswith(b"Event-Name: "):
        return None
    end = body.find(b"\n", 12)
    return body[12:end].decode("ascii", errors="replace") if end > 0 else None


def _peek_header(body: bytes, name: bytes) -> str | None:
    """One header's raw value from a plain event, without parsing the rest."""
    start = body.find(b"\n" + name + b": ")
    if start < 0:
        return None
    start += len(name) + 3
    end = body.find(b"\n", start)
    return body[start:end].decode("ascii", errors="replace") if end > 0 else None


class ControllerSession(OutboundSession):  # type: ignore[misc]
    """One outbound socket connection from FreeSWITCH (one call leg)."""

    def __init__(self, client_address: Any, sock: socket.socket) -> None:
        self._write_lock = gevent.lock.Semaphore()
        self._commands_sent: list[gevent.event.AsyncResult] = []
        self._callbacks: dict[str, list[EventCallback]] = {}
        self._exec_waiters: dict[str, gevent.event.AsyncResult] = {}
        self._event_waiters: list[tuple[str, gevent.event.AsyncResult]] = []
        self._closing = False
        self._closed = False
        self.client_address = client_address
        self.hangup_headers: dict[str, str] | None = None
        self.hangup_complete = gevent.event.Event()
        self.gone = gevent.event.Event()
        super().__init__(client_address, sock)  # spawns receive_events / process_events
        self.session_data: dict[str, str] = {}
        self.unregister_handle("CHANNEL_HANGUP", self.on_hangup)

    # -- identity ------------------------------------------------------------------------
    @property
    def call_id(self) -> str:
        """The leg's Unique-ID once connected, else ``"-"`` (for log lines)."""
        return self.session_data.get("Unique-ID") or "-"

    @property
    def lingering(self) -> bool:
        return bool(self._lingering)

    # -- reader greenlet -----------------------------------------------------------------
    def receive_events(self) -> None:
        reader = FrameReader(self.sock)
        reason = "connection closed by FreeSWITCH"
        try:
            while self._run:
                frame = reader.read()
                if frame is None:
                    break
                if frame.content_type in _REPLY_TYPES:
                    self._resolve_reply(frame)
                else:
                    if (
                        frame.content_type == "text/disconnect-notice"
                        and frame.headers.get("Content-Disposition") != "linger"
                    ):
                        self._said_goodbye = True
                    self._esl_event_queue.put(frame)
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
        except OSError as exc:
            reason = f"socket error: {exc}"
        if self._closing or getattr(self, "_said_goodbye", False):
            log.debug("esl call=%s connection closed (%s)", self.call_id, reason)
        else:
            log.warning("esl call=%s connection ended: %s", self.call_id, reason)
        self._mark_gone(reason)

    def _resolve_reply(self, frame: Frame) -> None:
        if not self._commands_sent:
            log.warning("esl call=%s unexpected %s, ignored", self.call_id, frame.content_type)
            return
        self._commands_sent.pop(0).set(frame)

    def _mark_gone(self, reason: str) -> None:
        """Fail pending commands now; event waiters after queued events are dispatched."""
        self.connected = False
        self._outbound_connected = False
        pending: list[gevent.event.AsyncResult] = self._commands_sent
        self._commands_sent = []
        for result in pending:
            result.set_exception(OutboundSessionHasGoneAway(reason))
        try:
            self.sock.close()
        except OSError:
            pass
        self._esl_event_queue.put(_Gone(reason))

    # -- dispatcher greenlet -------------------------------------------------------------
    def process_events(self) -> None:
        while True:
            item = self._esl_event_queue.get()
            if isinstance(item, _Gone):
                self._finish(item.reason)
                return
            if item.content_type == "text/disconnect-notice":
                handlers = self.event_handlers.get("DISCONNECT", [])
                self._run_handlers(handlers, EslEvent(dict(item.headers), item.text))
                continue
            if not item.is_event:
                continue
            name = _peek_event_name(item.body)
            if not self._wants(name) or self._consumed_unparsed(name, item.body):
                continue  # nobody needs its headers: skip decoding ~150 of them (hot path)
            try:
                headers = item.event
            except ProtocolError as exc:
                log.warning("esl call=%s bad event, closing: %s", self.call_id, exc)
                self.sock.close()  # the reader ends and queues _Gone
                continue
            if item.event_body is not None:
                headers["_body"] = item.event_body
            name = headers.get("Event-Name", "")
            if name == "CUSTOM":
                name = headers.get("Event-Subclass", name)
            handlers = list(self.event_handlers.get("*", []))
            handlers += [h for h in self.event_handlers.get(name, []) if h not in handlers]
            self._run_handlers(handlers, EslEvent(headers, item.event_body))

    def _consumed_unparsed(self, name: str | None, body: bytes) -> bool:
        """Handle the frequent events whose headers nobody reads without parsing them."""
        if self._callbacks.get(name or "") or self._callbacks.get("*"):
            return False
        if any(wanted == name for wanted, _ in self._event_waiters):
            return False
        if name == "CHANNEL_HANGUP_COMPLETE":
            self.hangup_complete.set()
            return True
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_uuid = _peek_header(body, b"Application-UUID")
            return app_uuid is not None and app_uuid not in self._exec_waiters
        return False

    def _wants(self, name: str | None) -> bool:
        """Whether any handler, callback or waiter may need an event of this name."""
        if name is None or name in _ALWAYS_WANTED:
            return True
        if self._callbacks.get(name) or self._callbacks.get("*"):
            return True
        if any(wanted == name for wanted, _ in self._event_waiters):
            return True
        own = self.event_handlers.get("*", [])
        return bool(self.event_handlers.get(name)) or any(h != self.on_event for h in own)

    def _run_handlers(self, handlers: list[Callable[[Any], None]], event: Any) -> None:
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # boundary: one bad observer must not stop the dispatcher
                log.exception("esl call=%s event handler %r failed", self.call_id, handler)

    def on_event(self, event: EslEvent) -> None:
        """The ``'*'`` handler: resolves executes and waiters, runs :meth:`on` callbacks."""
        headers = event.headers
        name = headers.get("Event-Name", "")
        if name == "CHANNEL_EXECUTE_COMPLETE":
            waiter = self._exec_waiters.pop(headers.get("Application-UUID", ""), None)
            if waiter is not None:
                waiter.set(headers)
        elif name == "CHANNEL_HANGUP" and self.hangup_headers is None:
            self.hangup_headers = headers
            log.debug("esl call=%s hangup cause=%s", self.call_id, headers.get("Hangup-Cause"))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.hangup_complete.set()
        if self._event_waiters:
            keep = []
            for wanted, result in self._event_waiters:
                if wanted == name:
                    result.set(headers)
                else:
                    keep.append((wanted, result))
            self._event_waiters = keep
        for key in (name, "*"):
            for callback in self._callbacks.get(key, ()):
                try:
                    callback(headers)
                except Exception:  # boundary: observers are isolated from each other
                    log.exception("esl call=%s callback for %s failed", self.call_id, name)

    def on_disconnect(self, event: EslEvent) -> None:
        disposition = event.headers.get("Content-Disposition")
        if disposition == "linger":
            self._lingering = True
            log.debug("esl call=%s lingering", self.call_id)
        else:
            log.debug("esl call=%s disconnect notice (%s)", self.call_id, disposition)
            self.connected = False
            self._outbound_connected = False
            self.gone.set()

    def _finish(self, reason: str) -> None:
        gone = OutboundSessionHasGoneAway(reason)
        for result in self._exec_waiters.values():
            result.set_exception(gone)
        for _, result in self._event_waiters:
            result.set_exception(gone)
        self._exec_waiters.clear()
        self._event_waiters = []
        self.gone.set()

    # -- commands ------------------------------------------------------------------------
    def send(self, data: str | bytes, timeout: float | None = None) -> Frame:
        """Send one raw command (terminator added for ``str``); return its reply frame."""
        raw = (data + "\n\n").encode("utf-8") if isinstance(data, str) else data
        return self._exchange(raw, [_first_line(raw)], timeout)[0]

    def commands(self, texts: list[str], timeout: float = 5) -> list[str]:
        """Send several commands in one write (pipelined) and return their Reply-Texts.

        FreeSWITCH answers in order, so one round trip serves them all."""
        raw = "".join(text + "\n\n" for text in texts).encode("utf-8")
        return [frame.reply_text for frame in self._exchange(raw, texts, timeout)]

    def _exchange(self, raw: bytes, labels: list[str], timeout: float | None) -> list[Frame]:
        if not self.connected:
            raise OutboundSessionHasGoneAway("connection is closed")
        results = send_in_order(self.sock, self._write_lock, self._commands_sent, raw,
                                len(labels), OutboundSessionHasGoneAway)
        return wait_replies(results, labels, timeout, EslTimeoutError)

    def connect(self, timeout: float = 5) -> dict[str, str]:
        """Send ``connect`` (once); return the decoded CHANNEL_DATA headers."""
        if self._outbound_connected:
            return self.session_data
        frame = self.send("connect", timeout)
        self.session_data = frame.decoded_headers
        self._outbound_connected = True
        log.debug(
            "esl call=%s connected from=%s to=%s",
            self.call_id,
            self.session_data.get("Caller-Caller-ID-Number"),
            self.session_data.get("Caller-Destination-Number"),
        )
        return self.session_data

    def command(self, text: str, timeout: float = 5) -> str:
        """Send a command (``myevents``, ``linger 30`` ...). Returns Reply-Text (or the
        api/response body); ``-ERR ...`` is returned, not raised: the caller decides."""
        frame = self.send(text, timeout)
        return frame.text if frame.content_type == "api/response" else frame.reply_text

    def execute(
        self,
        app: str,
        arg: str | None,
        timeout: float,
        event_uuid: str | None = None,
        wait: bool = True,
    ) -> dict[str, str]:
        """Run a dialplan app; return its CHANNEL_EXECUTE_COMPLETE headers (matched on
        Application-UUID). Raises OutboundSessionHasGoneAway if the leg goes away first,
        EslTimeoutError on timeout, EslError if FreeSWITCH refuses the sendmsg."""
        if not app or any(ch.isspace() for ch in app):
            raise ValueError(f"bad application name {app!r}")
        if self._lingering or self.gone.is_set():
            raise OutboundSessionHasGoneAway("call has hung up")
        app_uuid = event_uuid or str(uuid.uuid4())
        head = (
            f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
            f"Event-UUID: {app_uuid}\nevent-lock: true\n"
        )
        if arg is not None and ("\n" in arg or "\r" in arg):
            body = arg.encode("utf-8")
            raw = (head + f"content-type: text/plain\ncontent-length: {len(body)}\n\n").encode()
            raw += body
        else:
            raw = (head + (f"execute-app-arg: {arg}\n" if arg else "") + "\n").encode("utf-8")
        result = gevent.event.AsyncResult()
        if wait:
            self._exec_waiters[app_uuid] = result
        deadline = time.monotonic() + timeout
        try:
            reply = self.send(raw, timeout).reply_text
            if not reply.startswith("+OK"):
                raise EslError(f"{app} refused: {reply}")
            if not wait:
                return {}  # queued with event-lock: it runs before the next app
            try:
                headers: dict[str, str] = result.get(timeout=max(0.0, deadline - time.monotonic()))
            except gevent.Timeout:
                raise EslTimeoutError(f"{app} did not complete within {timeout}s") from None
            return headers
        finally:
            self._exec_waiters.pop(app_uuid, None)

    def hangup(self, cause: str = "NORMAL_CLEARING", timeout: float = 5) -> str:
        """Hang the leg up with ``cause`` (sendmsg call-command hangup); returns Reply-Text."""
        log.debug("esl call=%s hanging up cause=%s", self.call_id, cause)
        return self.command(f"sendmsg\ncall-command: hangup\nhangup-cause: {cause}", timeout)

    # -- observing -----------------------------------------------------------------------
    def on(self, event_name: str, callback: EventCallback) -> None:
        """Call ``callback(headers)`` in the dispatcher greenlet for each such event
        (``'*'`` = every event). An event body, if any, is in ``headers['_body']``."""
        self._callbacks.setdefault(event_name, []).append(callback)

    def wait_event(self, name: str, timeout: float) -> dict[str, str] | None:
        """The next ``name`` event after this call; None on timeout. Raises
        OutboundSessionHasGoneAway if the connection ends first."""
        if self.gone.is_set():
            raise OutboundSessionHasGoneAway("connection is closed")
        result = gevent.event.AsyncResult()
        self._event_waiters.append((name, result))
        try:
            headers: dict[str, str] = result.get(timeout=timeout)
            return headers
        except gevent.Timeout:
            self._event_waiters = [w for w in self._event_waiters if w[1] is not result]
            return None

    # -- teardown ------------------------------------------------------------------------
    def close(self, timeout: float = 2) -> None:
        """Send ``exit`` if still connected, close the socket, let the greenlets end."""
        if self._closed:
            return
        self._closed = True
        if self.connected and not self.gone.is_set():
            try:
                self.send("exit", timeout)
            except (OutboundSessionHasGoneAway, EslTimeoutError):
                pass
        self._closing = True
        self._run = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        current = gevent.getcurrent()
        for greenlet in (self._receive_events_greenlet, self._process_events_greenlet):
            if greenlet is not None and greenlet is not current:
                greenlet.join(timeout)
                if not greenlet.dead:
                    greenlet.kill(block=False)

    def stop(self) -> None:  # greenswitch's name
        self.close()


def _first_line(raw: bytes) -> str:
    return raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")


class ControllerServer:
    """Accepts FreeSWITCH outbound connections; runs ``handler(session)`` per connection
    on a session that is already connected (``session.session_data`` holds CHANNEL_DATA)."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: Callable[[ControllerSession], None],
        max_connections: int = 10000,
        connect_timeout: float = 5,
    ) -> None:
        self._handler = handler
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.active = 0
        # An unbounded pool: stop(timeout) then lets calls in progress finish (drain).
        self._server = gevent.server.StreamServer(
            (host, port), self._serve, backlog=2048, spawn=gevent.pool.Pool()
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.socket.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self._server.start()
        log.info("esl server listening on %s:%s", *self.address)

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting; give calls in progress up to ``timeout`` seconds to finish."""
        self._server.stop(timeout)
        log.info("esl server stopped")

    def _serve(self, sock: socket.socket, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = ControllerSession(address, sock)
        if self.active >= self.max_connections:
            log.warning("esl full (%d connections): sending call back to the dialplan", self.active)
            try:
                session.connect(self.connect_timeout)
            except (OutboundSessionHasGoneAway, EslTimeoutError):
                pass
            session.close()
            return
        self.active += 1
        try:
            session.connect(self.connect_timeout)
            self._handler(session)
        except OutboundSessionHasGoneAway as exc:
            log.info("esl call=%s gone: %s", session.call_id, exc)
        except Exception:  # the documented per-call boundary: log, hang up, keep serving
            log.exception("esl call=%s handler failed; hanging up", session.call_id)
            try:
                session.hangup("NORMAL_TEMPORARY_FAILURE", timeout=2)
            except Exception as exc:  # noqa: BLE001 - the leg may be gone already
                log.info("esl call=%s hangup after failure: %s", session.call_id, exc)
        finally:
            self.active -= 1
            session.close()
