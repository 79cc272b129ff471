"""Pickup, barge-in and call park through the real controller and the simulator over TCP:
two or three calls at once, one acting on another as FreeSWITCH's intercept / three_way do."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import gevent

import commands.main  # noqa: F401  (registers the CLI: commands.calls imports it)
from commands.calls import explain_call
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.call_services import CallServices
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, switch


def ended(controller: Controller, call_id: str) -> None:
    wait_until(lambda: controller.app.call(call_id).ended, what=f"call {call_id} to end")


def story(controller: Controller, call_id: str) -> str:
    return "\n".join(explain_call(controller.app, call_id))


def in_background(fs: FakeSwitch, spec: CallSpec) -> Callable[[], SimCall]:
    job = gevent.spawn(fs.place_call, spec)
    return lambda: job.get(timeout=20)


def ringing(controller: Controller, pbx: Pbx, extension: str) -> None:
    ent = str(pbx.enterprise(None).id)
    wait_until(lambda: controller.services.lines.calls.ringing(ent, extension),
               what=f"a call ringing {extension}")


def test_group_pickup_connects_the_colleague_to_the_caller(
    controller: Controller, pbx: Pbx
) -> None:
    CallServices(pbx).add_pickup_group(None, "Sales", ["102", "103"])
    caught_up(controller)
    # a 2 s ring (20 simulated seconds): room for the pickup on a loaded machine
    fs = switch(controller, scale=0.1, **{"102": Endpoint("no-answer")})
    first = in_background(fs, internal("101", "102", hangup_after=100))
    ringing(controller, pbx, "102")
    picker = fs.place_call(internal("103", "*8"))
    rang = first()
    assert ("intercept", rang.call_uuid) in picker.apps
    assert picker.intercepted == rang.call_uuid
    assert rang.intercepted_by == "103"  # the caller now talks to 103, not to 102's phone
    assert "103 takes the call ringing 102" in story(controller, picker.call_uuid)
    ended(controller, rang.call_uuid)
    assert controller.app.call(rang.call_uuid).answered_by == "103"
    assert "answered by 103" in story(controller, rang.call_uuid)
    # 103's call log has the call it took; 102 never talked to 101.
    assert ("received", "Alice Jansen (101)", "answered") in log_of(controller, "103")
    assert all(kind != "received" for kind, _, _ in log_of(controller, "102"))


def test_directed_pickup_takes_the_named_colleagues_call(
    controller: Controller, pbx: Pbx
) -> None:
    # a 2 s ring (20 simulated seconds): room for the pickup on a loaded machine
    fs = switch(controller, scale=0.1, **{"102": Endpoint("no-answer")})
    first = in_background(fs, internal("101", "102", hangup_after=100))
    ringing(controller, pbx, "102")
    picker = fs.place_call(internal("103", "*97102"))
    rang = first()
    assert rang.intercepted_by == "103"
    assert "103 picks up the call ringing 102 (Bob de Vries)" in story(
        controller, picker.call_uuid)


def test_pickup_of_a_private_colleague_is_refused(controller: Controller, pbx: Pbx) -> None:
    user_services.set_privacy(pbx, None, "102", True)
    caught_up(controller)
    fs = switch(controller, **{"102": Endpoint("no-answer")})
    first = in_background(fs, internal("101", "102", hangup_while_ringing=100))
    ringing(controller, pbx, "102")
    picker = fs.place_call(internal("103", "*97102"))
    assert not any(app == "intercept" for app, _ in picker.apps)
    assert ("playback", "tone_stream://%(274,0,913.8);%(274,0,1370.6);%(380,0,1776.7)") in (
        picker.apps)
    assert "102 is private" in story(controller, picker.call_uuid)
    assert first().intercepted_by is None


def test_group_pickup_with_nothing_ringing_plays_the_tone(controller: Controller,
                                                         pbx: Pbx) -> None:
    CallServices(pbx).add_pickup_group(None, "Sales", ["102", "103"])
    caught_up(controller)
    picker = switch(controller).place_call(internal("103", "*8"))
    assert not any(app == "intercept" for app, _ in picker.apps)
    assert "no call is ringing there now" in story(controller, picker.call_uuid)


def test_barge_in_joins_an_answered_call_after_a_warning_tone(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    fs = switch(controller, **{"102": Endpoint(talk_seconds=200)})
    first = in_background(fs, internal("101", "102", hangup_after=150))
    ent = str(pbx.enterprise(None).id)
    wait_until(lambda: controller.services.lines.busy(ent, "102"), what="102 on the call")
    barge = fs.place_call(internal("103", "*33102"))
    rang_uuid = barge.joined
    assert rang_uuid is not None
    assert ("three_way", rang_uuid) in barge.apps
    assert any(c.startswith(f"uuid_broadcast {rang_uuid} tone_stream://") and c.endswith("both")
               for c in inbound.api_commands)
    assert "103 joins the call of 102 (Bob de Vries)" in story(controller, barge.call_uuid)
    assert "103" in first().barged_by


def test_barge_in_exempt_user_is_never_joined(controller: Controller, pbx: Pbx,
                                               inbound: FakeInboundESL) -> None:
    CallServices(pbx).set_barge_in_exempt(None, "102", True)
    caught_up(controller)
    fs = switch(controller, **{"102": Endpoint(talk_seconds=200)})
    first = in_background(fs, internal("101", "102", hangup_after=150))
    ent = str(pbx.enterprise(None).id)
    wait_until(lambda: controller.services.lines.busy(ent, "102"), what="102 on the call")
    barge = fs.place_call(internal("103", "*33102"))
    assert barge.joined is None
    assert not any(app == "three_way" for app, _ in barge.apps)
    assert "102 is barge-in exempt" in story(controller, barge.call_uuid)
    assert not inbound.api_commands
    assert first().barged_by == []


def test_park_by_transfer_then_retrieve_from_another_phone(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    CallServices(pbx).set_park_slots(None, "700-709", recall_seconds=600)
    caught_up(controller)
    fs = switch(controller, **{"101": Endpoint(talk_seconds=5)})
    outside = CallSpec("0612345678", "+31201234567", call_uuid=str(uuid.uuid4()),
                       blind_transfer=(0.5, "700"), hangup_after=300)
    parked = in_background(fs, outside)
    ent = str(pbx.enterprise(None).id)
    wait_until(lambda: controller.services.lines.calls.parked(ent, "700"), what="a parked call")
    retrieve = fs.place_call(internal("103", "700"))
    call = parked()
    assert call.after_transfer is not None
    waiting = call.after_transfer
    assert waiting.parked_music == ["local_stream://moh"]
    assert waiting.intercepted_by == "103"
    assert retrieve.intercepted == call.call_uuid
    assert "103 retrieves the call parked on slot 700 by 101" in story(
        controller, retrieve.call_uuid)
    assert controller.services.lines.calls.parked(ent, "700") is None
    # The slot's lamp (BLF key park+700@acme.example) went on, then off again.
    lamp = inbound.wait_for(lambda: [
        e["answer-state"] for e in inbound.presence if e.get("from") == "park+700@acme.example"
    ] == ["confirmed", "terminated"])
    assert lamp


def test_parked_call_not_retrieved_rings_the_parker_again(
    controller: Controller, pbx: Pbx
) -> None:
    CallServices(pbx).set_park_slots(None, "700-701", recall_seconds=10)
    caught_up(controller)
    fs = switch(controller, **{"101": Endpoint(talk_seconds=5)})
    outside = CallSpec("0612345678", "+31201234567", call_uuid=str(uuid.uuid4()),
                       blind_transfer=(0.5, "701"), hangup_after=300)
    call = fs.place_call(outside)
    waiting = call.after_transfer
    assert waiting is not None
    assert ("playback", "local_stream://moh") in waiting.apps
    assert waiting.bridged_to == "101"  # the recall rang the parker, who answered
    assert waiting.apps.index(("playback", "local_stream://moh")) < [
        app for app, _ in waiting.apps].index("bridge")
