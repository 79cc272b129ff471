"""N-way conference rooms (USR-11: the user plus up to 15 other parties), kind ``conference``.

Callers dial the room's extension (or a public number given to it); with a PIN they enter it
first (three tries). The ``conference`` service counts the callers in the room: the one
beyond the room's maximum (16 by default) hears a tone and gets busy. Then FreeSWITCH's
``conference ROOM@default`` mixes them; the caller leaves by hanging up.

The server-side three-way call is this same room: two parties on a call each dial the room
(or the user transfers the other party to it, SIP REFER) and a third dials in.
"""

from __future__ import annotations

from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Answer,
    CollectDigits,
    Command,
    Execute,
    Hangup,
    Playback,
    PreAnswer,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import CommandResult, Digits
from esl_controller.routing.script import Script
from esl_controller.routing.targets import TargetCall, register

PIN_PROMPT = "tone_stream://%(200,100,600,800)"  # two short beeps: enter the PIN, then #
PIN_TRIES = 3
PROFILE = "default"


def room_name(call: TargetCall) -> str:
    """FreeSWITCH's conference name: unique on the switch, one per room."""
    return f"{call.target.extension}-{call.enterprise.domain}"


@register("conference")
def conference_room(call: TargetCall) -> Script:
    trace = call.trace
    room = call.where.directory.conference_rooms.get(call.target.id)
    if room is None:
        trace.add("conference", "gone", f"{call.target.label()} no longer exists")
        yield PreAnswer()
        yield Playback(announcements.UNALLOCATED)
        yield Hangup(HangupCause.UNALLOCATED_NUMBER)
        return
    who = call.caller.extension if call.caller else (call.ctx.caller_number or "anonymous")
    yield Answer()
    if room.pin_hash is not None:
        for attempt in range(1, PIN_TRIES + 1):
            digits = yield CollectDigits(PIN_PROMPT, 4, 8, timeout_seconds=10)
            entered = digits.value if isinstance(digits, Digits) else ""
            checked = yield Command("conference", "pin", (("room", str(room.id)),
                                                          ("pin", entered)))
            if isinstance(checked, CommandResult) and checked.ok:
                trace.add("conference", "PIN accepted", f"{who} entered the room's PIN")
                break
            trace.add("conference", "wrong PIN",
                      f"{who} entered a wrong PIN (try {attempt} of {PIN_TRIES})")
        else:
            trace.classification.outcome = "refused"
            yield Playback(announcements.SIT)
            yield Hangup(HangupCause.CALL_REJECTED)
            return
    joined = yield Command("conference", "join", (("room", str(room.id)),
                                                  ("most", str(room.max_members))))
    if not (isinstance(joined, CommandResult) and joined.ok):
        trace.add("conference", "full",
                  f"{call.target.label()} is full ({room.max_members} callers): {who} refused")
        trace.classification.outcome = "busy"
        yield Playback(announcements.SIT)
        yield Hangup(HangupCause.USER_BUSY)
        return
    trace.add("conference", "joined",
              f"{who} joins {call.target.label()}, caller {joined.value} of at most "
              f"{room.max_members}")
    trace.classification.outcome = "conference"
    yield Execute("conference", f"{room_name(call)}@{PROFILE}")
    trace.add("conference", "left", f"{who} left the conference")


@register("instant-group")
def instant_group(call: TargetCall) -> Script:
    """All members are called at once (``originate ... &conference(ROOM)`` over the inbound
    event socket) and whoever answers joins the caller in one conference."""
    trace, directory = call.trace, call.where.directory
    group = directory.instant_groups.get(call.target.id)
    if group is None:
        trace.add("instant group", "gone", f"{call.target.label()} no longer exists")
        yield PreAnswer()
        yield Playback(announcements.UNALLOCATED)
        yield Hangup(HangupCause.UNALLOCATED_NUMBER)
        return
    caller = call.caller.extension if call.caller else None
    wanted: list[str] = []
    for member in group.members:
        user = directory.user(call.enterprise.id, member)
        if member == caller or user is None:
            continue
        if user.dnd:
            trace.add("instant group", "do not disturb", f"{member} is on do not disturb: "
                      "not called")
            continue
        wanted.append(member)
    room = room_name(call)
    invited = yield Command("conference", "invite", (
        ("room", f"{room}@{PROFILE}"), ("members", ",".join(wanted)),
        ("domain", call.enterprise.domain), ("number", call.presented_number),
        ("name", call.presented_name)))
    if not wanted or not (isinstance(invited, CommandResult) and invited.ok):
        why = invited.value if isinstance(invited, CommandResult) else "no answer"
        trace.add("instant group", "nobody called",
                  f"no member of {call.target.label()} could be called ({why or 'none left'})")
        trace.classification.outcome = "refused"
        yield PreAnswer()
        yield Playback(announcements.SIT)
        yield Hangup(HangupCause.NO_ROUTE_DESTINATION)
        return
    trace.add("instant group", "calling all",
              f"{', '.join(wanted)} called at once; whoever answers joins the conference")
    trace.classification.outcome = "conference"
    yield Answer()
    yield Execute("conference", f"{room}@{PROFILE}")
    trace.add("instant group", "left", "the caller left the instant group call")
