"""Night service (CORE-3): on (manual), off, or automatic while a schedule is closed.

For users it is the first service of the incoming-call chain (``user_night_service``); for
targets (hunt groups, menus, call centers ...) it is a frame around the target's script
(``night_frame``), which also applies the ``night`` rule of the target's forwarding toolbox
when the target has no night service of its own. A diverted call is sent on with
``targets.reach`` and the diversion inhibitor set, so the destination's own forwarding does
not send it further. Every decision is in the trace.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime

from esl_controller.domain.numbers import national_format
from esl_controller.domain.schedules import decide
from esl_controller.routing import targets
from esl_controller.routing.actions import Action
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome
from projections.directory import Directory, EnterpriseView
from projections.night_fold import NightServiceView

SERVICE = "night service"


@dataclass(frozen=True, slots=True)
class NightDecision:
    """Whether a night service diverts calls now, in a word and in words."""

    active: bool
    state: str  # "on (manual)", "on (schedule)", "off", "open hours", "schedule unknown"
    reason: str  # "is on (manual)", "is automatic and schedule 'Office' is open: ..."


def night_decision(directory: Directory, enterprise: EnterpriseView, view: NightServiceView,
                   now: datetime | None) -> NightDecision:
    if view.mode == "off":
        return NightDecision(False, "off", "is off (manual)")
    if view.mode == "on":
        return NightDecision(True, "on (manual)", "is on (manual)")
    name = view.schedule or ""
    schedule = directory.schedule(enterprise.id, name)
    if schedule is None:
        return NightDecision(False, "schedule unknown",
                             f"is automatic but schedule {name!r} does not exist: not applied")
    if now is None:
        return NightDecision(False, "schedule unknown",
                             "is automatic but no time is known: not applied")
    decision = decide(schedule.hours, schedule.holidays, enterprise.timezone, now)
    if decision.open:
        return NightDecision(False, "open hours",
                             f"is automatic and schedule {schedule.name!r} is {decision.reason}")
    return NightDecision(True, "on (schedule)",
                         f"is on (schedule {schedule.name!r} is {decision.reason})")


def describe_destination(destination: str) -> str:
    if destination.startswith("vm:"):
        return f"the voicemail box of {destination[3:]}"
    if destination.startswith("+"):
        return national_format(destination)
    return destination


def _reason(view: NightServiceView) -> str:
    """SIP Diversion reason: time-of-day when a schedule decided it (RFC 5806)."""
    return "time-of-day" if view.mode == "auto" else "unconditional"


def night_frame(call: targets.TargetCall) -> Generator[Action, Outcome, bool]:
    """The night service of a target, else its toolbox's night rule."""
    directory = call.where.directory
    view = directory.night_service(call.target.id)
    label = f"night service of {call.target.label()}"
    if view is None:
        toolbox = directory.toolbox_of_target(call.target.id)
        rule = toolbox.rule("night") if toolbox is not None else None
        if toolbox is None or rule is None:
            return False
        view = NightServiceView(toolbox.id, call.enterprise.id, call.target.id, call.target.kind,
                                "auto", rule.destination, rule.schedule)
        label = f"night service of {call.target.label()} (toolbox {toolbox.name!r})"
    decision = night_decision(directory, call.enterprise, view, call.where.now)
    if not decision.active or view.destination is None:
        call.trace.add(SERVICE, decision.state, f"{label} {decision.reason}")
        return False
    call.trace.add(SERVICE, decision.state,
                   f"{label} {decision.reason}: to {describe_destination(view.destination)}")
    yield from targets.reach(call, view.destination, label, _reason(view))
    return True


def user_night_service(call: IncomingCall) -> Generator[Action, Outcome, bool]:
    """First service of a user's chain: the user's night service, unless the call was
    already diverted (group calls and forwarded calls skip it)."""
    directory = call.directory
    view = directory.night_service(call.user.id) if directory is not None else None
    if directory is None or view is None:
        return False
    label = f"night service of {call.user.extension} ({call.user.name})"
    decision = night_decision(directory, call.enterprise, view, call.now)
    if not decision.active or view.destination is None:
        call.trace.add(SERVICE, decision.state, f"{label} {decision.reason}")
        return False
    if call.diverted:
        call.trace.add(SERVICE, "diversion inhibited",
                       f"{label} {decision.reason} but the call was already diverted by "
                       f"{call.diverted_by or call.ctx.diverted_from}: not diverted again")
        return False
    call.trace.add(SERVICE, decision.state,
                   f"{label} {decision.reason}: to {describe_destination(view.destination)}")
    yield from targets.reach(call, view.destination, label, _reason(view))
    return True


if night_frame not in targets.FRAMES:
    # Appended: frames that must come first (an intercepted target) insert themselves at 0;
    # the toolbox frame inserts itself right after this one.
    targets.FRAMES.append(night_frame)
