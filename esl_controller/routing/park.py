"""Call park on numbered slots (USR-14), target kind ``park``.

A slot is an extension of the enterprise (``pbx park add --slots 700-709``). One rule, as
FreeSWITCH's valet parking has it: a call arriving at an EMPTY slot waits there; a call
arriving at an OCCUPIED slot is connected to the waiting call.

- Parking: the user blind-transfers the caller to the slot (the phone's transfer key, SIP
  REFER). The caller waits on the slot with music on hold (the parker's choice, ``pbx moh``)
  for the lot's recall time (``playback`` with ``playback_timeout_sec``).
- Retrieval: anyone dials the slot: ``intercept <uuid>`` connects them to the waiting call.
- Recall: nobody retrieved it in time: the call rings the parker again (their incoming-call
  handling without their personal forwarding: no answer ends in their voicemail or a
  hang-up, as their no-answer handling has it). A call that parked itself (a user dialled an
  empty slot) has no parker: it ends after the recall time.
"""

from __future__ import annotations

from esl_controller.routing import announcements
from esl_controller.routing.actions import Answer, Command, Execute, Hangup, Playback, PreAnswer
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import CommandResult, Executed
from esl_controller.routing.script import Script
from esl_controller.routing.targets import TargetCall, reach, register

CONNECTED = (("hangup_after_bridge", "true"),)


@register("park")
def park_slot(call: TargetCall) -> Script:
    slot = call.target.extension or call.target.name
    trace, enterprise = call.trace, call.enterprise
    taker = call.caller.extension if call.caller is not None else call.presented_number
    taken = yield Command("park", "take", (
        ("enterprise", str(enterprise.id)), ("slot", slot), ("by", taker)))
    if isinstance(taken, CommandResult) and taken.ok:
        channel, parker = taken.value.split(" ", 1)
        trace.add("park", "retrieve", f"{taker} retrieves the call parked on slot {slot}"
                  + (f" by {parker}" if parker else ""))
        result = yield Execute("intercept", channel, CONNECTED,
                               answered_as=call.caller.extension if call.caller else None)
        if isinstance(result, Executed) and result.bridged:
            trace.add("park", "retrieved", f"{taker} is connected to the parked call")
            return
        trace.add("park", "gone", "the parked caller hung up before the retrieval")
        yield PreAnswer()
        yield Playback(announcements.SIT)
        yield Hangup(HangupCause.NORMAL_CLEARING)
        return
    yield from _wait_on_slot(call, slot)


def _parker(call: TargetCall) -> str | None:
    """The user who transferred the call here (routed as a call placed by them), if any."""
    if call.caller is None or call.ctx.caller_number in ("", call.caller.extension):
        return None
    return call.caller.extension


def _wait_on_slot(call: TargetCall, slot: str) -> Script:
    trace, enterprise, where = call.trace, call.enterprise, call.where
    lot = where.directory.park_lot(enterprise.id)
    recall = lot.recall_seconds if lot is not None else 60
    parker = _parker(call)
    parked = yield Command("park", "park", (
        ("enterprise", str(enterprise.id)), ("slot", slot), ("parker", parker or "")))
    if not (isinstance(parked, CommandResult) and parked.ok):
        trace.add("park", "slot taken", f"slot {slot} was taken a moment ago")
        yield PreAnswer()
        yield Playback(announcements.SIT)
        yield Hangup(HangupCause.USER_BUSY)
        return
    music = (where.directory.hold_music_of(enterprise.id, parker)
             or where.settings.hold_music_for(str(enterprise.id)))
    trace.add("park", "parked",
              f"call from {call.ctx.caller_number or 'anonymous'} parked on slot {slot}"
              + (f" by {parker}" if parker else "") + f"; recall after {recall} s")
    trace.classification.outcome = "parked"
    yield Answer()
    waited = yield Execute("playback", music, (("playback_timeout_sec", str(recall)),
                                               *CONNECTED))
    if isinstance(waited, Executed) and waited.bridged:
        trace.add("park", "retrieved", f"the call on slot {slot} was retrieved")
        return
    left = yield Command("park", "leave", (("enterprise", str(enterprise.id)), ("slot", slot)))
    if not (isinstance(left, CommandResult) and left.ok):
        # Retrieved just as the time ran out: the intercept is connecting it.
        trace.add("park", "retrieved", f"the call on slot {slot} was retrieved")
        return
    if parker is None:
        trace.add("park", "recall", f"nobody retrieved slot {slot} within {recall} s and no "
                  "parker to recall: the call ends")
        yield Hangup(HangupCause.NORMAL_CLEARING)
        return
    trace.classification.outcome = None
    yield from reach(call, parker, f"recall of slot {slot} after {recall} s",
                     reason="no-answer")
