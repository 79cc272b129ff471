"""``socket_resume``: what the channel does when its controller goes away (ESL-NOTES A.4).

The shipped dialplan (freeswitch-conf/dialplan/default.xml and public.xml) sets
``socket_resume=true`` before ``socket``. When the controller's socket closes without
``exit`` while the channel is up and not bridged, FreeSWITCH puts the channel back into the
dialplan (the listener sets CS_RESET: the application running then, a music slice or a
bridge still ringing, stops) and the actions after ``socket`` run: the re-attach window (``pbx_reattach=true``,
ring tone slices bounded by ``playback_timeout_sec``, ``socket`` again, four times), then
the SIT tone and ``hangup NORMAL_TEMPORARY_FAILURE``. ``DIALPLAN_TAIL`` is those actions,
word for word (a unit test compares it with both files); ``continue_dialplan`` plays them
for a session whose controller went away. Each ``socket`` that reaches a controller opens a
new outbound session on the SAME channel (uuid, answer state, every variable set so far);
if that controller goes away too, the remaining actions go on from there, as in FreeSWITCH.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import gevent
import gevent.event
from gevent import socket as gsocket

from .apps import pre_answer

if TYPE_CHECKING:
    from .models import SimCall
    from .session import OutboundSession
    from .switch import FakeSwitch

__all__ = ["DIALPLAN_TAIL", "SIT_SECONDS", "continue_dialplan"]

log = logging.getLogger(__name__)

SOCKET = "$${pbx_controller}|$${pbx_controller_fallback} async full"
RING = "tone_stream://%(1000,4000,425);loops=-1"
DIALPLAN_TAIL: tuple[tuple[str, str], ...] = (
    ("set", "pbx_reattach=true"),
    ("set", "playback_timeout_sec=5"),
    *(("playback", RING), ("socket", SOCKET)) * 4,
    ("unset", "playback_timeout_sec"),
    ("pre_answer", ""),
    ("playback", "tone_stream://$${sit};loops=3"),
    ("hangup", "NORMAL_TEMPORARY_FAILURE"),
)
SIT_SECONDS = 5.8  # three times 274 + 274 + 380 + 1000 ms


def resumes(sess: OutboundSession) -> bool:
    """Whether the channel goes back to the dialplan now that its socket closed."""
    chan = sess.chan
    return (chan.hangup_cause is None and chan.other is None
            and chan.variables.get("socket_resume", "").lower() == "true")


def continue_dialplan(switch: FakeSwitch, sess: OutboundSession, timeout: float) -> None:
    """Run ``DIALPLAN_TAIL`` for the channel of ``sess``; the sessions of the controllers
    it reaches are chained on ``SimCall.resumed``."""
    call, chan = sess.call, sess.chan
    caller_gone = gevent.event.Event()
    timer = None
    if sess.spec.hangup_while_resuming is not None:
        timer = gevent.spawn_later(sess.scaled(sess.spec.hangup_while_resuming),
                                   caller_gone.set)
    last: SimCall = call
    current = sess
    try:
        for app, arg in DIALPLAN_TAIL:
            if caller_gone.is_set():
                break
            call.resume_apps.append((app, arg))
            if app == "set":
                name, _, value = arg.partition("=")
                chan.variables[name] = value
            elif app == "unset":
                chan.variables.pop(arg, None)
            elif app == "pre_answer":
                pre_answer(current)
            elif app == "playback":
                limit = chan.variables.get("playback_timeout_sec")
                caller_gone.wait(sess.scaled(float(limit) if limit else SIT_SECONDS))
            elif app == "socket":
                follow = _connect_again(switch, current, timeout)
                if follow is None:
                    continue  # refused: the next action runs at once
                last.resumed = follow.call
                last, current = follow.call, follow
                if not follow.resuming:
                    return  # that controller ended the call
                chan.variables["current_application"] = "socket"
            elif app == "hangup":
                current._mark_hangup(arg, "dialplan")
                last.hangup_cause, last.hangup_by = arg, "dialplan"
                return
        if caller_gone.is_set():
            current._mark_hangup("NORMAL_CLEARING", "caller")
            last.hangup_cause, last.hangup_by = "NORMAL_CLEARING", "caller"
    finally:
        if timer is not None:
            timer.kill(block=False)


def _connect_again(switch: FakeSwitch, prev: OutboundSession,
                   timeout: float) -> OutboundSession | None:
    """``socket`` once more: a new outbound session on the same channel, or None when
    the controller's address refuses the connection."""
    from .session import OutboundSession
    from .switch import _connect

    try:
        sock = _connect(switch.controller_host, switch.controller_port, timeout)
    except OSError as exc:
        log.debug("re-attach of %s refused: %s", prev.chan.uuid, exc)
        return None
    sock.settimeout(None)
    sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
    spec = replace(prev.spec, hangup_after=None, dtmf=[], inject=[], close_after_connect=False)
    session = OutboundSession(sock, spec, prev.endpoints, prev.scale, chan=prev.chan)
    session.registry, session.conferences = prev.registry, prev.conferences
    session.registry[session.chan.uuid] = session
    try:
        session.run(timeout)
    finally:
        if session.registry.get(session.chan.uuid) is session:
            del session.registry[session.chan.uuid]
    return session
