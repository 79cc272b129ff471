"""Manager/assistant (MA-1) through the real controller and the simulator over TCP."""

from __future__ import annotations

import uuid

from esl_controller import assistants
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.simulator import CallSpec, Endpoint
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, switch


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def bridges(call: object) -> list[str]:
    return [arg for app, arg in call.apps if app == "bridge"]  # type: ignore[attr-defined]


def outside(caller: str = "+31612345678") -> CallSpec:
    return CallSpec(caller, "+31201234567", call_uuid=str(uuid.uuid4()))


def test_an_outside_call_to_the_manager_rings_the_assistant_who_answers_it(
    controller: Controller, pbx: Pbx
) -> None:
    assistants.add_assistant(pbx, None, "101", "102", "external")
    caught_up(controller)
    call = switch(controller, **{"101": Endpoint("no-answer")}).place_call(outside())
    assert len(bridges(call)) == 1
    ring = bridges(call)[0]
    assert ring.endswith("user/102@acme.example")  # the assistant, not the manager
    assert "(for 101)" in ring  # the assistant sees whose call it is
    assert call.bridged_to == "102"
    wait_until(lambda: controller.app.call(call.call_uuid).ended, what="the call to end")
    assert controller.app.call(call.call_uuid).answered_by == "102"
    assert "answered by assistant 102 on behalf of 101" in steps(controller, call.call_uuid)
    assert [(kind, outcome) for kind, _, outcome in log_of(controller, "102")] == [
        ("received", "answered")]
    assert [kind for kind, _, _ in log_of(controller, "101")] == ["missed"]


def test_no_assistant_answering_passes_the_call_on_to_the_manager(
    controller: Controller, pbx: Pbx
) -> None:
    assistants.add_assistant(pbx, None, "101", "102")
    assistants.add_assistant(pbx, None, "101", "103")
    caught_up(controller)
    sim = switch(controller, **{"102": Endpoint("no-answer"), "103": Endpoint("busy")})
    call = sim.place_call(outside())
    first, second = bridges(call)
    assert first.endswith("user/102@acme.example,user/103@acme.example")
    assert second.endswith("user/101@acme.example")
    assert call.bridged_to == "101"
    assert "no assistant answered" in steps(controller, call.call_uuid)


def test_the_filter_and_the_screening_switch_let_calls_through_to_the_manager(
    controller: Controller, pbx: Pbx
) -> None:
    assistants.add_assistant(pbx, None, "101", "102", "numbers:+3161*")
    caught_up(controller)
    sim = switch(controller)
    other = sim.place_call(outside("+31201111111"))  # matches no pattern
    assert bridges(other)[0].endswith("user/101@acme.example")
    assert "matches none of +3161*" in steps(controller, other.call_uuid)
    # The manager dials *48: screening off, then even a matching caller reaches 101.
    off = sim.place_call(internal("101", "*48"))
    assert off.hangup_cause == "NORMAL_CLEARING"
    assert pbx.directory().executive(pbx.user(None, "101").id).screening is False  # type: ignore[union-attr]
    caught_up(controller)
    matching = sim.place_call(outside())
    assert bridges(matching)[0].endswith("user/101@acme.example")
    assert "switched screening off" in steps(controller, matching.call_uuid)
    sim.place_call(internal("101", "*47"))
    caught_up(controller)
    assert bridges(sim.place_call(outside()))[0].endswith("user/102@acme.example")


def test_an_assistant_calls_out_presenting_the_managers_number(
    controller: Controller, pbx: Pbx
) -> None:
    assistants.add_assistant(pbx, None, "101", "102")
    caught_up(controller)
    sim = switch(controller, **{"+31612345678": Endpoint()})
    call = sim.place_call(internal("102", "*491010612345678"))
    ring = bridges(call)[0]
    assert ring.endswith("sofia/gateway/trunk/+31612345678")
    assert "origination_caller_id_number=+31201234567" in ring  # 101's number
    assert "assistant 102 calls 0612345678 on behalf of 101" in steps(controller, call.call_uuid)
    # 103 assists nobody: refused, nothing dialled.
    refused = sim.place_call(internal("103", "*491010612345678"))
    assert refused.hangup_cause == "CALL_REJECTED"
    assert bridges(refused) == []
