"""The entry point: classify a new call and hand it to the script that serves it.

- an internal user dialling an extension of their enterprise: the incoming-call chain of
  that user (caller sees the extension);
- anyone dialling a public number owned by one of our users: that user's chain;
- an internal user dialling any other valid number: out through the gateway, presenting
  the user's public number, if the calling plan allows the destination's class;
- anything else: an announcement, then UNALLOCATED_NUMBER.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from esl_controller.domain.calling_plan import OutgoingPlan
from esl_controller.domain.numbers import (
    EMERGENCY_NUMBERS,
    NumberClass,
    classify,
    national_format,
    try_normalise,
)
from esl_controller.routing import (
    announcements,
    assistant,  # manager/assistant (MA-1)
    call_control,
    calling_plan,  # calling plans, call capacity (GRP-1/2)
    codes,
    hotdesk,
    targets,
)
from esl_controller.routing import conference as _conference  # noqa: F401 - kind "conference"
from esl_controller.routing import fax as _fax  # noqa: F401 - registers kind "fax"
from esl_controller.routing import group_voicemail as _group_vm  # noqa: F401 - its kind
from esl_controller.routing import hunt_group as _hunt  # noqa: F401 - kind "hunt-group"
from esl_controller.routing import menu as _menu  # noqa: F401 - registers kind "menu"
from esl_controller.routing import night as _night  # noqa: F401 - registers its frame
from esl_controller.routing import park as _park  # noqa: F401 - registers kind "park"
from esl_controller.routing import pickup as call_pickup  # *8 *97 *33 (USR-13)
from esl_controller.routing import queue as call_queue  # kind "queue", *50 / *51
from esl_controller.routing import toolbox as _toolbox  # noqa: F401 - frame and fallback
from esl_controller.routing import virtual_extension as _virtual  # noqa: F401 - USR-22
from esl_controller.routing.actions import GatewayNumber, Hangup, Playback, PreAnswer, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.chain import incoming_call
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Rang, RingResult
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from esl_controller.routing.where import Where
from projections.directory import Directory, EnterpriseView, UserView
from projections.targets import TargetView

OUTGOING_RING_SECONDS = 60


def route_call(
    ctx: CallContext,
    directory: Directory,
    settings: RoutingSettings,
    trace: Trace,
    now: datetime | None = None,
    busy: Callable[[str, str], bool] | None = None,
) -> Script:
    """The script for a new call; every decision lands in ``trace``.

    ``now`` (the session's clock, passed in: scripts never read one) decides schedules.
    """
    where = Where(directory, settings, now, busy)
    if ctx.origin is Origin.INTERNAL:
        return calling_plan.guard(_from_user(ctx, where, trace), ctx, where, trace)  # GRP-2
    return calling_plan.guard(_from_network(ctx, where, trace), ctx, where, trace)


def placed_by_user(ctx: CallContext, where: Where, trace: Trace) -> Script:
    """The call as if the internal user of ``ctx`` dialled ``ctx.destination`` themselves
    (a virtual extension standing for an outside number)."""
    return _from_user(ctx, where, trace)


def _from_user(ctx: CallContext, where: Where, trace: Trace) -> Script:
    directory, settings = where.directory, where.settings
    enterprise = directory.enterprise_for_domain(ctx.domain or "")
    caller = directory.user(enterprise.id, ctx.auth_user or "") if enterprise else None
    device = (directory.device_owner(enterprise.id, ctx.auth_user or "")
              if enterprise and caller is None else None)
    if enterprise is not None and device is not None:
        # A shared call appearance (USR-21) acts as its user: ``EXT-NAME`` -> EXT.
        caller = device[0]
        trace.add("origin", "shared device",
                  f"{ctx.auth_user} is a shared device of {caller.extension} ({caller.name})")
        ctx = replace(ctx, auth_user=caller.extension)
    if enterprise is not None and caller is None:  # a hot-desk phone (USR-8)?
        desk = hotdesk.from_device(ctx, directory, enterprise, trace)
        if isinstance(desk, tuple):
            ctx, caller = desk  # as the logged-in user, or a phone without login
        elif desk is not None:
            return desk
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
    if caller.privacy:  # USR-19
        trace.add("privacy", "private caller",
                  f"{caller.extension} is private: no busy lamp for colleagues' phones")
    dialled = ctx.destination
    if dialled.startswith(codes.CLIR_PER_CALL) and len(dialled) > 3:
        trace.add("caller identity", "CLIR per call",
                  f"{caller.extension} withholds the number for this call ({codes.CLIR_PER_CALL})")
        dialled = dialled[3:]
        ctx = replace(ctx, destination=dialled, privacy=True)
    if dialled in EMERGENCY_NUMBERS:
        # Before extensions: an emergency call must never ring a colleague.
        return _outgoing(ctx, enterprise, caller, dialled, settings, trace,
                         where.directory.calling_plan_for(enterprise.id, caller.extension))
    if call_queue.handles(dialled, directory, enterprise.id):  # *50 / *51 + queue (CC-1)
        return call_queue.feature_code(ctx, caller, trace)
    if call_control.handles(dialled):  # *69 *66 #N *74 *75 *96 (USR-11/12/20)
        return call_control.call_control(
            ctx, directory, enterprise, caller, trace, where.busy,
            lambda again: _from_user(again, where, trace),
        )
    if call_pickup.handles(dialled):  # *8 *97EXT *33EXT: pickup, barge-in (USR-13)
        return call_pickup.feature_code(ctx, directory, enterprise, caller, trace)
    if assistant.handles(dialled):  # *47 *48 *49 manager/assistant (MA-1)
        return assistant.feature_code(ctx, directory, enterprise, caller, trace,
                                      lambda again: _from_user(again, where, trace))
    if dialled.startswith("*"):
        return codes.feature_code(ctx, enterprise, caller, trace)
    callee = directory.user(enterprise.id, dialled)
    if callee is not None:
        trace.add("destination", "extension", f"{dialled} is the extension of {callee.name}")
        return _to_user(ctx, where, enterprise, callee, caller, trace, internal=True)
    alternate = directory.alternate(enterprise.id, dialled)
    if alternate is not None:  # an alternate extension (USR-10)
        callee, place = alternate
        trace.add("destination", "alternate number",
                  f"{dialled} is alternate number {place} of {callee.extension} ({callee.name})")
        return _to_user(ctx, where, enterprise, callee, caller, trace, internal=True)
    target = directory.target(enterprise.id, dialled)
    if target is not None:  # a hunt group, menu, ... of the enterprise
        trace.add("destination", target.kind, f"{dialled} is {target.label()}")
        return _to_target(ctx, where, enterprise, target, caller, trace)
    e164 = try_normalise(dialled, enterprise.country)
    if e164 is None:
        trace.add("destination", "no such number", f"{dialled!r} is no extension or number")
        return _unallocated(ctx, trace)
    target = directory.target_with_number(e164)
    if target is not None:
        owning = directory.enterprises[target.enterprise_id]
        trace.add("destination", target.kind,
                  f"{national_format(e164)} is the number of {target.label()} of {owning.name}")
        return _to_target(ctx, where, owning, target,
                          caller if owning.id == enterprise.id else None, trace)
    owner = directory.user_with_number(e164)
    alternate = directory.alternate(enterprise.id, e164)
    if owner is not None and alternate is not None:  # an alternate number (USR-10)
        trace.add("destination", "alternate number",
                  f"{national_format(e164)} is alternate number {alternate[1]} of "
                  f"{owner.extension} ({owner.name})")
    elif owner is not None:
        trace.add(
            "destination",
            "public number on the exchange",
            f"{national_format(e164)} belongs to {owner.extension} ({owner.name})",
        )
        owner_enterprise = directory.enterprises[owner.enterprise_id]
        same = owner.enterprise_id == enterprise.id
        return _to_user(ctx, where, owner_enterprise, owner, caller, trace, internal=same)
    return _outgoing(ctx, enterprise, caller, e164, settings, trace,
                     where.directory.calling_plan_for(enterprise.id, caller.extension))


def _from_network(ctx: CallContext, where: Where, trace: Trace) -> Script:
    directory = where.directory
    caller_e164 = try_normalise(ctx.caller_number, "NL") if ctx.caller_number else None
    mobile_user = directory.user_with_mobile(caller_e164) if caller_e164 else None
    if mobile_user is not None:
        enterprise = directory.enterprises[mobile_user.enterprise_id]
        trace.add("origin", "mobility",
                  f"{national_format(mobile_user.mobile or '')} is the mobile of "
                  f"{mobile_user.extension} ({mobile_user.name}): treated as their own phone")
        as_user = replace(ctx, origin=Origin.INTERNAL, auth_user=mobile_user.extension,
                          domain=enterprise.domain)
        return _from_user(as_user, where, trace)
    e164 = try_normalise(ctx.destination, "NL")
    owner = directory.user_with_number(e164) if e164 else None
    trace.add("origin", "public network", f"call from {ctx.caller_number or 'anonymous'}")
    target = directory.target_with_number(e164) if e164 and owner is None else None
    if e164 is not None and target is not None:
        enterprise = directory.enterprises[target.enterprise_id]
        trace.classification.enterprise_id = str(enterprise.id)
        trace.add("destination", target.kind,
                  f"{national_format(e164)} is the number of {target.label()} of {enterprise.name}")
        return _to_target(ctx, where, enterprise, target, None, trace)
    if e164 is None or owner is None:
        what = national_format(e164) if e164 else repr(ctx.destination)
        trace.add("destination", "unassigned number", f"{what} belongs to no user")
        return _unallocated(ctx, trace)
    enterprise = directory.enterprises[owner.enterprise_id]
    trace.classification.enterprise_id = str(enterprise.id)
    alternate = directory.alternate(enterprise.id, e164)
    if alternate is not None:  # an alternate number (USR-10)
        trace.add("destination", "alternate number",
                  f"{national_format(e164)} is alternate number {alternate[1]} of "
                  f"{owner.extension} ({owner.name}) of {enterprise.name}")
    else:
        trace.add(
            "destination",
            "public number",
            f"{national_format(e164)} belongs to {owner.extension} ({owner.name}) of "
            f"{enterprise.name}",
        )
    return _to_user(ctx, where, enterprise, owner, None, trace, internal=False)


def _to_user(
    ctx: CallContext,
    where: Where,
    enterprise: EnterpriseView,
    callee: UserView,
    caller: UserView | None,
    trace: Trace,
    internal: bool,
) -> Script:
    refusal = calling_plan.entry_refusal(  # GRP-1: internal calls, incoming plan
        ctx, where, enterprise, callee, caller, internal and caller is not None, trace)
    if refusal is not None:
        return refusal
    if callee.privacy:  # USR-19
        trace.add("privacy", "private user",
                  f"{callee.extension} is private: no busy lamp for colleagues, no pickup by "
                  "others")
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
    call = IncomingCall(
        ctx, enterprise, callee, number, name, internal, trace,
        directory=where.directory, settings=where.settings, now=where.now,
        user_busy=bool(where.busy and where.busy(str(enterprise.id), callee.extension)),
        busy=where.busy,
    )
    if caller is not None and not internal:
        cls.kind = "outbound"
    return incoming_call(call)


def _to_target(
    ctx: CallContext,
    where: Where,
    enterprise: EnterpriseView,
    target: TargetView,
    caller: UserView | None,
    trace: Trace,
) -> Script:
    """A call to a hunt group, menu, ...: its frames and script (routing/targets.py)."""
    refusal = calling_plan.entry_refusal(  # GRP-1: internal calls, incoming plan
        ctx, where, enterprise, None, caller, caller is not None, trace)
    if refusal is not None:
        return refusal
    cls = trace.classification
    cls.kind = "internal" if caller is not None else "inbound"
    cls.target_user = None
    if caller is not None:
        number, name = caller.extension, caller.name
    else:
        number, name = ctx.caller_number, ctx.caller_name
    return targets.enter(targets.TargetCall(
        ctx, where, enterprise, target, caller, number, name, caller is not None, trace))


def _outgoing(
    ctx: CallContext,
    enterprise: EnterpriseView,
    caller: UserView,
    number: str,
    settings: RoutingSettings,
    trace: Trace,
    plan: OutgoingPlan | None = None,  # the caller's effective calling plan (GRP-1)
) -> Script:
    cls = trace.classification
    cls.kind = "outbound"
    klass = classify(number, enterprise.country)
    shown = number if klass is NumberClass.EMERGENCY else national_format(number)
    verdict = calling_plan.judge(plan or OutgoingPlan(), klass, number, enterprise, caller,
                                 shown, trace)
    if verdict == "blocked":
        return _refuse(trace, HangupCause.OUTGOING_CALL_BARRED)
    if settings.gateway is None:
        trace.add("gateway", "none configured", "no gateway is configured for external calls")
        return _refuse(trace, HangupCause.NO_ROUTE_DESTINATION)
    presented, why = _identity(ctx, enterprise, caller)
    step = (
        "outgoing",
        f"{klass.value} number via gateway",
        f"{shown} ({klass.value}) out through gateway {settings.gateway!r}, "
        f"presenting {presented} ({why})",
    )
    target = GatewayNumber(settings.gateway, number)
    out = _ring_out(target, presented, caller.name, trace, privacy=presented == "anonymous")
    if verdict == "pin":  # the enhanced plan: the PIN first, then out (GRP-1)
        return calling_plan.pin_first(enterprise, caller, trace, out, step)
    trace.add(*step)
    return out


def _identity(ctx: CallContext, enterprise: EnterpriseView, caller: UserView) -> tuple[str, str]:
    """The number an external party sees (USR-6) and why."""
    if ctx.privacy:
        return "anonymous", "number withheld for this call"
    if caller.identity == "anonymous":
        return "anonymous", "the user withholds the number permanently"
    if caller.identity == "mobile" and caller.mobile:
        return caller.mobile, "the user presents the mobile number"
    if caller.number:
        return caller.number, "the user's business number"
    if enterprise.numbers:
        return enterprise.numbers[0], "the enterprise's main number"
    return "anonymous", "no number to present"


def _ring_out(
    target: GatewayNumber, number: str, name: str, trace: Trace, privacy: bool = False
) -> Script:
    outcome = yield Ring((target,), OUTGOING_RING_SECONDS, number, name, privacy=privacy)
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
