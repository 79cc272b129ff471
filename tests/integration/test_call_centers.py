"""Call-center queues (CC-1 to CC-4) through the real controller and the simulator over TCP:
answered by an agent, bounce, overflow by size and by time, abandon, stranded calls, agents
signing out by feature code, and a controller restart with agents in wrap-up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from esl_controller import night_service
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import QueueCall
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext, Origin
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, SimCall
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD, caught_up, internal, log_of, switch

QUEUE_NUMBER = "+31207000700"


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def rung(call: SimCall) -> list[str]:
    found = []
    for app, arg in call.apps:
        if app == "bridge":
            legs = arg.split("}", 1)[1].split(",")
            found.append(",".join(leg.split("/")[-1].split("@")[0] for leg in legs))
    return found


def queue(pbx: Pbx, controller: Controller, agents: str = "102,103", **kw: object) -> None:
    kw.setdefault("tier", 25)
    kw.setdefault("policy", "regular")
    centers = CallCenters(pbx)
    centers.add(None, "Support", "700", numbers_=("020 7000700",), **kw)  # type: ignore[arg-type]
    for agent in agents.split(","):
        if agent:
            centers.add_agent(None, "Support", agent)
    caught_up(controller)


def outside(**kw: object) -> CallSpec:
    return CallSpec("+31612345678", QUEUE_NUMBER, call_uuid=str(uuid.uuid4()),
                    **kw)  # type: ignore[arg-type]


def figures(controller: Controller) -> tuple[int, int, int, int, int]:
    directory = caught_up(controller)
    view = directory.queue_named(controller.app.enterprise("Acme").id, "Support")
    assert view is not None
    f = directory.queue_figures[view.id]
    return f.entered, f.answered, f.abandoned, f.overflowed, f.bounced


def figures_of(pbx: Pbx) -> tuple[int, int, int, int, int]:
    directory = pbx.directory()
    view = directory.queue_named(pbx.enterprise("Acme").id, "Support")
    assert view is not None
    f = directory.queue_figures[view.id]
    return f.entered, f.answered, f.abandoned, f.overflowed, f.bounced


def test_a_caller_is_answered_by_the_first_free_agent_who_then_wraps_up(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, wrap_up=300)
    sim = switch(controller)
    call = sim.place_call(outside())
    assert call.answered and call.bridged_to == "102"
    assert rung(call) == ["102"]
    assert "agent 102 answered" in steps(controller, call.call_uuid)
    assert log_of(controller, "102") == [("received", "+31612345678", "answered")]
    assert figures(controller) == (1, 1, 0, 0, 0)
    live = CallCenters(pbx).live(CallCenters(pbx).queue(None, "Support"))
    assert [a["state"].split(" (")[0] for a in live["agents"]] == ["wrap-up", "available"]
    second = sim.place_call(outside())  # 102 wraps up: 103 takes the next call
    assert second.bridged_to == "103"


def test_an_agent_who_lets_it_ring_out_bounces_the_call_to_the_next(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, max_no_answers=1, bounce_after=10)
    sim = switch(controller, **{"102": Endpoint("no-answer")})
    call = sim.place_call(outside())
    assert rung(call) == ["102", "103"]
    assert call.bridged_to == "103"
    assert "call_timeout=10" in next(arg for app, arg in call.apps if app == "bridge")
    story = steps(controller, call.call_uuid)
    assert "agent 102: no-answer (NO_ANSWER): the call goes back to the head of the queue" \
        in story
    assert figures(controller) == (1, 1, 0, 0, 1)
    agent = caught_up(controller).agent_of(pbx.enterprise("Acme").id, "102")
    assert agent is not None and agent.state == "unavailable"
    assert agent.reason == "missed 1 queue calls in a row"


def test_a_full_queue_overflows_the_caller_to_busy(pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, agents="102")
    for _ in range(25):  # 25 callers already wait (their sessions poll elsewhere)
        ctx = CallContext(str(uuid.uuid4()), "sofia/external/x", "+31687654321", "", "700",
                          Origin.EXTERNAL)
        view = caught_up(controller).queue_named(pbx.enterprise("Acme").id, "Support")
        assert view is not None
        assert controller.queues.handle(Command("queue", "enqueue", (
            ("queue", str(view.id)), ("caller", "+31687654321"))), ctx).ok
    call = switch(controller).place_call(outside())
    assert call.hangup_cause == "USER_BUSY"
    assert not rung(call)
    assert "overflows (full: 25 callers wait, the tier's limit) to busy" in steps(
        controller, call.call_uuid)


def test_after_the_maximum_wait_the_caller_overflows_to_a_colleague(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, agents="102", max_wait=10, overflow="103")
    CallCenters(pbx).set_state(None, "102", "unavailable", "meeting")
    caught_up(controller)
    call = switch(controller).place_call(outside())
    assert call.bridged_to == "103"
    assert call.parked_music.count("local_stream://moh") == 5  # 2 s slices of hold music
    assert "overflows (max wait: waited 10 s of 10 s) to 103" in steps(controller,
                                                                      call.call_uuid)
    assert figures(controller) == (1, 0, 0, 1, 0)


def test_a_caller_who_hangs_up_while_waiting_abandons_the_queue(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, agents="102", stranded="wait")
    CallCenters(pbx).set_state(None, "102", "unavailable")
    caught_up(controller)
    call = switch(controller).place_call(outside(hangup_after=30))
    assert call.bridged_to is None and call.parked_music  # waited with music, no agent
    wait_until(lambda: figures(controller)[2] == 1, what="the abandon")
    assert figures(controller) == (1, 0, 1, 0, 0)
    assert caught_up(controller).queue_calls == {}


def test_stranded_calls_overflow_when_no_agent_is_signed_in(
        pbx: Pbx, controller: Controller) -> None:
    controller.voicemail.enable(None, "101", email_audio=False)
    queue(pbx, controller, agents="102", overflow="vm:101")
    sign_out = switch(controller).place_call(internal("102", "*51700"))
    assert "102: sign out of queue 700 (Support)" in steps(controller, sign_out.call_uuid)
    caught_up(controller)
    call = switch(controller).place_call(outside())
    story = steps(controller, call.call_uuid)
    assert "overflows (stranded: no agent is signed in) to vm:101" in story
    assert not rung(call)


def test_a_restarted_controller_keeps_agents_and_figures_closes_lost_calls_offers_nothing_twice(
        pbx: Pbx, inbound: FakeInboundESL, controller: Controller) -> None:
    queue(pbx, controller, agents="102,103", wrap_up=600)
    sim = switch(controller)
    assert sim.place_call(outside()).bridged_to == "102"  # 102 now wraps up for 600 s
    CallCenters(pbx).set_state(None, "103", "unavailable", "lunch")
    before = caught_up(controller)
    ent = pbx.enterprise("Acme").id
    states = {a: (v.state, v.until, v.reason) for a in ("102", "103")
              if (v := before.agent_of(ent, a)) is not None}
    controller.stop()
    # A caller still waiting when the controller process died: its queue life is open.
    view = before.queue_named(ent, "Support")
    assert view is not None
    lost = QueueCall(view.id, str(uuid.uuid4()), "+31687654321", 0, datetime.now(UTC))
    pbx.save(lost)
    counts = figures_of(pbx)
    config = ServeConfig(db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
                         esl=("127.0.0.1", inbound.port), esl_password=ESL_PASSWORD,
                         gateway="trunk", poll_interval=0.01,
                         reattach_window=0.3)  # the lost caller's channel never comes back
    again = Controller(config).start()
    try:
        after = again.directory
        assert {a: (v.state, v.until, v.reason) for a in ("102", "103")
                if (v := after.agent_of(ent, a)) is not None} == states
        wait_until(lambda: figures(again)[2] == counts[2] + 1, what="the lost call's abandon")
        assert figures(again) == (counts[0], counts[1], counts[2] + 1, 0, 0)
        assert again.directory.queue_calls == {}  # the lost caller: abandoned, not offered
        assert pbx.repository.get(lost.id).ended == "abandoned"
        counts = figures(again)
        CallCenters(pbx).set_state(None, "103", "available")
        caught_up(again)
        call = switch(again).place_call(outside())
        assert rung(call) == ["103"]  # never 102, still in wrap-up
        assert figures(again) == (counts[0] + 1, counts[1] + 1, counts[2], 0, 0)
        assert after.offers_of(ent) == {}
    finally:
        again.stop()


def test_simultaneous_rings_every_free_agent_at_once(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, agents="101,102,103", policy="simultaneous")
    call = switch(controller).place_call(internal("101", "700"))
    assert rung(call) == ["102,103"]  # all free agents but the caller
    assert call.answered


def test_night_service_of_a_queue_sends_callers_to_the_night_destination(
        pbx: Pbx, controller: Controller) -> None:
    queue(pbx, controller, agents="102")
    night_service.set_night_service(pbx, None, "700", "on", to="103")
    caught_up(controller)
    call = switch(controller).place_call(outside())
    assert call.bridged_to == "103"
    assert "night service of queue Support (ext. 700) is on (manual): to 103" in steps(
        controller, call.call_uuid)
    assert figures(controller) == (0, 0, 0, 0, 0)  # the queue never saw the call
