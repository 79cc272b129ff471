"""Music on hold per group (GRP-6): a caller of a hunt group hears the group's music when the
member holds; a member's own choice wins; a direct call to the member is not affected."""

from __future__ import annotations

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.call_services import CallServices
from esl_controller.hunt_service import HuntGroups
from tests.integration.calls import caught_up, internal, switch


def bridge_of(call: object) -> str:
    return next(arg for app, arg in call.apps if app == "bridge")  # type: ignore[attr-defined]


def test_the_groups_music_on_hold_plays_for_its_callers(controller: Controller, pbx: Pbx) -> None:
    HuntGroups(pbx).add(None, "Sales", "600", "regular", ["102", "103"])
    CallServices(pbx).set_hold_music(None, "600", "local_stream://sales")
    caught_up(controller)
    group_call = switch(controller).place_call(internal("101", "600"))
    assert group_call.bridged_to == "102"
    assert "hold_music=local_stream://sales" in bridge_of(group_call)
    direct = switch(controller).place_call(internal("101", "102"))
    assert "hold_music=local_stream://sales" not in bridge_of(direct)
    CallServices(pbx).set_hold_music(None, "102", "local_stream://bob")
    caught_up(controller)
    own = switch(controller).place_call(internal("101", "600"))
    assert "hold_music=local_stream://bob" in bridge_of(own)
