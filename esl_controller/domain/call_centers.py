"""Call centers (CC-1 to CC-4): queues, their calls' queue lives, and agents.

Three aggregates, each kept small so no stream grows with the traffic:

- ``Queue``: the configuration an operator writes (name, extension, numbers, tier, policy,
  greetings, music, overflow, bounce, stranded policy, auto answer, wrap-up, agents).
- ``QueueCall``: one call's life in one queue (uuid5 of the queue and the call id):
  enqueued, offered to agents, bounced back to the head of the queue, answered,
  overflowed or abandoned. A call that leaves its queue closes its life there.
- ``Agent``: one user of an enterprise as a call-center agent: the queues they are signed
  in to and their availability (available, unavailable with a reason, wrap-up until a
  moment).

Every run-time step is an event, so the dispatcher's state (who waits since when, which agent
is offered what, who is in wrap-up until when) is a fold of the log: a restarted controller
and a rebuild both see exactly the same queues. Validation and clocks live in the callers
(``esl_controller.call_centers``); the decorated methods only assign state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

POLICIES = ("regular", "circular", "uniform", "simultaneous", "weighted")
TIERS = (25, 50, 525)  # the most callers a queue holds waiting (licence tiers)
STRANDED = ("overflow", "wait")  # no agent signed in: overflow at once, or keep waiting
AGENT_STATES = ("available", "unavailable", "wrap-up")
DEFAULT_BOUNCE_AFTER = 15  # seconds an agent rings before the call returns to the queue
DEFAULT_MAX_NO_ANSWERS = 3  # offers in a row an agent lets ring out before unavailable
DEFAULT_WRAP_UP = 10  # seconds of wrap-up after a queue call
BOUNCE_RANGE = (5, 120)
MAX_WAIT_RANGE = (10, 7200)
COMFORT_RANGE = (10, 600)
WRAP_UP_RANGE = (0, 900)
MAX_AGENTS = 200
# Announcements (CC-2): what a waiting caller is told on entry and with each comfort message.
ANNOUNCE = ("none", "position", "wait", "both")
# The reason of a bounce when the offered agent turned unavailable while their phone rang
# (the controller withdrew the ring): not a missed call, the agent's count stays.
BOUNCE_UNAVAILABLE = "agent became unavailable"
PRIORITY_RANGE = (0, 9)  # a queue call's priority: 0 normal, 1 priority number, up to 9
MONITOR_MODES = ("listen", "whisper", "barge")  # supervisor monitoring (eavesdrop)


def queue_key(name: str) -> str:
    """Queue names are unique per enterprise, case-insensitively."""
    return name.strip().lower()


class Queue(Aggregate):
    """One call-center queue of an enterprise, identified by (enterprise, name)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "queue:" + queue_key(name))

    @event("QueueCreated")
    def __init__(self, enterprise_id: UUID, name: str, extension: str, numbers: list[str],
                 config: dict[str, Any]) -> None:
        self.enterprise_id = enterprise_id
        self._configure(name, extension, numbers, config)

    def _configure(self, name: str, extension: str, numbers: list[str],
                   config: dict[str, Any]) -> None:
        self.removed = False
        self.name = name
        self.extension = extension
        self.numbers = list(numbers)
        self.config = dict(config)
        self.agents: list[str] = []

    @event("QueueReinstated")
    def reinstate(self, name: str, extension: str, numbers: list[str],
                  config: dict[str, Any]) -> None:
        """The name is given to a queue again after it was removed."""
        self._configure(name, extension, numbers, config)

    @event("QueueRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("QueueReconfigured")
    def reconfigure(self, config: dict[str, Any]) -> None:
        """New settings (``pbx queue set``); name, extension, numbers and agents stay."""
        self.config = dict(config)

    @event("QueueAgentAdded")
    def add_agent(self, extension: str) -> None:
        self.agents = [a for a in self.agents if a != extension] + [extension]

    @event("QueueAgentRemoved")
    def remove_agent(self, extension: str) -> None:
        self.agents = [a for a in self.agents if a != extension]

    # -- supervisors (CC-5, esl_controller/supervisor.py): who may monitor the queue's calls
    @event("QueueSupervisorAdded")
    def add_supervisor(self, extension: str) -> None:
        kept = [s for s in getattr(self, "supervisors", []) if s != extension]
        self.supervisors = [*kept, extension]

    @event("QueueSupervisorRemoved")
    def remove_supervisor(self, extension: str) -> None:
        self.supervisors = [s for s in getattr(self, "supervisors", []) if s != extension]


class QueueCall(Aggregate):
    """One call's life in one queue, from enqueue to answer, overflow or abandon."""

    @staticmethod
    def create_id(queue_id: UUID, call_id: str) -> UUID:
        return uuid5(queue_id, "call:" + call_id)

    @event("QueueCallEnqueued")
    def __init__(self, queue_id: UUID, call_id: str, caller: str, priority: int,
                 at: datetime, node: str = "") -> None:
        self.queue_id = queue_id
        self.call_id = call_id
        self.caller = caller
        self.priority = priority
        self.enqueued_at = at
        self.offered_to: list[str] = []
        self.ended: str | None = None  # answered, overflowed, abandoned, moved, taken
        # The controller node whose session holds the caller (restart: see reattach).
        self.node = node
        self.reattached_at: datetime | None = None

    @event("QueueCallRequeued")
    def requeue(self, queue_id: UUID, call_id: str, caller: str, priority: int,
                at: datetime, node: str = "") -> None:
        """The same call enters this queue again (moved back to it): a new queue life."""
        self.caller = caller
        self.priority = priority
        self.enqueued_at = at
        self.offered_to = []
        self.ended = None
        self.node = node
        self.reattached_at = None

    @event("QueueCallReattached")
    def reattach(self, node: str, offer_lost: list[str], at: datetime) -> None:
        """After a controller restart the caller's channel came back (FreeSWITCH's
        ``socket_resume``) to controller ``node``: same place, same enqueue time and
        priority. An offer in flight at the crash (``offer_lost``) is void: the agents are
        free and the call is back at the head of the queue."""
        self.node = node
        self.offered_to = []
        self.reattached_at = at

    @event("QueueCallOffered")
    def offer(self, agents: list[str], at: datetime) -> None:
        self.offered_to = list(agents)

    @event("QueueCallBounced")
    def bounce(self, agents: list[str], reason: str, at: datetime) -> None:
        """The offered agents did not take it: back to the head of the queue."""
        self.offered_to = []

    @event("QueueCallAnswered")
    def answer(self, agent: str, at: datetime) -> None:
        """``agent`` took the call; ``at`` is when the conversation ended (the controller
        learns the answer when the bridge returns); the agent was on the call till then."""
        self.offered_to = []
        self.ended = "answered"

    @event("QueueCallOverflowed")
    def overflow(self, reason: str, destination: str, at: datetime) -> None:
        self.offered_to = []
        self.ended = "overflowed"

    @event("QueueCallMoved")
    def move(self, to_queue: UUID, by: str, at: datetime) -> None:
        """A supervisor moved the waiting call to another queue (a new queue life there)."""
        self.offered_to = []
        self.ended = "moved"

    @event("QueueCallAbandoned")
    def abandon(self, reason: str, at: datetime) -> None:
        self.offered_to = []
        self.ended = "abandoned"

    # -- supervisor functions (CC-5, esl_controller/supervisor.py) -------------------------
    @event("QueueCallPriorityChanged")
    def change_priority(self, priority: int, by: str, at: datetime) -> None:
        """A supervisor gave the waiting call another priority (higher is served first)."""
        self.priority = priority

    @event("QueueCallConnected")
    def connect(self, agent: str, leg: str, at: datetime) -> None:
        """The agent answered: the bridge is up (``leg``: FreeSWITCH's uuid of the agent's
        channel). The queue life ends with ``QueueCallAnswered`` when the conversation does."""
        self.connected_to = agent

    @event("QueueCallMonitored")
    def monitor(self, supervisor: str, mode: str, agent: str, leg: str, channel: str,
                at: datetime) -> None:
        """A supervisor's phone is sent into ``eavesdrop`` on the agent's leg (recorded
        before the originate goes to FreeSWITCH: no monitoring is ever unrecorded)."""
        self.monitored_by = supervisor

    @event("QueueCallMonitorFailed")
    def monitor_failed(self, supervisor: str, channel: str, reason: str,
                       at: datetime) -> None:
        """FreeSWITCH did not connect the supervisor (no answer, refused, unreachable)."""
        self.monitored_by = ""

    # -- receptionist queue handling (RCP-1 premium, esl_controller/receptionist.py) -----
    @event("QueueCallTaken")
    def take(self, by: str, destination: str, at: datetime) -> None:
        """A premium receptionist (``by``) took the waiting call out of the queue, to their
        own phone or on to ``destination``: the caller's session sends it there."""
        self.offered_to = []
        self.ended = "taken"
        self.taken_by = by
        self.taken_to = destination


class Agent(Aggregate):
    """One user of an enterprise as a call-center agent."""

    @staticmethod
    def create_id(enterprise_id: UUID, extension: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"agent:{enterprise_id}:{extension}")

    @event("AgentRegistered")
    def __init__(self, enterprise_id: UUID, extension: str) -> None:
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.signed_in: list[str] = []  # queue ids (text)
        self.state = "available"
        self.reason = ""
        self.until: datetime | None = None

    @event("AgentSignedIn")
    def sign_in(self, queue_id: str, at: datetime) -> None:
        if queue_id not in self.signed_in:
            self.signed_in.append(queue_id)

    @event("AgentSignedOut")
    def sign_out(self, queue_id: str, at: datetime) -> None:
        self.signed_in = [q for q in self.signed_in if q != queue_id]

    @event("AgentAvailabilityChanged")
    def change(self, state: str, reason: str, until: datetime | None, at: datetime) -> None:
        self.state = state
        self.reason = reason
        self.until = until
