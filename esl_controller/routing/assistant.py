"""Manager/assistant (MA-1): the chain's ``executive-assistant`` step and its feature codes.

While a manager's screening is on, a call to the manager that passes the manager's filter
(all calls; external calls only; calls whose number matches one of the patterns) rings the
manager's assistants (all at once, each on all their devices) for the manager's no-answer
time, the caller shown as ``NAME (for MANAGER)``. The manager is notified by e-mail (the
call notify service, USR-17) when they have an address. The assistant who answers is
recorded as the one who answered (the call log: a received call for the assistant, a call
to the manager answered elsewhere; the trace: "answered by ASSISTANT on behalf of
MANAGER"). When no assistant answers, the call goes on along the manager's own chain
(forwarding, do not disturb, ringing the manager), so no call is lost to screening.

Not screened: calls from the manager's own assistants, and calls an assistant diverted to
the manager.

Feature codes: ``*47`` / ``*48`` screening on / off (the manager); ``*49`` + manager
extension + number: an assistant places a call on the manager's behalf, presenting the
manager's number under the manager's calling plan.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace

from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    Hangup,
    Playback,
    PreAnswer,
    Ring,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.criteria import caller_matches
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import CommandResult, Outcome, Rang, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.assistants_fold import ExecutiveView
from projections.directory import Directory, EnterpriseView, UserView

SCREENING_ON = "*47"
SCREENING_OFF = "*48"
ON_BEHALF = "*49"  # *49 + manager extension + number
CODES = (SCREENING_ON, SCREENING_OFF, ON_BEHALF)
SERVICE = "executive assistant"


def passes_filter(call: IncomingCall, view: ExecutiveView) -> tuple[bool, str]:
    """Does the manager's filter send this call to the assistants, and why (plain words)."""
    if view.filter_kind == "all":
        return True, "filter all"
    if view.filter_kind == "external":
        if call.internal:
            return False, "filter external: an internal call"
        return True, "filter external: an external call"
    for pattern in view.patterns:
        if caller_matches(call, pattern):
            return True, f"caller matches {pattern}"
    return False, "caller matches none of " + ", ".join(view.patterns)


def executive_assistant(call: IncomingCall) -> Generator[Action, Outcome, bool]:
    """The chain step: ring the manager's assistants first, else pass the call on."""
    directory = call.directory
    view = directory.executive(call.user.id) if directory is not None else None
    if directory is None or view is None or not view.assistants:
        return False
    manager = call.user
    if not view.screening:
        call.trace.add(SERVICE, "screening off",
                       f"{manager.extension} switched screening off: no assistant is rung")
        return False
    caller_ext = call.ctx.auth_user if call.internal else None
    if caller_ext in view.assistants or call.diverted_by in view.assistants:
        call.trace.add(SERVICE, "from an assistant",
                       f"the call comes from assistant {caller_ext or call.diverted_by}: "
                       "not screened")
        return False
    matches, why = passes_filter(call, view)
    if not matches:
        call.trace.add(SERVICE, "not screened", f"{why}: the call goes to {manager.extension}")
        return False
    ringing: list[UserView] = []
    for ext in view.assistants:
        assistant = directory.user(call.enterprise.id, ext)
        if assistant is None or assistant.extension in call.visited:
            continue
        if assistant.dnd:
            call.trace.add(SERVICE, "assistant on dnd",
                           f"assistant {ext} is on do not disturb: not rung")
            continue
        ringing.append(assistant)
    if not ringing:
        call.trace.add(SERVICE, "no assistant",
                       f"{why}, but no assistant can take it: the call goes to "
                       f"{manager.extension}")
        return False
    yield from _notify_manager(call)
    names = ", ".join(a.extension for a in ringing)
    call.trace.add(SERVICE, "assistants ring",
                   f"{why}: ringing assistant{'s' if len(ringing) > 1 else ''} {names} "
                   f"for {manager.extension} ({manager.name}) for {manager.no_answer_seconds} s")
    shown = call.presented_name or call.presented_number or "anonymous"
    domain = call.enterprise.domain
    outcome = yield Ring(
        targets=tuple(UserDevices(a.extension, domain) for a in ringing),
        timeout=manager.no_answer_seconds,
        caller_id_number=call.presented_number,
        caller_id_name=f"{shown} (for {manager.extension})",
        diversion=f"<sip:{manager.extension}@{domain}>;reason=deflection",
        privacy=call.anonymous,
    )
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        by = outcome.answered_by or names
        call.trace.add(SERVICE, "answered",
                       f"answered by assistant {by} on behalf of {manager.extension}")
        return True
    call.trace.add(SERVICE, outcome.result.value,
                   f"no assistant answered ({outcome.cause.value}): the call goes on to "
                   f"{manager.extension}")
    return False


def _notify_manager(call: IncomingCall) -> Generator[Action, Outcome, None]:
    manager = call.user
    if not manager.email:
        call.trace.add(SERVICE, "not notified",
                       f"{manager.extension} has no e-mail address: no notice of the screened "
                       "call")
        return
    anonymous = call.anonymous
    result = yield Command("notify", "call", (
        ("enterprise", str(call.enterprise.id)),
        ("extension", manager.extension),
        ("user_name", manager.name),
        ("to", manager.email),
        ("call_id", call.ctx.call_id),
        ("caller", "anonymous" if anonymous else call.presented_number),
        ("caller_name", "" if anonymous else call.presented_name),
        ("at", call.now.isoformat() if call.now else ""),
        ("timezone", call.enterprise.timezone),
    ))
    if isinstance(result, CommandResult) and result.ok:
        call.trace.add(SERVICE, "manager notified",
                       f"e-mail to {manager.email} queued: the assistants take the call")
    else:
        why = result.value if isinstance(result, CommandResult) else "no answer"
        call.trace.add(SERVICE, "not notified", f"e-mail to {manager.email} not sent ({why})")


# -- feature codes ---------------------------------------------------------------------------


def handles(dialled: str) -> bool:
    return dialled in (SCREENING_ON, SCREENING_OFF) or (
        dialled.startswith(ON_BEHALF) and dialled[3:].isdigit())


def feature_code(
    ctx: CallContext,
    directory: Directory,
    enterprise: EnterpriseView,
    caller: UserView,
    trace: Trace,
    again: Callable[[CallContext], Script],
) -> Script:
    """``*47`` / ``*48`` (the manager), ``*49`` + manager + number (an assistant).

    ``again`` routes a call context anew as a call placed by its ``auth_user``."""
    dialled = ctx.destination
    if dialled in (SCREENING_ON, SCREENING_OFF):
        return _screening(enterprise, caller, trace, dialled == SCREENING_ON, dialled)
    return _on_behalf(ctx, directory, enterprise, caller, trace, again)


def _screening(enterprise: EnterpriseView, caller: UserView, trace: Trace, on: bool,
               code: str) -> Script:
    word = "on" if on else "off"
    result = yield Command("assistants", "screening", (
        ("enterprise", str(enterprise.id)),
        ("manager", caller.extension),
        ("on", "yes" if on else "no"),
        ("code", code),
    ))
    ok = isinstance(result, CommandResult) and result.ok
    if ok:
        trace.add("feature code", code, f"{caller.extension}: assistant screening {word}")
    else:
        why = result.value if isinstance(result, CommandResult) else "no answer"
        trace.add("feature code", f"{code} refused",
                  f"{caller.extension}: assistant screening {word} refused: {why}")
    trace.classification.outcome = "feature-code" if ok else "refused"
    yield Answer()
    yield Playback(announcements.CONFIRM if ok else announcements.SIT)
    yield Hangup(HangupCause.NORMAL_CLEARING)


def split_on_behalf(rest: str, managers: list[ExecutiveView]) -> tuple[ExecutiveView, str] | None:
    """(manager, number) from the digits after ``*49``: the longest manager extension the
    digits start with, followed by at least one digit."""
    for view in sorted(managers, key=lambda v: -len(v.manager_extension)):
        ext = view.manager_extension
        if rest.startswith(ext) and len(rest) > len(ext):
            return view, rest[len(ext):]
    return None


def _on_behalf(
    ctx: CallContext,
    directory: Directory,
    enterprise: EnterpriseView,
    caller: UserView,
    trace: Trace,
    again: Callable[[CallContext], Script],
) -> Script:
    managers = directory.managers_of(enterprise.id, caller.extension)
    found = split_on_behalf(ctx.destination[3:], managers)
    manager = (directory.user(enterprise.id, found[0].manager_extension)
               if found is not None else None)
    if found is None or manager is None:
        whose = ", ".join(v.manager_extension for v in managers) or "nobody"
        trace.add("feature code", f"{ON_BEHALF} refused",
                  f"{caller.extension} is no assistant of the manager dialled "
                  f"({caller.extension} assists {whose})")
        return _refused(trace)
    number = found[1]
    trace.add(SERVICE, "on behalf",
              f"assistant {caller.extension} calls {number} on behalf of {manager.extension} "
              f"({manager.name}): the manager's number and calling plan apply")
    return again(replace(ctx, auth_user=manager.extension, destination=number))


def _refused(trace: Trace) -> Script:
    trace.classification.outcome = "refused"
    yield PreAnswer()
    yield Playback(announcements.SIT)
    yield Hangup(HangupCause.CALL_REJECTED)
