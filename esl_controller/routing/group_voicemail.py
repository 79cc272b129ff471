"""Calls to a group voicemail box (CORE-4 business voicemail, OPT-4 department voicemail).

The caller hears the box's greeting and leaves a message, recorded and deposited by the
voicemail service exactly as for a user's box (``voicemail.take_message``); the service
e-mails it to the box's address and cc. In greeting-only mode the caller hears the greeting
and is then disconnected, or forwarded with ``targets.reach``: nothing is recorded.
"""

from __future__ import annotations

from esl_controller.routing import targets, voicemail
from esl_controller.routing.actions import Answer, Command, Hangup, Playback
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import CommandResult, RingResult
from esl_controller.routing.script import Script
from projections.group_voicemail_fold import KIND


@targets.register(KIND)
def group_voicemail(call: targets.TargetCall) -> Script:
    label = call.target.label()
    view = call.where.directory.group_voicemails.get(call.target.id)
    box = (("box", str(call.target.id)),)
    status = yield Command(voicemail.SERVICE, "status", (*box, ("reason", "group")))
    if view is None or not isinstance(status, CommandResult) or not status.ok:
        call.trace.add(KIND, "no mailbox", f"{label} has no voicemail box on this controller")
        yield from targets.unanswered(call, RingResult.FAILED,
                                      HangupCause.NORMAL_TEMPORARY_FAILURE)
        return
    info = voicemail.parse_value(status.value)
    greeting = info.get("greeting") or voicemail.GREETING_UNAVAILABLE
    kind = "recorded" if info.get("greeting") else "standard"
    if view.greeting_only is None:
        yield from voicemail.take_message(
            box, info, label, call.trace, call.presented_number, call.presented_name, greeting,
            ("greeting", f"the caller hears the {kind} greeting of {label}, then may leave a "
                         f"message (e-mailed to {_addresses(view.email, view.cc)})"))
        return
    yield Answer()
    then = view.greeting_only
    call.trace.add(KIND, "greeting only",
                   f"{label} takes no messages: the caller hears its {kind} greeting, then "
                   + ("is disconnected" if then == "hangup"
                      else f"is forwarded to {then.removeprefix('forward:')}"))
    yield Playback(greeting)
    if then == "hangup":
        call.trace.classification.outcome = "greeting"
        yield Hangup(HangupCause.NORMAL_CLEARING)
        return
    yield from targets.reach(call, then.removeprefix("forward:"),
                             f"after the greeting of {label}")


def _addresses(email: str, cc: str | None) -> str:
    return f"{email}, cc {cc}" if cc else email
