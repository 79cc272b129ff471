"""User call services through the real controller and the simulator over TCP: what a caller
and the user notice, what the call log says, and what `pbx calls explain` reads."""

from __future__ import annotations

import uuid

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.simulator import CallSpec, Endpoint
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, switch


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def test_busy_forwarding_to_a_colleague_rings_the_colleague(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.forward(pbx, None, "102", "busy", "103")
    caught_up(controller)
    call = switch(controller, **{"102": Endpoint("busy")}).place_call(internal("101", "102"))
    assert call.bridged_to == "103"
    bridges = [arg for app, arg in call.apps if app == "bridge"]
    assert bridges[0].endswith("user/102@acme.example")
    assert bridges[1].endswith("user/103@acme.example")
    assert "sip_h_Diversion='<sip:102@acme.example>;reason=user-busy'" in bridges[1]
    assert "102 forwards (busy) to 103" in steps(controller, call.call_uuid)
    assert log_of(controller, "103") == [("received", "Alice Jansen (101)", "answered")]


def test_forward_always_to_a_mobile_goes_out_through_the_gateway(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.forward(pbx, None, "102", "always", "06 12345678")
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "102"))
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert bridge.endswith("sofia/gateway/trunk/+31612345678")
    assert "reason=unconditional" in bridge
    assert call.bridged_to == "+31612345678"


def test_do_not_disturb_gives_the_caller_busy_and_rings_nothing(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.set_dnd(pbx, None, "102", True)
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "102"))
    assert call.hangup_cause == "USER_BUSY"
    assert not any(app == "bridge" for app, _ in call.apps)
    assert "do not disturb" in steps(controller, call.call_uuid)
    assert log_of(controller, "102") == [("missed", "Alice Jansen (101)", "busy")]


def test_anonymous_outside_caller_is_rejected_with_an_announcement(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.set_anonymous_rejection(pbx, None, "101", True)
    caught_up(controller)
    spec = CallSpec("anonymous", "+31201234567", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(spec)
    assert call.hangup_cause == "CALL_REJECTED"
    assert [app for app, _ in call.apps] == ["pre_answer", "playback"]


def test_feature_codes_on_the_phone_change_forwarding_and_dnd(
    controller: Controller, pbx: Pbx
) -> None:
    sim = switch(controller)
    code = sim.place_call(internal("102", "*72103"))
    assert [app for app, _ in code.apps] == ["answer", "playback"]
    assert code.hangup_cause == "NORMAL_CLEARING"
    assert pbx.user(None, "102").forward("always") is not None
    caught_up(controller)
    assert sim.place_call(internal("101", "102")).bridged_to == "103"

    sim.place_call(internal("102", "*73"))
    sim.place_call(internal("102", "*78"))
    assert pbx.user(None, "102").dnd
    assert pbx.user(None, "102").forward("always") is None
    caught_up(controller)
    assert sim.place_call(internal("101", "102")).hangup_cause == "USER_BUSY"

    refused = sim.place_call(internal("102", "*7209001234567"))  # toll fraud via forwarding
    assert refused.apps[1][1].startswith("tone_stream://%(274")  # the SIT tone, not the OK
    assert pbx.user(None, "102").forward("always") is None
    assert "refused" in steps(controller, refused.call_uuid)


def test_clir_per_call_withholds_the_number_on_an_external_call(controller: Controller) -> None:
    call = switch(controller).place_call(internal("101", "*670612345678"))
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert "origination_caller_id_number=anonymous" in bridge
    assert "origination_privacy=hide_name:hide_number" in bridge
    assert bridge.endswith("sofia/gateway/trunk/+31612345678")


def test_call_waiting_off_gives_a_second_caller_busy_while_the_first_call_lasts(
    controller: Controller, pbx: Pbx
) -> None:
    import gevent

    user_services.set_call_waiting(pbx, None, "102", False)
    caught_up(controller)
    sim = switch(controller, **{"102": Endpoint("answer", 0.2, 60.0)})
    first = gevent.spawn(sim.place_call, internal("101", "102"), 30)
    acme = str(pbx.enterprise("Acme").id)
    wait_until(lambda: controller.services.lines.busy(acme, "102"), 10, "102 on the call")
    second = sim.place_call(internal("103", "102"))
    assert second.hangup_cause == "USER_BUSY"
    assert "call waiting is off" in steps(controller, second.call_uuid)
    first.kill()


def test_selective_rejection_refuses_a_matching_outside_caller(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.add_screening(pbx, None, "101", "reject", "+3190*")
    caught_up(controller)
    spec = CallSpec("+31901234567", "+31201234567", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(spec)
    assert call.hangup_cause == "CALL_REJECTED"
    assert "101 rejects +3190*" in steps(controller, call.call_uuid)


def test_mobility_rings_the_mobile_too_and_an_answer_there_is_the_users(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.update(pbx, None, "102", mobile="0612345678", mobility=True)
    caught_up(controller)
    sim = switch(controller, **{"102": Endpoint("no-answer"),
                                "+31612345678": Endpoint("answer", 0.3, 0.3)})
    call = sim.place_call(internal("101", "102"))
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert bridge.endswith("user/102@acme.example,sofia/gateway/trunk/+31612345678")
    assert call.bridged_to == "+31612345678"
    assert log_of(controller, "102") == [("received", "Alice Jansen (101)", "answered")]
