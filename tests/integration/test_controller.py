"""The whole controller over real sockets: the simulator calls, the store is a real SQLite file.

Each test places calls the way FreeSWITCH would and asserts what users notice: who rang, the
cause the caller got, the call log, the busy lamps pushed to FreeSWITCH.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import gevent
import pytest

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, SimCall
from projections.blf import line_states
from tests.conftest import wait_until
from tests.integration.calls import internal, log_of, settled, switch


def test_internal_call_rings_the_extension_and_both_call_logs_show_it(
    controller: Controller,
) -> None:
    call = switch(controller).place_call(internal("101", "102"))
    assert call.error is None
    assert call.bridged_to == "102"
    assert [c[0] for c in call.commands[:3]] == ["connect", "myevents", "linger 30"]
    bridge = [arg for app, arg in call.apps if app == "bridge"]
    assert bridge and bridge[0].endswith("user/102@acme.example")
    assert "origination_caller_id_number=101" in bridge[0]  # internal calls show the extension
    assert call.exit_received
    assert log_of(controller, "101") == [("placed", "Bob de Vries (102)", "answered")]
    assert log_of(controller, "102") == [("received", "Alice Jansen (101)", "answered")]


@pytest.mark.parametrize(
    ("behaviour", "cause", "outcome"),
    [
        ("busy", "USER_BUSY", "busy"),
        ("no-answer", "NO_ANSWER", "no-answer"),
        ("unregistered", "USER_NOT_REGISTERED", "not-reachable"),
        ("reject", "CALL_REJECTED", "rejected"),
    ],
)
def test_unanswered_calls_end_with_the_right_cause_and_a_missed_entry(
    controller: Controller, behaviour: str, cause: str, outcome: str
) -> None:
    call = switch(controller, **{"102": Endpoint(behaviour)}).place_call(internal("101", "102"))
    assert call.hangup_cause == cause
    assert call.bridged_to is None
    assert log_of(controller, "102") == [("missed", "Alice Jansen (101)", outcome)]
    assert log_of(controller, "101") == [("placed", "Bob de Vries (102)", outcome)]


def test_caller_hanging_up_while_it_rings_is_a_missed_call_and_ends_cleanly(
    controller: Controller,
) -> None:
    spec = internal("101", "102", hangup_while_ringing=2.0)
    call = switch(controller, **{"102": Endpoint("no-answer")}).place_call(spec)
    assert call.hangup_by == "caller"
    assert call.exit_received  # the controller said goodbye after the hangup
    assert log_of(controller, "102") == [("missed", "Alice Jansen (101)", "cancelled")]
    explained = controller.app.call(call.call_uuid)
    assert explained.outcome == "cancelled"
    assert explained.cause == "ORIGINATOR_CANCEL"


def test_call_from_the_public_network_to_a_public_number_rings_its_owner(
    controller: Controller,
) -> None:
    spec = CallSpec("0201112222", "+31201234567", call_uuid=str(uuid.uuid4()))
    call = switch(controller).place_call(spec)
    assert call.bridged_to == "101"
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert "origination_caller_id_number=0201112222" in bridge
    assert log_of(controller, "101") == [("received", "0201112222", "answered")]


def test_external_call_goes_out_through_the_gateway_presenting_the_public_number(
    controller: Controller,
) -> None:
    call = switch(controller).place_call(internal("101", "06 12345678"))
    bridge = next(arg for app, arg in call.apps if app == "bridge")
    assert bridge.endswith("sofia/gateway/trunk/+31612345678")
    assert "origination_caller_id_number=+31201234567" in bridge
    assert call.bridged_to == "+31612345678"
    assert log_of(controller, "101") == [("placed", "06 12345678", "answered")]


@pytest.mark.parametrize(
    ("dialled", "cause"),
    [("555", "UNALLOCATED_NUMBER"), ("09001234567", "OUTGOING_CALL_BARRED"),
     ("+442079460000", "OUTGOING_CALL_BARRED")],
)
def test_refused_destinations_hear_an_announcement_then_the_cause(
    controller: Controller, dialled: str, cause: str
) -> None:
    call = switch(controller).place_call(internal("101", dialled))
    assert [app for app, _ in call.apps] == ["pre_answer", "playback"]
    assert call.apps[1][1].startswith("tone_stream://")
    assert call.hangup_cause == cause
    assert call.hangup_by == "controller"
    assert not any(app == "bridge" for app, _ in call.apps)


def test_busy_lamps_follow_the_call_through_presence_in(
    controller: Controller, inbound: FakeInboundESL
) -> None:
    switch(controller, **{"102": Endpoint("answer", 0.5, 0.5)}).place_call(internal("101", "102"))
    settled(controller)

    def states(ext: str) -> list[str]:
        return [p.get("answer-state", "") for p in inbound.presence
                if p.get("from") == f"{ext}@acme.example"]

    wait_until(lambda: states("102")[-1:] == ["terminated"], what="102's lamp off")
    assert states("102") == ["early", "confirmed", "terminated"]
    assert states("101") == ["confirmed", "terminated"]
    ent = controller.app.enterprise("Acme")
    assert line_states(controller.blf.engine, ent.id).get("102", "idle") == "idle"


def test_bad_frames_end_only_their_own_call(controller: Controller) -> None:
    sim = switch(controller, **{"102": Endpoint("answer", 0.5, 0.5)})
    good = gevent.spawn(sim.place_call, internal("101", "102"))
    bad = sim.place_call(internal("103", "102", inject=[(0.0, b"this is not ESL\n\n")]))
    assert bad.bridged_to is None  # the broken connection was dropped, not routed on
    assert not bad.exit_received
    assert good.get(timeout=10).bridged_to == "102"
    again = sim.place_call(internal("101", "103"))
    assert again.bridged_to == "103"


def test_store_briefly_unavailable_fails_the_call_safely_and_keeps_serving(
    controller: Controller, pbx: Pbx, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(pbx.db_url.removeprefix("sqlite:///"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        call = switch(controller).place_call(internal("101", "102"), timeout=20)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [app for app, _ in call.apps] == ["pre_answer", "playback"]
    assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert call.bridged_to is None
    after = switch(controller).place_call(internal("101", "102"))
    assert after.bridged_to == "102"


def test_a_restarted_controller_has_every_user_and_call(pbx: Pbx, controller: Controller) -> None:
    first: SimCall = switch(controller).place_call(internal("101", "102"))
    settled(controller)
    controller.stop()
    again = Controller(ServeConfig(db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
                                   gateway="trunk", poll_interval=0.01)).start()
    try:
        assert again.app.call(first.call_uuid).outcome == "answered"
        second = switch(again).place_call(internal("102", "101"))
        assert second.bridged_to == "101"
        assert log_of(again, "102") == [
            ("placed", "Alice Jansen (101)", "answered"),
            ("received", "Alice Jansen (101)", "answered"),
        ]
    finally:
        again.stop()


def _frame(content_type: bytes, body: bytes) -> bytes:
    return b"Content-Length: %d\nContent-Type: %s\n\n%s" % (len(body), content_type, body)


def test_unknown_events_and_frame_types_are_ignored_and_the_call_completes(
    controller: Controller,
) -> None:
    future = _frame(b"text/event-plain", b"Event-Name: SOME_FUTURE_EVENT\nCore-UUID: x\n\n")
    custom = _frame(b"text/event-plain",
                    b"Event-Name: CUSTOM\nEvent-Subclass: vendor%3A%3Athing\n\n")
    strange = _frame(b"text/something-new", b"hello")
    spec = internal("101", "102", inject=[(0.0, future), (0.0, custom), (0.0, strange)])
    call = switch(controller, **{"102": Endpoint("answer", 0.5, 0.5)}).place_call(spec)
    assert call.bridged_to == "102"
    assert call.exit_received
    assert log_of(controller, "102") == [("received", "Alice Jansen (101)", "answered")]


def test_a_call_the_controller_cannot_handle_is_hung_up_and_others_go_on(
    controller: Controller,
) -> None:
    broken = switch(controller).place_call(internal("101", ""))  # no destination at all
    assert broken.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert broken.hangup_by == "controller"
    assert switch(controller).place_call(internal("101", "102")).bridged_to == "102"
