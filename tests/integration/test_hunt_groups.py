"""Hunt groups (CORE-2) through the real controller and the simulator over TCP: which phones
ring in which order, who gets the call, where it goes when nobody answers, and that the
circular rotation survives a controller restart and a fresh fold of the log."""

from __future__ import annotations

import random
import uuid

import gevent
import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.hunt_service import HuntGroups
from esl_controller.routing import announcements
from esl_controller.routing.hunt_group import weighted_order
from esl_controller.simulator import CallSpec, Endpoint, SimCall
from projections.directory import Directory
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, settled, switch


def steps(controller: Controller, call_id: str) -> str:
    return " | ".join(s["detail"] for s in controller.app.call(call_id).steps)



def rung(call: SimCall) -> list[str]:
    """The phones each bridge rang, in order: 'user/101@acme.example' -> '101'."""
    found = []
    for app, arg in call.apps:
        if app == "bridge":
            legs = arg.split("}", 1)[1].split(",")
            found.append(",".join(leg.split("/")[-1].split("@")[0] for leg in legs))
    return found


@pytest.fixture
def members(pbx: Pbx) -> Pbx:
    pbx.add_user(None, "104", "Dave Visser")
    return pbx


def group(pbx: Pbx, controller: Controller, policy: str, members: str = "102,103,104",
          **kw: object) -> None:
    HuntGroups(pbx).add(None, "Sales", "600", policy, members.split(","),
                        ["020 7654321"], **kw)  # type: ignore[arg-type]
    caught_up(controller)


def test_regular_advances_on_no_answer_and_busy_to_the_member_who_answers(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "regular", member_timeout=10)
    sim = switch(controller, **{"102": Endpoint("no-answer"), "103": Endpoint("busy"),
                                "104": Endpoint()})
    call = sim.place_call(internal("101", "600"))
    assert rung(call) == ["102", "103", "104"]
    assert call.bridged_to == "104"
    assert "call_timeout=10" in next(arg for app, arg in call.apps if app == "bridge")
    story = steps(controller, call.call_uuid)
    assert "102 did not answer within 10 s: next member" in story
    assert "103: busy (USER_BUSY): next member" in story
    assert log_of(controller, "104") == [("received", "Alice Jansen (101)", "answered")]


def test_circular_continues_after_the_last_offered_member_across_a_restart(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "circular")
    sim = switch(controller, **{"104": Endpoint()})
    first = sim.place_call(internal("101", "600"))
    second = sim.place_call(CallSpec("+31301234567", "+31207654321",
                                     call_uuid=str(uuid.uuid4())))  # the public number
    assert first.bridged_to == "102"
    assert second.bridged_to == "103"
    settled(controller)
    controller.stop()
    again = Controller(ServeConfig(db_url=members.db_url, listen=("127.0.0.1", 0), http=None,
                                   gateway="trunk", poll_interval=0.01)).start()
    try:
        third = switch(again, **{"104": Endpoint()}).place_call(internal("101", "600"))
        assert third.bridged_to == "104"  # after 103, where the first controller stopped
        assert "after 103, who was offered the previous call" in steps(again, third.call_uuid)
        fourth = switch(again).place_call(internal("101", "600"))
        assert fourth.bridged_to == "102"  # wraps
        fresh = Directory()
        again.app.catch_up(fresh)
        again.app.catch_up(again.directory)
        assert fresh.state() == again.directory.state()
        from commands.main import cli

        cli.main(args=["--db", members.db_url, "projections", "rebuild", "call_log"],
                 standalone_mode=False)  # raises when the rebuilt log differs from the live
    finally:
        again.stop()


def test_uniform_gives_the_next_call_to_the_member_idle_longest(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "uniform")
    sim = switch(controller, **{"104": Endpoint()})
    answered = [sim.place_call(internal("101", "600")).bridged_to for _ in range(4)]
    assert answered == ["102", "103", "104", "102"]


def test_simultaneous_rings_every_member_at_once_and_the_first_answer_wins(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "simultaneous", member_timeout=20)
    user_services.set_dnd(members, None, "103", True)
    caught_up(controller)
    sim = switch(controller, **{"102": Endpoint("answer", 0.6), "104": Endpoint("answer", 0.2)})
    call = sim.place_call(internal("101", "600"))
    assert rung(call) == ["102,104"]
    assert call.bridged_to == "104"
    story = steps(controller, call.call_uuid)
    assert "103 (Carol Smit) is do not disturb: not offered" in story
    assert "104 answered first" in story
    assert log_of(controller, "104") == [("received", "Alice Jansen (101)", "answered")]


def test_weighted_rings_in_the_order_drawn_from_the_services_seed(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "weighted", "102:20,103:30,104:50")
    controller.hunt.seeds = random.Random(2026)
    seed = random.Random(2026).getrandbits(32)
    expected = weighted_order([("102", 20), ("103", 30), ("104", 50)], seed)
    sim = switch(controller, **{m: Endpoint("no-answer") for m in ("102", "103", "104")})
    call = sim.place_call(internal("101", "600"))
    assert rung(call) == expected
    assert f"(seed {seed})" in steps(controller, call.call_uuid)
    assert call.hangup_cause == "NO_ANSWER"


def test_a_member_on_a_call_is_skipped_and_a_signed_out_member_never_rings(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "regular")
    sim = switch(controller, **{"102": Endpoint("answer", 0.2, 60.0)})
    code = sim.place_call(internal("103", "*35600"))
    assert ("playback", announcements.CONFIRM) in code.apps
    acme = str(members.enterprise("Acme").id)
    talking = gevent.spawn(sim.place_call, internal("101", "102"), 30)
    try:
        wait_until(lambda: controller.services.lines.busy(acme, "102"), 10, "102 on a call")
        call = sim.place_call(CallSpec("+31301234567", "+31207654321",
                                       call_uuid=str(uuid.uuid4())))
        assert rung(call) == ["104"]
        story = steps(controller, call.call_uuid)
        assert "102 (Bob de Vries) is busy: not offered" in story
        assert "103 (Carol Smit) is signed out: not offered" in story
    finally:
        talking.join(30)
    wait_until(lambda: not controller.services.lines.busy(acme, "102"), 10, "102 free again")
    sim.place_call(internal("103", "*36600"))
    back = switch(controller, **{"102": Endpoint("no-answer")}).place_call(
        internal("101", "600"))
    assert rung(back)[:2] == ["102", "103"]


def test_no_answer_forwarding_after_the_groups_time_to_a_colleague(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "regular", "102,103", member_timeout=10, after=15,
          no_answer="104")
    sim = switch(controller, **{"102": Endpoint("no-answer"), "103": Endpoint("no-answer"),
                                "104": Endpoint()})
    call = sim.place_call(internal("101", "600"))
    bridges = [arg for app, arg in call.apps if app == "bridge"]
    assert rung(call) == ["102", "103", "104"]
    assert "call_timeout=5" in bridges[1]  # what is left of the group's 15 s
    assert "sip_h_Diversion='<sip:600@acme.example>;reason=no-answer'" in bridges[2]
    assert call.bridged_to == "104"
    assert "no member answered: hunt group Sales (ext. 600) forwards to 104" in steps(
        controller, call.call_uuid)


def test_busy_forwarding_to_an_outside_number_and_not_reachable_without_forwarding(
    members: Pbx, controller: Controller
) -> None:
    group(members, controller, "circular", "102,103", busy="06 12345678")
    busy = switch(controller, **{"102": Endpoint("busy"), "103": Endpoint("busy")})
    call = busy.place_call(internal("101", "600"))
    assert call.bridged_to == "+31612345678"
    assert rung(call)[-1] == "+31612345678"
    HuntGroups(members).remove(None, "Sales")
    HuntGroups(members).add(None, "Support", "601", "regular", ["102"])
    caught_up(controller)
    gone = switch(controller, **{"102": Endpoint("unregistered")}).place_call(
        internal("101", "601"))
    assert gone.hangup_cause == "USER_NOT_REGISTERED"
    assert "no member could be reached" in steps(controller, gone.call_uuid)
