"""Alerting: ring all of a user's devices, then treat busy, no answer and not reachable.

Step 5 and 6 of the incoming-call order (DESIGN.md). Until voicemail and forwarding exist
(later services hook in before this module ends the call), an unanswered call ends with
the cause that tells the caller's phone what happened.
"""

from __future__ import annotations

from esl_controller.routing.actions import Hangup, Ring, UserDevices
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Rang, RingResult
from esl_controller.routing.script import Script

END_CAUSE = {
    RingResult.BUSY: HangupCause.USER_BUSY,
    RingResult.NO_ANSWER: HangupCause.NO_ANSWER,
    RingResult.NOT_REACHABLE: HangupCause.USER_NOT_REGISTERED,
    RingResult.REJECTED: HangupCause.CALL_REJECTED,
}
WHY = {
    RingResult.BUSY: "every device of {ext} is busy",
    RingResult.NO_ANSWER: "{ext} did not answer within {secs} s",
    RingResult.NOT_REACHABLE: "{ext} has no registered device",
    RingResult.REJECTED: "{ext} rejected the call",
    RingResult.FAILED: "ringing {ext} failed ({cause})",
}


def alerting(call: IncomingCall) -> Script:
    user = call.user
    secs = user.no_answer_seconds
    call.trace.add(
        "alerting",
        "ring all devices",
        f"ringing {user.extension} ({user.name}) on all registered devices for {secs} s",
    )
    outcome = yield Ring(
        targets=(UserDevices(user.extension, call.enterprise.domain),),
        timeout=secs,
        caller_id_number=call.presented_number,
        caller_id_name=call.presented_name,
    )
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        call.trace.add("alerting", "answered", f"{user.extension} answered")
        return
    cause = END_CAUSE.get(outcome.result, outcome.cause)
    why = WHY[outcome.result].format(ext=user.extension, secs=secs, cause=outcome.cause.value)
    call.trace.add("alerting", outcome.result.value, f"{why}; call ended with {cause.value}")
    yield Hangup(cause)
