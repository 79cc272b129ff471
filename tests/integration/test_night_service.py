"""Night service and forwarding toolboxes through the real controller and the simulator over
TCP: what the caller and the users notice, and what `pbx calls explain` reads.

The target scenarios use a tiny target kind of this module (``front-desk`` on extension 600,
ringing 102 and then the fallbacks), so they do not depend on any one group feature.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from uuid import uuid5

import pytest

from esl_controller import night_service, schedules
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.night_service import RuleChange
from esl_controller.routing import targets
from esl_controller.routing.actions import Ring, UserDevices
from esl_controller.routing.outcomes import Rang, RingResult
from esl_controller.routing.script import Script
from esl_controller.routing.toolbox import toolbox_no_answer_seconds
from esl_controller.simulator import CallSpec, Endpoint, SimCall
from projections.targets import TargetView
from tests.integration.calls import caught_up, internal, log_of, switch

KIND = "front-desk"


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def bridges(call: SimCall) -> list[str]:
    return [arg for app, arg in call.apps if app == "bridge"]


@pytest.fixture
def desk(pbx: Pbx, controller: Controller) -> Iterator[TargetView]:
    @targets.register(KIND)
    def front_desk(call: targets.TargetCall) -> Script:
        outcome = yield Ring((UserDevices("102", call.enterprise.domain),),
                             toolbox_no_answer_seconds(call) or 20,
                             call.presented_number, call.presented_name)
        assert isinstance(outcome, Rang)
        if outcome.result is not RingResult.ANSWERED:
            yield from targets.unanswered(call, outcome.result, outcome.cause)

    ent = pbx.enterprise("Acme")
    view = TargetView(KIND, uuid5(ent.id, "desk"), ent.id, "Reception", "600",
                      ("+31201110000",))
    pbx.directory()._put_target(view)
    controller.directory._put_target(view)
    yield view
    targets.SCRIPTS.pop(KIND)


def test_manual_night_service_of_a_user_rings_the_night_destination(
    controller: Controller, pbx: Pbx
) -> None:
    night_service.set_night_service(pbx, None, "102", "on", to="103")
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "102"))
    assert call.bridged_to == "103"
    assert len(bridges(call)) == 1
    assert bridges(call)[0].endswith("user/103@acme.example")
    assert "sip_h_Diversion='<sip:102@acme.example>;reason=unconditional'" in bridges(call)[0]
    assert "night service of 102 (Bob de Vries) is on (manual): to 103" in steps(
        controller, call.call_uuid)
    assert log_of(controller, "103") == [("received", "Alice Jansen (101)", "answered")]


def test_automatic_night_service_follows_the_schedule(controller: Controller, pbx: Pbx) -> None:
    schedules.add_schedule(pbx, None, "never", "daily closed", None)
    schedules.add_schedule(pbx, None, "always", "daily 00:00-24:00", None)
    night_service.set_night_service(pbx, None, "101", "auto", to="0612345678",
                                    schedule="never")
    caught_up(controller)
    outside = CallSpec("+31301234567", "+31201234567", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(outside)
    assert call.bridged_to == "+31612345678"
    assert "reason=time-of-day" in bridges(call)[0]
    assert "schedule 'never' is closed" in steps(controller, call.call_uuid)

    night_service.set_night_service(pbx, None, "101", "auto", schedule="always")
    caught_up(controller)
    outside = CallSpec("+31301234567", "+31201234567", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(outside)
    assert call.bridged_to == "101"
    assert "schedule 'always' is open" in steps(controller, call.call_uuid)


def test_night_service_of_a_target_and_back_to_day(
    controller: Controller, pbx: Pbx, desk: TargetView
) -> None:
    night_service.set_night_service(pbx, None, "Reception", "on", to="103")
    caught_up(controller)
    outside = CallSpec("+31301234567", "+31201110000", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(outside)
    assert call.bridged_to == "103"
    assert "sip_h_Diversion='<sip:600@acme.example>;reason=unconditional'" in bridges(call)[0]
    assert ("night service of front desk Reception (ext. 600) is on (manual): to 103"
            in steps(controller, call.call_uuid))

    night_service.set_night_service(pbx, None, "600", "off")
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "600"))
    assert call.bridged_to == "102"


def test_toolbox_busy_and_no_answer_forwarding_of_a_target(
    controller: Controller, pbx: Pbx, desk: TargetView
) -> None:
    night_service.add_toolbox(pbx, None, "Desk box", (
        RuleChange("busy", "103"), RuleChange("no-answer", "101", after_seconds=5)))
    night_service.attach_toolbox(pbx, None, "Desk box", "600")
    caught_up(controller)
    call = switch(controller, **{"102": Endpoint("busy")}).place_call(internal("103", "600"))
    assert call.bridged_to == "103"
    assert len(bridges(call)) == 2
    assert "reason=user-busy" in bridges(call)[1]
    assert "toolbox 'Desk box' of front desk Reception (ext. 600) forwards when busy: to 103" \
        in steps(controller, call.call_uuid)

    call = switch(controller, **{"102": Endpoint("no-answer")}).place_call(
        internal("103", "600"))
    assert call.bridged_to == "101"
    assert "call_timeout=5," in bridges(call)[0]
    assert "reason=no-answer" in bridges(call)[1]


def test_toolbox_rejects_anonymous_outside_callers(
    controller: Controller, pbx: Pbx, desk: TargetView
) -> None:
    night_service.add_toolbox(pbx, None, "Desk box", (), reject_anonymous=True)
    night_service.attach_toolbox(pbx, None, "Desk box", "Reception")
    caught_up(controller)
    spec = CallSpec("anonymous", "+31201110000", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(spec)
    assert call.hangup_cause == "CALL_REJECTED"
    assert [app for app, _ in call.apps] == ["pre_answer", "playback"]
    assert "rejects calls without a number" in steps(controller, call.call_uuid)
