"""Conference rooms (USR-11 N-way) through the real controller and the simulator over TCP:
callers dial in, a PIN guards a room, the 17th caller is refused."""

from __future__ import annotations

import uuid

import gevent

import commands.main  # noqa: F401  (registers the CLI: commands.calls imports it)
from commands.calls import explain_call
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.call_services import CallServices
from esl_controller.simulator import CallSpec, FakeInboundESL
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, switch


def story(controller: Controller, call_id: str) -> str:
    return "\n".join(explain_call(controller.app, call_id))


def test_callers_dial_in_and_talk_in_one_room(controller: Controller, pbx: Pbx) -> None:
    CallServices(pbx).add_conference(None, "Weekly", "800")
    caught_up(controller)
    fs = switch(controller)
    jobs = [gevent.spawn(fs.place_call, internal(ext, "800", hangup_after=40))
            for ext in ("101", "102", "103")]
    wait_until(lambda: len(fs.conferences.get("800-acme.example", [])) == 3,
               what="three callers in the room")
    calls = [job.get(timeout=20) for job in jobs]
    assert {c.conference for c in calls} == {"800-acme.example"}
    assert all(("conference", "800-acme.example@default") in c.apps for c in calls)
    text = story(controller, calls[0].call_uuid)
    assert "101 joins conference Weekly (ext. 800), caller 1 of at most 16" in text


def test_the_seventeenth_caller_is_refused(controller: Controller, pbx: Pbx) -> None:
    CallServices(pbx).add_conference(None, "All hands", "801")
    pbx.assign_number(None, "020 7654321")
    caught_up(controller)
    fs = switch(controller)
    room = "801-acme.example"
    inside = [gevent.spawn(fs.place_call, CallSpec(f"06123456{n:02d}", "801", auth_user="101",
                                                   domain="acme.example", hangup_after=60))
              for n in range(16)]
    wait_until(lambda: len(fs.conferences.get(room, [])) == 16, timeout=15,
               what="sixteen callers in the room")
    late = fs.place_call(internal("102", "801"))
    assert late.conference is None
    assert late.hangup_cause == "USER_BUSY"
    assert "is full (16 callers)" in story(controller, late.call_uuid)
    gevent.joinall(inside, timeout=30)
    assert all(job.value.conference == room for job in inside)


def test_a_room_with_a_pin_lets_in_only_who_knows_it(controller: Controller, pbx: Pbx) -> None:
    CallServices(pbx).add_conference(None, "Board", "802", pin="4321")
    caught_up(controller)
    fs = switch(controller)
    right = fs.place_call(internal("101", "802", hangup_after=100,
                                   dtmf=[(0.5, "4"), (0.6, "3"), (0.7, "2"), (0.8, "1"),
                                         (0.9, "#")]))
    assert right.conference == "802-acme.example", story(controller, right.call_uuid)
    wrong = fs.place_call(internal("102", "802", dtmf=[(0.5, "1"), (0.6, "1"), (0.7, "1"),
                                                        (0.8, "1"), (0.9, "#")]))
    assert wrong.conference is None
    assert wrong.hangup_cause == "CALL_REJECTED"
    assert "wrong PIN (try 3 of 3)" in story(controller, wrong.call_uuid)


# -- music on hold and ringback per enterprise and user -------------------------------------
def test_hold_music_is_the_holding_users_choice_else_the_enterprises(
    controller: Controller, pbx: Pbx
) -> None:
    services = CallServices(pbx)
    services.set_hold_music(None, None, "local_stream://corporate")
    services.set_hold_music(None, "101", "local_stream://jazz")
    caught_up(controller)
    fs = switch(controller)
    held_by_101 = fs.place_call(internal("101", "102", hold=[(0.1, 0.2)]))
    assert held_by_101.hold_music_played == ["local_stream://jazz"]
    held_by_103 = fs.place_call(internal("103", "102", hold=[(0.1, 0.2)]))
    assert held_by_103.hold_music_played == ["local_stream://corporate"]
    # What the caller hears when the called phone holds: the called user's choice.
    bridge = next(arg for app, arg in held_by_103.apps if app == "bridge")
    assert "hold_music=local_stream://corporate" in bridge
    to_101 = fs.place_call(internal("103", "101"))
    assert "hold_music=local_stream://jazz" in next(
        arg for app, arg in to_101.apps if app == "bridge")


def test_custom_ringback_is_set_on_the_caller_before_ringing(
    controller: Controller, pbx: Pbx
) -> None:
    CallServices(pbx).set_ringback(None, "102", "%(1500,3500,440,480)")
    caught_up(controller)
    fs = switch(controller)
    call = fs.place_call(internal("101", "102"))
    names = [app for app, _ in call.apps]
    ringback = ("multiset", "ringback=%(1500,3500,440,480) transfer_ringback=%(1500,3500,440,480)")
    assert ringback in call.apps
    assert call.apps.index(ringback) < names.index("bridge")
    plain = fs.place_call(internal("102", "103"))
    assert not any("440,480" in arg for _, arg in plain.apps)


# -- intercept groups ---------------------------------------------------------------------
def test_intercept_group_sends_calls_to_members_and_targets_elsewhere(
    controller: Controller, pbx: Pbx
) -> None:
    services = CallServices(pbx)
    services.add_conference(None, "Weekly", "800")
    services.add_intercept_group(None, "Moved", ["102", "800"], "103")
    caught_up(controller)
    fs = switch(controller)
    to_user = fs.place_call(internal("101", "102"))
    assert to_user.bridged_to == "103"
    assert "intercept group Moved (its members) intercepts every call to 102 to 103" in story(
        controller, to_user.call_uuid)
    to_room = fs.place_call(internal("101", "800"))
    assert to_room.conference is None and to_room.bridged_to == "103"
    services.switch_intercept_group(None, "Moved", False)
    caught_up(controller)
    assert fs.place_call(internal("101", "102")).bridged_to == "102"


def test_intercepting_the_whole_enterprise_with_an_announcement(
    controller: Controller, pbx: Pbx
) -> None:
    CallServices(pbx).add_intercept_group(None, "Closed", [], "announcement")
    caught_up(controller)
    call = switch(controller).place_call(
        CallSpec("0612345678", "+31201234567", call_uuid="9d0f0a1e-0000-4000-8000-0000000005a1"))
    assert call.bridged_to is None
    assert call.hangup_cause == "CALL_REJECTED"
    assert [app for app, _ in call.apps] == ["pre_answer", "playback"]
    assert "the whole enterprise" in story(controller, call.call_uuid)


# -- instant group call ----------------------------------------------------------------------
def test_instant_group_calls_every_member_into_the_callers_conference(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    from esl_controller import user_services

    pbx.add_user(None, "104", "Dave Bakker")
    CallServices(pbx).add_instant_group(None, "Crisis", "850", ["101", "102", "103", "104"])
    user_services.set_dnd(pbx, None, "104", True)
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "850", hangup_after=20))
    assert call.conference == "850-acme.example"
    originates = [c for c in inbound.api_commands if c.startswith("originate")]
    assert sorted(c.split("}", 1)[1] for c in originates) == [
        "user/102@acme.example &conference(850-acme.example@default)",
        "user/103@acme.example &conference(850-acme.example@default)",
    ]
    assert all("origination_caller_id_number=101," in c for c in originates)
    text = story(controller, call.call_uuid)
    assert "104 is on do not disturb: not called" in text
    assert "102, 103 called at once; whoever answers joins the conference" in text


def test_three_way_call_through_a_room(controller: Controller, pbx: Pbx) -> None:
    """The server-side 3-way call: 101 transfers the outside caller to the room and dials
    in too, then a colleague joins: three parties in one conference."""
    from esl_controller.simulator import Endpoint

    CallServices(pbx).add_conference(None, "Three", "810")
    caught_up(controller)
    fs = switch(controller, **{"101": Endpoint(talk_seconds=5)})
    room = "810-acme.example"
    channel = str(uuid.uuid4())
    outside = gevent.spawn(fs.place_call, CallSpec(
        "0612345678", "+31201234567", blind_transfer=(0.5, "810"), call_uuid=channel))
    wait_until(lambda: len(fs.conferences.get(room, [])) == 1, what="the caller in the room")
    others = [gevent.spawn(fs.place_call, internal(ext, "810", hangup_after=40))
              for ext in ("101", "103")]
    wait_until(lambda: len(fs.conferences.get(room, [])) == 3, what="three parties")
    assert all(job.get(timeout=20).conference == room for job in others)
    fs.channels[channel].hangup("NORMAL_CLEARING", "caller")  # the outside caller leaves last
    first = outside.get(timeout=20)
    assert first.after_transfer is not None and first.after_transfer.conference == room


def test_custom_ringback_of_a_hunt_group(controller: Controller, pbx: Pbx) -> None:
    """GRP-6: callers of the group hear the group's ringback; a member's own one wins."""
    from esl_controller.hunt_service import HuntGroups

    HuntGroups(pbx).add(None, "Sales", "600", "simultaneous", ["102", "103"])
    CallServices(pbx).set_ringback(None, "600", "%(800,3200,400,450)")
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "600"))
    assert ("multiset", "ringback=%(800,3200,400,450) transfer_ringback=%(800,3200,400,450)"
            ) in call.apps
    direct = switch(controller).place_call(internal("101", "102"))
    assert not any("800,3200" in arg for _, arg in direct.apps)
