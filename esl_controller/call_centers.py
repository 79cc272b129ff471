"""Call centers (CC-1 to CC-4): the administration use cases and the ``queue`` service.

``CallCenters`` validates, then records (nothing is written on bad input): queues, their
agents, an agent's availability and sign-in. The CLI (``pbx queue``, ``pbx agent``) and the
``*50`` / ``*51`` feature codes come here.

``QueueService.handle`` answers the queue script's ``Command("queue", NAME, args)``:

- ``enqueue``: records ``QueueCallEnqueued``; refuses a full queue (the tier's limit of
  waiting callers) and, under the stranded policy ``overflow``, a queue nobody is signed in
  to: the script then overflows the call;
- ``poll``: the dispatcher: under one lock, brings the directory up to date, computes which
  free agent goes to which waiting call (``routing.queue.assign``) and records
  ``QueueCallOffered`` for the ASKING call only. An offer is only ever recorded by the live
  session that will ring it, so no agent is left reserved for a caller who is gone;
- ``answered`` / ``bounced`` / ``overflow``: record the call's end in the queue, or its return
  to the head of the queue; the agent goes to wrap-up after an answered call, to unavailable
  (with an event) after the queue's maximum of offers let ring out in a row;
- ``sign-in`` / ``sign-out``: the calling agent, by feature code.

``call_ended`` is the session's end hook: a call that ends while still in a queue (waiting
or being offered) is recorded as abandoned. A controller restart loses no caller: the
dialplan sets ``socket_resume`` and, after the controller's socket, plays hold music and
connects the channel to the controller again for about 20 s (freeswitch-conf/dialplan).
``recover`` runs when the controller starts and expects back the queue calls its node held;
a caller whose channel comes back is re-attached by ``enqueue`` (``QueueCallReattached``:
same place, enqueue time and priority; an offer in flight at the crash is void, the call
back at the head); ``abandon_unattached``, after the window, records the others as
abandoned. Each queue call names the controller node holding it, so with two controllers
on one store a restart only touches its own callers. Agents' states (signed in,
unavailable, wrap-up until ...) and the queue figures are events and survive as they are.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import gevent.lock
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from esl_controller import personal
from esl_controller.application import NAME_RE, Pbx
from esl_controller.domain import numbers
from esl_controller.domain.call_centers import (
    AGENT_STATES,
    ANNOUNCE,
    BOUNCE_RANGE,
    BOUNCE_UNAVAILABLE,
    COMFORT_RANGE,
    DEFAULT_BOUNCE_AFTER,
    DEFAULT_MAX_NO_ANSWERS,
    DEFAULT_WRAP_UP,
    MAX_AGENTS,
    MAX_WAIT_RANGE,
    POLICIES,
    STRANDED,
    TIERS,
    WRAP_UP_RANGE,
    Agent,
    Queue,
    QueueCall,
)
from esl_controller.errors import NotFoundError, PbxError, ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from esl_controller.routing.queue import (
    AVAILABLE,
    agent_state,
    assign,
    estimated_wait,
    signed_in,
)
from projections.call_centers_fold import QueueCallView, QueueView
from projections.directory import Directory, EnterpriseView

log = logging.getLogger(__name__)

SAVE_RETRIES = 3
POLL_CATCH_UP_SECONDS = 0.025  # a poll reads the log at most this often (see _handle)
# Seconds a caller left waiting by a previous process has to re-attach after a restart:
# more than the dialplan's window (4 x 5 s of hold music between connection attempts).
REATTACH_WINDOW = 30.0
Busy = Callable[[str, str], bool] | None


def _now() -> datetime:
    return datetime.now(UTC)


def _check_range(what: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValidationError(f"the {what} is {low} to {high} seconds, not {value}")


def enter_queue(app: Pbx, queue_id: UUID, call_id: str, caller: str, priority: int,
                at: datetime, node: str = "", directory: Directory | None = None) -> QueueCall:
    """A new queue life of the call in the queue (unsaved): the call's aggregate of that
    queue, created, or requeued when the call was in the queue before (moved back).
    ``node``: the controller whose session holds the caller."""
    if not personal.is_sealed(caller):  # privacy (issue 6): an outsider's number sealed
        caller, _name = personal.sealed_caller(app, directory or app.directory(), caller)
    try:
        qc: QueueCall = app.repository.get(QueueCall.create_id(queue_id, call_id))
    except AggregateNotFoundError:
        return QueueCall(queue_id, call_id, caller, priority, at, node)
    if qc.ended is None:
        raise ValidationError("the call is in the queue already")
    qc.requeue(queue_id, call_id, caller, priority, at, node)
    return qc


def _answered_by(agent: str, at: datetime, call: QueueCall) -> None:
    call.answer(agent, at)


class CallCenters:
    """The use cases of ``pbx queue`` and ``pbx agent``."""

    def __init__(self, app: Pbx, clock: Callable[[], datetime] = _now) -> None:
        self.app = app
        self.clock = clock

    # -- reading -------------------------------------------------------------------------
    def queue(self, enterprise: str | None, name: str) -> QueueView:
        """The queue called ``name`` (or with extension ``name``)."""
        ent = self.app.enterprise(enterprise)
        directory = self.app.directory()
        found = directory.queue_named(ent.id, name)
        if found is None:
            target = directory.target(ent.id, name.strip())
            found = directory.queues.get(target.id) if target is not None else None
        if found is None:
            raise NotFoundError(f"no queue {name.strip()!r} in {ent.name!r}")
        return found

    def queues(self, enterprise: str | None) -> list[QueueView]:
        return self.app.directory().queues_of(self.app.enterprise(enterprise).id)

    def live(self, queue: QueueView, busy: Busy = None) -> dict[str, Any]:
        """What ``pbx queue show`` prints: waiting callers, agents and their states, figures."""
        directory = self.app.directory()
        now = self.clock()
        offers = directory.offers_of(queue.enterprise_id)
        figures = directory.queue_figures.get(queue.id)
        waiting = [{"call": c.call_id, "caller": personal.open_(self.app, c.caller), "priority": c.priority,
                    "waited": int((now - c.enqueued_at).total_seconds()),
                    "offered_to": list(c.offered_to), "bounced": c.bounced,
                    "talking": c.connected_to,  # supervisor functions (CC-5)
                    "node": c.node}  # the controller holding the caller (restarts)
                   for c in directory.waiting_in(queue.id)]
        agents = []
        for extension in queue.agents:
            user = directory.user(queue.enterprise_id, extension)
            state = agent_state(directory, queue, extension, now, busy, offers)
            agent = directory.agent_of(queue.enterprise_id, extension)
            if state == "wrap-up" and agent is not None and agent.until is not None:
                state += f" ({int((agent.until - now).total_seconds()) + 1} s left)"
            agents.append({"extension": extension, "name": user.name if user else None,
                           "state": state})
        data: dict[str, Any] = {"waiting": waiting, "agents": agents}
        if figures is not None:
            data["figures"] = {
                "entered": figures.entered, "answered": figures.answered,
                "abandoned": figures.abandoned, "overflowed": figures.overflowed,
                "bounced": figures.bounced, "moved_out": figures.moved_out,
                "taken": figures.taken,  # by a premium receptionist (RCP-1)
                "average_wait": round(figures.answered_wait / figures.answered, 1)
                if figures.answered else None,
            }
        return data

    # -- queues --------------------------------------------------------------------------
    def add(
        self,
        enterprise: str | None,
        name: str,
        extension: str,
        tier: int,
        policy: str,
        numbers_: Sequence[str] = (),
        max_wait: int | None = None,
        overflow: str | None = None,
        comfort_every: int | None = None,
        bounce_after: int = DEFAULT_BOUNCE_AFTER,
        auto_answer: bool = False,
        welcome: str | None = None,
        welcome_mandatory: bool = False,
        comfort: str | None = None,
        music: str | None = None,
        stranded: str = "overflow",
        wrap_up: int = DEFAULT_WRAP_UP,
        max_no_answers: int = DEFAULT_MAX_NO_ANSWERS,
        priority_numbers: Sequence[str] = (),
        announce: str = "none",
        overflow_greeting: str | None = None,
    ) -> QueueView:
        ent = self.app.enterprise(enterprise)
        name = name.strip()
        if not NAME_RE.match(name):
            raise ValidationError(f"invalid queue name: {name!r}")
        directory = self.app.directory()
        existing = directory.queue_named(ent.id, name)
        if existing is not None:
            raise ValidationError(f"queue {existing.name} already exists in {ent.name!r}")
        extension = self.app.check_extension_free(ent, extension)
        e164s: list[str] = []
        for raw in numbers_:
            e164 = self.app.check_number_free(ent, raw)
            if e164 in e164s:
                raise ValidationError(f"number {e164} is given twice")
            e164s.append(e164)
        config = self._config(ent, extension, e164s, dict(
            tier=tier, policy=policy, max_wait=max_wait, overflow=overflow,
            comfort_every=comfort_every, bounce_after=bounce_after, auto_answer=auto_answer,
            welcome=welcome, welcome_mandatory=welcome_mandatory, comfort=comfort,
            music=music, stranded=stranded, wrap_up=wrap_up, max_no_answers=max_no_answers,
            priority_numbers=list(priority_numbers), announce=announce,
            overflow_greeting=overflow_greeting))
        queue_id = Queue.create_id(ent.id, name)
        try:
            queue: Queue = self.app.repository.get(queue_id)
            queue.reinstate(name, extension, e164s, config)
        except AggregateNotFoundError:
            queue = Queue(ent.id, name, extension, e164s, config)
        self.app.save(queue)
        return self.queue(ent.name, name)

    def _config(self, ent: EnterpriseView, extension: str, e164s: Sequence[str],
                settings: dict[str, Any]) -> dict[str, Any]:
        """The queue's settings checked and in their stored form (``add`` and ``set``):
        the overflow destination resolved, priority numbers in E.164."""
        tier, policy = int(settings["tier"]), str(settings["policy"])
        max_wait, overflow = settings.get("max_wait"), settings.get("overflow")
        comfort_every = settings.get("comfort_every")
        bounce_after = int(settings.get("bounce_after", DEFAULT_BOUNCE_AFTER))
        auto_answer = bool(settings.get("auto_answer", False))
        welcome, comfort = settings.get("welcome"), settings.get("comfort")
        welcome_mandatory = bool(settings.get("welcome_mandatory", False))
        music, stranded = settings.get("music"), str(settings.get("stranded", "overflow"))
        wrap_up = int(settings.get("wrap_up", DEFAULT_WRAP_UP))
        max_no_answers = int(settings.get("max_no_answers", DEFAULT_MAX_NO_ANSWERS))
        priority_numbers = list(settings.get("priority_numbers") or ())
        announce = str(settings.get("announce") or "none")
        overflow_greeting = settings.get("overflow_greeting")
        if tier not in TIERS:
            raise ValidationError(f"the tier is {', '.join(map(str, TIERS))} waiting callers, "
                                  f"not {tier}")
        policy = policy.strip().lower()
        if policy not in POLICIES:
            raise ValidationError(f"unknown policy {policy!r}: use {', '.join(POLICIES)}")
        if stranded not in STRANDED:
            raise ValidationError(f"unknown stranded policy {stranded!r}: use "
                                  f"{', '.join(STRANDED)}")
        if max_wait is not None:
            _check_range("maximum wait", max_wait, MAX_WAIT_RANGE)
        if comfort_every is not None:
            _check_range("comfort message interval", comfort_every, COMFORT_RANGE)
        _check_range("bounce time", bounce_after, BOUNCE_RANGE)
        _check_range("wrap-up time", wrap_up, WRAP_UP_RANGE)
        if not 1 <= max_no_answers <= 10:
            raise ValidationError(f"the maximum no-answers is 1 to 10, not {max_no_answers}")
        if welcome_mandatory and not welcome:
            raise ValidationError("--welcome-mandatory needs a --welcome greeting")
        announce = announce.strip().lower()  # announcements (CC-2)
        if announce not in ANNOUNCE:
            raise ValidationError(f"unknown announcement {announce!r}: use "
                                  f"{', '.join(ANNOUNCE)}")
        if overflow_greeting is not None and not overflow_greeting.strip():
            raise ValidationError("the overflow greeting is empty")
        destination = (None if overflow is None
                       else self.destination(ent, overflow, extension, e164s))
        vips = [numbers.normalise(n, ent.country) for n in priority_numbers]
        config: dict[str, Any] = dict(
            tier=tier, policy=policy, max_wait=max_wait, overflow=destination,
            comfort_every=comfort_every, bounce_after=bounce_after, auto_answer=auto_answer,
            welcome=welcome, welcome_mandatory=welcome_mandatory, comfort=comfort,
            music=music, stranded=stranded, wrap_up=wrap_up, max_no_answers=max_no_answers,
            priority_numbers=vips,
        )
        if announce != "none":
            config["announce"] = announce
        if overflow_greeting is not None:
            config["overflow_greeting"] = overflow_greeting.strip()
        return config

    CLEARABLE = ("max_wait", "comfort_every", "overflow", "welcome", "comfort", "music",
                 "overflow_greeting")

    def set(self, enterprise: str | None, name: str, changes: dict[str, Any]) -> QueueView:
        """Change a queue's settings in place (``pbx queue set``): only those in ``changes``
        (the names of ``add``'s settings); ``None`` clears a clearable one (no maximum
        wait, no comfort message, no greeting, default music, busy overflow). The whole
        result is checked as ``add`` checks it; one ``QueueReconfigured`` event."""
        view = self.queue(enterprise, name)
        ent = self.app.directory().enterprises[view.enterprise_id]
        if not changes:
            raise ValidationError("nothing to change: give at least one setting")
        unknown = sorted(set(changes) - {"tier", "policy", "bounce_after", "auto_answer",
                                         "welcome_mandatory", "stranded", "wrap_up",
                                         "max_no_answers", "priority_numbers", "announce",
                                         *self.CLEARABLE})
        if unknown:
            raise ValidationError(f"not a queue setting: {', '.join(unknown)}")
        for key, value in changes.items():
            if value is None and key not in self.CLEARABLE:
                raise ValidationError(f"{key.replace('_', '-')} cannot be cleared")
        queue: Queue = self.app.repository.get(view.id)
        config = self._config(ent, view.extension, view.numbers,
                              {**queue.config, **changes})
        if config == queue.config:
            raise ValidationError(f"queue {view.name} has these settings already")
        queue.reconfigure(config)
        self.app.save(queue)
        return self.queue(ent.name, view.name)

    def destination(self, ent: EnterpriseView, raw: str, own_extension: str,
                    own_numbers: Sequence[str]) -> str:
        """An overflow destination: ``busy`` or what a hunt group may forward to."""
        if raw.strip().lower() == "busy":
            return "busy"
        from esl_controller.hunt_service import HuntGroups

        text = raw.strip()
        if text == own_extension:
            raise ValidationError(f"the queue cannot overflow to itself ({text})")
        try:
            return HuntGroups(self.app).destination(ent, text, own_extension, own_numbers)
        except ValidationError as exc:
            raise ValidationError(str(exc).replace("hunt group", "queue")
                                  .replace("forwarding destination", "overflow destination")
                                  ) from None

    def remove(self, enterprise: str | None, name: str) -> QueueView:
        view = self.queue(enterprise, name)
        queue: Queue = self.app.repository.get(view.id)
        queue.remove()
        self.app.save(queue)
        return view

    def add_agent(self, enterprise: str | None, name: str, extension: str) -> QueueView:
        """``extension`` becomes an agent of the queue, signed in to it."""
        view = self.queue(enterprise, name)
        ent = self.app.directory().enterprises[view.enterprise_id]
        extension = extension.strip()
        if self.app.directory().user(ent.id, extension) is None:
            raise ValidationError(f"no user with extension {extension!r} in {ent.name!r}")
        if extension in view.agents:
            raise ValidationError(f"{extension} is already an agent of queue {view.name}")
        if len(view.agents) >= MAX_AGENTS:
            raise ValidationError(f"a queue has at most {MAX_AGENTS} agents")
        queue: Queue = self.app.repository.get(view.id)
        queue.add_agent(extension)
        agent = self._agent(ent.id, extension)
        agent.sign_in(str(view.id), self.clock())
        self.app.save(queue, agent)
        return self.queue(ent.name, view.name)

    def remove_agent(self, enterprise: str | None, name: str, extension: str) -> QueueView:
        view = self.queue(enterprise, name)
        extension = extension.strip()
        if extension not in view.agents:
            raise ValidationError(f"{extension} is no agent of queue {view.name}")
        queue: Queue = self.app.repository.get(view.id)
        queue.remove_agent(extension)
        agent = self._agent(view.enterprise_id, extension)
        if str(view.id) in agent.signed_in:
            agent.sign_out(str(view.id), self.clock())
        self.app.save(queue, agent)
        return self.queue(self.app.enterprises_name(view.enterprise_id), view.name)

    def move(self, enterprise: str | None, call_id: str, name: str, by: str = "supervisor"
             ) -> QueueView:
        """Move a waiting call to another queue; it keeps its priority and its place by
        waiting time there, and its session follows at its next look for an agent."""
        to = self.queue(enterprise, name)
        directory = self.app.directory()
        call = directory.queue_call_of(call_id.strip())
        if call is None or directory.queues.get(call.queue_id) is None:
            raise NotFoundError(f"no call {call_id.strip()!r} is waiting in a queue")
        source = directory.queues[call.queue_id]
        if source.enterprise_id != to.enterprise_id:
            raise NotFoundError(f"no call {call_id.strip()!r} is waiting in a queue")
        if source.id == to.id:
            raise ValidationError(f"the call is in queue {to.name} already")
        if call.offered_to:
            raise ValidationError(f"the call is ringing agent {', '.join(call.offered_to)}: "
                                  "move it when it waits again")
        if len(directory.waiting_in(to.id)) >= to.tier:
            raise ValidationError(f"queue {to.name} is full ({to.tier} callers wait)")
        old: QueueCall = self.app.repository.get(call.id)
        now = self.clock()
        old.move(to.id, by, now)
        new = enter_queue(self.app, to.id, call.call_id, call.caller, call.priority,
                          call.enqueued_at, call.node)  # the same session holds it
        self.app.save(old, new)  # a concurrent offer makes this fail: nothing is written
        return to

    # -- agents --------------------------------------------------------------------------
    def _agent(self, enterprise_id: UUID, extension: str) -> Agent:
        try:
            agent: Agent = self.app.repository.get(Agent.create_id(enterprise_id, extension))
        except AggregateNotFoundError:
            agent = Agent(enterprise_id, extension)
        return agent

    def _agent_queues(self, ent: EnterpriseView, extension: str) -> list[QueueView]:
        directory = self.app.directory()
        if directory.user(ent.id, extension) is None:
            raise ValidationError(f"no user with extension {extension!r} in {ent.name!r}")
        found = [q for q in directory.queues_of(ent.id) if extension in q.agents]
        if not found:
            raise ValidationError(f"{extension} is no agent of any queue: "
                                  "pbx queue agent add QUEUE EXT")
        return found

    def set_state(self, enterprise: str | None, extension: str, state: str,
                  reason: str | None = None, seconds: int | None = None) -> str:
        """available, unavailable (with a reason) or wrap-up (for ``seconds``)."""
        ent = self.app.enterprise(enterprise)
        extension = extension.strip()
        queues = self._agent_queues(ent, extension)
        state = state.strip().lower()
        if state not in AGENT_STATES:
            raise ValidationError(f"unknown agent state {state!r}: use {', '.join(AGENT_STATES)}")
        if reason is not None and state != "unavailable":
            raise ValidationError("--reason goes with unavailable only")
        if seconds is not None and state != "wrap-up":
            raise ValidationError("--seconds goes with wrap-up only")
        now = self.clock()
        until = None
        if state == "wrap-up":
            wrap = seconds if seconds is not None else max(q.wrap_up for q in queues)
            _check_range("wrap-up time", wrap, WRAP_UP_RANGE)
            until = now + timedelta(seconds=wrap)
        agent = self._agent(ent.id, extension)
        agent.change(state, (reason or "").strip(), until, now)
        self.app.save(agent)
        self.app.directory()
        return state

    def sign(self, enterprise: str | None, extension: str, name: str, out: bool) -> QueueView:
        view = self.queue(enterprise, name)
        extension = extension.strip()
        if extension not in view.agents:
            raise ValidationError(f"{extension} is no agent of queue {view.name}")
        agent = self._agent(view.enterprise_id, extension)
        queue_id = str(view.id)
        if out and queue_id not in agent.signed_in:
            raise ValidationError(f"{extension} is not signed in to {view.name}")
        if not out and queue_id in agent.signed_in:
            raise ValidationError(f"{extension} is already signed in to {view.name}")
        if out:
            agent.sign_out(queue_id, self.clock())
        else:
            agent.sign_in(queue_id, self.clock())
        self.app.save(agent)
        return view


class QueueService:
    """The ``queue`` service of the call sessions (see the module docstring)."""

    def __init__(self, app: Pbx, directory: Callable[[], Directory],
                 clock: Callable[[], datetime] = _now, busy: Busy = None,
                 seeds: random.Random | None = None, node: str = "",
                 reattach_window: float = REATTACH_WINDOW,
                 poll_catch_up: float = 0.0) -> None:
        self.app = app
        self.poll_catch_up = poll_catch_up  # the controller: POLL_CATCH_UP_SECONDS
        # Restarts (see ``recover``): this controller's name in the queue calls' events,
        # the seconds a caller has to come back, the calls still expected back (call id
        # -> queue call id) and the calls this process's sessions hold.
        self.node = node
        self.reattach_window = reattach_window
        self._expected: dict[str, UUID] = {}
        self._recovered_at: datetime | None = None
        self._held: set[str] = set()
        self.directory = directory  # the controller's live directory, which routing reads
        self.clock = clock
        self.busy = busy
        self.seeds = seeds or random.Random()
        self.centers = CallCenters(app, clock)
        self._lock = gevent.lock.RLock()  # one dispatcher decision at a time
        self._polled_at = 0.0  # when a poll last brought the directory up to date

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        try:
            with self._lock:
                return self._handle(command, ctx)
        except (PbxError, ValueError, KeyError) as exc:
            log.warning("call %s: queue %s failed: %s", ctx.call_id, command.name, exc)
            return CommandResult(False, str(exc))

    def _handle(self, command: Command, ctx: CallContext) -> CommandResult:
        name = command.name
        if name in ("sign-in", "sign-out"):
            return self._sign(command, ctx)
        if name != "poll" or time.monotonic() - self._polled_at >= self.poll_catch_up:
            # Every waiting caller polls every slice: hundreds of polls a second would each
            # read the log. This process's own writes are folded as they are made (below);
            # other processes' (CLI, another node) reach a poll at most this late.
            self._catch_up()
            self._polled_at = time.monotonic()
        directory = self.directory()
        queue = directory.queues.get(UUID(command.arg("queue")))
        if queue is None:
            return CommandResult(False, "no such queue")
        if name == "enqueue":
            return self._enqueue(queue, command, ctx.call_id)
        call = directory.queue_call_of(ctx.call_id)
        if call is not None and call.queue_id != queue.id and name == "poll":
            return CommandResult(True, f"moved {call.queue_id}")  # by a supervisor
        if call is None or call.queue_id != queue.id:
            taken = self._taken(queue, ctx.call_id) if name == "poll" else None
            if taken is not None:  # a premium receptionist took it (RCP-1)
                return CommandResult(True, taken)
            return CommandResult(False, "the call is not in the queue")
        if name == "poll":
            return self._poll(queue, call)
        if name == "answered":
            self._answered(queue, call, command.arg("agent"))
            return CommandResult(True, "")
        if name == "bounced":
            self._bounced(queue, call, command.arg("agents").split(","),
                          command.arg("reason"))
            return CommandResult(True, "")
        if name == "overflow":
            self._save_call(call, lambda c: c.overflow(
                command.arg("reason"), command.arg("destination"), self.clock()))
            return CommandResult(True, "")
        return CommandResult(False, f"unknown command {name!r}")

    def _catch_up(self) -> None:
        self.app.catch_up(self.directory())

    # -- the calls -----------------------------------------------------------------------
    def _enqueue(self, queue: QueueView, command: Command, call_id: str) -> CommandResult:
        directory = self.directory()
        open_call = directory.queue_call_of(call_id)
        if open_call is not None and call_id not in self._held:
            return self._reattach(open_call)  # a previous controller process held it
        if open_call is not None:
            return CommandResult(False, "the call is in a queue already")
        waiting = len(directory.waiting_in(queue.id))
        qc = enter_queue(self.app, queue.id, call_id, command.arg("caller"),
                         int(command.arg("priority", "0") or 0), self.clock(), self.node,
                         directory)
        self.app.save(qc)
        self._held.add(call_id)
        self._catch_up()
        if waiting >= queue.tier:
            return CommandResult(False, f"full: {waiting} callers wait, the tier's limit")
        if queue.stranded == "overflow" and not signed_in(directory, queue):
            return CommandResult(False, "stranded: no agent is signed in")
        position = next((i for i, c in enumerate(directory.waiting_in(queue.id), 1)
                         if c.call_id == call_id), waiting + 1)
        return CommandResult(True, str(position))

    def _poll(self, queue: QueueView, call: QueueCallView) -> CommandResult:
        directory = self.directory()
        now = self.clock()
        waited = int((now - call.enqueued_at).total_seconds())
        if call.offered_to:  # an offer recorded and not yet settled: ring it again
            return CommandResult(True, f"offer {','.join(call.offered_to)} {waited}")
        chosen = assign(directory, queue, now, self.busy, self.seeds.getrandbits(32),
                        until=call.call_id)
        agents = chosen.get(call.call_id)
        if agents:
            if not self._save_call(call, lambda c: c.offer(list(agents), now)):
                # closed meanwhile: taken by a receptionist (RCP-1), or gone
                taken = self._taken(queue, call.call_id)
                return (CommandResult(True, taken) if taken is not None
                        else CommandResult(False, "the call is not in the queue"))
            return CommandResult(True, f"offer {','.join(agents)} {waited}")
        order = [c.call_id for c in directory.waiting_in(queue.id)]
        position = order.index(call.call_id) + 1
        present = signed_in(directory, queue)
        estimate = None
        if queue.announce in ("wait", "both"):  # announcements (CC-2)
            serving = [a for a in present
                       if not agent_state(directory, queue, a, now, None, {})
                       .startswith("unavailable")]
            figures = directory.queue_figures.get(queue.id)
            estimate = estimated_wait(figures.recent_waits if figures else (), position,
                                      len(serving))
        return CommandResult(True, f"wait {waited} {position} {len(present)}"
                                   + (f" {estimate}" if estimate is not None else ""))

    def _answered(self, queue: QueueView, call: QueueCallView, agent: str) -> None:
        now = self.clock()
        self._save_call(call, lambda c: c.answer(agent, now))
        if queue.wrap_up > 0:
            self._change_agent(queue.enterprise_id, agent, "wrap-up", "",
                               now + timedelta(seconds=queue.wrap_up))

    def _bounced(self, queue: QueueView, call: QueueCallView, agents: list[str],
                 reason: str) -> None:
        self._save_call(call, lambda c: c.bounce(agents, reason, self.clock()))
        if reason == BOUNCE_UNAVAILABLE:
            return  # withdrawn from an agent who turned unavailable: not a missed call
        directory = self.directory()
        for extension in agents:
            agent = directory.agent_of(queue.enterprise_id, extension)
            if agent is not None and agent.missed >= queue.max_no_answers:
                self._change_agent(queue.enterprise_id, extension, "unavailable",
                                   f"missed {agent.missed} queue calls in a row", None)

    def withdraw_reason(self, ctx: CallContext) -> str | None:
        """Asked while a queue offer rings (the session's ``ring_watch``): why to stop the
        ring now, when none of the offered agents may take a queue call any more (set
        unavailable by the CLI or a code, signed out, wrap-up, do not disturb), else None.
        The script then records the bounce (``agent became unavailable``) and the call
        goes back to the head of the queue. Asked four times a second per ringing offer, it
        only reads the live directory (the controller's follower keeps it current)."""
        directory = self.directory()
        call = directory.queue_call_of(ctx.call_id)
        queue = directory.queues.get(call.queue_id) if call is not None else None
        if call is None or queue is None or not call.offered_to:
            return None
        now = self.clock()
        states = {a: agent_state(directory, queue, a, now, None, {}) for a in call.offered_to}
        if any(state == AVAILABLE for state in states.values()):
            return None
        return "; ".join(f"agent {a}: {state}" for a, state in states.items())

    def _change_agent(self, enterprise_id: UUID, extension: str, state: str, reason: str,
                      until: datetime | None) -> None:
        for _attempt in range(SAVE_RETRIES):
            agent = self.centers._agent(enterprise_id, extension)
            agent.change(state, reason, until, self.clock())
            try:
                self.app.save(agent)
            except RecordConflictError:
                continue
            self._catch_up()
            return
        raise ValidationError(f"agent {extension}: too many concurrent writes")

    def _save_call(self, call: QueueCallView, change: Callable[[QueueCall], None]) -> bool:
        """Record ``change``; False when the call's queue life closed meanwhile."""
        for _attempt in range(SAVE_RETRIES):
            qc: QueueCall = self.app.repository.get(call.id)
            if qc.ended is not None:
                return False  # closed meanwhile (abandoned, recovered, taken): nothing more
            change(qc)
            try:
                self.app.save(qc)
            except RecordConflictError:
                continue
            self._catch_up()
            return True
        raise ValidationError(f"queue call {call.call_id}: too many concurrent writes")

    def _taken(self, queue: QueueView, call_id: str) -> str | None:
        """``taken BY DESTINATION`` when a premium receptionist took the call out of the
        queue (RCP-1, esl_controller/receptionist.py): the caller's script sends it there."""
        try:
            qc: QueueCall = self.app.repository.get(QueueCall.create_id(queue.id, call_id))
        except AggregateNotFoundError:
            return None
        if qc.ended != "taken":
            return None
        from esl_controller import personal  # an outside destination is sealed

        return f"taken {qc.taken_by} {personal.open_(self.app, qc.taken_to)}"

    # -- the end of a call, and a restart ------------------------------------------------
    def call_ended(self, ctx: CallContext) -> None:
        """The session's end hook: a call still in a queue was abandoned by its caller."""
        if ctx.call_id not in self._held:
            return  # never entered a queue through this process: ends cost nothing here
        self._held.discard(ctx.call_id)  # restarts: no longer held by this process
        try:
            with self._lock:
                self._catch_up()
                call = self.directory().queue_call_of(ctx.call_id)
                if call is not None:
                    self._save_call(call, lambda c: c.abandon("the caller hung up",
                                                             self.clock()))
        except PbxError as exc:
            log.error("call %s: abandon not recorded: %s", ctx.call_id, exc)

    # -- a controller restart (issue 5 item 1) ------------------------------------------
    def recover(self) -> int:
        """At start: expect back the callers a previous process of this node left waiting.

        Their channels are not gone: the dialplan's ``socket_resume`` window plays hold
        music and connects them to the controller again (freeswitch-conf/dialplan), and
        ``enqueue`` then re-attaches each at its place. Only the queue calls of this node
        (or of no recorded node, written before nodes were recorded) are expected: with
        two controllers on one store, the other one's callers are none of this one's
        business. ``abandon_unattached`` closes, after the window, the ones that did not
        come back."""
        with self._lock:
            self._catch_up()
            self._recovered_at = self.clock()
            mine = [c for c in self.directory().queue_calls.values()
                    if c.node in (self.node, "")]
            self._expected = {c.call_id: c.id for c in mine}
            if mine:
                log.warning("queues: %d caller(s) left waiting by the previous controller "
                            "process of node %r: %.0f s to re-attach", len(mine),
                            self.node, self.reattach_window)
            return len(mine)

    def _reattach(self, call: QueueCallView) -> CommandResult:
        """The caller's channel came back: same place, enqueue time and priority."""
        now = self.clock()
        lost = list(call.offered_to)
        self._save_call(call, lambda c: c.reattach(self.node, lost, now))
        self._held.add(call.call_id)
        self._expected.pop(call.call_id, None)
        order = [c.call_id for c in self.directory().waiting_in(call.queue_id)]
        position = order.index(call.call_id) + 1 if call.call_id in order else 1
        waited = max(0, int((now - call.enqueued_at).total_seconds()))
        log.info("queue call %s re-attached to node %r at position %d%s", call.call_id,
                 self.node, position, f" (offer to {','.join(lost)} void)" if lost else "")
        return CommandResult(True, f"reattached {position} {waited} {call.queue_id}")

    def abandon_unattached(self) -> int:
        """After the window: the expected callers who did not come back left (hung up
        during the restart): recorded as abandoned; their agents are free. A call an
        agent was talking to at the crash (the bridge outlives the socket) is closed as
        answered instead."""
        with self._lock:
            self._catch_up()
            expected, self._expected = self._expected, {}
            closed = 0
            for call_id in expected:
                call = self.directory().queue_call_of(call_id)
                if call is None or call_id in self._held or call.node not in (self.node, ""):
                    continue  # ended, back here, or re-attached to another controller
                agent: str | None = getattr(call, "connected_to", None)  # CC-5 fold
                if agent:
                    self._save_call(call, partial(_answered_by, agent, self.clock()))
                else:
                    self._save_call(call, lambda c: c.abandon(
                        f"lost: the caller did not come back within "
                        f"{self.reattach_window:.0f} s of the controller restart",
                        self.clock()))
                closed += 1
            if closed:
                log.warning("queues: %d caller(s) did not re-attach after the restart: "
                            "closed", closed)
            return closed

    def run_reattach_window(self) -> int:
        """The timer ``pbx serve`` runs after ``recover``."""
        gevent.sleep(self.reattach_window)
        return self.abandon_unattached()

    def _sign(self, command: Command, ctx: CallContext) -> CommandResult:
        directory = self.app.directory()
        ent = directory.enterprise_for_domain(ctx.domain or "")
        if ent is None or ctx.auth_user is None:
            return CommandResult(False, "not a user of this exchange")
        ext = ctx.auth_user
        device = directory.device_owner(ent.id, ext)  # a shared device acts as its user
        ext = device[0].extension if device is not None else ext
        target = directory.target(ent.id, command.arg("queue-extension"))
        if target is None or target.id not in directory.queues:
            return CommandResult(False, f"{command.arg('queue-extension')!r} is no queue")
        view = self.centers.sign(ent.name, ext, target.name, command.name == "sign-out")
        self._catch_up()
        return CommandResult(True, view.name)
