"""Call control (USR-11, USR-12, USR-20) through the real controller and the simulator over
TCP: what the phones notice, what FreeSWITCH is asked to do, what the log and
`pbx calls explain` say."""

from __future__ import annotations

import uuid

import commands.main  # noqa: F401  (registers the CLI: commands.calls imports it)
from commands.calls import explain_call
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL
from tests.conftest import wait_until
from tests.integration.calls import caught_up, internal, log_of, switch


def ended(controller: Controller, call_id: str) -> None:
    wait_until(lambda: controller.app.call(call_id).ended, what=f"call {call_id} to end")


def bridges(call: object) -> list[str]:
    return [arg for app, arg in call.apps if app == "bridge"]  # type: ignore[attr-defined]


def test_call_return_rings_back_the_outside_caller_who_called_last(
    controller: Controller,
) -> None:
    fs = switch(controller, **{"101": Endpoint("no-answer")})
    missed = fs.place_call(CallSpec("0612345678", "+31201234567", call_uuid=str(uuid.uuid4()),
                                    hangup_while_ringing=2))
    ended(controller, missed.call_uuid)
    back = switch(controller).place_call(internal("101", "*69"))
    assert bridges(back)[-1].endswith("sofia/gateway/trunk/+31612345678")
    assert back.bridged_to == "+31612345678"
    story = "\n".join(explain_call(controller.app, back.call_uuid))
    assert "101 calls back the last caller, 0612345678" in story
    assert "call return stands for 0612345678" in story
    ended(controller, back.call_uuid)
    placed = [e for e in log_of(controller, "101") if e[0] == "placed"]
    assert placed == [("placed", "0612345678", "answered")]


def test_call_return_of_a_withheld_caller_plays_a_notice_and_dials_nothing(
    controller: Controller,
) -> None:
    fs = switch(controller, **{"101": Endpoint("no-answer")})
    missed = fs.place_call(CallSpec("anonymous", "+31201234567", call_uuid=str(uuid.uuid4()),
                                    hangup_while_ringing=2))
    ended(controller, missed.call_uuid)
    back = switch(controller).place_call(internal("101", "*69"))
    assert bridges(back) == []
    assert [app for app, _ in back.apps] == ["pre_answer", "playback"]
    story = "\n".join(explain_call(controller.app, back.call_uuid))
    assert "withheld their number" in story


def test_redial_calls_the_last_number_again(controller: Controller) -> None:
    first = switch(controller).place_call(internal("101", "0301234567"))
    ended(controller, first.call_uuid)
    again = switch(controller).place_call(internal("101", "*66"))
    assert again.bridged_to == "+31301234567"
    ended(controller, again.call_uuid)
    # The redial itself counts as dialling that number: a second *66 dials it once more.
    third = switch(controller).place_call(internal("101", "*66"))
    assert third.bridged_to == "+31301234567"


def test_speed_dial_programmed_on_the_phone_then_dialled(
    controller: Controller, pbx: Pbx
) -> None:
    program = switch(controller).place_call(internal("101", "*742103"))
    assert [app for app, _ in program.apps][:2] == ["answer", "playback"]
    assert pbx.user(None, "101").speed_dials == (("2", "103"),)
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "#2"))
    assert call.bridged_to == "103"
    assert bridges(call)[-1].endswith("user/103@acme.example")
    assert log_of(controller, "103") == [("received", "Alice Jansen (101)", "answered")]


def test_a_premium_speed_dial_cannot_be_programmed_from_the_phone(
    controller: Controller, pbx: Pbx
) -> None:
    call = switch(controller).place_call(internal("101", "*75070900123456"))
    assert pbx.user(None, "101").speed_dials == ()
    assert "refused" in "\n".join(explain_call(controller.app, call.call_uuid))


def test_intercom_rings_the_desk_phone_with_auto_answer(controller: Controller) -> None:
    call = switch(controller).place_call(internal("101", "*96102"))
    (bridge,) = bridges(call)
    assert "sip_auto_answer=true" in bridge
    assert "sip_h_Call-Info=<sip:acme.example>;answer-after=0" in bridge
    assert bridge.endswith("user/102@acme.example")
    assert call.bridged_to == "102"


def test_intercom_to_a_colleague_on_do_not_disturb_is_refused(
    controller: Controller, pbx: Pbx
) -> None:
    user_services.set_dnd(pbx, None, "102", True)
    caught_up(controller)
    call = switch(controller).place_call(internal("101", "*96102"))
    assert bridges(call) == [] and call.hangup_cause == "USER_BUSY"


def test_hold_plays_music_to_the_other_party_and_is_in_the_story(
    controller: Controller,
) -> None:
    fs = switch(controller, **{"102": Endpoint(talk_seconds=6)})
    call = fs.place_call(internal("101", "102", hold=[(1.0, 2.0)]))
    multiset = next(arg for app, arg in call.apps if app == "multiset")
    assert "hold_music=local_stream://moh" in multiset
    assert "hold_music=local_stream://moh" in bridges(call)[0]
    assert call.hold_music_played == ["local_stream://moh"]
    assert "CHANNEL_HOLD" in call.events and "CHANNEL_UNHOLD" in call.events
    ended(controller, call.call_uuid)
    story = "\n".join(explain_call(controller.app, call.call_uuid))
    assert "put on hold by 101; the other party hears local_stream://moh" in story
    assert "taken off hold by 101" in story


def test_callback_on_busy_rings_the_caller_once_both_lines_are_free(
    controller: Controller, inbound: FakeInboundESL
) -> None:
    busy = switch(controller, **{"102": Endpoint("busy")}).place_call(internal("101", "102"))
    assert busy.hangup_cause == "USER_BUSY"
    ended(controller, busy.call_uuid)
    ask = switch(controller).place_call(internal("101", "*5"))
    assert [app for app, _ in ask.apps][:2] == ["answer", "playback"]
    originate = wait_until(
        lambda: [c for c in inbound.api_commands if c.startswith("originate")],
        what="the callback originate",
    )
    assert originate == [
        "originate {origination_caller_id_number=102,origination_caller_id_name="
        "'Callback Bob de Vries',user_name=101,domain_name=acme.example,sip_authorized=true,"
        "originate_timeout=30}user/101@acme.example 102 XML default"
    ]
    story = "\n".join(explain_call(controller.app, ask.call_uuid))
    assert "101: call back when the busy colleague of the last call is free" in story


# -- transfer (USR-11) ---------------------------------------------------------------------------
def test_blind_transfer_is_routed_as_a_call_placed_by_the_transferor(
    controller: Controller,
) -> None:
    fs = switch(controller, **{"102": Endpoint(talk_seconds=5)})
    call = fs.place_call(internal("101", "102", blind_transfer=(0.5, "103")))
    assert call.transferred_to == "103" and call.hangup_cause is None  # never hung up
    after = call.after_transfer
    assert after is not None and after.call_uuid == call.call_uuid  # the same channel
    assert after.bridged_to == "103"
    assert "origination_caller_id_number=102" in bridges(after)[-1]
    ended(controller, call.call_uuid)
    first = "\n".join(explain_call(controller.app, call.call_uuid))
    assert "blind transfer by 102: now connected to 103" in first
    second_id = next(e[3] for e in _entries(controller, "103"))
    story = "\n".join(explain_call(controller.app, second_id))
    assert "blind transfer by 102 to 103: routed as a call placed by 102" in story


def _entries(controller: Controller, extension: str) -> list[tuple[str, str, str, str]]:
    from projections.call_log import entries

    log_of(controller, extension)  # settled
    ent = controller.app.enterprise("Acme")
    return [(e.kind, e.other_party, e.outcome, e.call_id)
            for e in entries(controller.call_log.engine, ent.id, extension=extension)]


def test_a_transfer_cannot_reach_a_number_the_transferor_may_not_dial(
    controller: Controller,
) -> None:
    outside = CallSpec("0612345678", "+31201234567", call_uuid=str(uuid.uuid4()),
                       blind_transfer=(0.5, "09001234567"))
    call = switch(controller, **{"101": Endpoint(talk_seconds=5)}).place_call(outside)
    after = call.after_transfer
    assert after is not None
    assert bridges(after) == [] and after.hangup_cause == "OUTGOING_CALL_BARRED"


def test_a_transfer_out_to_a_mobile_goes_through_the_gateway_as_the_transferor(
    controller: Controller,
) -> None:
    outside = CallSpec("0612345678", "+31201234567", call_uuid=str(uuid.uuid4()),
                       blind_transfer=(0.5, "0687654321"))
    call = switch(controller, **{"101": Endpoint(talk_seconds=5)}).place_call(outside)
    after = call.after_transfer
    assert after is not None and after.bridged_to == "+31687654321"
    assert "origination_caller_id_number=+31201234567" in bridges(after)[-1]


def test_a_transferred_channel_nobody_here_answered_is_refused(controller: Controller) -> None:
    source = "1764000000:00000000-0000-4000-8000-00000000000a:bl_xfer:0612345678/public/XML"
    call = switch(controller).place_call(CallSpec(
        "0201111111", "0612345678", call_uuid=str(uuid.uuid4()),
        variables={"transfer_source": source}))
    assert bridges(call) == [] and call.hangup_cause == "CALL_REJECTED"


def test_attended_transfer_keeps_the_call_and_records_the_new_party(
    controller: Controller,
) -> None:
    fs = switch(controller, **{"102": Endpoint(talk_seconds=5),
                               "103": Endpoint(talk_seconds=1)})
    call = fs.place_call(internal("101", "102", attended_transfer=(0.5, "103")))
    assert call.bridged_to == "103"
    assert call.hangup_by == "callee"  # 103 hung up; the controller never cut the call
    assert call.events.count("CHANNEL_BRIDGE") == 2
    ended(controller, call.call_uuid)
    story = "\n".join(explain_call(controller.app, call.call_uuid))
    assert "attended transfer by 102: now connected to 103" in story
