"""Alerting (steps 4-6 of the incoming-call order): do not disturb, ring the user's devices,
then what happens when nobody answers: busy / no-answer / not-reachable forwarding, then
voicemail, else the cause that tells the caller's phone what happened."""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.domain.numbers import national_format
from esl_controller.routing import voicemail
from esl_controller.routing.actions import Action, GatewayNumber, Hangup, Ring, Target, UserDevices
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.forwarding import divert
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome, Rang, RingResult

Step = Generator[Action, Outcome, bool]

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
TREATMENT = {  # result -> the forwarding kind and voicemail reason that apply
    RingResult.BUSY: "busy",
    RingResult.NO_ANSWER: "no-answer",
    RingResult.NOT_REACHABLE: "not-reachable",
}


def do_not_disturb(call: IncomingCall) -> Step:
    """DND (USR-3): the caller is treated as if the user were busy."""
    if not call.user.dnd:
        return False
    call.trace.add("do not disturb", "busy",
                   f"{call.user.extension} is on do not disturb: treated as busy")
    return (yield from unanswered(call, RingResult.BUSY, HangupCause.USER_BUSY))


def alerting(call: IncomingCall) -> Step:
    user = call.user
    if call.user_busy and not user.call_waiting:
        call.trace.add("call waiting", "off",
                       f"{user.extension} is already on a call and call waiting is off: busy")
        return (yield from unanswered(call, RingResult.BUSY, HangupCause.USER_BUSY))
    no_answer = user.forward("no-answer")
    secs = (no_answer.after_seconds if no_answer and no_answer.after_seconds
            else user.no_answer_seconds)
    targets, where = _targets(call)
    call.trace.add(
        "alerting",
        "ring all devices",
        f"ringing {user.extension} ({user.name}) {where} for {secs} s",
    )
    diversion = None
    if call.diverted_by is not None:
        diversion = (f"<sip:{call.diverted_by}@{call.enterprise.domain}>"
                     f";reason={call.diversion_reason}")
    outcome = yield Ring(
        targets=targets,
        timeout=secs,
        caller_id_number=call.presented_number,
        caller_id_name=call.presented_name,
        diversion=diversion,
        answered_as=user.extension,
    )
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        call.trace.add("alerting", "answered", f"{user.extension} answered")
        return True
    why = WHY[outcome.result].format(ext=user.extension, secs=secs, cause=outcome.cause.value)
    call.trace.add("alerting", outcome.result.value, why)
    return (yield from unanswered(call, outcome.result, END_CAUSE.get(outcome.result,
                                                                     outcome.cause)))


def _targets(call: IncomingCall) -> tuple[tuple[Target, ...], str]:
    """Desk devices and, with mobility (USR-9), the mobile: both at once, or one of them."""
    user = call.user
    desk = UserDevices(user.extension, call.enterprise.domain)
    gateway = call.settings.gateway
    mobile_ok = (user.mobility and user.mobile is not None and gateway is not None
                 and call.ctx.caller_number != user.mobile)
    if not mobile_ok or user.ring == "desk":
        return (desk,), "on all registered devices"
    assert user.mobile is not None and gateway is not None
    mobile = GatewayNumber(gateway, user.mobile)
    if user.ring == "mobile":
        return (mobile,), f"on the mobile {national_format(user.mobile)} only"
    return (desk, mobile), f"on all registered devices and the mobile {national_format(user.mobile)}"


def unanswered(call: IncomingCall, result: RingResult, cause: HangupCause) -> Step:
    """Busy / no-answer / not-reachable: forwarding, then voicemail, then the cause."""
    kind = TREATMENT.get(result)
    if kind is not None:
        rule = call.user.forward(kind)
        if rule is not None and (yield from divert(call, rule)):
            return True
        if (yield from voicemail.leave_message(call, kind)):
            return True
    call.trace.add("alerting", "ended", f"call ended with {cause.value}")
    yield Hangup(cause)
    return True
