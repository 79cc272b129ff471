"""Replies to the non-call-control commands of an outbound ``async full`` socket (ESL-NOTES A.2)."""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING

from . import frames, media
from .events import CORE
from .wire import Command

if TYPE_CHECKING:
    from .session import OutboundSession

__all__ = ["MYEVENTS", "reply_for", "background_job"]

MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})


def background_job(job_uuid: str, command: str, args: str, body: str,
                   owner: str | None = None) -> bytes:
    """A BACKGROUND_JOB event frame (inner Content-Length + command output as body)."""
    headers = [
        ("Event-Name", "BACKGROUND_JOB"),
        ("Core-UUID", CORE.uuid),
        ("FreeSWITCH-Hostname", CORE.hostname),
        ("FreeSWITCH-Switchname", CORE.hostname),
        ("FreeSWITCH-IPv4", CORE.ipv4),
        ("FreeSWITCH-IPv6", CORE.ipv6),
        ("Event-Calling-File", "mod_event_socket.c"),
        ("Event-Calling-Function", "api_exec"),
        ("Event-Calling-Line-Number", "1572"),
        ("Job-UUID", job_uuid),
    ]
    if owner:
        headers.append(("Job-Owner-UUID", owner))
    headers.append(("Job-Command", command))
    if args:
        headers.append(("Job-Command-Arg", args))
    return frames.event_plain(headers, body.encode("utf-8"))


def api_output(command: str, args: str) -> str:
    """Output of a few ``api`` commands a controller may use; others are unknown."""
    if command.startswith("uuid_") or command in ("status", "reloadxml"):
        return "+OK\n"
    if command == "originate":
        return f"+OK {uuidlib.uuid4()}\n"
    return f"-ERR {command} Command not found!\n"


def _recording_api(sess: OutboundSession, args: list[str]) -> str:
    """``uuid_record UUID start|stop|mask|unmask PATH [LIMIT]`` (mod_commands) on this
    channel, and ``uuid_broadcast UUID PATH [aleg|bleg|both]`` (kept for assertions)."""
    if len(args) < 3 or args[1] != sess.chan.uuid or sess.chan.hangup_cause is not None:
        return "-ERR Cannot locate session!\n" if len(args) >= 3 else "-USAGE\n"
    if args[0] == "uuid_broadcast":
        sess.call.broadcasts.append((args[2], args[3] if len(args) > 3 else "aleg"))
        return "+OK Message sent\n"
    verb, path = args[2], args[3] if len(args) > 3 else ""
    if verb == "start":
        limit = float(args[4]) if len(args) > 4 else None
        ok = media.start_session_record(sess, path, limit)
    else:
        ok = media.session_record(sess, verb, path)
    return "+OK Success\n" if ok else "-ERR Cannot execute app\n"


def _hupall(sess: OutboundSession, args: list[str]) -> str:
    """``hupall CAUSE [VAR VALUE]`` (mod_commands): hang up the channels whose variable
    matches. Here: the ringing legs of a bridge whose dial string set ``{VAR=VALUE}`` (the
    ``bridge`` then fails with CAUSE), and callers' channels carrying the variable."""
    cause = (args[1] if len(args) > 1 else "").upper() or "MANAGER_REQUEST"
    var, val = (args[2], args[3]) if len(args) > 3 else (None, None)
    for other in list(sess.registry.values()) or [sess]:
        if var is None:
            other.hangup(cause, "controller")
        elif other.interceptable and other.ring_marks.get(var) == val:
            other.legs_gone_cause = cause
            other.legs_gone.set()
        elif other.chan.variables.get(var) == val:
            other.hangup(cause, "controller")
    if var is None:
        return f"+OK hangup all channels with cause {cause}\n"
    return f"+OK hangup all channels matching [{var}]=[{val}] with cause: {cause}\n"


def _event_reply(sess: OutboundSession, args: list[str]) -> bytes:
    fmt = args[0] if args else "plain"
    names = [n for n in args[1:] if n.upper() != "CUSTOM"] if args else []
    if not names:
        return frames.command_reply("-ERR no keywords supplied")
    for name in names:
        if name.upper() == "ALL":
            sess.all_events = True
        else:
            sess.subscribed.add(name.upper())
    return frames.command_reply(f"+OK event listener enabled {fmt}")


def reply_for(sess: OutboundSession, cmd: Command) -> bytes:
    """The reply frame for ``cmd`` (everything except connect, sendmsg and exit)."""
    verb, _, rest = cmd.line.partition(" ")
    verb = verb.lower()
    args = rest.split()
    if verb == "myevents":
        if sess.myevents:
            return frames.command_reply("-ERR aready enabled.")
        sess.myevents = True
        sess.subscribed |= MYEVENTS
        return frames.command_reply("+OK Events Enabled")
    if verb == "event":
        return _event_reply(sess, args)
    if verb == "linger":
        sess.call.linger_requested = True
        if args and args[0].lstrip("-").isdigit() and int(args[0]) > 0:
            sess.linger = int(args[0])
            return frames.command_reply(f"+OK will linger {sess.linger} seconds")
        sess.linger = -1
        return frames.command_reply("+OK will linger")
    if verb == "nolinger":
        sess.linger = None
        return frames.command_reply("+OK will not linger")
    if verb == "nixevent":
        sess.subscribed -= {a.upper() for a in args}
        return frames.command_reply("+OK events nixed")
    if verb == "noevents":
        had = bool(sess.subscribed) or sess.all_events
        sess.subscribed.clear()
        sess.all_events = False
        if had:
            return frames.command_reply("+OK no longer listening for events")
        return frames.command_reply("-ERR not listening for events")
    if verb == "resume":
        return frames.command_reply("+OK")
    if verb == "divert_events":
        if not args:
            return frames.command_reply("-ERR missing value.")
        on = args[0].lower() == "on"
        return frames.command_reply("+OK events diverted" if on else "+OK events not diverted")
    if verb == "filter" and len(args) >= 2:
        return frames.command_reply(f"+OK filter added. [{args[0]}]=[{' '.join(args[1:])}]")
    if verb == "getvar" and args:
        value = sess.chan.variables.get(args[0], "")
        return frames.command_reply(value or "-ERR command not found")
    if verb == "api" and args and args[0] == "hupall":  # call centers: withdraw a ring
        return frames.api_response(_hupall(sess, args))
    if verb == "api" and args and args[0] in ("uuid_record", "uuid_broadcast"):
        return frames.api_response(_recording_api(sess, args))  # call recording (REC-1)
    if verb == "api" and args:
        return frames.api_response(api_output(args[0], " ".join(args[1:])))
    if verb == "bgapi" and args:
        job = cmd.headers.get("Job-UUID") or str(uuidlib.uuid4())
        if sess.all_events or "BACKGROUND_JOB" in sess.subscribed:
            out = api_output(args[0], " ".join(args[1:]))
            event = background_job(job, args[0], " ".join(args[1:]), out, sess.chan.uuid)
            sess.spawn_later(0, sess.send, event)
        return frames.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
    if verb == "sendevent" and args:
        return frames.command_reply(f"+OK {uuidlib.uuid4()}")
    return frames.command_reply("-ERR command not found")
