"""Hot desking (USR-8) on the phone: ``*31`` logs in, ``*32`` logs out, and the calls a
hot-desk phone places.

A hot-desk phone has its own SIP account. With a user logged in, every call it places is
that user's call (their identity, calling plan and feature codes); with nobody logged in it
can reach extensions and emergency numbers only. ``*31`` (optionally followed by the
extension) asks for the extension, then the PIN (three tries per call; the service locks
hot-desk login for the user after three wrong PINs in a row). ``*32`` on a hot-desk phone
logs out whoever is logged in there; on a user's own phone, it logs that user out of the
hot-desk phone they are on. PINs go to the ``hotdesk`` service only, never to the trace.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace

from esl_controller.domain.numbers import EMERGENCY_NUMBERS
from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Answer,
    CollectDigits,
    Command,
    Hangup,
    Playback,
    PreAnswer,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.codes import HOTDESK_LOGIN, HOTDESK_LOGOUT
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult, Digits, Outcome
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory, EnterpriseView, HotDeskView, UserView

SERVICE = "hotdesk"
LOGIN, LOGOUT = HOTDESK_LOGIN, HOTDESK_LOGOUT
PIN_TRIES = 3
# FreeSWITCH's stock sounds (relative to sound_prefix), as the voicemail portal uses them.
ENTER_EXTENSION = "voicemail/vm-enter_id.wav"
ENTER_PIN = "voicemail/vm-enter_pass.wav"
WRONG_PIN = "voicemail/vm-fail_auth.wav"
LOCKED = "voicemail/vm-abort.wav"

Origin = Script | tuple[CallContext, UserView] | None


def from_device(
    ctx: CallContext, directory: Directory, enterprise: EnterpriseView, trace: Trace
) -> Origin:
    """A call placed on ``ctx.auth_user`` if that is a hot-desk phone (else None): a login
    or logout script, a refusal, or the call as (context, user) to route on as usual."""
    desk = directory.hotdesk(enterprise.id, ctx.auth_user or "")
    if desk is None:
        return None
    dialled = ctx.destination
    user = directory.users.get(desk.user_id) if desk.user_id else None
    trace.classification.enterprise_id = str(enterprise.id)
    if dialled.startswith(LOGIN) or dialled == LOGOUT:
        trace.add("origin", "hot desk", f"{desk.name} is a hot-desk phone")
        if dialled == LOGOUT:
            return logout(trace, desk.name)
        return login(trace, desk, dialled[len(LOGIN):].strip("#"))
    if user is not None:
        trace.add("origin", "hot desk",
                  f"{desk.name} is a hot-desk phone where {user.extension} ({user.name}) is "
                  "logged in: the call is theirs")
        return replace(ctx, auth_user=user.extension), user
    trace.add("origin", "hot desk",
              f"{desk.name} is a hot-desk phone with nobody logged in: it reaches extensions "
              "and emergency numbers only")
    guest = directory.hotdesk_account(enterprise.id, desk.name)
    assert guest is not None
    if dialled in EMERGENCY_NUMBERS or directory.user(enterprise.id, dialled) is not None:
        return ctx, replace(guest, sip_a1_hash=None)
    trace.add("hot desk", "login needed",
              f"{dialled} cannot be called before a user logs in ({LOGIN}, extension, PIN)")
    return _refused(trace, HangupCause.OUTGOING_CALL_BARRED)


def feature_code(ctx: CallContext, caller: UserView, trace: Trace) -> Script:
    """``*31`` / ``*32`` dialled on a user's own phone (not a hot-desk phone)."""
    if ctx.destination == LOGOUT:
        return logout(trace, None, caller.extension)
    code = ctx.destination[:3]
    why = (f"{LOGIN} works on hot-desk phones only" if code == LOGIN
           else f"{LOGOUT} takes no digits after it")
    trace.add("feature code", f"{code} refused", f"{caller.extension}: {why}")
    return _done(trace, False)


def login(trace: Trace, desk: HotDeskView, extension: str) -> Script:
    yield Answer()
    if not extension:
        extension = yield from _digits(ENTER_EXTENSION, 2, 6)
    if not extension:
        trace.add("hot desk", "no extension", f"no extension was entered on {desk.name}")
        yield from _done(trace, False)
        return
    for attempt in range(1, PIN_TRIES + 1):
        pin = yield from _digits(ENTER_PIN, 4, 8)
        outcome = yield Command(SERVICE, "login", (("extension", extension), ("pin", pin)))
        result = outcome if isinstance(outcome, CommandResult) else CommandResult(False, "")
        if result.ok:
            moved = result.value.partition("moved=")[2]
            also = f"; logged out of {moved}" if moved else ""
            trace.add("hot desk", "logged in",
                      f"{extension} logged in on hot-desk phone {desk.name}{also}")
            yield from _done(trace, True, answered=True)
            return
        if result.value == "locked":
            trace.add("hot desk", "locked",
                      f"hot-desk login of {extension} is locked after {PIN_TRIES} wrong PINs "
                      "in a row")
            yield Playback(LOCKED)
            yield from _end(trace, False)
            return
        if result.value in ("no-pin", "not a hot-desk phone", "") or result.value.startswith(
                "busy"):
            why = {"no-pin": f"{extension} has no PIN"}.get(result.value, result.value or
                                                              "no answer")
            trace.add("hot desk", "login refused", f"login of {extension} on {desk.name}: {why}")
            yield from _done(trace, False, answered=True)
            return
        trace.add("hot desk", "wrong PIN",
                  f"wrong PIN or extension for {extension} on {desk.name} (try {attempt})")
        yield Playback(WRONG_PIN)
    yield from _end(trace, False)


def logout(trace: Trace, phone: str | None, extension: str | None = None) -> Script:
    outcome = yield Command(SERVICE, "logout")
    result = outcome if isinstance(outcome, CommandResult) else CommandResult(False, "")
    where = f"hot-desk phone {phone}" if phone else f"the hot-desk phone of {extension}"
    if result.ok:
        who = ", ".join(e.replace("@", " from ") for e in result.value.split(",") if e)
        trace.add("hot desk", "logged out", f"logged out: {who}")
    else:
        trace.add("hot desk", f"{LOGOUT} refused", f"nobody to log out on {where}")
    yield from _done(trace, result.ok)


def _digits(prompt: str, low: int, high: int) -> Generator[Action, Outcome, str]:
    outcome = yield CollectDigits(prompt, low, high, timeout_seconds=10, terminators="#")
    return outcome.value if isinstance(outcome, Digits) else ""


def _done(trace: Trace, ok: bool, answered: bool = False) -> Generator[Action, Outcome, None]:
    if not answered:
        yield Answer()
    yield Playback(announcements.CONFIRM if ok else announcements.SIT)
    yield from _end(trace, ok)


def _end(trace: Trace, ok: bool) -> Generator[Action, Outcome, None]:
    trace.classification.outcome = "feature-code" if ok else "refused"
    yield Hangup(HangupCause.NORMAL_CLEARING)


def _refused(trace: Trace, cause: HangupCause) -> Script:
    trace.classification.kind = "outbound"
    trace.add("announcement", "refused", f"caller hears an announcement, then {cause.value}")
    yield PreAnswer()
    yield Playback(announcements.BARRED)
    yield Hangup(cause)
