"""One outbound-socket session: FreeSWITCH's side of ``socket host:port async full``."""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent import socket as gsocket

from . import frames, media, resume
from .apps import run_app
from .events import Channel, connect_frame, event_frame, set_state
from .models import CallSpec, Endpoint, SimCall
from .replies import reply_for
from .wire import Command, CommandReader

__all__ = ["OutboundSession"]

log = logging.getLogger(__name__)
LINGER_FLOOR_SECONDS = 5.0  # real seconds a lingering channel waits for "exit" at least

_STOP = object()
Q850 = {"NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
        "CALL_REJECTED": 21, "NORMAL_TEMPORARY_FAILURE": 41, "ORIGINATOR_CANCEL": 487,
        "USER_NOT_REGISTERED": 806}


def _new_channel(spec: CallSpec, call_uuid: str) -> Channel:
    if spec.internal:
        user, domain = spec.auth_user or "", spec.domain or ""
        name, context, presence = f"sofia/internal/{user}@{domain}", "default", f"{user}@{domain}"
        extra = {"user_name": user, "domain_name": domain, "sip_authorized": "true",
                 "sip_from_host": domain, "sofia_profile_name": "internal"}
    else:
        user, context = spec.caller, "public"
        name, presence = f"sofia/external/{spec.caller}@trunk", f"{spec.caller}@trunk"
        extra = {"sip_from_host": "trunk", "sofia_profile_name": "external"}
    chan = Channel(uuid=call_uuid, channel_name=name, caller_number=spec.caller,
                   caller_name=spec.caller_name, destination=spec.destination,
                   context=context, username=user, presence_id=presence)
    chan.variables.update({
        "direction": "inbound", "uuid": call_uuid, "session_id": "1",
        "sip_from_user": spec.caller, "channel_name": name,
        "sip_call_id": f"{call_uuid}@fakeswitch", "sip_req_user": spec.destination,
        "sip_to_user": spec.destination, "presence_id": presence, **extra,
        # The shipped dialplan sets socket_resume before `socket` (simulator/resume.py).
        "socket_resume": "true",
        "call_uuid": call_uuid, "current_application_data": "127.0.0.1:8084 async full",
        "current_application": "socket", "socket_host": "127.0.0.1",
    })
    if spec.caller_name:
        chan.variables["sip_from_display"] = spec.caller_name
    chan.variables.update(spec.variables)
    return chan


class OutboundSession:
    """Plays FreeSWITCH on one outbound ESL connection; see ESL-NOTES A.2-A.6."""

    def __init__(self, sock: gsocket.socket, spec: CallSpec,
                 endpoints: dict[str, Endpoint], time_scale: float,
                 chan: Channel | None = None) -> None:
        self.sock = sock
        self.spec = spec
        self.endpoints = endpoints
        self.scale = time_scale
        call_uuid = spec.call_uuid or str(uuidlib.uuid4())
        self.call = SimCall(call_uuid=call_uuid)
        # ``chan``: the channel goes on from an earlier session (socket_resume, resume.py)
        self.chan = chan if chan is not None else _new_channel(spec, call_uuid)
        self.resuming = False  # the controller went away: the dialplan goes on
        self.connected = False
        self.myevents = False
        self.all_events = False
        self.subscribed: set[str] = set()
        self.linger: int | None = None
        self.closed = False
        self.hangup_evt = gevent.event.Event()
        self.apps_done = gevent.event.Event()
        self.done = gevent.event.Event()
        self.queue: gevent.queue.Queue[Any] = gevent.queue.Queue()
        self._lock = gevent.lock.Semaphore()
        self._chunks: list[bytes] = []
        self._greenlets: list[gevent.Greenlet[Any, Any]] = []
        self._answer_us = 0
        self.transferring = False  # a blind transfer takes the channel out of the socket
        self.transfer_variables: dict[str, str] = {}
        # Call services (simulator/call_services.py): other live sessions by channel uuid and
        # the conference rooms (the FakeSwitch's), and this channel's interception state.
        self.registry: dict[str, OutboundSession] = {}
        self.conferences: dict[str, list[str]] = {}
        self.interceptable = False  # ringing in bridge, or waiting in a bounded playback
        self.interceptor: OutboundSession | None = None
        self.intercept_evt = gevent.event.Event()
        # ``hupall CAUSE VAR VALUE`` (replies.py): the ringing legs of this channel's bridge
        # carry the dial string's {variables}; matching ones are hung up (call centers).
        self.ring_marks: dict[str, str] = {}
        self.legs_gone = gevent.event.Event()
        self.legs_gone_cause = "NORMAL_CLEARING"

    # ----------------------------------------------------------------------- plumbing
    def scaled(self, seconds: float) -> float:
        """Seconds of simulated time in wall-clock seconds."""
        return max(0.0, seconds * self.scale)

    def spawn_later(self, seconds: float, func: Any, *args: Any) -> None:
        """Run ``func`` after scaled ``seconds`` in a greenlet owned by this session."""
        self._greenlets.append(gevent.spawn_later(self.scaled(seconds), func, *args))

    def send(self, data: bytes) -> None:
        """Write raw bytes to the controller (ignored once the socket is closed)."""
        if self.closed:
            return
        with self._lock:
            try:
                self.sock.sendall(data)
                self._chunks.append(data)
            except OSError as exc:
                log.debug("send to controller failed: %s", exc)
                self._close(clean=False)

    def emit(self, name: str, lead: list[tuple[str, str]] | None = None,
             trail: list[tuple[str, str]] | None = None) -> None:
        """Fire a channel event; delivered only if subscribed and the socket is open."""
        if self.closed or not (self.all_events or name in self.subscribed):
            return
        self.call.events.append(name)
        self.send(event_frame(self.chan, name, lead, trail))

    def _close(self, clean: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self.call.closed_cleanly = clean
        try:
            self.sock.close()
        except OSError as exc:
            log.debug("close failed: %s", exc)
        self.done.set()

    def finish(self) -> None:
        """Send the final disconnect notice and close, as FS does when the listener ends."""
        if not self.closed:
            self.send(frames.disconnect_final(self.chan.uuid))
            self._close(clean=True)

    # ----------------------------------------------------------------------- lifecycle
    def run(self, timeout: float) -> SimCall:
        """Serve the connection until it closes or ``timeout`` expires."""
        reader = gevent.spawn(self._reader)
        self._greenlets.append(reader)
        if not self.done.wait(timeout):
            self.call.error = self.call.error or f"timeout after {timeout}s"
            self._close(clean=False)
        gevent.killall([g for g in self._greenlets if g is not gevent.getcurrent()], block=False)
        self.call.frames_sent = b"".join(self._chunks)
        return self.call

    def _reader(self) -> None:
        parser = CommandReader()
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except OSError as exc:
                if not self.closed:
                    self.call.error = f"recv failed: {exc}"
                    self._close(clean=False)
                return
            if not data:
                self._controller_gone()
                return
            for cmd in parser.feed(data):
                if self.call.first_sendmsg_at is None and cmd.line.startswith("sendmsg"):
                    self.call.first_sendmsg_at = time.perf_counter()
                self.call.commands.append((cmd.line, cmd.headers, cmd.body))
                self._handle(cmd)
                if self.closed:
                    return

    def _controller_gone(self) -> None:
        """The controller closed the socket without ``exit``."""
        if self.closed:
            return
        if resume.resumes(self):  # socket_resume: back to the dialplan (resume.py)
            self.resuming = True
            self._close(clean=False)
            return
        if self.chan.hangup_cause is None:
            self._mark_hangup("NORMAL_CLEARING", "controller")
        self._close(clean=False)

    def _handle(self, cmd: Command) -> None:
        verb = cmd.line.split(" ", 1)[0].lower()
        if not self.connected:
            if verb == "connect":
                self._on_connect()
            return  # FS stays silent until the first command is connect
        if verb == "connect":
            self.send(connect_frame(self.chan))
        elif verb == "sendmsg":
            self._on_sendmsg(cmd)
        elif verb in ("exit", "..."):
            self.call.exit_received = True
            self.send(frames.command_reply("+OK bye"))
            if self.chan.hangup_cause is None:
                self._mark_hangup("NORMAL_CLEARING", "controller")
            self.finish()
        else:
            self.send(reply_for(self, cmd))

    def _on_connect(self) -> None:
        self.connected = True
        self.send(connect_frame(self.chan))
        if self.spec.close_after_connect:
            self._close(clean=False)
            return
        self._greenlets.append(gevent.spawn(self._worker))
        if self.spec.hangup_after is not None:
            self.spawn_later(self.spec.hangup_after, self.hangup, "NORMAL_CLEARING", "caller")
        for at, digit in self.spec.dtmf:
            self.spawn_later(at, self._dtmf, digit)
        for at, raw in self.spec.inject:
            self.spawn_later(at, self.send, raw)

    def _dtmf(self, digit: str) -> None:
        if self.chan.hangup_cause is None:
            self.emit("DTMF", trail=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"),
                                     ("DTMF-Source", "RTP")])

    def _on_sendmsg(self, cmd: Command) -> None:
        parts = cmd.line.split()
        if len(parts) > 1 and parts[1] != self.chan.uuid:
            self.send(frames.command_reply(f"-ERR invalid session id [{parts[1]}]"))
            return
        self.send(frames.command_reply("+OK"))
        headers = {k.lower(): v for k, v in cmd.headers.items()}
        if headers.get("call-command") == "hangup":
            self.hangup(headers.get("hangup-cause") or "NORMAL_CLEARING", "controller")
        else:
            self.queue.put((headers, cmd.body))

    def _worker(self) -> None:
        """The park loop: run queued ``sendmsg`` executes one after another."""
        first = True
        while True:
            item = self.queue.get()
            if item is _STOP or self.hangup_evt.is_set():
                break
            if first:
                self.emit("CHANNEL_PARK")
                first = False
            headers, body = item
            if headers.get("call-command", "execute") != "execute":
                continue
            app = headers.get("execute-app-name", "")
            arg = headers.get("execute-app-arg") or body.decode("utf-8", "replace")
            app_uuid = headers.get("event-uuid") or str(uuidlib.uuid4())
            loops = int(headers.get("loops", "1") or 1)
            for _ in range(max(1, loops)):
                run_app(self, app, arg, app_uuid)
                if self.hangup_evt.is_set():
                    break
        self.apps_done.set()

    # ----------------------------------------------------------------------- hangup
    def _mark_hangup(self, cause: str, by: str) -> None:
        now = int(time.time() * 1_000_000)
        self.chan.hangup_cause = cause
        media.stop_session_records(self)  # call recording (REC-1): files closed at hang-up
        self.chan.answer_state = "hangup"
        self.chan.hangup_us = now
        set_state(self.chan, "CS_HANGUP")
        self.chan.variables["hangup_cause"] = cause
        self.chan.variables["hangup_cause_q850"] = str(Q850.get(cause, 16))
        self.call.hangup_cause = cause
        self.call.hangup_by = by
        self.hangup_evt.set()
        self.queue.put(_STOP)

    def hangup(self, cause: str, by: str) -> None:
        """Hang up the A-leg (``by`` is "caller", "callee" or "controller")."""
        if self.chan.hangup_cause is not None or self.closed:
            return
        self._mark_hangup(cause, by)
        self.emit("CHANNEL_HANGUP")
        if self.linger is not None:
            self.send(frames.disconnect_linger(self.chan.uuid, self.chan.channel_name, self.linger))
        elif by == "caller":
            self.finish()  # outbound-bridge capture: CHANNEL_HANGUP, notice, close
            return
        self._greenlets.append(gevent.spawn(self._after_hangup))

    def _after_hangup(self) -> None:
        self.apps_done.wait()
        chan = self.chan
        end = int(time.time() * 1_000_000)
        answered = chan.answered_us or end
        chan.variables.update({
            "start_uepoch": str(chan.created_us), "answer_uepoch": str(chan.answered_us),
            "end_uepoch": str(end),
            "duration": str((end - chan.created_us) // 1_000_000),
            "billsec": str((end - answered) // 1_000_000 if chan.answered_us else 0),
        })
        set_state(chan, "CS_REPORTING")
        chan.other = None
        self.emit("CHANNEL_HANGUP_COMPLETE", lead=[("Hangup-Cause", chan.hangup_cause or "")])
        if self.linger is None:
            self.finish()
        elif self.linger >= 0:
            # Linger is the controller's grace to say goodbye, not call behaviour: scaled
            # down it would be shorter than a loaded machine needs, so keep a real floor.
            gevent.sleep(max(self.scaled(self.linger), min(self.linger, LINGER_FLOOR_SECONDS)))
            self.finish()
