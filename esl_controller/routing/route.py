"""The entry point: classify a new call and hand it to the script that serves it.

- an internal user dialling an extension of their enterprise: the incoming-call chain of
  that user (caller sees the extension);
- anyone dialling a public number owned by one of our users: that user's chain;
- an internal user dialling any other valid number: out through the gateway, presenting
  the user's public number, if the calling plan allows the destination's class;
- anything else: an announcement, then UNALLOCATED_NUMBER.
"""

from __future__ import annotations

from esl_controller.domain.numbers import (
    EMERGENCY_NUMBERS,
    NumberClass,
    classify,
    national_format,
    try_normalise,
)
from esl_controller.routing import announcements
from esl_controller.routing.actions import GatewayNumber, Hangup, Playback, PreAnswer, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.chain import incoming_call
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Rang, RingResult
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory, EnterpriseView, UserView

# Default outgoing calling plan: premium and international are blocked (toll fraud).
ALLOWED_OUTGOING = frozenset(
    {NumberClass.EMERGENCY, NumberClass.NATIONAL, NumberClass.MOBILE, NumberClass.SERVICE}
)
OUTGOING_RING_SECONDS = 60


def route_call(
    ctx: CallContext, directory: Directory, settings: RoutingSettings, trace: Trace
) -> Script:
    """The script for a new call; every decision lands in ``trace``."""
    if ctx.origin is Origin.INTERNAL:
        return _from_user(ctx, directory, settings, trace)
    return _from_network(ctx, directory, trace)


def _from_user(
    ctx: CallContext, directory: Directory, settings: RoutingSettings, trace: Trace
) -> Script:
    enterprise = directory.enterprise_for_domain(ctx.domain or "")
    caller = directory.user(enterprise.id, ctx.auth_user or "") if enterprise else None
    if enterprise is None or caller is None:
        trace.add(
            "origin",
            "unknown caller",
            f"{ctx.auth_user}@{ctx.domain} is not a user of any enterprise",
        )
        return _unallocated(ctx, trace, HangupCause.CALL_REJECTED)
    cls = trace.classification
    cls.enterprise_id = str(enterprise.id)
    cls.caller_user = caller.extension
    trace.add(
        "origin",
        "internal user",
        f"caller is {caller.extension} ({caller.name}) of {enterprise.name}",
    )
    dialled = ctx.destination
    if dialled in EMERGENCY_NUMBERS:
        # Before extensions: an emergency call must never ring a colleague.
        return _outgoing(ctx, enterprise, caller, dialled, settings, trace)
    callee = directory.user(enterprise.id, dialled)
    if callee is not None:
        trace.add("destination", "extension", f"{dialled} is the extension of {callee.name}")
        return _to_user(ctx, enterprise, callee, caller, trace, internal=True)
    e164 = try_normalise(dialled, enterprise.country)
    if e164 is None:
        trace.add("destination", "no such number", f"{dialled!r} is no extension or number")
        return _unallocated(ctx, trace)
    owner = directory.user_with_number(e164)
    if owner is not None:
        trace.add(
            "destination",
            "public number on the exchange",
            f"{national_format(e164)} belongs to {owner.extension} ({owner.name})",
        )
        owner_enterprise = directory.enterprises[owner.enterprise_id]
        same = owner.enterprise_id == enterprise.id
        return _to_user(ctx, owner_enterprise, owner, caller, trace, internal=same)
    return _outgoing(ctx, enterprise, caller, e164, settings, trace)


def _from_network(ctx: CallContext, directory: Directory, trace: Trace) -> Script:
    e164 = try_normalise(ctx.destination, "NL")
    owner = directory.user_with_number(e164) if e164 else None
    trace.add("origin", "public network", f"call from {ctx.caller_number or 'anonymous'}")
    if e164 is None or owner is None:
        what = national_format(e164) if e164 else repr(ctx.destination)
        trace.add("destination", "unassigned number", f"{what} belongs to no user")
        return _unallocated(ctx, trace)
    enterprise = directory.enterprises[owner.enterprise_id]
    trace.classification.enterprise_id = str(enterprise.id)
    trace.add(
        "destination",
        "public number",
        f"{national_format(e164)} belongs to {owner.extension} ({owner.name}) of {enterprise.name}",
    )
    return _to_user(ctx, enterprise, owner, None, trace, internal=False)


def _to_user(
    ctx: CallContext,
    enterprise: EnterpriseView,
    callee: UserView,
    caller: UserView | None,
    trace: Trace,
    internal: bool,
) -> Script:
    cls = trace.classification
    cls.kind = "internal" if caller is not None else "inbound"
    cls.target_user = callee.extension if internal or caller is None else None
    if caller is not None and not internal:
        # A colleague of another enterprise on this exchange: a public call for both.
        cls.target_user = None
    if internal and caller is not None:
        number, name = caller.extension, caller.name
    elif caller is not None:
        number, name = caller.number or caller.extension, caller.name
    else:
        number, name = ctx.caller_number, ctx.caller_name
    call = IncomingCall(ctx, enterprise, callee, number, name, internal, trace)
    if caller is not None and not internal:
        cls.kind = "outbound"
    return incoming_call(call)


def _outgoing(
    ctx: CallContext,
    enterprise: EnterpriseView,
    caller: UserView,
    number: str,
    settings: RoutingSettings,
    trace: Trace,
) -> Script:
    cls = trace.classification
    cls.kind = "outbound"
    klass = classify(number, enterprise.country)
    shown = number if klass is NumberClass.EMERGENCY else national_format(number)
    if klass not in ALLOWED_OUTGOING:
        trace.add(
            "calling plan",
            f"{klass.value} blocked",
            f"{shown} is a {klass.value} number, which the outgoing calling plan blocks",
        )
        return _refuse(trace, HangupCause.OUTGOING_CALL_BARRED)
    if settings.gateway is None:
        trace.add("gateway", "none configured", "no gateway is configured for external calls")
        return _refuse(trace, HangupCause.NO_ROUTE_DESTINATION)
    presented = caller.number or next(iter(enterprise.numbers), "anonymous")
    trace.add(
        "outgoing",
        f"{klass.value} number via gateway",
        f"{shown} ({klass.value}) out through gateway {settings.gateway!r}, "
        f"presenting {presented}",
    )
    return _ring_out(GatewayNumber(settings.gateway, number), presented, caller.name, trace)


def _ring_out(target: GatewayNumber, number: str, name: str, trace: Trace) -> Script:
    outcome = yield Ring((target,), OUTGOING_RING_SECONDS, number, name)
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        trace.add("outgoing", "answered", f"{target.number} answered")
        return
    trace.add(
        "outgoing",
        outcome.result.value,
        f"{target.number} did not connect ({outcome.cause.value})",
    )
    yield Hangup(outcome.cause)


def _unallocated(
    ctx: CallContext, trace: Trace, cause: HangupCause = HangupCause.UNALLOCATED_NUMBER
) -> Script:
    trace.classification.kind = "unknown"
    return _refuse(trace, cause)


def _refuse(trace: Trace, cause: HangupCause) -> Script:
    media = announcements.BARRED if cause is HangupCause.OUTGOING_CALL_BARRED else (
        announcements.UNALLOCATED
    )
    trace.add("announcement", "refused", f"caller hears an announcement, then {cause.value}")
    yield PreAnswer()
    yield Playback(media)
    yield Hangup(cause)
