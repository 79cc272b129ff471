"""Call-center supervisor functions (CC-5): priorities, monitoring, reports.

``Supervision`` validates, then records (nothing is written on bad input):

- a queue's **supervisors** (``QueueSupervisorAdded`` / ``QueueSupervisorRemoved``): users of
  the queue's enterprise who may monitor its calls (BroadWorks-like: a supervisor is
  assigned to the call centers they supervise);
- a waiting call's **priority** (``QueueCallPriorityChanged``, who and when): the
  dispatcher (``routing.queue.assign``) serves higher priorities first;
- **monitoring** (``QueueCallMonitored``: supervisor, mode, agent, the agent's leg, the
  supervisor's channel): the plan is checked here, recorded BEFORE FreeSWITCH is asked, and
  a failure is recorded too (``QueueCallMonitorFailed``).

Monitoring is FreeSWITCH's ``eavesdrop`` (mod_dptools) on the AGENT's channel, run on a
channel originated to the supervisor's phone over the inbound event socket::

    originate {origination_uuid=...,eavesdrop_enable_dtmf=false,
               eavesdrop_whisper_aleg=false,eavesdrop_whisper_bleg=true,...}
              user/EXT@DOMAIN &eavesdrop(AGENT-LEG-UUID)

In FreeSWITCH's source (``eavesdrop_function``, ``switch_ivr_eavesdrop_session``)
``eavesdrop_whisper_aleg`` sets ED_MUX_READ: the supervisor's voice is mixed into what the
eavesdropped channel READS, i.e. what goes on to the other party (the caller);
``eavesdrop_whisper_bleg`` sets ED_MUX_WRITE: it is mixed into what is WRITTEN to the
eavesdropped channel, i.e. what the agent's phone plays (the DTMF ``2`` "speak with the uuid"
sets the same flag). Hence, on the agent's leg: listen = neither, whisper = ``_bleg`` (only
the agent hears the supervisor), barge = both (all three hear each other).
``eavesdrop_enable_dtmf=false``: the supervisor cannot switch modes with 1/2/3 on the
phone, so the mode in the log is the mode that ran.

The agent's leg is known from ``QueueCallConnected``, recorded by the controller when the
bridge to the agent comes up (``QueueConnections.call_bridged``, a session hook): the event
log is what the CLI (another process) and a restarted controller both read, so no extra
channel between the processes is needed, and a call is "talking" exactly while its queue life
has that event and is not yet closed.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import gevent.lock
from eventsourcing.persistence import RecordConflictError

from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import MONITOR_MODES, PRIORITY_RANGE, Queue, QueueCall
from esl_controller.errors import NotFoundError, PbxError, ValidationError
from esl_controller.routing.context import CallContext
from projections.call_centers_fold import QueueCallView, QueueView
from projections.directory import Directory, UserView

log = logging.getLogger(__name__)

SAVE_RETRIES = 3
MONITOR_RING_SECONDS = 30  # the supervisor's phone rings this long (originate_timeout)
# What each mode sets on the supervisor's channel, eavesdropping on the AGENT's leg (above).
WHISPER_FLAGS: dict[str, tuple[bool, bool]] = {  # mode -> (whisper_aleg, whisper_bleg)
    "listen": (False, False),
    "whisper": (False, True),
    "barge": (True, True),
}


def _now() -> datetime:
    return datetime.now(UTC)


def eavesdrop_command(supervisor: str, domain: str, leg: str, mode: str, channel: str,
                      shown_number: str, shown_name: str) -> str:
    """The ``originate`` that rings the supervisor's phone and, once answered, eavesdrops
    on ``leg`` in ``mode``; ``channel`` becomes the supervisor channel's uuid."""
    aleg, bleg = WHISPER_FLAGS[mode]
    name = re.sub(r"['{}\\\r\n,]", "", shown_name).strip()
    variables = ",".join((
        f"origination_uuid={channel}",
        f"origination_caller_id_number={re.sub(r'[^0-9+*#]', '', shown_number)}",
        f"origination_caller_id_name='{name}'",
        f"originate_timeout={MONITOR_RING_SECONDS}",
        "eavesdrop_enable_dtmf=false",
        f"eavesdrop_whisper_aleg={str(aleg).lower()}",
        f"eavesdrop_whisper_bleg={str(bleg).lower()}",
    ))
    return f"originate {{{variables}}}user/{supervisor}@{domain} &eavesdrop({leg})"


@dataclass(frozen=True, slots=True)
class MonitorPlan:
    """A checked monitoring request: what is recorded and sent."""

    queue: QueueView
    call: QueueCallView
    supervisor: UserView
    agent: UserView
    mode: str
    leg: str  # the agent's channel
    channel: str  # the supervisor's channel (origination_uuid)
    domain: str

    @property
    def command(self) -> str:
        return eavesdrop_command(self.supervisor.extension, self.domain, self.leg, self.mode,
                                 self.channel, self.agent.extension,
                                 f"{self.mode} {self.agent.extension} {self.queue.name}")


def _save(app: Pbx, aggregate_id: uuid.UUID, change: Callable[[QueueCall], None]) -> None:
    for _attempt in range(SAVE_RETRIES):
        qc: QueueCall = app.repository.get(aggregate_id)
        change(qc)
        try:
            app.save(qc)
        except RecordConflictError:
            continue  # the call's session wrote meanwhile: read it again
        return
    raise ValidationError("the queue call changed too often meanwhile: try again")


class Supervision:
    """The use cases of ``pbx queue priority``, ``supervisor`` and ``monitor``."""

    def __init__(self, app: Pbx, clock: Callable[[], datetime] = _now) -> None:
        self.app = app
        self.clock = clock
        self.centers = CallCenters(app, clock)

    # -- supervisors ---------------------------------------------------------------------
    def add_supervisor(self, enterprise: str | None, name: str, extension: str) -> QueueView:
        view = self.centers.queue(enterprise, name)
        extension = extension.strip()
        ent = self.app.directory().enterprises[view.enterprise_id]
        if self.app.directory().user(ent.id, extension) is None:
            raise ValidationError(f"no user with extension {extension!r} in {ent.name!r}")
        if extension in view.supervisors:
            raise ValidationError(f"{extension} is already a supervisor of queue {view.name}")
        queue: Queue = self.app.repository.get(view.id)
        queue.add_supervisor(extension)
        self.app.save(queue)
        return self.centers.queue(ent.name, view.name)

    def remove_supervisor(self, enterprise: str | None, name: str, extension: str
                          ) -> QueueView:
        view = self.centers.queue(enterprise, name)
        extension = extension.strip()
        if extension not in view.supervisors:
            raise ValidationError(f"{extension} is no supervisor of queue {view.name}")
        queue: Queue = self.app.repository.get(view.id)
        queue.remove_supervisor(extension)
        self.app.save(queue)
        return self.centers.queue(self.app.enterprises_name(view.enterprise_id), view.name)

    def _check_supervisor(self, queue: QueueView, extension: str) -> UserView:
        directory = self.app.directory()
        ent = directory.enterprises[queue.enterprise_id]
        user = directory.user(ent.id, extension)
        if user is None:
            raise ValidationError(f"no user with extension {extension!r} in {ent.name!r}")
        if extension not in queue.supervisors:
            raise ValidationError(f"{extension} is no supervisor of queue {queue.name}: "
                                  f"pbx queue supervisor add {queue.name} {extension}")
        return user

    # -- the calls -----------------------------------------------------------------------
    def _queue_call(self, enterprise: str | None, call_id: str
                    ) -> tuple[QueueView, QueueCallView]:
        ent = self.app.enterprise(enterprise)
        directory = self.app.directory()
        call = directory.queue_call_of(call_id.strip())
        queue = directory.queues.get(call.queue_id) if call is not None else None
        if call is None or queue is None or queue.enterprise_id != ent.id:
            raise NotFoundError(f"no call {call_id.strip()!r} is in a queue of {ent.name!r}")
        return queue, call

    def set_priority(self, enterprise: str | None, call_id: str, priority: int,
                     supervisor: str | None = None) -> tuple[QueueView, QueueCallView]:
        """Give a waiting call another priority; returns the queue and the call before."""
        low, high = PRIORITY_RANGE
        if not low <= priority <= high:
            raise ValidationError(f"the priority is {low} to {high}, not {priority}")
        queue, call = self._queue_call(enterprise, call_id)
        by = "administrator"
        if supervisor is not None:
            by = self._check_supervisor(queue, supervisor.strip()).extension
        if call.connected_to is not None:
            raise ValidationError(f"the call is not waiting: agent {call.connected_to} is "
                                  "talking to the caller")
        if call.priority == priority:
            raise ValidationError(f"the call has priority {priority} already")
        _save(self.app, call.id, lambda qc: qc.change_priority(priority, by, self.clock()))
        return queue, call

    def position(self, queue: QueueView, call_id: str) -> int:
        order = [c.call_id for c in self.app.directory().waiting_in(queue.id)]
        return order.index(call_id) + 1 if call_id in order else 0

    # -- monitoring ----------------------------------------------------------------------
    def plan_monitor(self, enterprise: str | None, target: str, supervisor: str,
                     mode: str) -> MonitorPlan:
        """Check a monitoring request: ``target`` is a queue call's id or an agent's
        extension (the queue call they are talking on)."""
        mode = mode.strip().lower()
        if mode not in MONITOR_MODES:
            raise ValidationError(f"unknown mode {mode!r}: use {', '.join(MONITOR_MODES)}")
        ent = self.app.enterprise(enterprise)
        directory = self.app.directory()
        target = target.strip()
        call = directory.queue_call_of(target)
        if call is None and directory.user(ent.id, target) is not None:
            call = _talking_to(directory, ent.id, target)
            if call is None:
                raise ValidationError(f"agent {target} is talking on no queue call")
        queue = directory.queues.get(call.queue_id) if call is not None else None
        if call is None or queue is None or queue.enterprise_id != ent.id:
            raise NotFoundError(f"no queue call or agent {target!r} in {ent.name!r}")
        boss = self._check_supervisor(queue, supervisor.strip())
        if call.connected_to is None or not call.agent_leg:
            state = (f"ringing agent {', '.join(call.offered_to)}" if call.offered_to
                     else "waiting")
            raise ValidationError(f"call {call.call_id} is not talking to an agent ({state})")
        if call.connected_to == boss.extension:
            raise ValidationError(f"{boss.extension} is the agent on the call")
        agent = directory.user(ent.id, call.connected_to)
        if agent is None:
            raise ValidationError(f"agent {call.connected_to} is no user of {ent.name!r}")
        return MonitorPlan(queue, call, boss, agent, mode, call.agent_leg, str(uuid.uuid4()),
                           ent.domain)

    def record_monitor(self, plan: MonitorPlan) -> None:
        _save(self.app, plan.call.id, lambda qc: qc.monitor(
            plan.supervisor.extension, plan.mode, plan.agent.extension, plan.leg,
            plan.channel, self.clock()))

    def record_failure(self, plan: MonitorPlan, reason: str) -> None:
        _save(self.app, plan.call.id, lambda qc: qc.monitor_failed(
            plan.supervisor.extension, plan.channel, reason[:200], self.clock()))


def _talking_to(directory: Directory, enterprise_id: uuid.UUID, agent: str
                ) -> QueueCallView | None:
    for call in directory.queue_calls.values():
        queue = directory.queues.get(call.queue_id)
        if (queue is not None and queue.enterprise_id == enterprise_id
                and call.connected_to == agent):
            return call
    return None


class QueueConnections:
    """Session hook: records ``QueueCallConnected`` when an offered agent's bridge comes up
    (``Services.call_bridged``), so the talking time and the agent's leg are in the log."""

    def __init__(self, app: Pbx, directory: Callable[[], Directory],
                 clock: Callable[[], datetime] = _now,
                 lock: gevent.lock.RLock | None = None) -> None:
        self.app = app
        self.directory = directory
        self.clock = clock
        self._lock = lock or gevent.lock.RLock()  # the queue service's: one writer at a time

    def call_bridged(self, ctx: CallContext, by: str, leg: str) -> None:
        if not leg or self.directory().queue_call_of(ctx.call_id) is None:
            # Not a queue call: its enqueue would be folded already (the queue service
            # catches up after each write), so ordinary calls cost no store read here.
            return
        try:
            with self._lock:
                self.app.catch_up(self.directory())
                call = self.directory().queue_call_of(ctx.call_id)
                if call is None or not call.offered_to or call.connected_to is not None:
                    return
                agent = next((a for a in call.offered_to
                              if by == a or by.startswith(a + "-")), call.offered_to[0])
                now = self.clock()
                _save(self.app, call.id,
                      lambda qc: qc.connect(agent, leg, now) if qc.ended is None else None)
                self.app.catch_up(self.directory())
        except PbxError as exc:
            log.error("call %s: queue answer not recorded: %s", ctx.call_id, exc)
