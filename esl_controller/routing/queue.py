"""Call-center queues (CC-1 to CC-4), target kind ``queue``: the caller's side of a queue.

The script answers, enqueues the call through the ``queue`` service (which records every
step as an event and chooses the agents), plays the welcome greeting, then waits: music on
hold in slices of ``POLL_SECONDS`` (``playback`` bounded by ``playback_timeout_sec``), a
comfort message every N seconds, and between slices asks the service whether an agent is
free for it. An offer rings the agent's desk devices (never their personal forwarding,
mobile or voicemail) for the queue's bounce time; unanswered, the call goes back to the
head of the queue. It leaves the queue by an agent's answer, an overflow (the queue is full,
the maximum wait is over, or no agent is signed in and the stranded policy says so) or the
caller hanging up (the session's end hook records the abandon).

The dispatcher's choices are pure functions here (``agent_state``, ``agent_order``,
``assign``) of the directory fold, the clock the service passes and the busy lamps, so the
property tests drive them with random event sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    Execute,
    Hangup,
    Playback,
    Ring,
    Target,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.hunt_group import (
    circular_order,
    desk_devices,
    uniform_order,
    weighted_order,
)
from esl_controller.routing.outcomes import CommandResult, Outcome, Rang, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.targets import TargetCall, reach, refuse, register, unanswered
from esl_controller.routing.trace import Trace
from projections.call_centers_fold import KIND, QueueFigures, QueueView
from projections.directory import Directory, UserView

SERVICE = "queue"
POLL_SECONDS = 2  # music slices between two looks for a free agent
AVAILABLE = "available"
SIGN_IN = "*50"  # *50 + queue extension: the agent signs in to the queue
SIGN_OUT = "*51"  # *51 + queue extension: the agent signs out of it
Busy = Callable[[str, str], bool] | None


# -- the dispatcher (pure) ---------------------------------------------------------------------
def agent_state(directory: Directory, queue: QueueView, extension: str, now: datetime,
                busy: Busy, offers: dict[str, UUID]) -> str:
    """Whether a queue call may be offered to the agent now, or why not."""
    user = directory.user(queue.enterprise_id, extension)
    if user is None:
        return "no user"
    agent = directory.agent_of(queue.enterprise_id, extension)
    if agent is None or queue.id not in agent.signed_in:
        return "signed out"
    state = agent.state_at(now)
    if state == "unavailable":
        return "unavailable" + (f" ({agent.reason})" if agent.reason else "")
    if state == "wrap-up":
        return "wrap-up"
    if user.dnd:
        return "do not disturb"
    if extension in offers:
        return "offered a call"
    if busy is not None and busy(str(queue.enterprise_id), extension):
        return "on a call"
    return AVAILABLE


def signed_in(directory: Directory, queue: QueueView) -> list[str]:
    """The queue's agents signed in to it (whatever their availability)."""
    found = []
    for extension in queue.agents:
        agent = directory.agent_of(queue.enterprise_id, extension)
        if agent is not None and queue.id in agent.signed_in:
            found.append(extension)
    return found


def agent_order(queue: QueueView, figures: QueueFigures, agents: Sequence[str],
                seed: int) -> list[str]:
    """The agents in the order the queue's policy offers them (hunt group policies)."""
    if queue.policy == "circular":
        return circular_order(agents, figures.last_offered)
    if queue.policy == "uniform":
        return uniform_order(agents, dict(figures.idle_since), dict(figures.answered_by))
    if queue.policy == "weighted":
        return weighted_order([(a, 1) for a in agents], seed)
    return list(agents)


def assign(directory: Directory, queue: QueueView, now: datetime, busy: Busy,
           seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Call id -> the agents a NEW offer goes to, for the queue's waiting calls in their
    order (priority, bounced first, longest waiting). An agent offered any call of any queue,
    on a call, on DND, in wrap-up, unavailable or signed out is never chosen; a call being
    offered already keeps its offer; each free agent goes to one call only."""
    offers = directory.offers_of(queue.enterprise_id)
    free = [a for a in queue.agents
            if agent_state(directory, queue, a, now, busy, offers) == AVAILABLE]
    order = agent_order(queue, directory.queue_figures.get(queue.id, QueueFigures()),
                        free, seed)
    chosen: dict[str, tuple[str, ...]] = {}
    for call in directory.waiting_in(queue.id):
        if not order:
            break
        if call.offered_to:
            continue
        candidates = [a for a in order if a != call.caller]
        if not candidates:
            continue
        picked = tuple(candidates) if queue.policy == "simultaneous" else (candidates[0],)
        chosen[call.call_id] = picked
        order = [a for a in order if a not in picked]
    return chosen


# -- the caller's script -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Poll:
    """What the service answered to ``poll``."""

    offer: tuple[str, ...]  # agents to ring now (empty: keep waiting)
    waited: int  # seconds in the queue so far
    position: int
    signed_in: int  # agents signed in to the queue
    gone: bool = False  # the call is no longer in the queue
    moved: str | None = None  # a supervisor moved the call to this queue (id)

    @classmethod
    def parse(cls, outcome: object) -> Poll:
        if not isinstance(outcome, CommandResult) or not outcome.ok:
            return cls((), 0, 0, 0, gone=True)
        words = outcome.value.split()
        if words[0] == "moved":
            return cls((), 0, 0, 0, moved=words[1])
        if words[0] == "offer":
            return cls(tuple(words[1].split(",")), int(words[2]), 1, 1)
        return cls((), int(words[1]), int(words[2]), int(words[3]))


@register(KIND)
def queue_call(call: TargetCall) -> Script:
    directory = call.where.directory
    trace = call.trace
    queue = directory.queues.get(call.target.id)
    if queue is None:
        trace.add("queue", "gone", f"{call.target.label()} no longer exists")
        yield from refuse(trace, HangupCause.UNALLOCATED_NUMBER)
        return
    args = (("queue", str(queue.id)),)
    priority = 1 if call.presented_number in queue.priority_numbers else 0
    yield Answer()
    entered = yield Command(SERVICE, "enqueue", (*args, ("caller", call.presented_number),
                                                ("priority", str(priority))))
    value = entered.value if isinstance(entered, CommandResult) else "no answer"
    if not (isinstance(entered, CommandResult) and entered.ok):
        if value.startswith(("full", "stranded")):
            yield from _overflow(call, queue, value)
            return
        trace.add("queue", "refused", f"{queue.label} did not take the call: {value}")
        yield from refuse(trace, HangupCause.NORMAL_TEMPORARY_FAILURE)
        return
    trace.add("queue", "enqueued", f"{queue.label}: the caller waits, position {value}"
              + (" with priority" if priority else "")
              + f"; policy {queue.policy}, at most {queue.tier} waiting")
    greeted = False
    if queue.welcome and queue.welcome_mandatory:
        trace.add("queue", "welcome", "the caller hears the welcome greeting (mandatory)")
        yield Playback(queue.welcome)
        greeted = True
    music = queue.music or call.where.settings.hold_music_for(str(queue.enterprise_id))
    # The wait is counted here, in what the caller heard (music slices, agents ringing out),
    # not read from a clock: routing stays pure, and the simulator's scaled time agrees.
    waited = 0
    last_comfort = 0
    while True:
        poll = Poll.parse((yield Command(SERVICE, "poll", args)))
        if poll.moved is not None and UUID(poll.moved) in directory.queues:
            before, queue = queue, directory.queues[UUID(poll.moved)]
            trace.add("queue", "moved", f"a supervisor moved the call from {before.label} to "
                      f"{queue.label}")
            args = (("queue", str(queue.id)),)
            music = queue.music or call.where.settings.hold_music_for(str(queue.enterprise_id))
            continue
        if poll.gone or poll.moved is not None:
            trace.add("queue", "gone", "the call is no longer in the queue")
            yield Hangup(HangupCause.NORMAL_CLEARING)
            return
        if poll.offer:
            rang = yield from _offer(call, queue, poll, waited)
            if rang is None:
                return
            waited += rang
        elif not greeted and queue.welcome:
            trace.add("queue", "welcome", "no agent free: the caller hears the welcome greeting")
            yield Playback(queue.welcome)
            greeted = True
            continue
        elif poll.signed_in == 0 and queue.stranded == "overflow":
            yield from _overflow(call, queue, "stranded: no agent is signed in")
            return
        if queue.max_wait is not None and waited >= queue.max_wait:
            yield from _overflow(call, queue, f"max wait: waited {waited} s of "
                                 f"{queue.max_wait} s")
            return
        if queue.comfort_every and waited - last_comfort >= queue.comfort_every:
            trace.add("queue", "comfort", f"comfort message after {waited} s, position "
                      f"{poll.position}")
            yield Execute("playback", queue.comfort or announcements.CONFIRM,
                          (("playback_timeout_sec", "0"),))
            last_comfort = waited
        slice_ = POLL_SECONDS
        if queue.max_wait is not None:
            slice_ = max(1, min(slice_, queue.max_wait - waited))
        if queue.comfort_every:
            slice_ = max(1, min(slice_, last_comfort + queue.comfort_every - waited))
        yield Execute("playback", music, (("playback_timeout_sec", str(slice_)),))
        waited += slice_


def _offer(call: TargetCall, queue: QueueView, poll: Poll, waited: int
           ) -> Generator[Action, Outcome, int | None]:
    """Ring the offered agents: None when one answered (the call is over then), else the
    seconds they rang."""
    directory = call.where.directory
    trace = call.trace
    users: list[UserView] = [u for u in (directory.user(queue.enterprise_id, a)
                                         for a in poll.offer) if u is not None]
    legs: list[Target] = []
    for user in users:
        legs.extend(desk_devices(directory, user, call.enterprise.domain))
    names = ", ".join(f"{u.extension} ({u.name})" for u in users)
    trace.add("queue", "offer", f"after {waited} s: ringing agent {names} for "
              f"{queue.bounce_after} s" + (" with auto answer" if queue.auto_answer else ""))
    outcome = yield Ring(tuple(legs), queue.bounce_after, call.presented_number,
                         call.presented_name,
                         answered_as=poll.offer[0] if len(poll.offer) == 1 else None,
                         auto_answer=queue.auto_answer)
    assert isinstance(outcome, Rang)
    args = (("queue", str(queue.id)),)
    if outcome.result is RingResult.ANSWERED:
        agent = _agent_of(outcome.answered_by, poll.offer)
        trace.add("queue", "answered", f"agent {agent} answered; wrap-up "
                  f"{queue.wrap_up} s after the call")
        trace.classification.outcome = None
        yield Command(SERVICE, "answered", (*args, ("agent", agent)))
        return None
    trace.add("queue", "bounced", f"agent {','.join(poll.offer)}: {outcome.result.value} "
              f"({outcome.cause.value}): the call goes back to the head of the queue")
    yield Command(SERVICE, "bounced", (*args, ("agents", ",".join(poll.offer)),
                                       ("reason", outcome.result.value)))
    return queue.bounce_after if outcome.result is RingResult.NO_ANSWER else 0


def _agent_of(label: str | None, offered: Sequence[str]) -> str:
    if label is not None:
        for agent in offered:
            if label == agent or label.startswith(agent + "-"):
                return agent
    return offered[0]


def _overflow(call: TargetCall, queue: QueueView, reason: str) -> Script:
    destination = queue.overflow or "busy"
    call.trace.add("queue", "overflow", f"{queue.label} overflows ({reason}) to {destination}")
    yield Command(SERVICE, "overflow", (("queue", str(queue.id)), ("reason", reason),
                                        ("destination", destination)))
    if destination == "busy":
        yield from unanswered(call, RingResult.BUSY, HangupCause.USER_BUSY)
        return
    yield from reach(call, destination, f"overflow of {queue.label}", "no-answer")


# -- agents sign in / out from the phone ---------------------------------------------------------
def handles(dialled: str, directory: Directory, enterprise_id: UUID) -> bool:
    """``*50`` / ``*51`` + a queue's extension (before ``*5`` + EXT, callback on busy)."""
    if dialled[:3] not in (SIGN_IN, SIGN_OUT):
        return False
    target = directory.target(enterprise_id, dialled[3:].strip("#"))
    return target is not None and target.kind == KIND


def feature_code(ctx: CallContext, caller: UserView, trace: Trace) -> Script:
    code, queue = ctx.destination[:3], ctx.destination[3:].strip("#")
    name = "sign-in" if code == SIGN_IN else "sign-out"
    outcome = yield Command(SERVICE, name, (("queue-extension", queue),))
    ok = isinstance(outcome, CommandResult) and outcome.ok
    detail = outcome.value if isinstance(outcome, CommandResult) else "no answer"
    what = f"{name.replace('-', ' ')} {'to' if code == SIGN_IN else 'of'} queue {queue}"
    if ok:
        trace.add("feature code", code, f"{caller.extension}: {what} ({detail})")
    else:
        trace.add("feature code", f"{code} refused", f"{caller.extension}: {what} refused: "
                  f"{detail}")
    trace.classification.outcome = "feature-code" if ok else "refused"
    yield Answer()
    yield Playback(announcements.CONFIRM if ok else announcements.SIT)
    yield Hangup(HangupCause.NORMAL_CLEARING)
