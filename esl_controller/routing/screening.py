"""Services that screen a call before it rings: intercept (USR-15), anonymous rejection
(USR-4, never for callers inside the enterprise)."""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.routing import announcements
from esl_controller.routing.actions import Action, Hangup, Playback, PreAnswer
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome
from projections.directory import ForwardRule

Screen = Generator[Action, Outcome, bool]


def refuse(call: IncomingCall, media: str, cause: HangupCause) -> Screen:
    yield PreAnswer()
    yield Playback(media)
    yield Hangup(cause)
    return True


def intercept(call: IncomingCall) -> Screen:
    target = call.user.intercept
    if target is None:
        return False
    if target == "announcement":
        call.trace.add("intercept", "announcement",
                       f"every call to {call.user.extension} is intercepted: the caller hears "
                       "an announcement, then CALL_REJECTED")
        return (yield from refuse(call, announcements.INTERCEPTED, HangupCause.CALL_REJECTED))
    call.trace.add("intercept", "redirect",
                   f"every call to {call.user.extension} is intercepted to {target}")
    from esl_controller.routing.forwarding import divert

    if (yield from divert(call, ForwardRule("intercept", target))):
        return True
    return (yield from refuse(call, announcements.INTERCEPTED, HangupCause.CALL_REJECTED))


def anonymous_rejection(call: IncomingCall) -> Screen:
    if not call.user.anonymous_rejection or not call.anonymous:
        return False
    if call.internal:
        call.trace.add("anonymous rejection", "internal caller",
                       "the caller withholds the number but is inside the enterprise: accepted")
        return False
    call.trace.add("anonymous rejection", "rejected",
                   f"{call.user.extension} rejects calls without a number: the caller hears an "
                   "announcement, then CALL_REJECTED")
    return (yield from refuse(call, announcements.ANONYMOUS_REJECTED, HangupCause.CALL_REJECTED))
