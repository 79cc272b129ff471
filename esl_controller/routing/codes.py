"""Feature access codes dialled on the phone (the README publishes this table).

A code changes one of the caller's own services through the ``settings`` service (the same
rules as the CLI: e.g. no forwarding to premium numbers), then the caller hears a short
confirmation tone, or the SIT tone when the change was refused.
"""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    Hangup,
    Playback,
    PreAnswer,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult, Outcome
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import EnterpriseView, UserView

# code -> (command, fixed arguments, takes a destination after the code, what it does)
CODES: dict[str, tuple[str, tuple[tuple[str, str], ...], bool, str]] = {
    "*72": ("forward", (("kind", "always"),), True, "forward all calls to DEST"),
    "*73": ("forward-off", (("kind", "always"),), False, "cancel forward all calls"),
    "*90": ("forward", (("kind", "busy"),), True, "forward when busy to DEST"),
    "*91": ("forward-off", (("kind", "busy"),), False, "cancel forward when busy"),
    "*92": ("forward", (("kind", "no-answer"),), True, "forward when not answered to DEST"),
    "*93": ("forward-off", (("kind", "no-answer"),), False, "cancel forward when not answered"),
    "*94": ("forward", (("kind", "not-reachable"),), True, "forward when not reachable to DEST"),
    "*95": ("forward-off", (("kind", "not-reachable"),), False,
            "cancel forward when not reachable"),
    "*78": ("dnd", (("on", "yes"),), False, "do not disturb on"),
    "*79": ("dnd", (("on", "no"),), False, "do not disturb off"),
    "*77": ("anonymous-rejection", (("on", "yes"),), False, "reject anonymous calls"),
    "*87": ("anonymous-rejection", (("on", "no"),), False, "accept anonymous calls again"),
    "*43": ("call-waiting", (("on", "yes"),), False, "call waiting on"),
    "*44": ("call-waiting", (("on", "no"),), False, "call waiting off"),
}
CLIR_PER_CALL = "*67"  # *67 + number: this call without the caller's number
VOICEMAIL = "*98"  # the voicemail portal
HOTDESK_LOGIN = "*31"  # on a hot-desk phone: *31, extension, PIN (routing.hotdesk)
HOTDESK_LOGOUT = "*32"  # log out of the hot-desk phone
# Call control (USR-11, USR-12, USR-20): routed by esl_controller.routing.call_control.
CALL_RETURN = "*69"  # call the last caller who called this user
REDIAL = "*66"  # call the last number this user dialled
SPEED_DIAL_SHORT = "*74"  # *74 + slot 2-9 + number: program (no number: clear the slot)
SPEED_DIAL_LONG = "*75"  # *75 + slot 00-99 + number: program (no number: clear the slot)
INTERCOM = "*96"  # *96 + extension: the colleague's desk phone answers by itself
SPEED_DIAL_PREFIX = "#"  # #2..#9 and #00..#99 dial a speed dial slot
CALLBACK_ON_BUSY = "*5"  # *5: call me back when the busy colleague is free; *5 + EXT
CALLBACK_CANCEL = "*55"  # cancel the pending automatic callback
HUNT_SIGN_OUT = "*35"  # *35 + hunt group extension: sign out of the group (CORE-2)
HUNT_SIGN_IN = "*36"  # *36 + hunt group extension: sign in to it again
# Manager/assistant (MA-1), routed by esl_controller.routing.assistant: *47 / *48 screening
# on / off (the manager), *49 + manager extension + number: call on the manager's behalf.
# (*57-*59 would collide with *5 + extension, callback on busy.)


def feature_code(
    ctx: CallContext, enterprise: EnterpriseView, caller: UserView, trace: Trace
) -> Script:
    dialled = ctx.destination
    if dialled == VOICEMAIL:
        from esl_controller.routing.voicemail import portal

        trace.add("feature code", VOICEMAIL, f"{caller.extension} calls the voicemail portal")
        return portal(ctx, enterprise, caller, trace)
    if dialled[:3] in (HOTDESK_LOGIN, HOTDESK_LOGOUT):  # hot desking (USR-8)
        from esl_controller.routing import hotdesk

        return hotdesk.feature_code(ctx, caller, trace)
    if dialled[:3] in (HUNT_SIGN_OUT, HUNT_SIGN_IN):  # hunt group sign out / in (CORE-2)
        from esl_controller.routing import hunt_group

        return hunt_group.feature_code(ctx, caller, trace)
    code = dialled[:3]
    entry = CODES.get(code)
    if entry is None:
        trace.add("feature code", "unknown", f"{dialled} is no feature code")
        trace.classification.kind = "unknown"
        return _unknown(trace)
    command, fixed, needs_destination, meaning = entry
    destination = dialled[3:].strip("#")
    if needs_destination and not destination:
        trace.add("feature code", code, f"{code} needs a destination after the code")
        return _done(trace, False)
    if not needs_destination and destination:
        trace.add("feature code", code, f"{code} takes no digits after it")
        return _done(trace, False)
    args = (*fixed, ("destination", destination)) if needs_destination else fixed
    what = meaning.replace("DEST", destination)
    return _change(Command("settings", command, args), trace, code, caller.extension, what)


def _change(command: Command, trace: Trace, code: str, extension: str, what: str) -> Script:
    outcome = yield command
    ok = isinstance(outcome, CommandResult) and outcome.ok
    detail = outcome.value if isinstance(outcome, CommandResult) else "no answer"
    if ok:
        trace.add("feature code", code, f"{extension}: {what}")
    else:
        trace.add("feature code", f"{code} refused", f"{extension}: {what} refused: {detail}")
    yield from _done(trace, ok)


def _unknown(trace: Trace) -> Script:
    trace.add("announcement", "refused",
              "caller hears an announcement, then UNALLOCATED_NUMBER")
    yield PreAnswer()
    yield Playback(announcements.UNALLOCATED)
    yield Hangup(HangupCause.UNALLOCATED_NUMBER)


def _done(trace: Trace, ok: bool) -> Generator[Action, Outcome, None]:
    trace.classification.outcome = "feature-code" if ok else "refused"
    yield Answer()
    yield Playback(announcements.CONFIRM if ok else announcements.SIT)
    yield Hangup(HangupCause.NORMAL_CLEARING)
