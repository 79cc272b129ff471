"""Call control dialled on the phone (USR-11, USR-12, USR-20).

* ``*69`` call return: call the last caller who called this user;
* ``*66`` last-number redial: call the last number this user dialled;
* ``#2``..``#9`` and ``#00``..``#99`` speed dial; ``*74``/``*75`` + slot + number program a
  slot (no number: clear it);
* ``*96`` + extension: intercom, the colleague's desk phone answers by itself.

Pure: the last calls come from the ``calls`` service through Command actions (the call log
is a store). Whatever number a code stands for is then routed exactly as if the user had
dialled it (``dial``), so the calling plan applies: a speed dial or a call return can
never reach a destination the user may not dial. The session records the number a code
stood for (``Command("session", "dialled")``) so a later redial finds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from esl_controller.routing import announcements, codes
from esl_controller.routing.actions import (
    Command,
    Hangup,
    Playback,
    PreAnswer,
    Ring,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult, Rang, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory, EnterpriseView, UserView

Dial = Callable[[CallContext], Script]  # route a number as if the user had dialled it
Busy = Callable[[str, str], bool] | None

INTERCOM_RING_SECONDS = 10  # an intercom call nobody's phone picks up stops quickly
NUMBER_WITHHELD = "tone_stream://%(200,200,480,620);loops=4"  # the last caller withheld it
_SPEED_DIAL = re.compile(r"#([2-9]|[0-9]{2})")
_PROGRAM = {codes.SPEED_DIAL_SHORT: 1, codes.SPEED_DIAL_LONG: 2}  # code -> slot digits
_RECALL = {codes.CALL_RETURN: "last-received", codes.REDIAL: "last-placed"}


def handles(dialled: str) -> bool:
    """Is ``dialled`` one of the call control codes (routed by :func:`call_control`)?"""
    if _SPEED_DIAL.fullmatch(dialled):
        return True
    if dialled in _RECALL or _callback_code(dialled):
        return True
    return dialled[:3] in _PROGRAM or dialled[:3] == codes.INTERCOM


def _callback_code(dialled: str) -> bool:
    rest = dialled.removeprefix(codes.CALLBACK_ON_BUSY)
    return dialled.startswith(codes.CALLBACK_ON_BUSY) and (rest == "" or rest.isdigit())


def call_control(
    ctx: CallContext,
    directory: Directory,
    enterprise: EnterpriseView,
    caller: UserView,
    trace: Trace,
    busy: Busy,
    dial: Dial,
) -> Script:
    dialled = ctx.destination
    trace.classification.kind = "call-control"
    match = _SPEED_DIAL.fullmatch(dialled)
    if match:
        return speed_dial(ctx, caller, match.group(1), trace, dial)
    if dialled in _RECALL:
        return recall(ctx, caller, _RECALL[dialled], trace, dial)
    if _callback_code(dialled):
        return callback_on_busy(caller, dialled, trace)
    if dialled[:3] in _PROGRAM:
        return program_speed_dial(caller, dialled, trace)
    return intercom(ctx, directory, enterprise, caller, dialled[3:], trace, busy)


# -- call return and redial (USR-11) ---------------------------------------------------------
def recall(ctx: CallContext, caller: UserView, which: str, trace: Trace, dial: Dial) -> Script:
    """``*69`` (``last-received``) or ``*66`` (``last-placed``)."""
    service = "call return" if which == "last-received" else "redial"
    ext = caller.extension
    result = yield Command("calls", which, (("extension", ext),))
    ok = isinstance(result, CommandResult) and result.ok
    value = result.value if isinstance(result, CommandResult) else ""
    if ok and value and value[0] not in "*#":
        if which == "last-received":
            trace.add(service, "last caller", f"{ext} calls back the last caller, {value}")
        else:
            trace.add(service, "last number", f"{ext} redials the last number dialled, {value}")
        yield Command("session", "dialled", (("number", value), ("how", service)))
        yield from _dial(dial, replace(ctx, destination=value), trace)
        return
    if value == "withheld":
        trace.add(service, "number withheld",
                  f"the last caller of {ext} withheld their number: it cannot be called back")
        yield from _announce(trace, NUMBER_WITHHELD, HangupCause.NORMAL_CLEARING)
        return
    what = "no call received" if which == "last-received" else "no number dialled"
    trace.add(service, "nothing to call", f"{ext} has {what} to call")
    yield from _announce(trace, announcements.UNALLOCATED, HangupCause.UNALLOCATED_NUMBER)


# -- speed dial (USR-12) ------------------------------------------------------------------------
def speed_dial(ctx: CallContext, caller: UserView, slot: str, trace: Trace, dial: Dial) -> Script:
    number = dict(caller.speed_dials).get(slot)
    if number is None:
        trace.add("speed dial", "empty slot", f"{caller.extension} has no speed dial in slot {slot}")
        yield from _announce(trace, announcements.UNALLOCATED, HangupCause.UNALLOCATED_NUMBER)
        return
    trace.add("speed dial", f"#{slot}", f"speed dial #{slot} of {caller.extension} is {number}")
    yield Command("session", "dialled", (("number", number), ("how", f"speed dial #{slot}")))
    yield from _dial(dial, replace(ctx, destination=number), trace)


def program_speed_dial(caller: UserView, dialled: str, trace: Trace) -> Script:
    code = dialled[:3]
    size = _PROGRAM[code]
    slot, number = dialled[3:3 + size], dialled[3 + size:].strip("#")
    ext = caller.extension
    if len(slot) != size or not slot.isdigit() or (size == 1 and slot in "01"):
        form = "a digit 2-9" if size == 1 else "two digits 00-99"
        trace.add("feature code", f"{code} refused", f"{code} needs {form} after the code")
        return codes._done(trace, False)
    if number:
        command = Command("calls", "speed-dial", (("slot", slot), ("number", number)))
        what = f"speed dial #{slot} set to {number}"
    else:
        command = Command("calls", "speed-dial-off", (("slot", slot),))
        what = f"speed dial #{slot} cleared"
    return codes._change(command, trace, code, ext, what)


# -- automatic callback on busy (USR-11) --------------------------------------------------------
def callback_on_busy(caller: UserView, dialled: str, trace: Trace) -> Script:
    """``*5`` (the colleague whose busy line the user just heard), ``*5`` + EXT, ``*55``."""
    ext = caller.extension
    if dialled == codes.CALLBACK_CANCEL:
        return codes._change(Command("callback", "cancel"), trace, dialled, ext,
                             "automatic callback cancelled")
    target = dialled.removeprefix(codes.CALLBACK_ON_BUSY)
    what = (f"call back when {target} is free" if target
            else "call back when the busy colleague of the last call is free")
    return codes._change(Command("callback", "request", (("target", target),)), trace,
                         codes.CALLBACK_ON_BUSY, ext, what)


# -- intercom (USR-20) ----------------------------------------------------------------------------
def intercom(
    ctx: CallContext,
    directory: Directory,
    enterprise: EnterpriseView,
    caller: UserView,
    extension: str,
    trace: Trace,
    busy: Busy,
) -> Script:
    """Ring the colleague's desk phones with auto-answer: two-way audio at once."""
    cls = trace.classification
    callee = directory.user(enterprise.id, extension) if extension else None
    if callee is None:
        trace.add("intercom", "no such colleague", f"{extension or '(none)'} is no extension")
        yield from _announce(trace, announcements.UNALLOCATED, HangupCause.UNALLOCATED_NUMBER)
        return
    if callee.id == caller.id:
        trace.add("intercom", "refused", f"{caller.extension} cannot intercom itself")
        yield from _announce(trace, announcements.SIT, HangupCause.CALL_REJECTED)
        return
    cls.kind, cls.target_user = "internal", callee.extension
    if callee.dnd:
        trace.add("intercom", "refused: do not disturb",
                  f"{callee.extension} is on do not disturb: no intercom")
        yield from _announce(trace, announcements.SIT, HangupCause.USER_BUSY)
        return
    if getattr(callee, "privacy", False):
        trace.add("intercom", "refused: privacy",
                  f"{callee.extension} has privacy on: no intercom")
        yield from _announce(trace, announcements.SIT, HangupCause.CALL_REJECTED)
        return
    if busy is not None and busy(str(enterprise.id), callee.extension):
        trace.add("intercom", "refused: on a call",
                  f"{callee.extension} is on a call: no intercom")
        yield from _announce(trace, announcements.SIT, HangupCause.USER_BUSY)
        return
    trace.add("intercom", "auto answer",
              f"{caller.extension} calls {callee.extension} ({callee.name}) on intercom: "
              f"the desk phone answers by itself, two-way audio")
    outcome = yield Ring(
        (UserDevices(callee.extension, enterprise.domain),),
        INTERCOM_RING_SECONDS,
        caller.extension,
        caller.name,
        answered_as=callee.extension,
        auto_answer=True,
    )
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        trace.add("intercom", "answered", f"{callee.extension}'s phone answered")
        return
    trace.add("intercom", outcome.result.value,
              f"{callee.extension}'s phone did not answer ({outcome.cause.value})")
    yield Hangup(outcome.cause)


def _dial(dial: Dial, ctx: CallContext, trace: Trace) -> Script:
    """Route ``ctx`` as dialled by the user, without telling again who the caller is."""
    before = len(trace.steps)
    script = dial(ctx)
    if len(trace.steps) > before and trace.steps[before] in trace.steps[:before]:
        del trace.steps[before]  # the origin step, already in the story
    return script


def _announce(trace: Trace, media: str, cause: HangupCause) -> Script:
    trace.classification.outcome = "refused"
    trace.add("announcement", "refused", f"caller hears an announcement, then {cause.value}")
    yield PreAnswer()
    yield Playback(media)
    yield Hangup(cause)
