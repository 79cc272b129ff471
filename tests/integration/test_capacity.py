"""Calling plans and call capacity through the real controller and the simulator over TCP:
what the caller hears, the cause the switch ends the call with, and what the trace says."""

from __future__ import annotations

import uuid

import gevent

from esl_controller import calling_plans as plans
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.routing.calling_plan import CONGESTION, ENTER_PIN
from esl_controller.simulator import CallSpec, Endpoint
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, switch


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def keys(*digits: str) -> list[tuple[float, str]]:
    return [(1.0 + i, key) for i, key in enumerate("".join(digits))]


def test_a_second_call_over_the_enterprise_capacity_hears_busy(
    controller: Controller, pbx: Pbx
) -> None:
    plans.set_capacity(pbx, None, None, 1)
    caught_up(controller)
    sim = switch(controller, **{"102": Endpoint("answer", 0.2, 60.0)})
    first = gevent.spawn(sim.place_call, internal("101", "102"), 30)
    acme = str(pbx.enterprise("Acme").id)
    wait_until(lambda: controller.services.lines.busy(acme, "102"), 10, "the first call")
    second = sim.place_call(CallSpec("0101234567", "0201234567", call_uuid=str(uuid.uuid4())))
    assert second.hangup_cause == "USER_BUSY"
    assert ("playback", CONGESTION) in second.apps
    assert not [app for app, _ in second.apps if app == "bridge"]
    assert "enterprise Acme has 1 of 1 calls in progress: the caller hears busy" in steps(
        controller, second.call_uuid)
    first.kill()
    wait_until(lambda: controller.services.lines.in_use(f"enterprise:{acme}") == 0, 10,
               "the first call's place freed")
    third = sim.place_call(internal("103", "101"))
    assert third.bridged_to == "101"
    caught_up(controller)
    assert plans.capacity_rows(pbx, None)[0]["refused"] == 1


def test_a_department_at_capacity_refuses_its_members_calls(
    controller: Controller, pbx: Pbx
) -> None:
    plans.add_department(pbx, None, "Support", "103")
    plans.set_capacity(pbx, None, "Support", 0)
    caught_up(controller)
    call = switch(controller).place_call(internal("103", "0612345678"))
    assert call.hangup_cause == "USER_BUSY"
    assert "department Support has 0 of 0 calls" in steps(controller, call.call_uuid)
    assert log_of(controller, "103") == [("placed", "0612345678", "busy")]
    other = switch(controller).place_call(internal("101", "0612345678"))
    assert other.bridged_to == "+31612345678"


def test_an_international_call_behind_a_pin_goes_out_after_the_pin(
    controller: Controller, pbx: Pbx
) -> None:
    pbx.add_user(None, "104", "Dirk", number="020 1234599", pin="2468")
    plans.set_outgoing(pbx, plans.scope(pbx, None, "104"), with_pin="international")
    caught_up(controller)
    sim = switch(controller, **{"+442079460958": Endpoint()})
    call = sim.place_call(internal("104", "00442079460958", dtmf=keys("1111#", "2468#")))
    prompts = [arg for app, arg in call.apps if app == "play_and_get_digits"]
    assert len(prompts) == 2 and ENTER_PIN in prompts[0]
    assert call.bridged_to == "+442079460958"
    story = steps(controller, call.call_uuid)
    assert "allows only with the caller's PIN (the plan of user 104)" in story
    assert "wrong PIN (try 1 of 3)" in story and "right PIN (try 2)" in story


def test_three_wrong_pins_end_the_call_barred(controller: Controller, pbx: Pbx) -> None:
    pbx.add_user(None, "104", "Dirk", number="020 1234599", pin="2468")
    plans.set_outgoing(pbx, plans.scope(pbx, None), with_pin="international")
    caught_up(controller)
    call = switch(controller).place_call(
        internal("104", "00442079460958", dtmf=keys("1111#", "2222#", "3333#")))
    assert call.hangup_cause == "OUTGOING_CALL_BARRED"
    assert not [app for app, _ in call.apps if app == "bridge"]
    assert "3 wrong PINs: the call is refused" in steps(controller, call.call_uuid)


def test_the_incoming_plan_refuses_an_anonymous_outside_caller(
    controller: Controller, pbx: Pbx
) -> None:
    plans.set_incoming(pbx, plans.scope(pbx, None), "no-anonymous")
    caught_up(controller)
    spec = CallSpec("anonymous", "0201234567", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(spec)
    assert call.hangup_cause == "CALL_REJECTED"
    assert "the incoming calling plan of 101 (the enterprise's plan) refuses" in steps(
        controller, call.call_uuid)
    colleague = switch(controller).place_call(internal("102", "101"))
    assert colleague.bridged_to == "101"
