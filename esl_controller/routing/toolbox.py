"""Forwarding toolboxes (OPT-2) around a target's script.

Before the script (a frame, after the night service): reject anonymous callers, forward
always, selective forwarding (schedule open and caller matching). After the script could not
connect the call (a fallback of ``targets.unanswered``): busy, no answer, not reachable.
The ``night`` rule is applied by the night service (routing/night.py).

``toolbox_no_answer_seconds(call)`` tells a target's script how long to ring before its
no-answer forwarding takes over.
"""

from __future__ import annotations

import re
from collections.abc import Generator

from esl_controller.domain.schedules import decide
from esl_controller.routing import announcements, night, targets
from esl_controller.routing.actions import Action, Hangup, Playback, PreAnswer
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import Outcome, RingResult
from projections.night_fold import ToolboxRule, ToolboxView

SERVICE = "toolbox"
REASONS = {  # SIP Diversion reasons (RFC 5806)
    "always": "unconditional",
    "selective": "time-of-day",
    "busy": "user-busy",
    "no-answer": "no-answer",
    "not-reachable": "unavailable",
}
AFTER_RULES = {
    RingResult.BUSY: "busy",
    RingResult.NO_ANSWER: "no-answer",
    RingResult.NOT_REACHABLE: "not-reachable",
}


def _toolbox(call: targets.TargetCall) -> ToolboxView | None:
    return call.where.directory.toolbox_of_target(call.target.id)


def toolbox_no_answer_seconds(call: targets.TargetCall) -> int | None:
    """Seconds the target should ring before its toolbox's no-answer rule takes the call;
    None when the target has no toolbox with a no-answer rule."""
    toolbox = _toolbox(call)
    rule = toolbox.rule("no-answer") if toolbox is not None else None
    return None if rule is None else rule.after_seconds


def caller_matches(call: targets.TargetCall, pattern: str) -> bool:
    """``anonymous``, or digits where X/. is one digit and * any rest (as routing/criteria)."""
    if pattern == "anonymous":
        return call.anonymous
    regex = "".join(
        "\\d" if ch in "X." else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return bool(re.fullmatch(regex, call.ctx.caller_number.strip()))


def _send(call: targets.TargetCall, toolbox: ToolboxView, rule: ToolboxRule, state: str,
          words: str) -> Generator[Action, Outcome, None]:
    label = f"toolbox {toolbox.name!r} of {call.target.label()}"
    call.trace.add(SERVICE, state,
                   f"{label} {words}: to {night.describe_destination(rule.destination)}")
    yield from targets.reach(call, rule.destination, f"{label} ({rule.kind})",
                             REASONS[rule.kind])


def toolbox_frame(call: targets.TargetCall) -> Generator[Action, Outcome, bool]:
    """Reject anonymous, forward always, selective forwarding: before the target's script."""
    toolbox = _toolbox(call)
    if toolbox is None:
        return False
    label = f"toolbox {toolbox.name!r} of {call.target.label()}"
    if toolbox.reject_anonymous and call.anonymous:
        if call.internal:
            call.trace.add(SERVICE, "internal caller",
                           f"{label} rejects anonymous callers, but the caller is inside the "
                           "enterprise: accepted")
        else:
            call.trace.add(SERVICE, "anonymous rejected",
                           f"{label} rejects calls without a number: the caller hears an "
                           "announcement, then CALL_REJECTED")
            yield PreAnswer()
            yield Playback(announcements.ANONYMOUS_REJECTED)
            yield Hangup(HangupCause.CALL_REJECTED)
            return True
    always = toolbox.rule("always")
    if always is not None:
        yield from _send(call, toolbox, always, "forward always", "forwards every call")
        return True
    selective = toolbox.rule("selective")
    if selective is None:
        return False
    name = selective.schedule or ""
    schedule = call.where.directory.schedule(call.enterprise.id, name)
    if schedule is None or call.where.now is None:
        call.trace.add(SERVICE, "selective skipped",
                       f"{label}: schedule {name!r} is unknown or no time is known")
        return False
    decision = decide(schedule.hours, schedule.holidays, call.enterprise.timezone,
                      call.where.now)
    if not decision.open:
        call.trace.add(SERVICE, "selective not now",
                       f"{label}: selective forwarding not now, schedule {schedule.name!r} is "
                       f"{decision.reason}")
        return False
    if selective.from_pattern and not caller_matches(call, selective.from_pattern):
        call.trace.add(SERVICE, "selective other caller",
                       f"{label}: caller {call.ctx.caller_number or 'anonymous'} does not "
                       f"match {selective.from_pattern}")
        return False
    who = f" and the caller matches {selective.from_pattern}" if selective.from_pattern else ""
    yield from _send(call, toolbox, selective, "forward selective",
                     f"forwards selectively (schedule {schedule.name!r} is open{who})")
    return True


def toolbox_fallback(call: targets.TargetCall, result: RingResult
                     ) -> Generator[Action, Outcome, bool]:
    """Busy, no-answer or not-reachable forwarding once the target could not connect."""
    toolbox = _toolbox(call)
    kind = AFTER_RULES.get(result)
    rule = toolbox.rule(kind) if toolbox is not None and kind is not None else None
    if toolbox is None or rule is None:
        return False
    words = {"busy": "forwards when busy", "no-answer": "forwards when not answered",
             "not-reachable": "forwards when not reachable"}[rule.kind]
    yield from _send(call, toolbox, rule, f"forward {rule.kind}", words)
    return True


if toolbox_frame not in targets.FRAMES:
    at = targets.FRAMES.index(night.night_frame) + 1 if night.night_frame in targets.FRAMES else 0
    targets.FRAMES.insert(at, toolbox_frame)  # right after the night service
if toolbox_fallback not in targets.FALLBACKS:
    targets.FALLBACKS.append(toolbox_fallback)
