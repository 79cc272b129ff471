"""Call-center supervisor functions (CC-5) on a real log: a waiting call's priority (and the
dispatcher serving it first), supervisors, the agent's answer recorded with their leg, and
the eavesdrop monitoring plan with its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters, QueueService
from esl_controller.domain.call_centers import Queue, QueueCall
from esl_controller.errors import ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.queue import assign
from esl_controller.supervisor import QueueConnections, Supervision, eavesdrop_command
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEG = "7f0b2c1e-8d44-4b7a-9a51-0c3f6f2d9e10"


class World:
    """Users 101-105, queue Support (700) with agents 101 and 102, supervisor 104."""

    def __init__(self, path: Path) -> None:
        self.app = Pbx(f"sqlite:///{path}/pbx.sqlite")
        self.app.create_enterprise("Acme", "acme.example")
        for ext in ("101", "102", "103", "104", "105"):
            self.app.add_user(None, ext, f"User {ext}")
        self.now = NOW
        self.centers = CallCenters(self.app, clock=lambda: self.now)
        self.centers.add(None, "Support", "700", tier=25, policy="regular")
        for agent in ("101", "102"):
            self.centers.add_agent(None, "Support", agent)
        self.supervision = Supervision(self.app, clock=lambda: self.now)
        self.supervision.add_supervisor(None, "Support", "104")
        self.directory = Directory()
        self.service = QueueService(self.app, lambda: self.directory, clock=lambda: self.now,
                                    busy=lambda _ent, _ext: False)
        self.connections = QueueConnections(self.app, lambda: self.directory,
                                            clock=lambda: self.now)
        self.app.catch_up(self.directory)

    @property
    def queue_id(self) -> str:
        view = self.app.directory().queue_named(self.app.enterprise("Acme").id, "Support")
        assert view is not None
        return str(view.id)

    def enqueue(self) -> CallContext:
        ctx = CallContext(str(uuid4()), "sofia/external/+31612345678", "+31612345678", "",
                          "700", Origin.EXTERNAL)
        result = self.service.handle(Command("queue", "enqueue", (
            ("queue", self.queue_id), ("caller", "+31612345678"))), ctx)
        assert result.ok
        return ctx

    def poll(self, ctx: CallContext) -> str:
        return self.service.handle(Command("queue", "poll", (("queue", self.queue_id),)),
                                   ctx).value

    def positions(self) -> int:
        return self.app.last_position()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_a_higher_priority_puts_a_later_caller_first_and_the_dispatcher_serves_it(
        world: World) -> None:
    for agent in ("101", "102"):
        world.centers.set_state(None, agent, "unavailable", "meeting")
    first = world.enqueue()
    world.now += timedelta(seconds=30)
    second = world.enqueue()
    view, before = world.supervision.set_priority(None, second.call_id, 5, supervisor="104")
    assert before.priority == 0
    directory = world.app.directory()
    assert [c.call_id for c in directory.waiting_in(view.id)] == [second.call_id,
                                                                  first.call_id]
    assert world.supervision.position(view, second.call_id) == 1
    world.centers.set_state(None, "101", "available")
    world.app.catch_up(world.directory)
    # one free agent: the dispatcher gives it to the call with the higher priority
    chosen = assign(world.directory, world.directory.queues[view.id], world.now, None)
    assert chosen == {second.call_id: ("101",)}
    assert world.poll(first).startswith("wait")
    assert world.poll(second).startswith("offer 101")
    stored: QueueCall = world.app.repository.get(QueueCall.create_id(view.id, second.call_id))
    assert stored.priority == 5
    changes = [e for _p, e in world.app.events_after(0)
               if type(e).__name__ == "QueueCallPriorityChanged"]
    assert [(c.priority, c.by, c.at) for c in changes] == [  # type: ignore[attr-defined]
        (5, "104", NOW + timedelta(seconds=30))]
    rebuilt = Directory()
    world.app.catch_up(rebuilt)
    assert rebuilt.queue_calls[stored.id].priority == 5
    assert rebuilt._fold_state() == world.directory._fold_state()


def test_priority_refusals_change_nothing(world: World) -> None:
    ctx = world.enqueue()
    before = world.positions()
    with pytest.raises(ValidationError, match="the priority is 0 to 9, not 10"):
        world.supervision.set_priority(None, ctx.call_id, 10)
    with pytest.raises(ValidationError, match="the priority is 0 to 9, not -1"):
        world.supervision.set_priority(None, ctx.call_id, -1)
    with pytest.raises(ValidationError, match="no call 'nope' is in a queue of 'Acme'"):
        world.supervision.set_priority(None, "nope", 3)
    with pytest.raises(ValidationError, match="has priority 0 already"):
        world.supervision.set_priority(None, ctx.call_id, 0)
    with pytest.raises(ValidationError, match="105 is no supervisor of queue Support"):
        world.supervision.set_priority(None, ctx.call_id, 3, supervisor="105")
    assert world.poll(ctx).startswith("offer 101")
    world.connections.call_bridged(ctx, "101", LEG)
    with pytest.raises(ValidationError, match="not waiting: agent 101 is talking"):
        world.supervision.set_priority(None, ctx.call_id, 3)
    assert world.positions() == before + 2  # the offer and the answer only


def test_supervisors_are_users_named_once(world: World) -> None:
    with pytest.raises(ValidationError, match="104 is already a supervisor of queue Support"):
        world.supervision.add_supervisor(None, "Support", "104")
    with pytest.raises(ValidationError, match="no user with extension '999'"):
        world.supervision.add_supervisor(None, "Support", "999")
    view = world.supervision.add_supervisor(None, "support", "105")
    assert view.supervisors == ("104", "105")
    view = world.supervision.remove_supervisor(None, "Support", "104")
    assert view.supervisors == ("105",)
    with pytest.raises(ValidationError, match="104 is no supervisor of queue Support"):
        world.supervision.remove_supervisor(None, "Support", "104")
    queue: Queue = world.app.repository.get(view.id)
    assert queue.supervisors == ["105"]


@pytest.mark.parametrize(("mode", "aleg", "bleg"), [
    ("listen", "false", "false"), ("whisper", "false", "true"), ("barge", "true", "true")])
def test_the_originate_eavesdrops_on_the_agent_leg_in_the_mode(mode: str, aleg: str,
                                                               bleg: str) -> None:
    channel = "0d6c2b5a-1111-4222-8333-944455556666"
    assert eavesdrop_command("104", "acme.example", LEG, mode, channel, "101",
                             "listen 101 Support, {x}") == (
        f"originate {{origination_uuid={channel},origination_caller_id_number=101,"
        "origination_caller_id_name='listen 101 Support x',originate_timeout=30,"
        f"eavesdrop_enable_dtmf=false,eavesdrop_whisper_aleg={aleg},"
        f"eavesdrop_whisper_bleg={bleg}}}user/104@acme.example &eavesdrop({LEG})")


def test_an_answered_queue_call_can_be_monitored_by_its_supervisor(world: World) -> None:
    ctx = world.enqueue()
    assert world.poll(ctx).startswith("offer 101")
    world.now += timedelta(seconds=4)
    world.connections.call_bridged(ctx, "101", LEG)
    call = world.directory.queue_call_of(ctx.call_id)
    assert call is not None
    assert (call.connected_to, call.connected_at, call.agent_leg) == ("101", world.now, LEG)
    by_call = world.supervision.plan_monitor(None, ctx.call_id, "104", "whisper")
    by_agent = world.supervision.plan_monitor(None, "101", "104", "whisper")
    assert by_call.call.call_id == by_agent.call.call_id == ctx.call_id
    assert by_call.leg == LEG and by_call.agent.extension == "101"
    assert by_call.command.startswith(f"originate {{origination_uuid={by_call.channel},")
    assert by_call.command.endswith(f"}}user/104@acme.example &eavesdrop({LEG})")
    world.supervision.record_monitor(by_call)
    world.supervision.record_failure(by_call, "-ERR NO_ANSWER")
    found = [(type(e).__name__, e.__dict__) for _p, e in world.app.events_after(0)
             if type(e).__name__.startswith("QueueCallMonitor")]
    assert [name for name, _ in found] == ["QueueCallMonitored", "QueueCallMonitorFailed"]
    monitored = found[0][1]
    assert (monitored["supervisor"], monitored["mode"], monitored["agent"], monitored["leg"],
            monitored["channel"]) == ("104", "whisper", "101", LEG, by_call.channel)
    assert found[1][1]["reason"] == "-ERR NO_ANSWER"


def test_monitoring_refusals(world: World) -> None:
    ctx = world.enqueue()
    with pytest.raises(ValidationError, match=f"call {ctx.call_id} is not talking to an agent "
                                              r"\(waiting\)"):
        world.supervision.plan_monitor(None, ctx.call_id, "104", "listen")
    assert world.poll(ctx).startswith("offer 101")
    with pytest.raises(ValidationError, match=r"not talking to an agent \(ringing agent 101\)"):
        world.supervision.plan_monitor(None, ctx.call_id, "104", "listen")
    world.connections.call_bridged(ctx, "101", LEG)
    with pytest.raises(ValidationError, match="105 is no supervisor of queue Support: "
                                              "pbx queue supervisor add Support 105"):
        world.supervision.plan_monitor(None, ctx.call_id, "105", "listen")
    with pytest.raises(ValidationError, match="no queue call or agent 'nope' in 'Acme'"):
        world.supervision.plan_monitor(None, "nope", "104", "listen")
    with pytest.raises(ValidationError, match="agent 102 is talking on no queue call"):
        world.supervision.plan_monitor(None, "102", "104", "listen")
    with pytest.raises(ValidationError, match="unknown mode 'spy'"):
        world.supervision.plan_monitor(None, ctx.call_id, "104", "spy")
    world.supervision.add_supervisor(None, "Support", "101")
    with pytest.raises(ValidationError, match="101 is the agent on the call"):
        world.supervision.plan_monitor(None, ctx.call_id, "101", "listen")


def test_the_answer_is_recorded_once_and_only_for_the_offered_agent(world: World) -> None:
    ctx = world.enqueue()
    world.connections.call_bridged(ctx, "101", LEG)  # not offered yet: nothing recorded
    call = world.directory.queue_call_of(ctx.call_id)
    assert call is not None and call.connected_to is None
    assert world.poll(ctx).startswith("offer 101")
    world.connections.call_bridged(ctx, "101", LEG)
    world.connections.call_bridged(ctx, "101", "another-leg")  # a second bridge: ignored
    connected = [e for _p, e in world.app.events_after(0)
                 if type(e).__name__ == "QueueCallConnected"]
    assert [(e.agent, e.leg) for e in connected] == [("101", LEG)]  # type: ignore[attr-defined]
