"""Ringing extras through the real controller and the simulator over TCP: alternate numbers
(USR-10), priority alert (USR-18), shared call appearances (USR-21) and per-number schedules
(USR-9). What FreeSWITCH is asked to dial, who answers, what the call log and
``pbx calls explain`` say, and what mod_xml_curl gets for a device."""

from __future__ import annotations

import urllib.request
import uuid
from urllib.parse import urlencode

import gevent
from lxml import etree

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.domain.secrets import sip_a1_hash
from esl_controller.schedules import add_schedule
from esl_controller.simulator import CallSpec, Endpoint, SimCall
from projections.blf import line_states
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, switch


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def external(caller: str, destination: str) -> CallSpec:
    return CallSpec(caller, destination, call_uuid=str(uuid.uuid4()))


def bridge_of(call: SimCall) -> str:
    return next(arg for app, arg in call.apps if app == "bridge")


def test_an_alternate_number_rings_the_user_with_its_distinctive_ring(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.add_alternate(pbx, None, "101", "150")
    user_services.add_alternate(pbx, None, "101", "020 7654321")  # 2nd: Bellcore-dr2
    caught_up(controller)
    sim = switch(controller)
    call = sim.place_call(external("0301234567", "+31207654321"))
    assert call.bridged_to == "101"
    assert "alert_info='<http://www.notused.com>;info=Bellcore-dr2'" in bridge_of(call)
    assert "alternate number 2 of 101 (Alice Jansen)" in steps(controller, call.call_uuid)
    plain = sim.place_call(internal("102", "150"))
    assert plain.bridged_to == "101"
    assert "alert_info" not in bridge_of(plain)
    assert "150 is alternate number 1 of 101" in steps(controller, plain.call_uuid)
    assert sorted(log_of(controller, "101")) == [
        ("received", "0301234567", "answered"),
        ("received", "Bob de Vries (102)", "answered"),
    ]


def test_priority_alert_reaches_the_phone_as_bellcore_dr4(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.add_priority_alert(pbx, None, "101", "+3130*")
    caught_up(controller)
    sim = switch(controller)
    call = sim.place_call(external("+31301234567", "+31201234567"))
    assert "info=Bellcore-dr4" in bridge_of(call)
    assert "matches priority alert +3130* of 101" in steps(controller, call.call_uuid)
    other = sim.place_call(external("+31401234567", "+31201234567"))
    assert "alert_info" not in bridge_of(other)


def test_a_shared_device_rings_with_the_desk_and_its_answer_is_the_users(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.add_device(pbx, None, "101", "home", "home-pass-1")
    caught_up(controller)
    sim = switch(controller, **{"101": Endpoint("no-answer"),
                                "101-home": Endpoint("answer", 0.3, 0.3)})
    call = sim.place_call(internal("102", "101"))
    assert bridge_of(call).endswith("}user/101@acme.example,user/101-home@acme.example")
    assert call.bridged_to == "101-home"
    assert log_of(controller, "101") == [("received", "Bob de Vries (102)", "answered")]
    assert log_of(controller, "102") == [("placed", "Alice Jansen (101)", "answered")]


def test_a_device_calls_and_dials_feature_codes_as_its_user(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.add_device(pbx, None, "101", "home", "home-pass-1")
    caught_up(controller)
    sim = switch(controller)
    call = sim.place_call(internal("101-home", "102"))
    assert call.bridged_to == "102"
    assert "origination_caller_id_number=101," in bridge_of(call)
    assert "101-home is a shared device of 101" in steps(controller, call.call_uuid)
    assert log_of(controller, "101") == [("placed", "Bob de Vries (102)", "answered")]
    sim.place_call(internal("101-home", "*78"))  # do not disturb on, for Alice
    assert pbx.user(None, "101").dnd
    user_services.remove_device(pbx, None, "101", "home")
    caught_up(controller)
    refused = sim.place_call(internal("101-home", "102"))
    assert refused.bridged_to is None and refused.hangup_cause == "CALL_REJECTED"


def test_freeswitch_gets_the_device_account_over_http(controller: Controller, pbx: Pbx) -> None:
    user_services.add_device(pbx, None, "101", "soft", "soft-pass-1")
    caught_up(controller)
    assert controller.http is not None
    host, port = controller.http.address
    form = {"section": "directory", "tag_name": "domain", "key_name": "name",
            "key_value": "acme.example", "action": "sip_auth", "user": "101-soft",
            "domain": "acme.example", "sip_auth_username": "101-soft"}

    def post() -> bytes:
        req = urllib.request.Request(f"http://{host}:{port}/directory",
                                     data=urlencode(form).encode())
        with urllib.request.urlopen(req, timeout=5) as resp:
            body: bytes = resp.read()
            return body

    body: bytes = gevent.get_hub().threadpool.spawn(post).get(timeout=10)
    assert b"soft-pass-1" not in body
    user = etree.fromstring(body).find("section/domain/groups/group/users/user")
    assert user is not None and user.get("id") == "101-soft"
    a1 = user.find("params/param[@name='a1-hash']")
    assert a1 is not None
    assert a1.get("value") == sip_a1_hash("101-soft", "acme.example", "soft-pass-1")


def test_a_closed_desk_schedule_leaves_the_desk_out_and_nobody_left_is_not_reachable(
    controller: Controller, pbx: Pbx
) -> None:
    add_schedule(pbx, None, "never", "daily closed", None)
    add_schedule(pbx, None, "always", "daily 00:00-24:00", None)
    user_services.update(pbx, None, "101", mobile="0612345678", mobility=True)
    user_services.set_leg_schedules(pbx, None, "101", {"desk": "never", "mobile": "always"})
    caught_up(controller)
    sim = switch(controller, **{"+31612345678": Endpoint("answer", 0.2, 0.2)})
    call = sim.place_call(internal("102", "101"))
    assert bridge_of(call).endswith("}sofia/gateway/trunk/+31612345678")
    assert call.bridged_to == "+31612345678"
    assert "the desk phones of 101 do not ring" in steps(controller, call.call_uuid)
    assert log_of(controller, "101") == [("received", "Bob de Vries (102)", "answered")]

    user_services.set_leg_schedules(pbx, None, "101", {"mobile": "never"})
    user_services.forward(pbx, None, "101", "not-reachable", "103")
    caught_up(controller)
    diverted = sim.place_call(internal("102", "101"))
    assert diverted.bridged_to == "103"
    story = steps(controller, diverted.call_uuid)
    assert "no line of 101 may ring now: treated as not reachable" in story
    assert "101 forwards (not-reachable) to 103" in story


def test_while_a_device_talks_the_user_s_lamp_is_busy_and_call_waiting_applies(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.add_device(pbx, None, "101", "home", "home-pass-1")
    user_services.set_call_waiting(pbx, None, "101", False)
    caught_up(controller)
    sim = switch(controller, **{"101": Endpoint("no-answer"),
                                "101-home": Endpoint("answer", 0.2, 60.0)})
    first = gevent.spawn(sim.place_call, internal("102", "101"), 30)
    acme = pbx.enterprise("Acme").id
    wait_until(lambda: line_states(controller.blf.engine, acme).get("101") == "busy", 10,
               "101's lamp busy")
    second = sim.place_call(internal("103", "101"))
    assert second.hangup_cause == "USER_BUSY"
    assert "call waiting is off" in steps(controller, second.call_uuid)
    first.kill()
