"""Calling plans and call capacity in routing (GRP-1, GRP-2).

- ``judge``: the outgoing plan's verdict on a destination, written to the trace;
- ``pin_first``: the enhanced plan: the caller enters their PIN (checked by the
  ``calling-plan`` service against the scrypt hash); three wrong PINs and the call is refused;
- ``entry_refusal``: a call reaching a user or a target: the caller's plan must allow
  internal calls, the callee's incoming plan must let the caller in;
- ``guard``: a new call takes a place in its enterprise's and departments' capacity (the
  ``capacity`` service counts the calls this controller carries); a full pool: busy.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING
from uuid import UUID

import phonenumbers

from esl_controller.domain.calling_plan import OutgoingPlan, incoming_refusal, plan_class
from esl_controller.domain.capacity import pool_key
from esl_controller.domain.numbers import EMERGENCY_NUMBERS, NumberClass, try_normalise
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
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult, Digits, Outcome
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory, EnterpriseView, UserView

if TYPE_CHECKING:
    from esl_controller.routing.where import Where

PIN_SERVICE = "calling-plan"
CAPACITY_SERVICE = "capacity"
ENTER_PIN = "voicemail/vm-enter_pass.wav"
WRONG_PIN = "voicemail/vm-fail_auth.wav"
MAX_PIN_TRIES = 3
# Reorder (congestion) tone after the SIT: "all lines of this company are in use".
CONGESTION = announcements.SIT.rstrip(";") + ";%(250,250,480,620);loops=4"


def home_number(enterprise: EnterpriseView, caller: UserView | None) -> str | None:
    """The number whose area code makes a destination ``local``."""
    if caller is not None and caller.number:
        return caller.number
    return enterprise.numbers[0] if enterprise.numbers else None


def plan_of(directory: Directory | None, enterprise: EnterpriseView,
            extension: str | None) -> OutgoingPlan:
    if directory is None:
        return OutgoingPlan()
    return directory.calling_plan_for(enterprise.id, extension)


def permitted(directory: Directory | None, enterprise: EnterpriseView, user: UserView | None,
              e164: str, klass: NumberClass) -> bool:
    """May a diversion (forwarding, a target's destination) go to ``e164``? Only when the plan
    allows it outright: nobody is there to enter a PIN."""
    plan = plan_of(directory, enterprise, user.extension if user else None)
    return plan.verdict(plan_class(klass, e164, home_number(enterprise, user))) == "allowed"


def judge(plan: OutgoingPlan, klass: NumberClass, e164: str, enterprise: EnterpriseView,
          caller: UserView | None, shown: str, trace: Trace) -> str:
    """``allowed``, ``pin`` or ``blocked`` (the last two in the trace)."""
    pclass = plan_class(klass, e164, home_number(enterprise, caller))
    verdict = plan.verdict(pclass)
    where = "" if plan == OutgoingPlan() else f" ({plan.source})"
    article = "an" if pclass[0] in "aeiou" else "a"
    if verdict == "blocked":
        trace.add("calling plan", f"{pclass} blocked",
                  f"{shown} is {article} {pclass} number, which the outgoing calling plan "
                  f"blocks{where}")
    elif verdict == "pin":
        trace.add("calling plan", f"{pclass} needs PIN",
                  f"{shown} is {article} {pclass} number, which the outgoing calling plan "
                  f"allows only with the caller's PIN{where}")
    return verdict


def pin_first(enterprise: EnterpriseView, caller: UserView, trace: Trace,
              then: Script, step: tuple[str, str, str] | None = None) -> Script:
    """The enhanced plan: the caller's PIN first, then ``step`` in the trace and ``then``
    (the call going out)."""
    if not caller.has_pin:
        trace.add("calling plan", "no PIN", f"{caller.extension} has no PIN: refused")
        then.close()
        yield from _barred(trace)
        return
    yield Answer()
    for attempt in range(1, MAX_PIN_TRIES + 1):
        outcome = yield CollectDigits(ENTER_PIN, 4, 8, timeout_seconds=10, terminators="#")
        digits = outcome.value if isinstance(outcome, Digits) else ""
        checked = yield Command(PIN_SERVICE, "check-pin", (
            ("enterprise", str(enterprise.id)), ("extension", caller.extension),
            ("pin", digits)))
        if isinstance(checked, CommandResult) and checked.ok:
            trace.add("calling plan", "PIN accepted",
                      f"{caller.extension} entered the right PIN (try {attempt})")
            if step is not None:
                trace.add(*step)
            yield from then
            return
        if isinstance(checked, CommandResult) and checked.value == "locked":
            trace.add("calling plan", "PIN locked",
                      f"too many wrong PINs of {caller.extension} lately: refused")
            break
        trace.add("calling plan", "wrong PIN",
                  f"{caller.extension} entered a wrong PIN (try {attempt} of {MAX_PIN_TRIES})")
        if attempt < MAX_PIN_TRIES:
            yield Playback(WRONG_PIN)
    else:
        trace.add("calling plan", "refused", f"{MAX_PIN_TRIES} wrong PINs: the call is refused")
    then.close()
    yield Playback(announcements.BARRED)
    yield Hangup(HangupCause.OUTGOING_CALL_BARRED)


def entry_refusal(ctx: CallContext, where: Where, enterprise: EnterpriseView,
                  callee: UserView | None, caller: UserView | None, colleague: bool,
                  trace: Trace) -> Script | None:
    """A refusal when the caller's plan bars internal calls or the callee's incoming plan
    bars the caller; None: the call goes on."""
    directory = where.directory
    if caller is not None and colleague:
        plan = directory.calling_plan_for(enterprise.id, caller.extension)
        if plan.verdict("internal") != "allowed":
            trace.classification.kind, trace.classification.target_user = "internal", None
            trace.add("calling plan", "internal blocked",
                      f"the outgoing calling plan of {caller.extension} does not allow internal "
                      f"calls ({plan.source})")
            return _barred(trace)
    extension = callee.extension if callee is not None else None
    mode, source = directory.incoming_plan_for(enterprise.id, extension)
    if mode == "all":
        return None
    number = ctx.caller_number.strip()
    anonymous = ctx.privacy or number.lower() in ("", "anonymous", "unknown", "private",
                                                  "0000000000")
    if caller is not None and not colleague:  # a user of another enterprise on the exchange
        number = caller.number or number
    e164 = None if anonymous else try_normalise(number, "NL")
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164)) if e164 else None
    why = incoming_refusal(mode, colleague, anonymous, region, enterprise.country)
    if why is None:
        return None
    who = f"{callee.extension}" if callee is not None else "the enterprise"
    trace.classification.kind = "internal" if caller is not None else "inbound"
    trace.classification.target_user = None  # never reached them: no missed call
    trace.add("calling plan", f"incoming {mode}",
              f"the incoming calling plan of {who} ({source}) refuses "
              f"{number or 'an anonymous caller'}: {why}")
    return _rejected(trace)


def _barred(trace: Trace) -> Script:
    trace.add("announcement", "refused",
              f"caller hears an announcement, then {HangupCause.OUTGOING_CALL_BARRED.value}")
    yield PreAnswer()
    yield Playback(announcements.BARRED)
    yield Hangup(HangupCause.OUTGOING_CALL_BARRED)


def _rejected(trace: Trace) -> Script:
    trace.add("announcement", "refused",
              f"caller hears an announcement, then {HangupCause.CALL_REJECTED.value}")
    yield PreAnswer()
    yield Playback(announcements.SIT)
    yield Hangup(HangupCause.CALL_REJECTED)


# -- call capacity (GRP-2) ---------------------------------------------------------------------
def pools(directory: Directory, trace: Trace) -> list[tuple[str, int, str]]:
    """(pool key, limit, label) of every pool with a limit that this call takes a place in:
    its enterprise, the caller's department and the called user's department."""
    cls = trace.classification
    if cls.enterprise_id is None or cls.kind == "unknown":
        return []
    try:
        enterprise = directory.enterprises.get(UUID(cls.enterprise_id))
    except ValueError:
        return []
    if enterprise is None:
        return []
    found: list[tuple[str, int, str]] = []
    view = directory.capacity_of("enterprise", enterprise.id)
    if view is not None and view.limit is not None:
        found.append((pool_key("enterprise", enterprise.id), view.limit,
                      f"enterprise {enterprise.name}"))
    for extension in dict.fromkeys(e for e in (cls.caller_user, cls.target_user) if e):
        department = directory.department_of(enterprise.id, extension)
        if department is None:
            continue
        view = directory.capacity_of("department", department.id)
        key = pool_key("department", department.id)
        if view is not None and view.limit is not None and key not in {p[0] for p in found}:
            found.append((key, view.limit, f"department {department.name}"))
    return found


def guard(script: Script, ctx: CallContext, where: Where, trace: Trace) -> Script:
    """``script``, once the call has a place in every pool it belongs to (else busy)."""
    if ctx.destination in EMERGENCY_NUMBERS:
        return script  # an emergency call is never refused for capacity
    limited = pools(where.directory, trace)
    if not limited:
        return script
    return _admitted(script, limited, trace)


def _admitted(script: Script, limited: list[tuple[str, int, str]],
              trace: Trace) -> Generator[Action, Outcome, None]:
    args = tuple((f"pool.{key}", f"{limit}|{label}") for key, limit, label in limited)
    enterprise = ("enterprise", trace.classification.enterprise_id or "")
    result = yield Command(CAPACITY_SERVICE, "admit", (enterprise, *args))
    if isinstance(result, CommandResult) and result.ok:
        yield from script
        return
    script.close()
    why = result.value if isinstance(result, CommandResult) and result.value else (
        "the capacity service did not answer")
    trace.add("capacity", "limit reached", f"{why}: the caller hears busy")
    trace.classification.outcome = "busy"
    yield PreAnswer()
    yield Playback(CONGESTION)
    yield Hangup(HangupCause.USER_BUSY)
