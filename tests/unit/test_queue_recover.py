"""A controller restart with queue callers (issue 5, item 1): the queue script and the real
``queue`` service on a real log, one service per controller process. Callers left waiting
are expected back for the re-attach window and re-attached at their place; an offer in
flight at the crash is void; only the restarting node's own callers are touched; the
simulator's dialplan tail is the shipped dialplan's."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from lxml import etree

from esl_controller.call_centers import QueueService
from esl_controller.domain.call_centers import QueueCall
from esl_controller.routing.actions import Execute, Playback
from esl_controller.routing.outcomes import RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.simulator.resume import DIALPLAN_TAIL
from projections.directory import Directory
from tests.unit.test_call_centers import Caller, World, rung
from tests.unit.test_call_centers import world as world  # the fixture

CONF = Path(__file__).resolve().parents[2] / "freeswitch-conf"


class Returning(Caller):
    """The same call's channel, connected to the controller again (socket_resume)."""

    def __init__(self, world: World, earlier: Caller) -> None:  # noqa: D107 - no super()
        self.world = world
        self.ctx = earlier.ctx
        self.trace = Trace()
        self.script = route_call(self.ctx, world.directory, RoutingSettings(), self.trace,
                                 world.now, lambda _ent, ext: ext in world.busy)
        self.action = next(self.script)
        self.seen = [self.action]


def restart(world: World, node: str = "", window: float = 30.0) -> QueueService:
    """A new controller process: a fresh directory and a fresh queue service."""
    world.directory = Directory()
    world.app.catch_up(world.directory)
    world.service = QueueService(world.app, lambda: world.directory, clock=lambda: world.now,
                                 busy=lambda _ent, ext: ext in world.busy, node=node,
                                 reattach_window=window)
    return world.service


def queue_id(world: World) -> UUID:
    view = world.directory.queue_named(world.app.enterprise(None).id, "Support")
    assert view is not None
    return view.id


def steps(world: World, caller: Caller) -> list[str]:
    found = world.app.events.get(QueueCall.create_id(queue_id(world), caller.ctx.call_id))
    return [type(e).__name__ for e in found]


def test_a_caller_who_comes_back_keeps_place_wait_and_priority_and_hears_no_greeting(
        world: World) -> None:
    world.queue(agents="101", welcome="ivr/welcome.wav",
                priority_numbers=("06 12345699",))
    world.busy.add("101")
    restart(world, node="a")
    plain, vip = Caller(world), Caller(world, number="+31612345699")
    plain.run_until_ring_or_wait()
    world.now += timedelta(seconds=40)
    vip.run_until_ring_or_wait()
    assert [s for s in plain.seen if isinstance(s, Playback)] == [Playback("ivr/welcome.wav")]
    world.now += timedelta(seconds=5)
    service = restart(world, node="a")  # the controller restarts: both are expected back
    assert service.recover() == 2
    back = Returning(world, vip)  # the VIP's channel, connected again
    back.run_until_ring_or_wait()
    story = back.story()
    assert "came back after a controller restart, position 1 after 5 s" in story
    assert not [s for s in back.seen if isinstance(s, Playback)]  # no greeting again
    assert any(isinstance(s, Execute) and s.app == "multiset"
               and f"pbx_queue_call={vip.ctx.call_id}" in s.arg for s in back.seen)
    call = world.directory.queue_call_of(vip.ctx.call_id)
    assert call is not None and call.priority == 1 and call.node == "a"
    assert call.enqueued_at == world.now - timedelta(seconds=5)
    assert steps(world, vip) == ["QueueCallEnqueued", "QueueCallReattached"]
    assert [c.call_id for c in world.directory.waiting_in(queue_id(world))] == [
        vip.ctx.call_id, plain.ctx.call_id]  # priority first, as before the restart
    # the window ends: the plain caller never came back, the VIP did
    assert service.abandon_unattached() == 1
    world.app.catch_up(world.directory)
    assert world.directory.queue_call_of(plain.ctx.call_id) is None
    assert steps(world, plain) == ["QueueCallEnqueued", "QueueCallAbandoned"]
    assert world.directory.queue_call_of(vip.ctx.call_id) is not None
    assert world.directory.state() == world.fresh().state()


def test_an_offer_ringing_at_the_crash_is_void_the_call_back_at_the_head_offered_once(
        world: World) -> None:
    world.queue(agents="101")
    restart(world, node="a")
    ringing = Caller(world)
    assert rung(ringing.run_until_ring_or_wait()) == ["101"]  # when the controller dies
    later = Caller(world)
    assert isinstance(later.run_until_ring_or_wait(), Execute)  # 101 is offered: it waits
    restart(world, node="a").recover()
    ent = world.app.enterprise(None).id
    offered = world.directory.queue_call_of(ringing.ctx.call_id)
    assert offered is not None
    assert world.directory.offers_of(ent) == {"101": offered.id}  # reserved till it's back
    again = Returning(world, ringing)
    assert rung(again.run_until_ring_or_wait()) == ["101"]  # the agent is free: offered again
    call = world.directory.queue_call_of(ringing.ctx.call_id)
    assert call is not None and call.bounced == 1 and call.offered_to == ("101",)
    assert [c.call_id for c in world.directory.waiting_in(queue_id(world))] == [
        ringing.ctx.call_id, later.ctx.call_id]  # back at the head
    assert steps(world, ringing) == ["QueueCallEnqueued", "QueueCallOffered",
                                     "QueueCallReattached", "QueueCallOffered"]
    agent = world.directory.agent_of(ent, "101")
    assert agent is not None and agent.missed == 0  # not the agent's fault
    assert world.directory.queue_figures[queue_id(world)].bounced == 0
    again.ring_result(RingResult.ANSWERED, "101")
    world.app.catch_up(world.directory)
    assert world.directory.offers_of(ent) == {}
    assert world.directory.state() == world.fresh().state()


def test_a_restarting_node_expects_and_abandons_only_its_own_callers(world: World) -> None:
    world.queue(agents="101")
    world.busy.add("101")
    restart(world, node="a")
    mine = Caller(world)
    mine.run_until_ring_or_wait()
    restart(world, node="b")
    theirs = Caller(world)
    theirs.run_until_ring_or_wait()
    # node a restarts; node b runs on
    a = restart(world, node="a")
    assert a.recover() == 1
    assert a.abandon_unattached() == 1
    world.app.catch_up(world.directory)
    assert world.directory.queue_call_of(mine.ctx.call_id) is None
    kept = world.directory.queue_call_of(theirs.ctx.call_id)
    assert kept is not None and kept.node == "b"
    assert steps(world, theirs) == ["QueueCallEnqueued"]


def test_a_caller_taken_over_by_the_other_node_is_not_abandoned_by_this_one(
        world: World) -> None:
    world.queue(agents="101")
    world.busy.add("101")
    restart(world, node="a")
    caller = Caller(world)
    caller.run_until_ring_or_wait()
    a = restart(world, node="a")
    assert a.recover() == 1
    # FreeSWITCH's failover list reached node b first: b re-attaches the caller
    b = restart(world, node="b")
    Returning(world, caller).run_until_ring_or_wait()
    assert b.abandon_unattached() == 0  # b expected nobody
    assert a.abandon_unattached() == 0  # a's window ends: the caller is b's now
    world.app.catch_up(world.directory)
    call = world.directory.queue_call_of(caller.ctx.call_id)
    assert call is not None and call.node == "b"


def test_queue_calls_recorded_before_nodes_were_are_claimed_by_a_restart(
        world: World, tmp_path: Path) -> None:
    world.queue(agents="101")
    world.busy.add("101")
    restart(world, node="a")
    caller = Caller(world)
    caller.run_until_ring_or_wait()
    with sqlite3.connect(tmp_path / "pbx.sqlite") as db:  # an event of an older release
        changed = db.execute(
            "UPDATE pbx_events SET state = CAST(replace(CAST(state AS TEXT), ',\"node\":\"a\"',"
            " '') AS BLOB) WHERE topic LIKE '%QueueCallEnqueued'").rowcount
    assert changed == 1
    service = restart(world, node="z")
    assert service.recover() == 1
    call = world.directory.queue_call_of(caller.ctx.call_id)
    assert call is not None and call.node == ""
    assert service.abandon_unattached() == 1


def test_the_simulator_plays_the_shipped_dialplan_after_the_socket() -> None:
    for name in ("default.xml", "public.xml"):
        doc = etree.parse(str(CONF / "dialplan" / name))
        found: list[etree._Element] = doc.xpath(  # type: ignore[assignment]
            "//extension[@name='pbx_controller']/condition/action")
        actions = [(a.get("application"), a.get("data") or "") for a in found]
        first = [app for app, _ in actions].index("socket")
        assert tuple(actions[first + 1:]) == DIALPLAN_TAIL, name
        window = [d for app, d in actions if app == "playback"][:-1]
        assert len(window) * 5 < 30  # the dialplan gives up before the controller does
