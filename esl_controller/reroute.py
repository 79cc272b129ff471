"""Audit of routing decisions (issue 6): what configuration a call read, and where it would
go today.

- :func:`configuration_read` lists the aggregates (and their versions) a routing decision
  read; the session records them on the call with the directory's position
  (``CallConfigurationNoted``), so ``pbx calls explain`` says "configuration as of event N".
- :func:`reroute` re-runs the pure routing (``routing.route.route_call``) of recorded calls
  against TODAY's directory and code, driving each script with the outcomes recorded for
  that call, and lists the calls whose decision would now differ, in plain words.

How a replayed script is driven (the outcomes it is sent back):

- a Ring whose targets include the party that answered the recorded call: answered by them;
- the LAST recorded ring, when the recorded call ended busy / not reachable / rejected
  without an answer: that same result (its recorded cause);
- any other Ring (earlier recorded rings, rings the recorded call never made): no answer,
  the neutral outcome;
- answer, pre-answer, playback, execute: done; record: nothing recorded; collect digits: no
  digits (the recorded call's keys are not in the log); commands to stateful services
  (voicemail, round-robin positions ...) are NOT run: they get a neutral failed result, so an
  audit never changes mail boxes or positions;
- a recorded call the caller abandoned while ringing is compared up to the rings it made.

The decision compared is where the call went: the sequence of rings (their targets) and how
it ended (answered by whom, the service that ended it, or the hangup cause). Schedules are
judged at the moment the call was offered (today's schedules, the call's time).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from esl_controller.domain.numbers import try_normalise
from esl_controller.routing.actions import (
    Action,
    CollectDigits,
    Command,
    Hangup,
    ReceiveFax,
    Record,
    Ring,
)
from esl_controller.routing.actions import Execute as ExecuteApp
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import (
    CommandResult,
    Digits,
    Done,
    Executed,
    FaxReceived,
    Outcome,
    Rang,
    Recorded,
    RingResult,
)
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Classification, Trace
from projections.directory import Directory

MAX_ACTIONS = 50  # a replay never loops for ever (a menu repeating, ...)
FAILED_RESULTS = {"busy", "not-reachable", "rejected"}


# -- what a decision read ------------------------------------------------------------------
def configuration_read(
    directory: Directory, ctx: CallContext, cls: Classification
) -> list[dict[str, Any]]:
    """The aggregates a routing decision read, with the version the directory had folded:
    the enterprise, the calling user, the called user and the target dialled (hunt group,
    menu ...). Plain dicts ``{"id", "kind", "label", "version"}``, in that order."""
    found: list[dict[str, Any]] = []
    seen: set[uuid.UUID] = set()

    def note(aid: uuid.UUID, kind: str, label: str) -> None:
        if aid in seen:
            return
        seen.add(aid)
        found.append({"id": str(aid), "kind": kind, "label": label,
                      "version": directory.versions.get(aid, 0)})

    enterprise = directory.enterprises.get(uuid.UUID(cls.enterprise_id)) \
        if cls.enterprise_id else None
    if enterprise is None:
        return found
    note(enterprise.id, "enterprise", f"enterprise {enterprise.name}")
    for ext in (cls.caller_user, cls.target_user):
        user = directory.user(enterprise.id, ext) if ext else None
        if user is not None:
            note(user.id, "user", f"user {user.extension}")
    target = directory.target(enterprise.id, ctx.destination)
    if target is None:
        e164 = try_normalise(ctx.destination, enterprise.country)
        target = directory.target_with_number(e164) if e164 else None
    if target is not None:
        note(target.id, target.kind, f"{target.kind.replace('-', ' ')} {target.name}")
    return found


def context_record(ctx: CallContext, settings: RoutingSettings) -> dict[str, Any]:
    """Everything ``route_call`` needs to route the call again (recorded on the call)."""
    return {
        "caller_number": ctx.caller_number,
        "caller_name": ctx.caller_name,
        "destination": ctx.destination,
        "origin": ctx.origin.value,
        "domain": ctx.domain,
        "auth_user": ctx.auth_user,
        "context": ctx.context,
        "diverted_from": ctx.diverted_from,
        "privacy": ctx.privacy,
        "gateway": settings.gateway,
    }


def describe_configuration(position: int, versions: list[dict[str, Any]]) -> str:
    """``configuration as of event 42 (enterprise Acme v3, user 102 v7, hunt group Sales v3)``."""
    parts = ", ".join(f"{v['label']} v{v['version']}" for v in versions)
    return f"configuration as of event {position}" + (f" ({parts})" if parts else "")


# -- a recorded call -----------------------------------------------------------------------
@dataclass
class RecordedCall:
    """What the log says about one call: its context, and where it went."""

    call_id: str
    offered_at: datetime
    ctx: CallContext
    gateway: str | None
    rings: list[tuple[str, ...]] = field(default_factory=list)
    answered_by: str | None = None
    outcome: str | None = None
    cause: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    position: int | None = None

    @property
    def ending(self) -> str:
        if self.answered_by is not None:
            return f"answered by {self.answered_by}"
        if self.outcome is None:
            return "still going"
        return f"{self.outcome} ({self.cause})"


def recorded_call(call_id: str, events: list[Any], domain_of: Callable[[Any], str | None]
                  ) -> RecordedCall | None:
    """Rebuild a call's context and recorded decision from its events (None: no offer).

    Calls recorded before ``CallConfigurationNoted`` existed: the context comes from
    ``CallOffered`` (caller, destination, origin; the domain is the enterprise's, the
    authenticated user the calling user) and ``CallerNumberWithheld`` (privacy).
    """
    rec: RecordedCall | None = None
    for e in events:
        kind = type(e).__name__
        if kind == "CallOffered":
            origin = Origin(e.direction) if e.direction in ("internal", "external") \
                else Origin.EXTERNAL
            ctx = CallContext(
                call_id=call_id, channel=e.channel, caller_number=e.caller or "",
                caller_name="", destination=e.destination, origin=origin,
                domain=domain_of(e.enterprise_id) if origin is Origin.INTERNAL else None,
                auth_user=e.caller_user if origin is Origin.INTERNAL else None,
            )
            rec = RecordedCall(call_id, e.timestamp, ctx, None)
        elif rec is None:
            continue
        elif kind == "CallConfigurationNoted":
            c = e.context
            rec.ctx = CallContext(
                call_id=call_id, channel=rec.ctx.channel, caller_number=c["caller_number"],
                caller_name=c["caller_name"], destination=c["destination"],
                origin=Origin(c["origin"]), domain=c["domain"], auth_user=c["auth_user"],
                context=c["context"], diverted_from=c["diverted_from"],
                privacy=bool(c["privacy"]),
            )
            rec.gateway = c.get("gateway")
            rec.versions = list(e.versions)
            rec.position = e.position
        elif kind == "CallerNumberWithheld" and not rec.versions:
            rec.ctx = CallContext(**{**_fields(rec.ctx), "privacy": True})
        elif kind in ("CallRouted", "CallRouteContinued"):
            rec.steps.extend(e.steps)
        elif kind == "CallAlerting":
            rec.rings.append(tuple(e.targets))
        elif kind == "CallAnswered":
            rec.answered_by = rec.answered_by or e.by
        elif kind == "CallEnded":
            rec.outcome, rec.cause = e.outcome, e.cause
    return rec


def _fields(ctx: CallContext) -> dict[str, Any]:
    return {name: getattr(ctx, name) for name in CallContext.__slots__}


# -- replay --------------------------------------------------------------------------------
@dataclass
class Replay:
    """Where the call goes today, driven by the recorded outcomes."""

    rings: list[tuple[str, ...]]
    ending: str
    steps: list[dict[str, Any]]


def replay(rec: RecordedCall, directory: Directory, settings: RoutingSettings) -> Replay:
    trace = Trace()
    script = route_call(rec.ctx, directory, settings, trace, rec.offered_at, None)
    rings: list[tuple[str, ...]] = []
    ending: str | None = None
    abandoned = rec.outcome == "cancelled"
    try:
        action: Action | None = next(script)
        for _ in range(MAX_ACTIONS):
            if action is None:
                break
            if isinstance(action, Hangup):
                ending = _ending_of_hangup(trace, action.cause)
                break
            if isinstance(action, Ring):
                labels = tuple(t.label() for t in action.targets)
                rings.append(labels)
                outcome: Outcome = _ring_outcome(rec, labels, len(rings))
                if isinstance(outcome, Rang) and outcome.answered_by is not None:
                    ending = f"answered by {outcome.answered_by}"
                    break
                if abandoned and len(rings) >= len(rec.rings):
                    ending = rec.ending
                    break
            else:
                outcome = _neutral(action)
            try:
                action = script.send(outcome)
            except StopIteration:
                action = None
    except StopIteration:
        pass
    finally:
        script.close()
    if ending is None:
        ending = _ending_of_script(trace)
    return Replay(rings, ending, [s.as_dict() for s in trace.steps])


def _ring_outcome(rec: RecordedCall, labels: tuple[str, ...], number: int) -> Rang:
    if rec.answered_by is not None and rec.answered_by in labels:
        return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, rec.answered_by)
    last = number == len(rec.rings) and rec.rings and rec.rings[-1] == labels
    if last and rec.answered_by is None and rec.outcome in FAILED_RESULTS and rec.cause:
        return Rang.failed_with(HangupCause.parse(rec.cause))
    return Rang(RingResult.NO_ANSWER, HangupCause.NO_ANSWER)


def _neutral(action: Action) -> Outcome:
    if isinstance(action, Record):
        return Recorded("", 0.0)
    if isinstance(action, CollectDigits):
        return Digits("")
    if isinstance(action, Command):
        return CommandResult(False, "")
    if isinstance(action, ExecuteApp):
        return Executed("", False)
    if isinstance(action, ReceiveFax):
        return FaxReceived("", 0, False, "not replayed")
    return Done()


OUTCOME_BY_CAUSE = {
    HangupCause.USER_BUSY: "busy",
    HangupCause.NO_ANSWER: "no-answer",
    HangupCause.USER_NOT_REGISTERED: "not-reachable",
    HangupCause.CALL_REJECTED: "rejected",
}


def _ending_of_hangup(trace: Trace, cause: HangupCause) -> str:
    """Worded as the session records a call's end: ``outcome (CAUSE)``."""
    outcome = trace.classification.outcome or OUTCOME_BY_CAUSE.get(cause, "refused")
    return f"{outcome} ({cause.value})"


def _ending_of_script(trace: Trace) -> str:
    """The script ended without a hangup: the session hangs up normally."""
    outcome = trace.classification.outcome
    if outcome is not None:
        return f"{outcome} ({HangupCause.NORMAL_CLEARING.value})"
    return f"cancelled ({HangupCause.ORIGINATOR_CANCEL.value})"


# -- comparison ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One call that would now go elsewhere."""

    call_id: str
    offered_at: datetime
    caller: str
    destination: str
    summary: str  # "would now ring 103 instead of 102"
    reason: str  # the decision today that the recorded call did not take, and what changed
    was: dict[str, Any]
    now: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "offered_at": self.offered_at.isoformat(),
            "caller": self.caller,
            "destination": self.destination,
            "summary": self.summary,
            "reason": self.reason,
            "was": self.was,
            "now": self.now,
        }

    def line(self) -> str:
        return f"{self.summary}: {self.reason}" if self.reason else self.summary


def _names(labels: tuple[str, ...]) -> str:
    return ", ".join(labels) if labels else "nobody"


def _ending_kind(ending: str) -> str:
    """Compare endings by who answered, else by the hangup cause (the outcome's wording
    depends on details of the session the replay does not have)."""
    if ending.startswith("answered by"):
        return ending
    return ending.rsplit(" (", 1)[-1]


def compare(rec: RecordedCall, new: Replay, changes: Callable[[RecordedCall], list[str]]
            ) -> Difference | None:
    """The plain-words difference between the recorded decision and today's (None: same)."""
    was_rings, now_rings = rec.rings, new.rings
    summary: str | None = None
    if rec.outcome == "cancelled":
        now_rings = now_rings[: len(was_rings)]
    if was_rings != now_rings:
        for i in range(max(len(was_rings), len(now_rings))):
            was = was_rings[i] if i < len(was_rings) else None
            now = now_rings[i] if i < len(now_rings) else None
            if was == now:
                continue
            if was is not None and now is not None:
                summary = f"would now ring {_names(now)} instead of {_names(was)}"
            elif now is not None:
                summary = (f"would now also ring {_names(now)}" if i else
                           f"would now ring {_names(now)}")
            elif was is not None:
                summary = (f"would no longer ring {_names(was)}: it would end "
                           f"{new.ending}")
            break
    elif rec.outcome != "cancelled" and _ending_kind(rec.ending) != _ending_kind(new.ending):
        summary = f"would now end {new.ending} instead of {rec.ending}"
    if summary is None:
        return None
    recorded_steps = {(s["service"], s["rule"], s["detail"]) for s in rec.steps}
    fresh = [s for s in new.steps
             if (s["service"], s["rule"], s["detail"]) not in recorded_steps]
    # the decision today the recorded call did not take; preferably one naming a party
    # of the difference ("102 forwards (always) to 103")
    names = {label for ring in (*was_rings, *now_rings) for label in ring}
    telling = [s for s in fresh if any(n in s["detail"] for n in names)] or fresh
    reasons = [str(telling[0]["detail"])] if telling else []
    reasons.extend(changes(rec))
    return Difference(
        rec.call_id, rec.offered_at, rec.ctx.caller_number or "anonymous", rec.ctx.destination,
        summary, "; ".join(reasons),
        {"rings": [list(r) for r in rec.rings], "ending": rec.ending},
        {"rings": [list(r) for r in new.rings], "ending": new.ending},
    )


# -- the audit -----------------------------------------------------------------------------
@dataclass
class RerouteReport:
    checked: int
    differences: list[Difference]


def reroute(app: Any, since: datetime, until: datetime | None = None,
            directory: Directory | None = None) -> RerouteReport:
    """Re-run every call offered in [since, until) against today's configuration."""
    directory = directory if directory is not None else app.directory()
    checked = 0
    differences: list[Difference] = []
    for call_id, events in _calls_in(app, since, until):
        rec = recorded_call(call_id, events, lambda eid: _domain(directory, eid))
        if rec is None or rec.outcome is None:
            continue  # still going: nothing to compare yet
        checked += 1
        settings = RoutingSettings(gateway=rec.gateway or "gateway")
        new = replay(rec, directory, settings)
        diff = compare(rec, new, lambda r: _changes_since(app, directory, r))
        if diff is not None:
            differences.append(diff)
    return RerouteReport(checked, differences)


def _domain(directory: Directory, enterprise_id: Any) -> str | None:
    ent = directory.enterprises.get(enterprise_id) if enterprise_id is not None else None
    return ent.domain if ent is not None else None


CALL_OFFERED_TOPIC = "esl_controller.domain.calls:Call.CallOffered"


def _calls_in(app: Any, since: datetime, until: datetime | None
              ) -> Iterator[tuple[str, list[Any]]]:
    for _position, offered in app.events_after(0, (CALL_OFFERED_TOPIC,)):
        at = offered.timestamp
        if at < since or (until is not None and at >= until):
            continue
        call_id = str(offered.originator_id)
        # privacy (issue 6): outsiders' numbers are sealed in the events; re-run with them open
        from esl_controller.personal import opened_event

        yield call_id, [opened_event(app, e) for e in app.events.get(offered.originator_id)]


def _changes_since(app: Any, directory: Directory, rec: RecordedCall) -> list[str]:
    """What changed after the call in the configuration it read: ``user 102 changed since
    the call (v5 -> v7, last at 2026-11-26 10:42 UTC)``. Calls recorded without versions:
    the users the call rang first and its enterprise."""
    notes: list[str] = []
    for v in rec.versions or _involved(directory, rec):
        aid = uuid.UUID(v["id"])
        later = [e for e in app.events.get(aid) if e.timestamp > rec.offered_at]
        if not later:
            continue
        was = f"v{v['version']}" if v.get("version") is not None else "v?"
        notes.append(f"{v['label']} changed since the call ({was} -> "
                     f"v{later[-1].originator_version}, last at "
                     f"{later[-1].timestamp:%Y-%m-%d %H:%M} UTC)")
    return notes


def _involved(directory: Directory, rec: RecordedCall) -> list[dict[str, Any]]:
    """Old calls (no recorded versions): the users it rang first, in its enterprise."""
    found: list[dict[str, Any]] = []
    ent = directory.enterprise_for_domain(rec.ctx.domain) if rec.ctx.domain else None
    for label in rec.rings[0] if rec.rings else ():
        for user in directory.users.values():
            if user.extension == label and (ent is None or user.enterprise_id == ent.id):
                found.append({"id": str(user.id), "label": f"user {label}", "version": None,
                              "kind": "user"})
    return found
