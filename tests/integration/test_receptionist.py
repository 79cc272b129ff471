"""Receptionist console (RCP-1) through the real controller, the simulator over TCP, and the
fake inbound event socket the console's actions go to."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import gevent
import pytest

from esl_controller import receptionist
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.errors import ValidationError
from esl_controller.esl.inbound import InboundClient
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, SimCall
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD, internal, settled, switch


def api_of(inbound: FakeInboundESL) -> Callable[[str], str]:
    def api(command: str) -> str:
        client = InboundClient("127.0.0.1", inbound.port, ESL_PASSWORD)
        client.connect()
        try:
            return str(client.api(command))
        finally:
            client.close()
    return api


def line(pbx: Pbx, extension: str) -> receptionist.MonitoredLine:
    view = receptionist.console(pbx, None, "103")
    return next(found for found in view.lines if found.extension == extension)


@pytest.fixture
def console_of_103(pbx: Pbx) -> None:
    receptionist.add_receptionist(pbx, None, "103", "entry")
    receptionist.set_monitored(pbx, None, "103", ["101", "102"])


@pytest.mark.usefixtures("console_of_103")
def test_the_console_shows_who_calls_whom_and_transfers_the_call_over_the_event_socket(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    sim = switch(controller, **{"101": Endpoint("answer", 0.2, 200.0)})
    spec = CallSpec("+31612345678", "+31201234567", call_uuid=str(uuid.uuid4()))
    job = gevent.spawn(sim.place_call, spec, 30)
    wait_until(lambda: line(pbx, "101").state == "busy", what="101 on the call")
    settled(controller)
    talking = line(pbx, "101")
    assert len(talking.calls) == 1
    call = talking.calls[0]
    assert call.call_id == spec.call_uuid
    assert (call.caller, call.callee) == ("06 12345678", "Alice Jansen (101)")
    assert call.answered_by == "101"
    assert line(pbx, "102").state == "idle"
    done = receptionist.act(pbx, None, "103", "transfer", call.call_id, "102",
                            api_of(inbound), datetime.now(UTC))
    assert inbound.api_commands == [f"uuid_transfer {spec.call_uuid} 102 XML default"]
    assert done.on_behalf_of == "101"
    taken = receptionist.actions_taken(pbx, None, "103")
    assert [(t["action"], t["call_id"], t["on_behalf_of"], t["destination"]) for t in taken] == [
        ("transfer", spec.call_uuid, "101", "102")]
    # Parking needs a park slot; transferring to no extension is refused, nothing sent.
    with pytest.raises(ValidationError, match="no park slot"):
        receptionist.act(pbx, None, "103", "park", call.call_id, "102", api_of(inbound),
                         datetime.now(UTC))
    assert len(inbound.api_commands) == 1
    job.kill()


@pytest.mark.usefixtures("console_of_103")
def test_the_receptionist_picks_up_a_call_ringing_a_monitored_colleague(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    sim = switch(controller, **{"102": Endpoint("no-answer")})
    spec = internal("101", "102", hangup_after=200)
    job: gevent.Greenlet[SimCall] = gevent.spawn(sim.place_call, spec, 30)
    wait_until(lambda: line(pbx, "102").state == "ringing", what="102 ringing")
    ringing = line(pbx, "102").calls[0]
    assert (ringing.caller, ringing.callee) == ("Alice Jansen (101)", "Bob de Vries (102)")
    assert line(pbx, "101").state == "busy"  # the caller's own line
    receptionist.act(pbx, None, "103", "pickup", spec.call_uuid or "", None, api_of(inbound),
                     datetime.now(UTC))
    assert inbound.api_commands == [
        "originate {origination_caller_id_number=101,origination_caller_id_name='Alice Jansen',"
        "intercept_unanswered_only=true,originate_timeout=30}user/103@acme.example "
        f"&intercept({spec.call_uuid})"]
    # A ringing call cannot be transferred yet; a stranger's call is not the console's.
    with pytest.raises(ValidationError, match="still ringing"):
        receptionist.act(pbx, None, "103", "transfer", spec.call_uuid or "", "101",
                         api_of(inbound), datetime.now(UTC))
    assert len(inbound.api_commands) == 1
    job.kill()
