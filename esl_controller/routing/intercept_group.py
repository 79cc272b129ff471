"""Intercept groups (issue 4 item 5): while a group is on, every call to its members (users
and targets such as hunt groups; a group without members covers the whole enterprise) is
intercepted: an announcement then CALL_REJECTED, or sent on to the group's destination.

For users it is the chain's ``intercept`` step (before the user's own intercept, USR-15);
for targets it is a frame that runs before the target's script.
"""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.routing import announcements, screening
from esl_controller.routing.actions import Action, Hangup, Playback, PreAnswer
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome
from esl_controller.routing.targets import FRAMES, Source, TargetCall, reach, source_where
from projections.call_services_fold import InterceptGroupView

Taken = Generator[Action, Outcome, bool]


def _intercept(source: Source, group: InterceptGroupView, what: str) -> Taken:
    scope = "its members" if group.members else "the whole enterprise"
    if group.destination == "announcement":
        source.trace.add("intercept group", "announcement",
                         f"intercept group {group.name} ({scope}) intercepts every call to "
                         f"{what}: the caller hears an announcement, then CALL_REJECTED")
        yield PreAnswer()
        yield Playback(announcements.INTERCEPTED)
        yield Hangup(HangupCause.CALL_REJECTED)
        return True
    source.trace.add("intercept group", "redirect",
                     f"intercept group {group.name} ({scope}) intercepts every call to {what} "
                     f"to {group.destination}")
    yield from reach(source, group.destination, f"intercept group {group.name}")
    return True


def user_intercept(call: IncomingCall) -> Taken:
    """The chain's intercept step: the intercept group first, then the user's own."""
    directory = source_where(call).directory
    group = directory.intercepting(call.enterprise.id, call.user.extension)
    if group is not None and call.user.extension != group.destination.removeprefix("vm:"):
        return (yield from _intercept(call, group, call.user.extension))
    return (yield from screening.intercept(call))


def target_frame(call: TargetCall) -> Taken:
    if call.target.extension is None:
        return False
    group = call.where.directory.intercepting(call.enterprise.id, call.target.extension)
    if group is None or group.destination == call.target.extension:
        return False
    return (yield from _intercept(call, group, call.target.label()))


FRAMES.insert(0, target_frame)  # before night service: an intercepted target takes no calls
