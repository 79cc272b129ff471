"""Calls to targets that are not users (hunt groups, menus, group voicemail ...), and
``reach``: sending a call on to any destination a configuration can name.

A target's routing script is registered by kind (``@register("hunt-group")``). Before it
runs, the *frames* run in order (night service, forwarding toolboxes ...): a frame that
takes the call ends it there. Everything lands in the trace.

Destinations, as configurations (menu keys, group forwarding, overflow) write them:

- ``EXT``: a user's extension (their incoming-call chain) or a target's extension;
- ``vm:EXT``: straight to a user's voicemail box;
- a national or E.164 number: out through the gateway, if the calling plan allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from esl_controller.domain.numbers import classify, national_format, try_normalise
from esl_controller.routing import announcements, calling_plan
from esl_controller.routing.actions import Action, GatewayNumber, Hangup, Playback, PreAnswer, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import Outcome, Rang, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import EnterpriseView, UserView
from projections.targets import TargetView

if TYPE_CHECKING:
    from esl_controller.routing.where import Where

MAX_HOPS = 8  # targets a call may pass (menu -> group -> toolbox ...) before it is refused
EXTERNAL_RING_SECONDS = 60


@dataclass(frozen=True, slots=True)
class TargetCall:
    """A call to a non-user target, as its script and the frames see it."""

    ctx: CallContext
    where: Where
    enterprise: EnterpriseView
    target: TargetView
    caller: UserView | None  # the internal caller, if any
    presented_number: str
    presented_name: str
    internal: bool
    trace: Trace
    diverted_by: str | None = None  # the extension (user or target) that sent it here
    visited: tuple[str, ...] = ()  # extensions / target ids already passed

    @property
    def anonymous(self) -> bool:
        number = self.ctx.caller_number.strip().lower()
        return self.ctx.privacy or number in ("", "anonymous", "unknown", "private", "0000000000")

    @property
    def here(self) -> str:
        """What this target adds to ``visited``."""
        return self.target.extension or str(self.target.id)


TargetScript = Callable[[TargetCall], Script]
Frame = Callable[[TargetCall], Generator[Action, Outcome, bool]]
Fallback = Callable[[TargetCall, RingResult], Generator[Action, Outcome, bool]]

SCRIPTS: dict[str, TargetScript] = {}
FRAMES: list[Frame] = []  # run before every target's script; True: the frame took the call
# Run, in order, when a target's script could not connect the call (busy, no answer, not
# reachable), after the target's own forwarding: e.g. a toolbox's busy forwarding.
FALLBACKS: list[Fallback] = []


def register(kind: str) -> Callable[[TargetScript], TargetScript]:
    """Register the routing script serving targets of ``kind``."""

    def add(script: TargetScript) -> TargetScript:
        SCRIPTS[kind] = script
        return script

    return add


def enter(call: TargetCall) -> Script:
    """The call arrives at ``call.target``: frames first, then the kind's script."""
    if call.here in call.visited or len(call.visited) >= MAX_HOPS:
        call.trace.add("routing", "loop detected",
                       f"{call.target.label()} was already passed by this call: refused")
        yield from refuse(call.trace, HangupCause.NO_ROUTE_DESTINATION)
        return
    for frame in FRAMES:
        if (yield from frame(call)):
            return
    script = SCRIPTS.get(call.target.kind)
    if script is None:
        call.trace.add("routing", "not served",
                       f"{call.target.label()} has no routing script on this controller")
        yield from refuse(call.trace, HangupCause.NO_ROUTE_DESTINATION)
        return
    yield from script(call)


def unanswered(call: TargetCall, result: RingResult, cause: HangupCause) -> Script:
    """Nobody took the call at the target: the fallbacks, else ``cause`` for the caller."""
    for fallback in FALLBACKS:
        if (yield from fallback(call, result)):
            return
    call.trace.add(call.target.kind, "ended", f"call ended with {cause.value}")
    yield Hangup(cause)


Source = TargetCall | IncomingCall


def reach(
    source: Source,
    destination: str,
    why: str,
    reason: str = "unconditional",
    ring_seconds: int = EXTERNAL_RING_SECONDS,
    inhibit: bool = True,
) -> Script:
    """Send the call from ``source`` (a target or a user's chain) on to ``destination``.

    ``why`` is the trace's wording ("night service of hunt group Sales"); ``reason`` the SIP
    Diversion reason towards users. With ``inhibit`` (a diversion: group forwarding, night
    service) the user's own forwarding is skipped; without it (a menu transferring the
    caller) the user's services all apply.
    """
    ctx, trace = source.ctx, source.trace
    enterprise = source.enterprise
    where = source_where(source)
    directory = where.directory
    by, visited = _from(source)
    dest = destination.strip()
    if dest.startswith("vm:"):
        user = directory.user(enterprise.id, dest[3:])
        if user is None:
            trace.add("routing", "no such mailbox", f"{why}: {dest} names no user")
            yield from refuse(trace, HangupCause.UNALLOCATED_NUMBER)
            return
        trace.add("routing", "to voicemail", f"{why}: to the voicemail box of {user.extension}")
        from esl_controller.routing import voicemail

        call = _incoming(source, user, by if inhibit else None, reason, visited)
        if not (yield from voicemail.leave_message(call, "no-answer")):
            yield from refuse(trace, HangupCause.NO_ANSWER)
        return
    user = directory.user(enterprise.id, dest)
    if user is not None:
        trace.add("routing", "to user", f"{why}: to {user.extension} ({user.name})")
        from esl_controller.routing.chain import incoming_call

        yield from incoming_call(_incoming(source, user, by if inhibit else None, reason,
                                           visited))
        return
    target = directory.target(enterprise.id, dest)
    if target is not None:
        trace.add("routing", f"to {target.kind}", f"{why}: to {target.label()}")
        yield from enter(TargetCall(
            ctx, where, enterprise, target, _caller(source), source.presented_number,
            source.presented_name, source.internal, trace, diverted_by=by, visited=visited))
        return
    e164 = try_normalise(dest, enterprise.country)
    if e164 is None:
        trace.add("routing", "no such destination", f"{why}: {dest!r} is no extension or number")
        yield from refuse(trace, HangupCause.UNALLOCATED_NUMBER)
        return
    yield from external(source, e164, why, reason, ring_seconds)


def external(source: Source, e164: str, why: str, reason: str = "unconditional",
             ring_seconds: int = EXTERNAL_RING_SECONDS) -> Script:
    """Out through the gateway, if the outgoing calling plan allows the number's class."""
    trace, enterprise = source.trace, source.enterprise
    klass = classify(e164, enterprise.country)
    user = source.user if isinstance(source, IncomingCall) else None  # GRP-1: whose plan
    if not calling_plan.permitted(source_where(source).directory, enterprise, user, e164, klass):
        trace.add("calling plan", f"{klass.value} blocked",
                  f"{why}: {national_format(e164)} is a {klass.value} number, which the "
                  "outgoing calling plan blocks")
        yield from refuse(trace, HangupCause.OUTGOING_CALL_BARRED)
        return
    gateway = source_where(source).settings.gateway
    if gateway is None:
        trace.add("gateway", "none configured", f"{why}: no gateway for {national_format(e164)}")
        yield from refuse(trace, HangupCause.NO_ROUTE_DESTINATION)
        return
    by, _ = _from(source)
    trace.add("routing", "to external number",
              f"{why}: to {national_format(e164)} through gateway {gateway!r}")
    outcome = yield Ring(
        (GatewayNumber(gateway, e164),), ring_seconds, source.presented_number,
        source.presented_name,
        diversion=f"<sip:{by}@{enterprise.domain}>;reason={reason}" if by else None,
    )
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        trace.add("routing", "answered", f"{national_format(e164)} answered")
        return
    trace.add("routing", outcome.result.value,
              f"{national_format(e164)} did not connect ({outcome.cause.value})")
    yield Hangup(outcome.cause)


def refuse(trace: Trace, cause: HangupCause) -> Script:
    """An announcement, then ``cause``."""
    media = (announcements.BARRED if cause is HangupCause.OUTGOING_CALL_BARRED
             else announcements.UNALLOCATED)
    trace.add("announcement", "refused", f"caller hears an announcement, then {cause.value}")
    yield PreAnswer()
    yield Playback(media)
    yield Hangup(cause)


def source_where(source: Source) -> Where:
    if isinstance(source, TargetCall):
        return source.where
    from esl_controller.routing.where import Where

    assert source.directory is not None
    return Where(source.directory, source.settings, source.now, source.busy)


def _from(source: Source) -> tuple[str, tuple[str, ...]]:
    """Who sends the call on (for Diversion) and what it has passed, this one included."""
    if isinstance(source, TargetCall):
        return (source.target.extension or source.target.name,
                (*source.visited, source.here))
    return source.user.extension, (*source.visited, source.user.extension)


def _caller(source: Source) -> UserView | None:
    if isinstance(source, TargetCall):
        return source.caller
    if source.internal and source.directory is not None:
        return source.directory.user(source.enterprise.id, source.presented_number)
    return None


def _incoming(source: Source, user: UserView, by: str | None, reason: str,
              visited: tuple[str, ...]) -> IncomingCall:
    where = source_where(source)
    busy = bool(where.busy and where.busy(str(source.enterprise.id), user.extension))
    return IncomingCall(
        source.ctx, source.enterprise, user, source.presented_number, source.presented_name,
        source.internal, source.trace, directory=where.directory, settings=where.settings,
        now=where.now, diverted_by=by, diversion_reason=reason, visited=visited,
        user_busy=busy, busy=where.busy,
    )


def to_target(call: TargetCall, target: TargetView) -> TargetCall:
    """The same call, moved on to another target (e.g. a sub-menu)."""
    return replace(call, target=target, diverted_by=call.target.extension or call.target.name,
                   visited=(*call.visited, call.here))
