"""Alerting (steps 4-6 of the incoming-call order): do not disturb, ring the user's devices,
then what happens when nobody answers: busy / no-answer / not-reachable forwarding, then
voicemail, else the cause that tells the caller's phone what happened."""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.domain.numbers import national_format, try_normalise
from esl_controller.routing import voicemail
from esl_controller.routing.actions import (
    Action,
    GatewayNumber,
    Hangup,
    Ring,
    SharedDevice,
    Target,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.criteria import caller_matches, schedule_open
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
    RingResult.WITHDRAWN: "the ring at {ext} was withdrawn ({cause})",  # watched rings only
}
# Distinctive rings as Alert-Info (FreeSWITCH ``alert_info``): ring 2 and 3 of the alternate
# numbers (USR-10) and the priority alert (USR-18), in the Bellcore-drN form most phones know.
ALERT_INFO = "<http://www.notused.com>;info={}"
DISTINCTIVE_RINGS = {2: "Bellcore-dr2", 3: "Bellcore-dr3"}
PRIORITY_RING = "Bellcore-dr4"
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
    if not targets:
        call.trace.add("alerting", "not reachable",
                       f"no line of {user.extension} may ring now: treated as not reachable")
        return (yield from unanswered(call, RingResult.NOT_REACHABLE,
                                      HangupCause.USER_NOT_REGISTERED))
    alert_info = _distinctive_ring(call)
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
        alert_info=alert_info,
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
    """The legs that ring at once: the desk (all registered devices of the user plus its
    shared call appearances, USR-21) and, with mobility (USR-9), the mobile; either can be
    excluded by the ring mode or left out by its schedule (desk / mobile schedule)."""
    user = call.user
    domain = call.enterprise.domain
    hotdesks = call.directory.hotdesk_devices_of(user.id) if call.directory else ()
    devices = tuple(d for d in user.devices  # not the shared device placing this call
                    if f"/{d.username(user.extension)}@" not in call.ctx.channel)
    desk: tuple[Target, ...] = (
        UserDevices(user.extension, domain),
        *(SharedDevice(user.extension, d.name, domain) for d in devices),
        *(UserDevices(phone, domain) for phone in hotdesks),  # logged in there (USR-8)
    )
    gateway = call.settings.gateway
    mobile_ok = (user.mobility and user.mobile is not None and gateway is not None
                 and call.ctx.caller_number != user.mobile)
    ring_desk = not mobile_ok or user.ring != "mobile"
    ring_mobile = mobile_ok and user.ring != "desk"
    if ring_desk and not _leg_open(call, "desk phones", user.desk_schedule):
        ring_desk = False
    if ring_mobile and not _leg_open(call, "mobile", user.mobile_schedule):
        ring_mobile = False
    targets: tuple[Target, ...] = desk if ring_desk else ()
    words = []
    if ring_desk:
        shared = ", ".join(d.username(user.extension) for d in devices)
        words.append("on all registered devices"
                     + (f" (shared: {shared})" if shared else "")
                     + (f" and the hot-desk phone {', '.join(hotdesks)}" if hotdesks else ""))
    if ring_mobile:
        assert user.mobile is not None and gateway is not None
        targets = (*targets, GatewayNumber(gateway, user.mobile))
        words.append(f"the mobile {national_format(user.mobile)}")
    where = " and ".join(words)
    if ring_mobile and not ring_desk:
        where = f"on {where} only"
    return targets, where


def _leg_open(call: IncomingCall, leg: str, schedule: str | None) -> bool:
    """Per-number schedules (USR-9): may this leg ("desk phones", "mobile") ring now?"""
    if schedule is None:
        return True
    open_now = schedule_open(call, schedule)
    what = f"the {leg} of {call.user.extension}"
    if open_now is None:
        call.trace.add("alerting", "schedule unknown",
                       f"schedule {schedule!r} of {what} is unknown or no time is known: "
                       "rung all the same")
        return True
    if not open_now:
        verb = "do" if leg.endswith("s") else "does"
        call.trace.add("alerting", f"{leg.split()[0]} left out",
                       f"{what} {verb} not ring: schedule {schedule!r} is closed now")
        return False
    return True


def _distinctive_ring(call: IncomingCall) -> str | None:
    """Priority alert (USR-18) first, then the ring of the alternate number (USR-10)
    the caller dialled; None for the normal ring."""
    user = call.user
    for rule in user.priority_alerts:
        if not caller_matches(call, rule.pattern):
            continue
        open_now = schedule_open(call, rule.schedule)
        if not open_now:
            why = "is closed now" if open_now is False else "is unknown or no time is known"
            call.trace.add("priority alert", "not now",
                           f"caller matches {rule.pattern} but schedule {rule.schedule!r} {why}")
            continue
        call.trace.add("priority alert", "distinctive ring",
                       f"caller {call.ctx.caller_number or 'anonymous'} matches priority alert "
                       f"{rule.pattern} of {user.extension}: {PRIORITY_RING}")
        return ALERT_INFO.format(PRIORITY_RING)
    found = _dialled_alternate(call)
    if found is None:
        return None
    place, ring = found
    if ring not in DISTINCTIVE_RINGS:
        return None
    call.trace.add("alternate number", "distinctive ring",
                   f"called on alternate number {place} of {user.extension}: "
                   f"{DISTINCTIVE_RINGS[ring]}")
    return ALERT_INFO.format(DISTINCTIVE_RINGS[ring])


def _dialled_alternate(call: IncomingCall) -> tuple[int, int] | None:
    """(place, ring) of the alternate number the caller dialled to reach this user."""
    if call.diverted or call.directory is None:
        return None
    dialled = call.ctx.destination.strip()
    found = call.directory.alternate(call.enterprise.id, dialled)
    if found is None:
        e164 = try_normalise(dialled, call.enterprise.country)
        found = call.directory.alternate(call.enterprise.id, e164) if e164 else None
    if found is None or found[0].id != call.user.id:
        return None
    place = found[1]
    return place, call.user.alternates[place - 1].ring


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
