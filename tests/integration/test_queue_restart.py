"""A controller restart with callers waiting in a queue (issue 5, items 1 and 8), through the
real controller and the simulator over TCP: the stopped controller hands its waiting callers
back to FreeSWITCH, the dialplan's re-attach window (socket_resume) connects their channels
to the new controller, which re-attaches them at their place; the caller who hung up during
the outage is recorded abandoned after the window; nothing is offered twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import gevent

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.call_centers import CallCenters
from esl_controller.domain.call_centers import QueueCall
from esl_controller.domain.calls import Call
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD, caught_up

QUEUE_NUMBER = "+31207000700"
SCALE = 0.1  # the dialplan's 5 s ring tone slices last 0.5 s: time to start a controller


def restarted(pbx: Pbx, inbound: FakeInboundESL, window: float) -> Controller:
    return Controller(ServeConfig(
        db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None, esl=("127.0.0.1", inbound.port),
        esl_password=ESL_PASSWORD, gateway="trunk", poll_interval=0.01,
        reattach_window=window)).start()


def caller(number: str, **kw: Any) -> CallSpec:
    return CallSpec(number, QUEUE_NUMBER, call_uuid=str(uuid.uuid4()), **kw)


STEPS = {"QueueCallEnqueued", "QueueCallReattached", "QueueCallOffered", "QueueCallBounced",
         "QueueCallAnswered", "QueueCallAbandoned", "QueueCallOverflowed"}


def support(pbx: Pbx) -> uuid.UUID:
    view = pbx.directory().queue_named(pbx.enterprise("Acme").id, "Support")
    assert view is not None
    return view.id


def events_of(pbx: Pbx, call_id: str) -> list[str]:
    """The queue call's steps in the log, in order (other services' events left out)."""
    found = pbx.events.get(QueueCall.create_id(support(pbx), call_id))
    return [name for e in found if (name := type(e).__name__) in STEPS]


def waiting(sim: FakeSwitch, *calls: str) -> Callable[[], bool]:
    """The callers heard the welcome greeting: they wait in the queue, no agent free."""
    def check() -> bool:
        return all(c in sim.channels and ("playback", "ivr/welcome.wav")
                   in sim.channels[c].call.apps for c in calls)
    return check


def test_a_restart_re_attaches_waiting_callers_in_order_and_abandons_the_one_who_left(
        pbx: Pbx, inbound: FakeInboundESL, controller: Controller) -> None:
    centers = CallCenters(pbx)
    centers.add(None, "Support", "700", numbers_=("020 7000700",), tier=25,
                policy="regular", wrap_up=0, welcome="ivr/welcome.wav")
    centers.add_agent(None, "Support", "102")
    centers.set_state(None, "102", "wrap-up", seconds=900)  # nobody is free
    caught_up(controller)
    host, port = controller.esl_address
    sim = FakeSwitch(host, port, endpoints={"102": Endpoint("answer", 0.2, 0.5)},
                     time_scale=SCALE)
    first, second = caller("+31612345601"), caller("+31612345602")
    leaver = caller("+31612345603", hangup_while_resuming=2.0)  # before the 1st re-attach
    results: dict[str, SimCall] = {}

    def place(spec: CallSpec) -> None:
        results[spec.caller] = sim.place_call(spec, timeout=60)

    greenlets = [gevent.spawn(place, first)]
    wait_until(waiting(sim, first.call_uuid or ""), what="the first caller waits")
    greenlets += [gevent.spawn(place, second), gevent.spawn(place, leaver)]
    ids = [s.call_uuid or "" for s in (first, second, leaver)]
    wait_until(waiting(sim, *ids), what="three callers waiting")

    controller.stop()  # the old process goes away; its callers are handed back
    again = restarted(pbx, inbound, window=2.0)
    sim.controller_port = again.esl_address[1]  # where FreeSWITCH reaches the new one
    try:
        wait_until(lambda: all("QueueCallReattached" in events_of(pbx, c) for c in ids[:2]),
                   timeout=10, what="two callers re-attached")
        order = [c.call_id for c in caught_up(again).waiting_in(support(pbx))]
        assert order == ids  # their original order; the one who left is still expected
        centers.set_state(None, "102", "available")  # the agent's wrap-up ends
        gevent.joinall(greenlets, timeout=30, raise_error=True)
        wait_until(lambda: again.directory.queue_call_of(ids[2]) is None, timeout=10,
                   what="the window to close on the caller who left")
    finally:
        again.stop()

    one, two, gone = results[first.caller], results[second.caller], results[leaver.caller]
    for call in (one, two):
        assert call.resume_apps[:4] == [("set", "pbx_reattach=true"),
                                        ("set", "playback_timeout_sec=5"),
                                        ("playback", "tone_stream://%(1000,4000,425);loops=-1"),
                                        ("socket", "$${pbx_controller}|$${pbx_controller_fallback}"
                                                   " async full")]
        assert call.resumed is not None and call.resumed.bridged_to == "102"
        # the greeting was heard once, before the restart; not replayed after it
        assert ("playback", "ivr/welcome.wav") in call.apps
        assert ("playback", "ivr/welcome.wav") not in call.resumed.apps
    assert gone.resumed is None and gone.hangup_by == "caller"
    # answered in their original order, one offer each, no abandon
    calls: list[Call] = [pbx.repository.get(Call.create_id(c)) for c in ids[:2]]
    assert calls[0].answered_at is not None and calls[1].answered_at is not None
    assert calls[0].answered_at < calls[1].answered_at
    for call_id in ids[:2]:
        assert events_of(pbx, call_id) == ["QueueCallEnqueued", "QueueCallReattached",
                                           "QueueCallOffered", "QueueCallAnswered"]
    assert events_of(pbx, ids[2]) == ["QueueCallEnqueued", "QueueCallAbandoned"]
    abandoned: QueueCall = pbx.repository.get(QueueCall.create_id(support(pbx), ids[2]))
    assert abandoned.ended == "abandoned"
    story = " | ".join(s["detail"] for s in pbx.call(ids[0]).steps)
    assert "the caller came back after a controller restart, position 1" in story
    assert "agent 102" in story
