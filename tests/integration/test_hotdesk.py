"""Hot desking (USR-8) through the real controller and the simulator over TCP: a user logs in
on a shared phone by DTMF, the phone then rings for the user and calls as the user, *32 logs
out, and the log explains each step."""

from __future__ import annotations

import uuid

import pytest

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.hotdesk import HotDeskService
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL
from tests.conftest import wait_until
from tests.integration.calls import internal, log_of, switch


@pytest.fixture
def pbx(db_url: str) -> Pbx:
    """Acme with Alice (PIN 2468), Bob, and the hot-desk phone flex1."""
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", number="020 1234567", password="s3cret-pass",
                 pin="2468")
    app.add_user(None, "102", "Bob de Vries")
    app.add_user(None, "103", "Carol Smit")
    HotDeskService(app).add(None, "flex1", "desk-pass-1")
    return app


def keys(*digits: str) -> list[tuple[float, str]]:
    """One DTMF key a (simulated) second, from the first second of the call."""
    return [(1.0 + i, key) for i, key in enumerate("".join(digits))]


def logged_in(controller: Controller) -> str | None:
    desk = controller.directory.hotdesk(controller.app.enterprise("Acme").id, "flex1")
    assert desk is not None
    return desk.extension


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)


def login(controller: Controller) -> None:
    sim = switch(controller).place_call(internal("flex1", "*31", dtmf=keys("101#", "2468#")))
    assert sim.answered and sim.hangup_cause == "NORMAL_CLEARING"
    wait_until(lambda: logged_in(controller) == "101", what="the login in the directory")


def test_login_by_dtmf_then_calls_to_the_user_ring_the_hot_desk_phone(
    controller: Controller, inbound: FakeInboundESL
) -> None:
    login(controller)
    table = {"101": Endpoint("no-answer"), "flex1": Endpoint()}
    call = switch(controller, **table).place_call(internal("102", "101"))
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert bridge.endswith("user/101@acme.example,user/flex1@acme.example")
    assert call.bridged_to == "flex1"
    assert log_of(controller, "101") == [("received", "Bob de Vries (102)", "answered")]
    assert "ringing 101 (Alice Jansen) on all registered devices and the hot-desk phone flex1" \
        in steps(controller, call.call_uuid)
    wait_until(lambda: [e for e in inbound.presence if e.get("from") == "101@acme.example"
                        and e.get("answer-state") == "confirmed"],
               what="Alice's lamp busy while she talks on the hot-desk phone")


def test_calls_from_the_hot_desk_phone_are_the_logged_in_users(controller: Controller) -> None:
    login(controller)
    call = switch(controller).place_call(internal("flex1", "0612345678"))
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert "origination_caller_id_number=+31201234567" in bridge
    assert "origination_caller_id_name='Alice Jansen'" in bridge
    assert call.bridged_to == "+31612345678"
    assert "flex1 is a hot-desk phone where 101 (Alice Jansen) is logged in" in steps(
        controller, call.call_uuid)
    assert log_of(controller, "101") == [("placed", "0612345678", "answered")]


def test_logout_leaves_the_phone_for_extensions_and_emergencies_only(
    controller: Controller,
) -> None:
    login(controller)
    out = switch(controller).place_call(internal("flex1", "*32"))
    assert out.answered and out.hangup_cause == "NORMAL_CLEARING"
    wait_until(lambda: logged_in(controller) is None, what="the logout in the directory")
    refused = switch(controller).place_call(internal("flex1", "0612345678"))
    assert refused.hangup_cause == "OUTGOING_CALL_BARRED"
    assert not any(app == "bridge" for app, _ in refused.apps)
    assert "0612345678 cannot be called before a user logs in" in steps(
        controller, refused.call_uuid)
    colleague = switch(controller).place_call(internal("flex1", "102"))
    assert colleague.bridged_to == "102"
    bridge = next(arg for app, arg in colleague.apps if app == "bridge")
    assert "origination_caller_id_number=flex1" in bridge
    names = [type(e).__name__ for _, e in controller.app.events_after()]
    assert names.count("HotDeskLoggedIn") == 1 and names.count("HotDeskLoggedOut") == 1


def test_three_wrong_pins_lock_and_the_right_one_is_then_refused(
    controller: Controller,
) -> None:
    wrong = keys("101#", "1111#", "2222#", "3333#")
    sim = switch(controller).place_call(internal("flex1", "*31", dtmf=wrong))
    assert sum(app == "play_and_get_digits" for app, _ in sim.apps) == 4  # extension + 3 PINs
    right = switch(controller).place_call(internal("flex1", "*31", dtmf=keys("101#", "2468#")))
    assert "voicemail/vm-abort.wav" in [arg for app, arg in right.apps if app == "playback"]
    assert "hot-desk login of 101 is locked" in steps(controller, right.call_uuid)
    assert logged_in(controller) is None


def test_an_outside_call_cannot_use_a_hot_desk_name(controller: Controller) -> None:
    spec = CallSpec("0612345678", "flex1", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(spec)
    assert call.hangup_cause == "UNALLOCATED_NUMBER"


def test_feature_codes_on_the_hot_desk_phone_are_the_users(controller: Controller) -> None:
    login(controller)
    sim = switch(controller).place_call(internal("flex1", "*78"))  # do not disturb on
    assert "tone_stream://%(100,100,1400);loops=3" in [a for _, a in sim.apps]
    assert controller.app.user(None, "101").dnd
