"""Call forwarding (USR-2): always, selective, busy, no answer, not reachable.

A diversion rings the destination: a colleague (whose own forwarding is then inhibited, so a
call is never diverted twice and A->B->A loops cannot form) or an external number through
the gateway (only where the outgoing calling plan allows it; the destination was checked
when it was set and is checked again here). Each step is written to the trace.
"""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.domain.numbers import classify, national_format
from esl_controller.routing import calling_plan  # the user's plan (GRP-1)
from esl_controller.routing.actions import Action, GatewayNumber, Hangup, Ring
from esl_controller.routing.criteria import caller_matches, schedule_open
from esl_controller.routing.incoming import MAX_DIVERSIONS, IncomingCall
from esl_controller.routing.outcomes import Outcome, Rang, RingResult
from projections.directory import ForwardRule

REASONS = {
    "always": "unconditional",
    "selective": "unconditional",
    "busy": "user-busy",
    "no-answer": "no-answer",
    "not-reachable": "unavailable",
    "intercept": "unconditional",
}
Diversion = Generator[Action, Outcome, bool]


def selective(call: IncomingCall) -> Diversion:
    """Selective forwarding: the schedule is open and the caller matches the pattern."""
    rule = call.user.forward("selective")
    if rule is None or not _selective_applies(call, rule):
        return False
    return (yield from divert(call, rule))


def always(call: IncomingCall) -> Diversion:
    rule = call.user.forward("always")
    if rule is None:
        return False
    return (yield from divert(call, rule))


def divert(call: IncomingCall, rule: ForwardRule) -> Diversion:
    """Send the call to ``rule.destination``; False if it may not or cannot be diverted."""
    user = call.user
    if call.diverted:
        call.trace.add("forwarding", "diversion inhibited",
                       f"{rule.kind} forwarding of {user.extension} skipped: the call was "
                       f"already diverted by {call.diverted_by or call.ctx.diverted_from}")
        return False
    if rule.destination in (*call.visited, user.extension) or len(call.visited) >= MAX_DIVERSIONS:
        call.trace.add("forwarding", "loop detected",
                       f"{rule.kind} forwarding of {user.extension} to {rule.destination} "
                       "would loop; not diverted")
        return False
    directory = call.directory
    colleague = directory.user(call.enterprise.id, rule.destination) if directory else None
    if colleague is not None:
        call.trace.add("forwarding", f"forward {rule.kind}",
                       f"{user.extension} forwards ({rule.kind}) to {colleague.extension} "
                       f"({colleague.name})")
        from esl_controller.routing.chain import incoming_call

        yield from incoming_call(call.to(colleague, by=user.extension,
                                         reason=REASONS[rule.kind]))
        return True
    target = directory.target(call.enterprise.id, rule.destination) if directory else None
    if target is not None:  # a hunt group, menu, group voicemail ... of the enterprise
        from esl_controller.routing import targets

        yield from targets.reach(call, rule.destination,
                                 f"{user.extension} forwards ({rule.kind})",
                                 reason=REASONS[rule.kind])
        return True
    return (yield from _external(call, rule))


def _external(call: IncomingCall, rule: ForwardRule) -> Diversion:
    number = rule.destination
    klass = classify(number, call.enterprise.country)
    user = call.user
    if not calling_plan.permitted(call.directory, call.enterprise, user, number, klass):
        call.trace.add("forwarding", f"{klass.value} blocked",
                       f"{rule.kind} forwarding of {user.extension} to {number} refused: the "
                       f"outgoing calling plan does not allow {klass.value} numbers")
        return False
    gateway = call.settings.gateway
    if gateway is None:
        call.trace.add("forwarding", "no gateway",
                       f"{rule.kind} forwarding of {user.extension} to {number} impossible: "
                       "no gateway is configured")
        return False
    call.trace.add("forwarding", f"forward {rule.kind}",
                   f"{user.extension} forwards ({rule.kind}) to {national_format(number)} "
                   f"through gateway {gateway!r}")
    outcome = yield Ring(
        (GatewayNumber(gateway, number),),
        60,
        call.presented_number,
        call.presented_name,
        diversion=f"<sip:{user.extension}@{call.enterprise.domain}>;reason={REASONS[rule.kind]}",
    )
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        call.trace.add("forwarding", "answered", f"{number} answered the forwarded call")
        return True
    call.trace.add("forwarding", outcome.result.value,
                   f"{number} did not connect ({outcome.cause.value})")
    yield Hangup(outcome.cause)
    return True


def _selective_applies(call: IncomingCall, rule: ForwardRule) -> bool:
    open_now = schedule_open(call, rule.schedule)
    if open_now is None:
        call.trace.add("forwarding", "selective skipped",
                       f"schedule {rule.schedule!r} is unknown or no time is known")
        return False
    if not open_now:
        call.trace.add("forwarding", "selective not now",
                       f"schedule {rule.schedule!r} is closed now")
        return False
    if rule.from_pattern and not caller_matches(call, rule.from_pattern):
        call.trace.add("forwarding", "selective other caller",
                       f"caller {call.ctx.caller_number or 'anonymous'} does not match "
                       f"{rule.from_pattern}")
        return False
    call.trace.add("forwarding", "selective applies",
                   f"schedule {rule.schedule!r} is open"
                   + (f" and the caller matches {rule.from_pattern}" if rule.from_pattern else ""))
    return True
