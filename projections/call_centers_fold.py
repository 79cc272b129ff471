"""The call-center part of the Directory fold (CC-1 to CC-4): queues, live queue state, agents.

- ``queues``: each queue's configuration as routing reads it (target kind ``queue``);
- ``queue_calls``: the calls waiting in a queue right now (since when, with which priority,
  bounced back to the head or not, offered to which agents);
- ``queue_figures``: per queue, the calls entered, answered, abandoned, overflowed and
  bounced, the answered calls' total wait, the end of each agent's last queue call;
- ``agents``: per (enterprise, extension) the queues the agent is signed in to, their
  availability (available, unavailable with a reason, wrap-up until a moment) and the
  offers they let ring out in a row.

All of it is folded from the log only: a fresh fold equals the live one, and a restarted
controller resumes every queue exactly where the log left it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from projections.targets import TargetIndex, TargetView

RECENT_WAITS = 10  # answered calls whose waits estimate the next callers' (announcements)
BOUNCE_UNAVAILABLE = "agent became unavailable"  # = domain.call_centers.BOUNCE_UNAVAILABLE

KIND = "queue"
QUEUE_TOPIC = "esl_controller.domain.call_centers:Queue"
CALL_TOPIC = "esl_controller.domain.call_centers:QueueCall"
AGENT_TOPIC = "esl_controller.domain.call_centers:Agent"
EVENTS: dict[str, tuple[str, ...]] = {
    QUEUE_TOPIC: ("QueueCreated", "QueueReinstated", "QueueRemoved", "QueueAgentAdded",
                  "QueueAgentRemoved", "QueueReconfigured",
                  "QueueSupervisorAdded", "QueueSupervisorRemoved"),  # supervisors (CC-5)
    CALL_TOPIC: ("QueueCallEnqueued", "QueueCallOffered", "QueueCallBounced",
                 "QueueCallAnswered", "QueueCallOverflowed", "QueueCallAbandoned",
                 "QueueCallMoved", "QueueCallRequeued",
                 "QueueCallTaken",  # a premium receptionist took it out (RCP-1)
                 "QueueCallReattached",  # a controller restart (socket_resume)
                 # supervisor functions (CC-5, esl_controller/supervisor.py)
                 "QueueCallPriorityChanged", "QueueCallConnected"),
    AGENT_TOPIC: ("AgentRegistered", "AgentSignedIn", "AgentSignedOut",
                  "AgentAvailabilityChanged"),
}


@dataclass(frozen=True, slots=True)
class QueueView:
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str
    numbers: tuple[str, ...]
    tier: int
    policy: str
    agents: tuple[str, ...] = ()
    welcome: str | None = None
    welcome_mandatory: bool = False
    comfort_every: int | None = None
    comfort: str | None = None
    music: str | None = None
    max_wait: int | None = None
    overflow: str | None = None  # "busy", EXT, vm:EXT or an E.164 number; None: busy
    bounce_after: int = 15
    max_no_answers: int = 3
    stranded: str = "overflow"
    auto_answer: bool = False
    wrap_up: int = 10
    priority_numbers: tuple[str, ...] = ()  # callers from these numbers go first
    # announcements (CC-2): none, position, wait or both; a greeting before an overflow
    announce: str = "none"
    overflow_greeting: str | None = None
    supervisors: tuple[str, ...] = ()  # who may monitor its calls (CC-5)

    @property
    def label(self) -> str:
        return f"queue {self.name} ({self.extension})"


@dataclass(frozen=True, slots=True)
class QueueCallView:
    """One call waiting in a queue (or being offered to its agents)."""

    id: UUID
    queue_id: UUID
    call_id: str
    caller: str
    priority: int
    enqueued_at: datetime
    offered_to: tuple[str, ...] = ()
    offered_at: datetime | None = None
    bounced: int = 0  # times the call came back to the head of the queue
    node: str = ""  # the controller node holding the caller's session (restarts)
    # supervisor functions (CC-5): the agent talking to the caller, since when, on which leg
    connected_to: str | None = None
    connected_at: datetime | None = None
    agent_leg: str | None = None  # FreeSWITCH's uuid of the agent's channel (eavesdrop)

    def order_key(self) -> tuple[int, int, datetime, str]:
        """Higher priority first; a bounced call before the others of its priority; then
        the longest waiting."""
        return (-self.priority, 0 if self.bounced else 1, self.enqueued_at, self.call_id)


@dataclass(frozen=True, slots=True)
class QueueFigures:
    entered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    bounced: int = 0
    moved_out: int = 0  # moved to another queue by a supervisor
    taken: int = 0  # taken out of the queue by a premium receptionist (RCP-1)
    answered_wait: float = 0.0  # seconds the answered calls waited, in total
    last_offered: str | None = None  # circular policy: the agent offered last
    idle_since: tuple[tuple[str, datetime], ...] = ()  # uniform: end of last queue call
    answered_by: tuple[tuple[str, int], ...] = ()  # (agent, queue calls answered)
    recent_waits: tuple[float, ...] = ()  # the last RECENT_WAITS answered calls' waits (s)


@dataclass(frozen=True, slots=True)
class AgentView:
    id: UUID
    enterprise_id: UUID
    extension: str
    signed_in: tuple[UUID, ...] = ()  # queue ids, sorted
    state: str = "available"
    reason: str = ""
    until: datetime | None = None  # wrap-up until
    missed: int = 0  # queue offers let ring out in a row

    def state_at(self, now: datetime) -> str:
        """The state at ``now``: a wrap-up whose time is over is available again."""
        if self.state == "wrap-up" and self.until is not None and now >= self.until:
            return "available"
        return self.state


@lru_cache(maxsize=65536)
def _agent_id(enterprise_id: UUID, extension: str) -> UUID:
    """``Agent.create_id``, remembered: the dispatcher asks for every agent at every look
    (a uuid5 each time was a third of its cost, see esl_controller/bench_queue.py)."""
    from esl_controller.domain.call_centers import Agent

    return Agent.create_id(enterprise_id, extension)


class CallCentersFold(TargetIndex):
    """Directory mixin: queues, the calls waiting in them, their figures, the agents."""

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[UUID, QueueView] = {}
        self.queue_calls: dict[UUID, QueueCallView] = {}  # live: waiting or being offered
        self.queue_figures: dict[UUID, QueueFigures] = {}  # by queue id
        self.agents: dict[UUID, AgentView] = {}  # by agent id
        self._queue_identity: dict[UUID, UUID] = {}  # queue id -> enterprise id
        self._queue_call_ids: dict[str, UUID] = {}  # call id -> live queue call id

    # -- configuration -------------------------------------------------------------------
    def _on_QueueCreated(self, qid: UUID, e: Any) -> None:
        self._queue_identity[qid] = e.enterprise_id
        self._put_queue(qid, e)

    def _on_QueueReinstated(self, qid: UUID, e: Any) -> None:
        self._put_queue(qid, e)

    def _put_queue(self, qid: UUID, e: Any) -> None:
        c = dict(e.config)
        view = QueueView(
            id=qid, enterprise_id=self._queue_identity[qid], name=e.name,
            extension=e.extension, numbers=tuple(e.numbers), tier=int(c["tier"]),
            policy=str(c["policy"]), welcome=c.get("welcome"),
            welcome_mandatory=bool(c.get("welcome_mandatory", False)),
            comfort_every=c.get("comfort_every"), comfort=c.get("comfort"),
            music=c.get("music"), max_wait=c.get("max_wait"), overflow=c.get("overflow"),
            bounce_after=int(c.get("bounce_after", 15)),
            max_no_answers=int(c.get("max_no_answers", 3)),
            stranded=str(c.get("stranded", "overflow")),
            auto_answer=bool(c.get("auto_answer", False)), wrap_up=int(c.get("wrap_up", 10)),
            priority_numbers=tuple(c.get("priority_numbers", ())),
            announce=str(c.get("announce", "none")),
            overflow_greeting=c.get("overflow_greeting"),
        )
        self.queues[qid] = view
        self.queue_figures.setdefault(qid, QueueFigures())
        self._put_target(TargetView(KIND, qid, view.enterprise_id, view.name, view.extension,
                                    view.numbers))

    def _on_QueueReconfigured(self, qid: UUID, e: Any) -> None:
        old = self.queues.get(qid)
        if old is None:
            return
        self._put_queue(qid, SimpleNamespace(name=old.name, extension=old.extension,
                                             numbers=old.numbers, config=e.config))
        self.queues[qid] = replace(self.queues[qid], agents=old.agents,
                                   supervisors=old.supervisors)

    def _on_QueueRemoved(self, qid: UUID, e: Any) -> None:
        self.queues.pop(qid, None)
        self._drop_target(qid)

    def _on_QueueAgentAdded(self, qid: UUID, e: Any) -> None:
        view = self.queues.get(qid)
        if view is not None:
            kept = tuple(a for a in view.agents if a != e.extension)
            self.queues[qid] = replace(view, agents=(*kept, e.extension))

    def _on_QueueAgentRemoved(self, qid: UUID, e: Any) -> None:
        view = self.queues.get(qid)
        if view is not None:
            self.queues[qid] = replace(view, agents=tuple(a for a in view.agents
                                                          if a != e.extension))

    # -- supervisors and supervisor functions (CC-5, esl_controller/supervisor.py) -------
    def _on_QueueSupervisorAdded(self, qid: UUID, e: Any) -> None:
        view = self.queues.get(qid)
        if view is not None:
            kept = tuple(s for s in view.supervisors if s != e.extension)
            self.queues[qid] = replace(view, supervisors=(*kept, e.extension))

    def _on_QueueSupervisorRemoved(self, qid: UUID, e: Any) -> None:
        view = self.queues.get(qid)
        if view is not None:
            self.queues[qid] = replace(view, supervisors=tuple(
                s for s in view.supervisors if s != e.extension))

    def _on_QueueCallPriorityChanged(self, cid: UUID, e: Any) -> None:
        call = self.queue_calls.get(cid)
        if call is not None:
            self.queue_calls[cid] = replace(call, priority=int(e.priority))

    def _on_QueueCallConnected(self, cid: UUID, e: Any) -> None:
        call = self.queue_calls.get(cid)
        if call is not None:
            self.queue_calls[cid] = replace(call, connected_to=e.agent, connected_at=e.at,
                                            agent_leg=e.leg)

    # -- the calls' queue lives ----------------------------------------------------------
    def _figures(self, queue_id: UUID, **changes: Any) -> None:
        figures = self.queue_figures.get(queue_id, QueueFigures())
        self.queue_figures[queue_id] = replace(figures, **changes)

    def _on_QueueCallEnqueued(self, cid: UUID, e: Any) -> None:
        self.queue_calls[cid] = QueueCallView(cid, e.queue_id, e.call_id, e.caller,
                                              int(e.priority), e.at,
                                              node=getattr(e, "node", "") or "")
        self._queue_call_ids[e.call_id] = cid
        figures = self.queue_figures.get(e.queue_id, QueueFigures())
        self._figures(e.queue_id, entered=figures.entered + 1)

    def _on_QueueCallRequeued(self, cid: UUID, e: Any) -> None:
        self._on_QueueCallEnqueued(cid, e)

    def _on_QueueCallReattached(self, cid: UUID, e: Any) -> None:
        """Back after a controller restart: same place; a lost offer sends it to the head."""
        call = self.queue_calls.get(cid)
        if call is None:
            return
        lost = bool(e.offer_lost)
        self.queue_calls[cid] = replace(call, node=e.node, offered_to=(), offered_at=None,
                                        bounced=call.bounced + (1 if lost else 0))

    def _on_QueueCallOffered(self, cid: UUID, e: Any) -> None:
        call = self.queue_calls.get(cid)
        if call is None:
            return
        self.queue_calls[cid] = replace(call, offered_to=tuple(e.agents), offered_at=e.at)
        if len(e.agents) == 1:
            self._figures(call.queue_id, last_offered=e.agents[0])

    def _on_QueueCallBounced(self, cid: UUID, e: Any) -> None:
        call = self.queue_calls.get(cid)
        if call is None:
            return
        self.queue_calls[cid] = replace(call, offered_to=(), offered_at=None,
                                        bounced=call.bounced + 1)
        figures = self.queue_figures.get(call.queue_id, QueueFigures())
        self._figures(call.queue_id, bounced=figures.bounced + 1)
        if e.reason == BOUNCE_UNAVAILABLE:
            return  # withdrawn from an agent who turned unavailable: no missed call
        for agent in self._agents_named(call.queue_id, e.agents):
            self.agents[agent.id] = replace(agent, missed=agent.missed + 1)

    def _on_QueueCallAnswered(self, cid: UUID, e: Any) -> None:
        call = self._close(cid)
        if call is None:
            return
        figures = self.queue_figures.get(call.queue_id, QueueFigures())
        waited = ((call.offered_at or e.at) - call.enqueued_at).total_seconds()
        idle = tuple(sorted((*((a, t) for a, t in figures.idle_since if a != e.agent),
                             (e.agent, e.at))))
        count = dict(figures.answered_by).get(e.agent, 0) + 1
        answered_by = tuple(sorted((*((a, n) for a, n in figures.answered_by
                                      if a != e.agent), (e.agent, count))))
        self._figures(call.queue_id, answered=figures.answered + 1,
                      answered_wait=figures.answered_wait + max(0.0, waited),
                      recent_waits=(*figures.recent_waits, max(0.0, waited))[-RECENT_WAITS:],
                      idle_since=idle, answered_by=answered_by)
        for agent in self._agents_named(call.queue_id, [e.agent]):
            self.agents[agent.id] = replace(agent, missed=0)

    def _on_QueueCallOverflowed(self, cid: UUID, e: Any) -> None:
        call = self._close(cid)
        if call is not None:
            figures = self.queue_figures.get(call.queue_id, QueueFigures())
            self._figures(call.queue_id, overflowed=figures.overflowed + 1)

    def _on_QueueCallAbandoned(self, cid: UUID, e: Any) -> None:
        call = self._close(cid)
        if call is not None:
            figures = self.queue_figures.get(call.queue_id, QueueFigures())
            self._figures(call.queue_id, abandoned=figures.abandoned + 1)

    def _on_QueueCallMoved(self, cid: UUID, e: Any) -> None:
        call = self._close(cid)
        if call is not None:
            figures = self.queue_figures.get(call.queue_id, QueueFigures())
            self._figures(call.queue_id, moved_out=figures.moved_out + 1)

    def _on_QueueCallTaken(self, cid: UUID, e: Any) -> None:
        """A premium receptionist took the waiting call (RCP-1): it leaves the queue."""
        call = self._close(cid)
        if call is not None:
            figures = self.queue_figures.get(call.queue_id, QueueFigures())
            self._figures(call.queue_id, taken=figures.taken + 1)

    def _close(self, cid: UUID) -> QueueCallView | None:
        call = self.queue_calls.pop(cid, None)
        if call is not None and self._queue_call_ids.get(call.call_id) == cid:
            del self._queue_call_ids[call.call_id]
        return call

    def _agents_named(self, queue_id: UUID, extensions: Any) -> list[AgentView]:
        enterprise_id = self._queue_identity.get(queue_id)
        if enterprise_id is None:
            return []
        found = (self.agent_of(enterprise_id, str(x)) for x in extensions)
        return [a for a in found if a is not None]

    # -- agents --------------------------------------------------------------------------
    def _on_AgentRegistered(self, aid: UUID, e: Any) -> None:
        self.agents[aid] = AgentView(aid, e.enterprise_id, e.extension)

    def _on_AgentSignedIn(self, aid: UUID, e: Any) -> None:
        agent = self.agents.get(aid)
        if agent is not None:
            queues = tuple(sorted({*agent.signed_in, UUID(e.queue_id)}))
            self.agents[aid] = replace(agent, signed_in=queues)

    def _on_AgentSignedOut(self, aid: UUID, e: Any) -> None:
        agent = self.agents.get(aid)
        if agent is not None:
            queues = tuple(q for q in agent.signed_in if q != UUID(e.queue_id))
            self.agents[aid] = replace(agent, signed_in=queues)

    def _on_AgentAvailabilityChanged(self, aid: UUID, e: Any) -> None:
        agent = self.agents.get(aid)
        if agent is not None:
            missed = 0 if e.state == "available" else agent.missed
            self.agents[aid] = replace(agent, state=e.state, reason=e.reason, until=e.until,
                                       missed=missed)

    # -- lookups -------------------------------------------------------------------------
    def agent_of(self, enterprise_id: UUID, extension: str) -> AgentView | None:
        return self.agents.get(_agent_id(enterprise_id, extension))

    def queue_named(self, enterprise_id: UUID, name: str) -> QueueView | None:
        wanted = name.strip().lower()
        return next((q for q in self.queues.values()
                     if q.enterprise_id == enterprise_id and q.name.lower() == wanted), None)

    def queues_of(self, enterprise_id: UUID) -> list[QueueView]:
        return sorted((q for q in self.queues.values() if q.enterprise_id == enterprise_id),
                      key=lambda q: q.name.lower())

    def waiting_in(self, queue_id: UUID) -> list[QueueCallView]:
        """The queue's calls in the order they are served."""
        return sorted((c for c in self.queue_calls.values() if c.queue_id == queue_id),
                      key=QueueCallView.order_key)

    def queue_call_of(self, call_id: str) -> QueueCallView | None:
        cid = self._queue_call_ids.get(call_id)
        return None if cid is None else self.queue_calls.get(cid)

    def offers_of(self, enterprise_id: UUID) -> dict[str, UUID]:
        """Agent extension -> the queue call offered to them now (any queue)."""
        found: dict[str, UUID] = {}
        for call in self.queue_calls.values():
            if not call.offered_to:
                continue  # most waiting calls ring nobody: skip them cheaply
            queue = self.queues.get(call.queue_id)
            owner = queue.enterprise_id if queue else self._queue_identity.get(call.queue_id)
            if owner == enterprise_id:
                for agent in call.offered_to:
                    found[agent] = call.id
        return found

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "queues": dict(sorted(self.queues.items())),
            "queue_calls": dict(sorted(self.queue_calls.items())),
            "queue_figures": dict(sorted(self.queue_figures.items())),
            "agents": dict(sorted(self.agents.items())),
        }
