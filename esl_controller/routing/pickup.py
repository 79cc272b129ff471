"""Call pickup (USR-13) and directed pickup with barge-in, as feature codes.

- ``*8``: answer a call ringing a colleague of the caller's pickup group;
- ``*97`` + EXT: answer the call ringing colleague EXT (directed pickup);
- ``*33`` + EXT: join the ANSWERED call of colleague EXT (barge-in), a warning tone first.

Routing decides who may take what (pickup groups, privacy USR-19, barge-in exemption); the
``pickup`` service knows which channel rings whom and claims one, so two colleagues never
take the same call. FreeSWITCH then does the rest: ``intercept <uuid>`` bridges the picker
to the ringing call's caller and hangs up the ringing leg; ``three_way <uuid>`` joins an
answered call.
"""

from __future__ import annotations

from esl_controller.routing import announcements
from esl_controller.routing.actions import Answer, Command, Execute, Hangup, Playback, PreAnswer
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult, Executed
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory, EnterpriseView, UserView

GROUP_PICKUP = "*8"
DIRECTED_PICKUP = "*97"
BARGE_IN = "*33"
WARNING_TONE = "tone_stream://%(300,200,1400);loops=2"  # the parties hear it as the barge starts
CONNECTED = (("hangup_after_bridge", "true"),)


def handles(dialled: str) -> bool:
    rest = dialled[3:]
    return dialled == GROUP_PICKUP or (
        dialled[:3] in (DIRECTED_PICKUP, BARGE_IN) and rest.isdigit())


def feature_code(ctx: CallContext, directory: Directory, enterprise: EnterpriseView,
                 caller: UserView, trace: Trace) -> Script:
    dialled = ctx.destination
    trace.classification.kind = "internal"
    if dialled == GROUP_PICKUP:
        return group_pickup(directory, enterprise, caller, trace)
    if dialled.startswith(DIRECTED_PICKUP):
        return directed_pickup(directory, enterprise, caller, dialled[3:], trace)
    return barge_in(directory, enterprise, caller, dialled[3:], trace)


def group_pickup(directory: Directory, enterprise: EnterpriseView, caller: UserView,
                 trace: Trace) -> Script:
    group = directory.pickup_group_of(enterprise.id, caller.extension)
    if group is None:
        trace.add("pickup", "no pickup group", f"{caller.extension} is in no pickup group")
        yield from _failed(trace)
        return
    others = [m for m in group.members if m != caller.extension]
    hidden = [m for m in others if _private(directory, enterprise, m)]
    if hidden:
        trace.add("pickup", "private skipped",
                  f"{', '.join(hidden)} private: their calls are not picked up by others")
    wanted = [m for m in others if m not in hidden]
    trace.add("pickup", "group pickup",
              f"{caller.extension} picks up a call ringing pickup group {group.name} "
              f"({', '.join(wanted) or 'nobody else'})")
    yield from _take(enterprise, caller, wanted, trace)


def directed_pickup(directory: Directory, enterprise: EnterpriseView, caller: UserView,
                    extension: str, trace: Trace) -> Script:
    colleague = directory.user(enterprise.id, extension)
    if colleague is None or colleague.extension == caller.extension:
        trace.add("pickup", "no such colleague", f"{extension} is no colleague of "
                  f"{caller.extension}")
        yield from _failed(trace)
        return
    if colleague.privacy:
        trace.add("pickup", "private", f"{extension} is private: calls ringing there are not "
                  "picked up by others")
        yield from _failed(trace)
        return
    trace.add("pickup", "directed pickup",
              f"{caller.extension} picks up the call ringing {extension} ({colleague.name})")
    yield from _take(enterprise, caller, [extension], trace)


def _take(enterprise: EnterpriseView, caller: UserView, extensions: list[str],
          trace: Trace) -> Script:
    outcome = yield Command("pickup", "take", (
        ("enterprise", str(enterprise.id)), ("extensions", ",".join(extensions)),
        ("picker", caller.extension)))
    if not (isinstance(outcome, CommandResult) and outcome.ok):
        trace.add("pickup", "nothing ringing", "no call is ringing there now")
        yield from _failed(trace)
        return
    channel, rang = outcome.value.split(" ", 1)
    trace.add("pickup", "intercept", f"{caller.extension} takes the call ringing {rang}")
    trace.classification.outcome = "picked-up"
    result = yield Execute("intercept", channel, CONNECTED, answered_as=caller.extension)
    if isinstance(result, Executed) and result.bridged:
        trace.add("pickup", "connected", f"{caller.extension} is connected to the caller")
        return
    trace.add("pickup", "gone", "the call stopped ringing before it was picked up")
    trace.classification.outcome = None
    yield from _failed(trace)


def barge_in(directory: Directory, enterprise: EnterpriseView, caller: UserView,
             extension: str, trace: Trace) -> Script:
    colleague = directory.user(enterprise.id, extension)
    if colleague is None or colleague.extension == caller.extension:
        trace.add("barge-in", "no such colleague",
                  f"{extension} is no colleague of {caller.extension}")
        yield from _failed(trace)
        return
    if directory.barge_in_exempt(enterprise.id, extension) or colleague.privacy:
        why = "barge-in exempt" if not colleague.privacy else "private"
        trace.add("barge-in", "exempt", f"{extension} is {why}: nobody joins their calls")
        yield from _failed(trace)
        return
    outcome = yield Command("pickup", "answered", (
        ("enterprise", str(enterprise.id)), ("extension", extension)))
    if not (isinstance(outcome, CommandResult) and outcome.ok):
        trace.add("barge-in", "not on a call", f"{extension} is on no call now")
        yield from _failed(trace)
        return
    channel = outcome.value
    tone = directory.barge_in_tone(enterprise.id)
    trace.add("barge-in", "joining",
              f"{caller.extension} joins the call of {extension} ({colleague.name}); "
              + ("the parties hear a warning tone first" if tone else "no warning tone"))
    yield Answer()
    if tone:
        yield Command("pickup", "warn", (("target", channel), ("tone", WARNING_TONE)))
    trace.classification.outcome = "barged-in"
    yield Execute("three_way", channel)
    trace.add("barge-in", "left", f"{caller.extension} left the call")


def _private(directory: Directory, enterprise: EnterpriseView, extension: str) -> bool:
    user = directory.user(enterprise.id, extension)
    return user is None or user.privacy


def _failed(trace: Trace) -> Script:
    trace.classification.outcome = "refused"
    yield PreAnswer()
    yield Playback(announcements.SIT)
    yield Hangup(HangupCause.NORMAL_CLEARING)
