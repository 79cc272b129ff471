"""Services that screen a call before it rings: intercept (USR-15), anonymous rejection
(USR-4, never for callers inside the enterprise)."""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.routing import announcements
from esl_controller.routing.actions import Action, Hangup, Playback, PreAnswer
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.criteria import caller_matches, schedule_open
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome
from projections.directory import ForwardRule, ScreeningRule

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


def _applies(call: IncomingCall, rule: ScreeningRule) -> bool:
    return bool(schedule_open(call, rule.schedule)) and caller_matches(call, rule.pattern)


def _who(call: IncomingCall) -> str:
    return "an anonymous caller" if call.anonymous else call.ctx.caller_number


def selective_rejection(call: IncomingCall) -> Screen:
    """USR-5: "don't reject" rules first; then any matching reject rule refuses the call."""
    rules = call.user.screening
    keep = next((r for r in rules if r.kind == "dont-reject" and _applies(call, r)), None)
    if keep is not None:
        call.trace.add("selective rejection", "not rejected",
                       f"{_who(call)} matches the don't-reject rule {keep.pattern}")
        return False
    hit = next((r for r in rules if r.kind == "reject" and _applies(call, r)), None)
    if hit is None:
        return False
    when = f" while {hit.schedule!r} is open" if hit.schedule else ""
    call.trace.add("selective rejection", "rejected",
                   f"{call.user.extension} rejects {hit.pattern}{when}: {_who(call)} hears an "
                   "announcement, then CALL_REJECTED")
    return (yield from refuse(call, announcements.ANONYMOUS_REJECTED, HangupCause.CALL_REJECTED))


def selective_acceptance(call: IncomingCall) -> Screen:
    """USR-5: with acceptance rules, only callers matching one of them get through."""
    rules = [r for r in call.user.screening if r.kind == "accept"]
    if not rules:
        return False
    hit = next((r for r in rules if _applies(call, r)), None)
    if hit is not None:
        call.trace.add("selective acceptance", "accepted",
                       f"{_who(call)} matches the acceptance rule {hit.pattern}")
        return False
    call.trace.add("selective acceptance", "not accepted",
                   f"{_who(call)} matches none of {call.user.extension}'s acceptance rules: "
                   "announcement, then CALL_REJECTED")
    return (yield from refuse(call, announcements.ANONYMOUS_REJECTED, HangupCause.CALL_REJECTED))
