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

import math
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
from projections.call_centers_fold import BOUNCE_UNAVAILABLE, KIND, QueueFigures, QueueView
from projections.directory import Directory, UserView

SERVICE = "queue"
POLL_SECONDS = 2  # music slices between two looks for a free agent
AVAILABLE = "available"
SIGN_IN = "*50"  # *50 + queue extension: the agent signs in to the queue
SIGN_OUT = "*51"  # *51 + queue extension: the agent signs out of it
Busy = Callable[[str, str], bool] | None
# Announcements (CC-2): FreeSWITCH's stock prompts (sounds/en/us/callie) around mod_say.
YOU_ARE_NUMBER = "ivr/ivr-you_are_number.wav"  # "You are number..."
IN_LINE = "ivr/ivr-in_line.wav"  # "...in line."
ESTIMATED_HOLD_TIME = "ivr/ivr-estimated_hold_time.wav"  # "Your estimated hold time is..."
LESS_THAN = "ivr/ivr-less_than.wav"  # "Less than..."
MINUTE = "time/minute.wav"
MINUTES = "time/minutes.wav"
REOFFER = -1  # _offer: the ring was withdrawn, look for the next agent at once


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
           seed: int = 0, until: str | None = None) -> dict[str, tuple[str, ...]]:
    """Call id -> the agents a NEW offer goes to, for the queue's waiting calls in their
    order (priority, bounced first, longest waiting). An agent offered any call of any queue,
    on a call, on DND, in wrap-up, unavailable or signed out is never chosen; a call being
    offered already keeps its offer; each free agent goes to one call only. ``until``: stop
    after that call (the calls behind the asking one never change its offer)."""
    offers = directory.offers_of(queue.enterprise_id)
    free = [a for a in queue.agents
            if agent_state(directory, queue, a, now, busy, offers) == AVAILABLE]
    order = agent_order(queue, directory.queue_figures.get(queue.id, QueueFigures()),
                        free, seed)
    chosen: dict[str, tuple[str, ...]] = {}
    for call in directory.waiting_in(queue.id):
        if not order:
            break
        if not call.offered_to:
            if queue.policy == "simultaneous":
                picked = tuple(a for a in order if a != call.caller)
            else:  # the first free agent who is not the caller (no list built per call)
                picked = next(((a,) for a in order if a != call.caller), ())
            if picked:
                chosen[call.call_id] = picked
                order = [a for a in order if a not in picked]
        if call.call_id == until:
            break
    return chosen


# -- announcements (pure) ----------------------------------------------------------------------
def estimated_wait(recent_waits: Sequence[float], position: int, agents: int) -> int | None:
    """Seconds the caller at ``position`` may still wait: the average wait of the queue's
    last answered calls (``QueueFigures.recent_waits``), times the position, divided by the
    agents serving the queue (signed in and not unavailable; at least one), rounded up.
    None while no call of the queue was answered yet: nothing is announced then."""
    if not recent_waits or position < 1:
        return None
    average = sum(recent_waits) / len(recent_waits)
    return math.ceil(average * position / max(1, agents))


def _say(number: int) -> Execute:
    return Execute("say", f"en number pronounced {number}")  # mod_say


def announcement(announce: str, position: int, estimate: int | None) -> list[Action]:
    """What the caller hears: "You are number N in line" and / or "Your estimated hold
    time is [less than] M minute(s)" (whole minutes, rounded up; under a minute: less than
    one). The first prompt lifts the music slices' ``playback_timeout_sec``."""
    actions: list[Action] = []
    if announce in ("position", "both") and position >= 1:
        actions += [Playback(YOU_ARE_NUMBER), _say(position), Playback(IN_LINE)]
    if announce in ("wait", "both") and estimate is not None:
        minutes = max(1, math.ceil(estimate / 60))
        actions.append(Playback(ESTIMATED_HOLD_TIME))
        if estimate < 60:
            actions.append(Playback(LESS_THAN))
        actions += [_say(minutes), Playback(MINUTE if minutes == 1 else MINUTES)]
    if actions and isinstance(actions[0], Playback):
        actions[0] = Execute("playback", actions[0].media, (("playback_timeout_sec", "0"),))
    return actions


def announcement_words(announce: str, position: int, estimate: int | None) -> str:
    """The announcement in words, for the call's trace."""
    said = []
    if announce in ("position", "both") and position >= 1:
        said.append(f"you are number {position} in line")
    if announce in ("wait", "both"):
        if estimate is None:
            said.append("no estimated wait yet (no call of the queue answered)")
        else:
            minutes = max(1, math.ceil(estimate / 60))
            said.append("your estimated hold time is " + ("less than " if estimate < 60
                                                           else "") + f"{minutes} minute"
                        + ("" if minutes == 1 else "s") + f" ({estimate} s)")
    return "; ".join(said)


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
    estimate: int | None = None  # estimated seconds still to wait (announcements)
    taken: tuple[str, str] | None = None  # (receptionist, destination): RCP-1 premium

    @classmethod
    def parse(cls, outcome: object) -> Poll:
        if not isinstance(outcome, CommandResult) or not outcome.ok:
            return cls((), 0, 0, 0, gone=True)
        words = outcome.value.split()
        if words[0] == "moved":
            return cls((), 0, 0, 0, moved=words[1])
        if words[0] == "taken":  # "taken RECEPTIONIST DESTINATION"
            return cls((), 0, 0, 0, taken=(words[1], words[2]))
        if words[0] == "offer":
            return cls(tuple(words[1].split(",")), int(words[2]), 1, 1)
        estimate = int(words[4]) if len(words) > 4 and words[4].isdigit() else None
        return cls((), int(words[1]), int(words[2]), int(words[3]), estimate=estimate)


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
    reattached = value.startswith("reattached")
    # Restarts (issue 5): the channel carries its queue call, which a controller the
    # dialplan reconnects it to after a restart finds again (socket_resume, CHANNEL_DATA).
    waited = 0
    if reattached:  # "reattached POSITION WAITED QUEUE": a previous controller held it
        words = value.split()
        waited = int(words[2])
        trace.add("queue", "re-attached", f"{queue.label}: the caller came back after a "
                  f"controller restart, position {words[1]} after {waited} s; the greeting "
                  "is not played again")
    else:
        trace.add("queue", "enqueued", f"{queue.label}: the caller waits, position {value}"
                  + (" with priority" if priority else "")
                  + f"; policy {queue.policy}, at most {queue.tier} waiting")
    yield Execute("multiset", f"pbx_queue_call={call.ctx.call_id} pbx_queue={queue.id}")
    greeted = reattached
    if queue.welcome and queue.welcome_mandatory and not greeted:
        trace.add("queue", "welcome", "the caller hears the welcome greeting (mandatory)")
        yield Playback(queue.welcome)
        greeted = True
    music = queue.music or call.where.settings.hold_music_for(str(queue.enterprise_id))
    # The wait is counted here, in what the caller heard (music slices, agents ringing out),
    # not read from a clock: routing stays pure, and the simulator's scaled time agrees
    # (a re-attached caller starts from the wait the service recorded).
    last_comfort = waited
    announced = False  # position / estimated wait told once on entry, then with comfort
    while True:
        poll = Poll.parse((yield Command(SERVICE, "poll", args)))
        if poll.moved is not None and UUID(poll.moved) in directory.queues:
            before, queue = queue, directory.queues[UUID(poll.moved)]
            trace.add("queue", "moved", f"a supervisor moved the call from {before.label} to "
                      f"{queue.label}")
            args = (("queue", str(queue.id)),)
            music = queue.music or call.where.settings.hold_music_for(str(queue.enterprise_id))
            continue
        if poll.taken is not None:  # a premium receptionist took it (RCP-1)
            yield from _taken(call, queue, *poll.taken)
            return
        if poll.gone or poll.moved is not None:
            trace.add("queue", "gone", "the call is no longer in the queue")
            yield Hangup(HangupCause.NORMAL_CLEARING)
            return
        if poll.offer:
            rang = yield from _offer(call, queue, poll, waited)
            if rang is None:
                return
            if rang == REOFFER:  # withdrawn from an agent turned unavailable: next agent now
                continue
            waited += rang
        elif not greeted and queue.welcome:
            trace.add("queue", "welcome", "no agent free: the caller hears the welcome greeting")
            yield Playback(queue.welcome)
            greeted = True
            continue
        elif poll.signed_in == 0 and queue.stranded == "overflow":
            yield from _overflow(call, queue, "stranded: no agent is signed in")
            return
        elif not announced and queue.announce != "none":
            announced = True  # on entry, after the welcome greeting
            yield from _announce(call, queue, poll)
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
            if queue.announce != "none":
                yield from _announce(call, queue, poll)
        slice_ = POLL_SECONDS
        if queue.max_wait is not None:
            slice_ = max(1, min(slice_, queue.max_wait - waited))
        if queue.comfort_every:
            slice_ = max(1, min(slice_, last_comfort + queue.comfort_every - waited))
        yield Execute("playback", music, (("playback_timeout_sec", str(slice_)),))
        waited += slice_


def _announce(call: TargetCall, queue: QueueView, poll: Poll) -> Script:
    words = announcement_words(queue.announce, poll.position, poll.estimate)
    call.trace.add("queue", "announcement", f"the caller hears: {words}")
    # not ``yield from`` a list: the session sends outcomes in, which a list cannot take
    for action in announcement(queue.announce, poll.position, poll.estimate):  # noqa: UP028
        yield action


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
                         auto_answer=queue.auto_answer, watch=SERVICE)
    assert isinstance(outcome, Rang)
    args = (("queue", str(queue.id)),)
    if outcome.result is RingResult.WITHDRAWN:  # the agent turned unavailable meanwhile
        trace.add("queue", "bounced", f"agent {','.join(poll.offer)} became unavailable "
                  "while ringing: the ring stopped and the call goes back to the head of the "
                  "queue")
        yield Command(SERVICE, "bounced", (*args, ("agents", ",".join(poll.offer)),
                                           ("reason", BOUNCE_UNAVAILABLE)))
        return REOFFER  # the ring's length is not known here: counted as no wait
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
    if queue.overflow_greeting:  # played before the destination, busy included
        call.trace.add("queue", "overflow greeting", f"the caller hears "
                       f"{queue.overflow_greeting} before the overflow")
        yield Execute("playback", queue.overflow_greeting, (("playback_timeout_sec", "0"),))
    if destination == "busy":
        yield from unanswered(call, RingResult.BUSY, HangupCause.USER_BUSY)
        return
    yield from reach(call, destination, f"overflow of {queue.label}", "no-answer")


def _taken(call: TargetCall, queue: QueueView, by: str, destination: str) -> Script:
    """A premium receptionist took the waiting caller out of the queue (RCP-1,
    esl_controller/receptionist.py): to their own phone (their personal forwarding skipped:
    they asked for the call), or on to ``destination``, whose own services apply as for a
    transfer. The caller is presented as they are."""
    own = destination == by
    call.trace.add("queue", "taken", f"receptionist {by} took the call out of {queue.label} "
                   + ("to their own phone" if own else f"to {destination}"))
    yield from reach(call, destination, f"taken out of {queue.label} by receptionist {by}",
                     "deflection", inhibit=own)


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
