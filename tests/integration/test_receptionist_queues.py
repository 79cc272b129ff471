"""Receptionist queue handling (RCP-1 premium) through the real controller, the simulator over
TCP and the fake inbound event socket: a caller waits in a queue, the receptionist's console
lists them, the receptionist takes them out of the queue; the caller rings the receptionist's
phone, never an agent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import gevent

from esl_controller import receptionist
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import QueueCall
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, SimCall
from tests.conftest import wait_until
from tests.integration.calls import caught_up, log_of, switch
from tests.integration.test_receptionist import api_of


def waiting_in_console(pbx: Pbx) -> list[tuple[str, str]]:
    view = receptionist.console(pbx, None, "103")
    return [(w.call_id, w.caller) for q in view.queues for w in q.waiting]


def test_the_receptionist_takes_a_waiting_caller_out_of_the_queue_to_their_phone(
        pbx: Pbx, controller: Controller, inbound: FakeInboundESL) -> None:
    centers = CallCenters(pbx)
    centers.add(None, "Support", "700", tier=25, policy="regular", numbers_=("020 7000700",),
                stranded="wait")
    centers.add_agent(None, "Support", "102")
    centers.set_state(None, "102", "unavailable", "meeting")  # nobody free: the caller waits
    receptionist.add_receptionist(pbx, None, "103", "premium")
    receptionist.set_queues(pbx, None, "103", ["Support"])
    caught_up(controller)
    sim = switch(controller, **{"103": Endpoint("answer", 0.2, 1.0)})
    spec = CallSpec("+31612345678", "+31207000700", call_uuid=str(uuid.uuid4()))
    job: gevent.Greenlet[SimCall] = gevent.spawn(sim.place_call, spec, 30)
    wait_until(lambda: waiting_in_console(pbx) == [(spec.call_uuid, "06 12345678")],
               what="the caller in the receptionist's console")

    done = receptionist.take(pbx, None, "103", spec.call_uuid or "", None, api_of(inbound),
                             datetime.now(UTC))
    assert inbound.api_commands == [f"uuid_break {spec.call_uuid}"]
    assert done.reply == "+OK"
    queue = centers.queue(None, "Support")
    assert centers.live(queue)["waiting"] == []  # gone from the queue at once
    centers.set_state(None, "102", "available")  # an agent is free now: not for this caller

    call = job.get(timeout=30)
    assert call.answered and call.bridged_to == "103"
    bridges = [arg for app, arg in call.apps if app == "bridge"]
    assert len(bridges) == 1 and bridges[0].endswith("user/103@acme.example")
    assert "origination_caller_id_number=+31612345678" in bridges[0]  # the caller presented
    story = " | ".join(s["detail"] for s in controller.app.call(call.call_uuid).steps)
    assert "receptionist 103 took the call out of queue Support (700) to their own phone" in story
    events = [type(e).__name__ for e in pbx.repository.event_store.get(
        QueueCall.create_id(queue.id, call.call_uuid))]
    assert events == ["QueueCallEnqueued", "QueueCallTaken"]  # never offered to an agent
    figures = caught_up(controller).queue_figures[queue.id]
    assert (figures.entered, figures.taken, figures.answered, figures.abandoned) == (1, 1, 0, 0)
    assert log_of(controller, "103") == [("received", "+31612345678", "answered")]
    assert log_of(controller, "102") == []
    assert [(a["action"], a["on_behalf_of"], a["destination"])
            for a in receptionist.actions_taken(pbx, None, "103")] == [
        ("take", "queue Support", "103")]
