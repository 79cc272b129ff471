"""Call-center queues (CC-2) through the real controller and the simulator over TCP: the
position a waiting caller hears, the overflow greeting before busy, and an offer withdrawn
(``hupall`` on the ringing legs) when the agent is set unavailable while their phone rings."""

from __future__ import annotations

import time
import uuid

import gevent

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import BOUNCE_UNAVAILABLE, QueueCall
from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch, SimCall
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, switch

BOUNCE_AFTER = 120  # the longest bounce time: the withdrawal must come long before it


def queue(pbx: Pbx, controller: Controller, agents: str, **kw: object) -> None:
    centers = CallCenters(pbx)
    centers.add(None, "Support", "700", 25, "regular", numbers_=("020 7000700",),
                **kw)  # type: ignore[arg-type]
    for agent in agents.split(","):
        if agent:
            centers.add_agent(None, "Support", agent)
    caught_up(controller)


def outside(number: str = "+31612345678") -> CallSpec:
    return CallSpec(number, "+31207000700", call_uuid=str(uuid.uuid4()))


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)


def heard(call: SimCall) -> list[str]:
    """The prompts and numbers the caller heard (hold music left out)."""
    return [arg if app == "playback" else f"{app} {arg}" for app, arg in call.apps
            if (app == "playback" and not arg.startswith("local_stream://")) or app == "say"]


def rung(call: SimCall) -> list[str]:
    return [arg.split("}", 1)[1].split("/")[1].split("@")[0] for app, arg in call.apps
            if app == "bridge"]


def waiting(controller: Controller) -> int:
    directory = caught_up(controller)
    view = directory.queue_named(controller.app.enterprise("Acme").id, "Support")
    assert view is not None
    return len(directory.waiting_in(view.id))


def test_the_second_caller_hears_that_they_are_number_two_in_line(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, "102", announce="position", max_wait=10)
    CallCenters(pbx).set_state(None, "102", "unavailable", "meeting")
    sim = switch(controller)
    first = gevent.spawn(sim.place_call, outside())
    wait_until(lambda: waiting(controller) == 1, what="the first caller to wait")
    second = sim.place_call(outside("+31687654321"))
    assert heard(second)[:3] == ["ivr/ivr-you_are_number.wav", "say en number pronounced 2",
                                 "ivr/ivr-in_line.wav"]
    assert heard(first.get(timeout=30))[:3] == [
        "ivr/ivr-you_are_number.wav", "say en number pronounced 1", "ivr/ivr-in_line.wav"]
    assert second.hangup_cause == "USER_BUSY"  # nobody came: the maximum wait overflowed it
    assert "the caller hears: you are number 2 in line" in steps(controller,
                                                                 second.call_uuid)


def test_the_overflow_greeting_plays_before_the_busy_hangup(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, "", overflow_greeting="ivr/ivr-call_cannot_be_completed_as_dialed.wav")
    call = switch(controller).place_call(outside())  # nobody signed in: stranded, overflow
    assert heard(call) == ["ivr/ivr-call_cannot_be_completed_as_dialed.wav"]
    assert call.answered and call.hangup_cause == "USER_BUSY"
    assert not rung(call)
    story = steps(controller, call.call_uuid)
    assert story.index("overflows (stranded") < story.index("the caller hears ivr/ivr-call")


def test_an_agent_set_unavailable_while_ringing_loses_the_call_to_the_next_agent(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, "101,102", bounce_after=BOUNCE_AFTER, max_no_answers=1)
    host, port = controller.esl_address
    scale = 0.05  # the bounce time is 6 s of wall-clock time
    sim = FakeSwitch(host, port, endpoints={"101": Endpoint("no-answer"), "102": Endpoint()},
                     time_scale=scale)
    spec = outside()
    placed = gevent.spawn(sim.place_call, spec)
    ent = pbx.enterprise("Acme").id

    def ringing_101() -> bool:
        call = caught_up(controller).queue_call_of(spec.call_uuid or "")
        return call is not None and call.offered_to == ("101",)

    wait_until(ringing_101, what="the offer to 101")
    set_at = time.monotonic()
    CallCenters(pbx).set_state(None, "101", "unavailable", "lunch")
    wait_until(lambda: placed.ready() or bool(sim.channels.get(spec.call_uuid or "") and
                                              sim.channels[spec.call_uuid or ""].call.bridged_to),
               what="the next agent to answer")
    answered_after = time.monotonic() - set_at
    call = placed.get(timeout=30)
    assert rung(call) == ["101", "102"]
    assert call.bridged_to == "102"
    assert answered_after < BOUNCE_AFTER * scale  # 101 did not ring out its bounce time
    assert any(line == f"api hupall LOSE_RACE pbx_ring {spec.call_uuid}"
               for line, _h, _b in call.commands)
    assert "pbx_ring=" in next(arg for app, arg in call.apps if app == "bridge")
    assert "agent 101 became unavailable while ringing" in steps(controller, spec.call_uuid
                                                                 or "")
    directory = caught_up(controller)
    view = directory.queue_named(ent, "Support")
    assert view is not None
    events = list(pbx.events.get(QueueCall.create_id(view.id, spec.call_uuid or "")))
    names = [type(e).__name__ for e in events]
    assert names[:4] == ["QueueCallEnqueued", "QueueCallOffered", "QueueCallBounced",
                         "QueueCallOffered"]
    bounce = events[names.index("QueueCallBounced")]
    data = vars(bounce)  # the event's attributes
    assert (data["agents"], data["reason"]) == (["101"], BOUNCE_UNAVAILABLE)
    agent = directory.agent_of(ent, "101")
    assert agent is not None and (agent.state, agent.reason, agent.missed) == (
        "unavailable", "lunch", 0)  # withdrawn, not a missed call


def test_an_agent_signing_out_by_star_51_while_ringing_loses_the_call_too(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, "101,102", bounce_after=BOUNCE_AFTER)
    host, port = controller.esl_address
    scale = 0.05
    sim = FakeSwitch(host, port, endpoints={"101": Endpoint("no-answer"), "102": Endpoint()},
                     time_scale=scale)
    spec = outside()
    placed = gevent.spawn(sim.place_call, spec)
    wait_until(lambda: (c := caught_up(controller).queue_call_of(spec.call_uuid or ""))
               is not None and c.offered_to == ("101",), what="the offer to 101")
    set_at = time.monotonic()
    sign_out = sim.place_call(internal("101", "*51700"))  # from 101's other line
    assert "sign out of queue 700 (Support)" in steps(controller, sign_out.call_uuid)
    call = placed.get(timeout=30)
    assert time.monotonic() - set_at < BOUNCE_AFTER * scale
    assert rung(call) == ["101", "102"] and call.bridged_to == "102"
    assert "agent 101 became unavailable while ringing" in steps(controller, call.call_uuid)
