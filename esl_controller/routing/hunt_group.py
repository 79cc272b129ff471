"""Hunt groups (CORE-2): the group's policy decides who rings, in what order, for how long.

Policies (DESIGN.md "Hunt policies"):

- regular: the members in list order, from the top every time;
- circular: list order, starting after the member offered the previous call, wrapping, each
  member once;
- uniform: the member idle longest first, idle time counting only this group's calls (the
  end of the member's last answered group call; never answered one: idle longest, in list
  order); ties go to fewer answered group calls, then list order;
- simultaneous: every available member at once, the first to answer wins;
- weighted: a pseudo-random order drawn by weight (each place is drawn among the members
  left, in proportion to their weights), from a seed the ``hunt`` service supplies.

Members on do not disturb, signed out of the group, already on a call, or the caller
themselves are skipped and never rung. A group call rings the member's desk devices
(registered phones, shared call appearances, hot-desk phones logged in) directly: the
member's personal forwarding, DND forwarding, voicemail and mobility do not apply. Each member
rings for the member timeout; the group's no-answer time (``--after``) bounds the whole hunt
(busy, rejected and unreachable members take no time from it). When nobody answers: the
group's no-answer / busy / not-reachable forwarding, else ``targets.unanswered``.

The circular and uniform state is read from the directory fold; the script reports offers
and answers to the ``hunt`` service (``Command("hunt", ...)``), which records them as events.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    Ring,
    SharedDevice,
    Target,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.codes import HUNT_SIGN_OUT
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult, Outcome, Rang, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.targets import TargetCall, reach, refuse, register, unanswered
from esl_controller.routing.trace import Trace
from projections.directory import Directory, UserView
from projections.hunt_groups_fold import KIND, HuntGroupView, HuntRotationView

SERVICE = "hunt"
STATEFUL = ("circular", "uniform", "weighted")  # policies that ask the service first
AVAILABLE = "available"
# Why a member is not offered the call; "busy" members count as busy for the group's result.
SKIP_BUSY = ("busy", "do not disturb", "the caller")
DIVERSION_REASON = {"no-answer": "no-answer", "busy": "user-busy",
                    "not-reachable": "unavailable"}
END_CAUSE = {
    RingResult.NO_ANSWER: HangupCause.NO_ANSWER,
    RingResult.BUSY: HangupCause.USER_BUSY,
    RingResult.NOT_REACHABLE: HangupCause.USER_NOT_REGISTERED,
}
Hunt = Generator[Action, Outcome, "list[RingResult] | None"]  # None: a member answered
FORWARD_KIND = {RingResult.NO_ANSWER: "no-answer", RingResult.BUSY: "busy",
                RingResult.NOT_REACHABLE: "not-reachable"}


# -- the orders (pure; the property tests drive these) ----------------------------------------
def regular_order(members: Sequence[str]) -> list[str]:
    return list(members)


def circular_order(members: Sequence[str], last_offered: str | None) -> list[str]:
    """Every member once, starting after ``last_offered`` (from the top if it is no
    member any more)."""
    if last_offered not in members:
        return list(members)
    start = members.index(last_offered) + 1
    return [*members[start:], *members[:start]]


def uniform_order(
    members: Sequence[str],
    idle_since: Mapping[str, datetime],
    answered: Mapping[str, int] | None = None,
) -> list[str]:
    """Longest idle first: never answered a group call, then the oldest end of the last one;
    ties: fewer answered group calls, then list order."""
    counts = answered or {}
    place = {m: i for i, m in enumerate(members)}

    def key(member: str) -> tuple[int, float, int, int]:
        at = idle_since.get(member)
        return (0 if at is None else 1, 0.0 if at is None else at.timestamp(),
                counts.get(member, 0), place[member])

    return sorted(members, key=key)


def weighted_order(members: Sequence[tuple[str, int]], seed: int) -> list[str]:
    """A pseudo-random order by weight, the same for the same seed: each place is drawn
    among the members left with probability weight / (their total weight)."""
    rng = random.Random(seed)
    left = [(m, max(1, w)) for m, w in members]
    order: list[str] = []
    while left:
        pick = rng.uniform(0, sum(w for _, w in left))
        acc = 0.0
        chosen = len(left) - 1
        for i, (_, w) in enumerate(left):
            acc += w
            if pick < acc:
                chosen = i
                break
        order.append(left.pop(chosen)[0])
    return order


def hunt_order(group: HuntGroupView, rotation: HuntRotationView, seed: int) -> list[str]:
    """The group's members in the order its policy offers them (all, before skipping)."""
    members = group.member_extensions()
    if group.policy == "circular":
        return circular_order(members, rotation.last_offered)
    if group.policy == "uniform":
        return uniform_order(members, dict(rotation.idle_since), dict(rotation.answered))
    if group.policy == "weighted":
        return weighted_order([(m.extension, m.weight) for m in group.members], seed)
    return regular_order(members)


# -- who may ring ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MemberState:
    extension: str
    user: UserView | None
    state: str  # "available", "signed out", "do not disturb", "busy", "the caller", "no user"

    @property
    def label(self) -> str:
        return f"{self.extension} ({self.user.name})" if self.user else self.extension


def member_states(
    directory: Directory,
    group: HuntGroupView,
    busy: Callable[[str, str], bool] | None,
    caller: str | None = None,
) -> list[MemberState]:
    """Each member in list order and whether a call of the group may ring them now."""
    found = []
    for extension in group.member_extensions():
        user = directory.user(group.enterprise_id, extension)
        if user is None:
            state = "no user"
        elif extension in group.signed_out:
            state = "signed out"
        elif user.dnd:
            state = "do not disturb"
        elif caller is not None and extension == caller:
            state = "the caller"  # on this very call: counts as busy, never rung
        elif busy is not None and busy(str(group.enterprise_id), extension):
            state = "busy"
        else:
            state = AVAILABLE
        found.append(MemberState(extension, user, state))
    return found


def desk_devices(directory: Directory, user: UserView, domain: str,
                 gateway: str | None = None) -> tuple[Target, ...]:
    """What a group call rings for one member: their desk phones, shared devices and hot
    desks, and with ``gateway`` (hunt groups) and mobility on, their mobile as well (USR-9:
    a mobile user can be a member), whatever their own ring mode and leg schedules say."""
    mobile = (GatewayNumber(gateway, user.mobile),) if (
        gateway is not None and user.mobility and user.mobile) else ()
    return (
        UserDevices(user.extension, domain),
        *(SharedDevice(user.extension, d.name, domain) for d in user.devices),
        *(UserDevices(phone, domain) for phone in directory.hotdesk_devices_of(user.id)),
        *mobile,
    )


def _member_of(directory: Directory, enterprise_id: UUID, label: str | None,
               members: Sequence[MemberState]) -> str | None:
    """The member behind the answering leg of a simultaneous ring."""
    if label is None:
        return None
    for member in members:
        if label == member.extension or label.startswith(member.extension + "-"):
            return member.extension
        if member.user is not None and member.user.mobile and label == member.user.mobile:
            return member.extension
    phone = directory.hotdesk(enterprise_id, label)
    return phone.extension if phone is not None else label


# -- the script -----------------------------------------------------------------------------
@register(KIND)
def hunt_group(call: TargetCall) -> Script:
    directory = call.where.directory
    trace = call.trace
    group = directory.hunt_groups.get(call.target.id)
    if group is None:
        trace.add("hunt group", "gone", f"{call.target.label()} no longer exists")
        yield from refuse(trace, HangupCause.UNALLOCATED_NUMBER)
        return
    seed = int(UUID(call.ctx.call_id).int % 2**32) if _is_uuid(call.ctx.call_id) else 0
    if group.policy in STATEFUL:
        # The service brings the directory up to date (offers of calls a moment ago) and
        # supplies the weighted policy's seed.
        outcome = yield Command(SERVICE, "next", (("group", str(group.id)),))
        if isinstance(outcome, CommandResult) and outcome.ok and outcome.value.isdigit():
            seed = int(outcome.value)
        group = directory.hunt_groups.get(group.id, group)
    if group.total_timeout is None:
        from esl_controller.routing.toolbox import toolbox_no_answer_seconds

        bound = toolbox_no_answer_seconds(call)  # an attached toolbox's no-answer rule
        if bound is not None:
            trace.add("hunt group", "toolbox no-answer time",
                      f"the attached toolbox takes unanswered calls after {bound} s")
            group = replace(group, total_timeout=bound)
    rotation = directory.hunt_rotations.get(group.id, HuntRotationView())
    label = call.target.label()
    caller = call.caller.extension if call.caller is not None else None
    states = {m.extension: m for m in member_states(directory, group, call.where.busy, caller)}
    order = hunt_order(group, rotation, seed)
    trace.add("hunt group", group.policy, _policy_words(group, rotation, order, seed))
    for extension in order:
        member = states[extension]
        if member.state != AVAILABLE:
            trace.add("hunt group", "skipped", f"{member.label} is {member.state}: not offered")
    available = [states[e] for e in order if states[e].state == AVAILABLE]
    skipped_busy = any(m.state in SKIP_BUSY for m in states.values())
    if group.policy == "simultaneous":
        results = yield from _ring_all(call, group, available)
    else:
        results = yield from _ring_in_turn(call, group, available)
    if results is None:
        return  # answered
    result = _group_result(results, skipped_busy)
    yield from _nobody_answered(call, group, label, result)


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def _policy_words(group: HuntGroupView, rotation: HuntRotationView, order: Sequence[str],
                  seed: int) -> str:
    head = f"hunt group {group.name} ({group.extension})"
    if group.policy == "circular":
        after = (f"after {rotation.last_offered}, who was offered the previous call"
                 if rotation.last_offered in order else "from the top")
        return f"{head} hunts circular: {', '.join(order)} ({after})"
    if group.policy == "uniform":
        return f"{head} hunts uniform, longest idle first: {', '.join(order)}"
    if group.policy == "weighted":
        return f"{head} hunts weighted (seed {seed}): {', '.join(order)}"
    if group.policy == "simultaneous":
        return f"{head} rings all available members at once: {', '.join(order)}"
    return f"{head} hunts regular, from the top: {', '.join(order)}"


def _ring_in_turn(
    call: TargetCall, group: HuntGroupView, available: Sequence[MemberState]
) -> Hunt:
    """One member after the other; returns None when one answered, else each result."""
    directory = call.where.directory
    domain = call.enterprise.domain
    gateway = call.where.settings.gateway
    trace = call.trace
    results: list[RingResult] = []
    elapsed = 0
    for member in available:
        assert member.user is not None
        timeout = group.member_timeout
        if group.total_timeout is not None:
            left = group.total_timeout - elapsed
            if left <= 0:
                trace.add("hunt group", "time is up",
                          f"the group's no-answer time of {group.total_timeout} s is over")
                results.append(RingResult.NO_ANSWER)
                break
            timeout = min(timeout, left)
        if group.policy == "circular":
            yield from _tell(group, "offered", member.extension)
        trace.add("hunt group", "offer", f"ringing {member.label} for {timeout} s")
        outcome = yield Ring(desk_devices(directory, member.user, domain, gateway), timeout,
                             call.presented_number, call.presented_name,
                             answered_as=member.extension)
        assert isinstance(outcome, Rang)
        if outcome.result is RingResult.ANSWERED:
            trace.add("hunt group", "answered", f"{member.label} answered")
            if group.policy == "uniform":
                yield from _tell(group, "answered", member.extension)
            return None
        if outcome.result is RingResult.NO_ANSWER:
            elapsed += timeout
            trace.add("hunt group", "no answer",
                      f"{member.extension} did not answer within {timeout} s: next member")
        else:
            trace.add("hunt group", outcome.result.value,
                      f"{member.extension}: {outcome.result.value} "
                      f"({outcome.cause.value}): next member")
        results.append(outcome.result)
    return results


def _ring_all(
    call: TargetCall, group: HuntGroupView, available: Sequence[MemberState]
) -> Hunt:
    """Every available member at once; returns None when one answered, else the result."""
    if not available:
        return []
    directory = call.where.directory
    domain = call.enterprise.domain
    gateway = call.where.settings.gateway
    timeout = group.total_timeout or group.member_timeout
    legs: list[Target] = []
    for member in available:
        assert member.user is not None
        legs.extend(desk_devices(directory, member.user, domain, gateway))
    call.trace.add("hunt group", "ring all",
                   f"ringing {', '.join(m.label for m in available)} at once for {timeout} s")
    outcome = yield Ring(tuple(legs), timeout, call.presented_number, call.presented_name)
    assert isinstance(outcome, Rang)
    if outcome.result is RingResult.ANSWERED:
        who = _member_of(directory, group.enterprise_id, outcome.answered_by, available)
        call.trace.add("hunt group", "answered", f"{who} answered first")
        return None
    call.trace.add("hunt group", outcome.result.value,
                   f"no member answered ({outcome.cause.value})")
    return [outcome.result]


def _tell(group: HuntGroupView, name: str, member: str) -> Script:
    """Report to the ``hunt`` service; the call goes on whatever it answers."""
    yield Command(SERVICE, name, (("group", str(group.id)), ("member", member)))


def _group_result(results: Sequence[RingResult], skipped_busy: bool) -> RingResult:
    """What the group's forwarding treats the hunt as: no answer if any member rang out,
    else busy if any was busy (or on DND, or rejected), else not reachable."""
    if RingResult.NO_ANSWER in results:
        return RingResult.NO_ANSWER
    if skipped_busy or any(r in (RingResult.BUSY, RingResult.REJECTED) for r in results):
        return RingResult.BUSY
    return RingResult.NOT_REACHABLE


def _nobody_answered(call: TargetCall, group: HuntGroupView, label: str,
                     result: RingResult) -> Script:
    kind = FORWARD_KIND.get(result, "not-reachable")
    words = {"no-answer": "no member answered", "busy": "every member is busy",
             "not-reachable": "no member could be reached"}[kind]
    destination = group.forward(kind)
    if destination is not None:
        call.trace.add("hunt group", f"forward {kind}", f"{words}: {label} forwards to "
                       f"{destination}")
        yield from reach(call, destination, f"{kind} forwarding of {label}",
                         DIVERSION_REASON[kind])
        return
    call.trace.add("hunt group", kind, f"{words}")
    yield from unanswered(call, result, END_CAUSE.get(result, HangupCause.NO_ANSWER))


# -- sign out / sign in from the phone ---------------------------------------------------------
def feature_code(ctx: CallContext, caller: UserView, trace: Trace) -> Script:
    """``*35`` / ``*36`` + the group's extension, dialled by a member."""
    code, group = ctx.destination[:3], ctx.destination[3:].strip("#")
    out = code == HUNT_SIGN_OUT
    what = f"sign {'out of' if out else 'in to'} hunt group {group}"
    if not group:
        trace.add("feature code", code, f"{code} needs the hunt group's extension after it")
        ok = False
    else:
        outcome = yield Command(SERVICE, "sign-out" if out else "sign-in", (("group", group),))
        ok = isinstance(outcome, CommandResult) and outcome.ok
        detail = outcome.value if isinstance(outcome, CommandResult) else "no answer"
        if ok:
            trace.add("feature code", code, f"{caller.extension}: {what} ({detail})")
        else:
            trace.add("feature code", f"{code} refused",
                      f"{caller.extension}: {what} refused: {detail}")
    trace.classification.outcome = "feature-code" if ok else "refused"
    yield Answer()
    yield Playback(announcements.CONFIRM if ok else announcements.SIT)
    yield Hangup(HangupCause.NORMAL_CLEARING)
