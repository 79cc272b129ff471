"""Receptionist queue handling (RCP-1, premium only): the queues a receptionist is given, the
console's list of their waiting callers, and taking a waiting caller out of a queue: the
use case's checks and the command it sends, the queue call's end, and the caller's own script
(the real queue script and service on a real log) ringing the receptionist or the destination
instead of any agent; and the dispatcher's shortcut the queue bench led to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller import receptionist
from esl_controller.domain.call_centers import QueueCall
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing.actions import Ring
from esl_controller.routing.outcomes import RingResult
from esl_controller.routing.queue import assign
from tests.unit.test_call_centers import Caller, World

REC = "105"  # the receptionist


class Switch:
    """Stands in for FreeSWITCH's inbound event socket: records the api commands."""

    def __init__(self, reply: str = "+OK\n") -> None:
        self.commands: list[str] = []
        self.reply = reply

    def __call__(self, command: str) -> str:
        self.commands.append(command)
        return self.reply


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(tmp_path)
    world.queue(agents="101,102", stranded="wait")
    world.queue("Sales", "701", agents="103", stranded="wait")
    for agent in ("101", "102", "103"):  # nobody free: callers wait
        world.centers.set_state(None, agent, "unavailable", "meeting")
    world.app.catch_up(world.directory)
    receptionist.add_receptionist(world.app, None, REC, "premium")
    yield world
    world.app.close()


def waiting(world: World, number: str = "+31612345678", destination: str = "700") -> Caller:
    caller = Caller(world, destination, number)
    action = caller.run_until_ring_or_wait()
    assert not isinstance(action, Ring)  # waiting with music
    world.app.catch_up(world.directory)
    return caller


def test_queue_handling_is_for_the_premium_licence_only(world: World) -> None:
    receptionist.add_receptionist(world.app, None, "104", "standard")
    receptionist.add_receptionist(world.app, None, "199", "entry")
    caller = waiting(world)
    before = world.app.last_position()
    for ext in ("104", "199"):
        with pytest.raises(ValidationError, match="queue handling comes with the premium "
                                                  "licence only"):
            receptionist.set_queues(world.app, None, ext, ["Support"])
        with pytest.raises(ValidationError, match="premium licence only"):
            receptionist.take(world.app, None, ext, caller.ctx.call_id, None, Switch(),
                              world.now)
        assert receptionist.console(world.app, None, ext, world.now).queues == ()
    assert world.app.last_position() == before  # nothing recorded
    assert receptionist.set_queues(world.app, None, REC, ["Support", "701"]) == [
        "Support", "Sales"]
    with pytest.raises(ValidationError, match="has no queue handling: 'pbx receptionist "
                                              "queues 105 none' first"):
        receptionist.add_receptionist(world.app, None, REC, "standard")
    with pytest.raises(NotFoundError, match="no queue 'Billing'"):
        receptionist.set_queues(world.app, None, REC, ["Support", "Billing"])
    with pytest.raises(ValidationError, match="queue Support is given twice"):
        receptionist.set_queues(world.app, None, REC, ["Support", "700"])
    assert receptionist.set_queues(world.app, None, REC, ["none"]) == []
    assert receptionist.add_receptionist(world.app, None, REC, "standard").licence == "standard"


def test_the_console_lists_the_callers_waiting_in_the_queues_given(world: World) -> None:
    receptionist.set_queues(world.app, None, REC, ["Support", "Sales"])
    first = waiting(world, "+31612345678")
    world.now += timedelta(seconds=30)
    second = waiting(world, "101")  # a colleague calls the queue's extension
    world.now += timedelta(seconds=12)
    waiting(world, "+31687654321", "701")
    view = receptionist.console(world.app, None, REC, world.now)
    assert view.queue_handling
    assert [(q.name, q.extension) for q in view.queues] == [("Support", "700"), ("Sales", "701")]
    support, sales = view.queues
    assert [(w.position, w.caller, w.waited, w.call_id) for w in support.waiting] == [
        (1, "06 12345678", 42, first.ctx.call_id),
        (2, "User 101 (101)", 12, second.ctx.call_id)]
    assert [(w.position, w.caller, w.waited) for w in sales.waiting] == [(1, "06 87654321", 0)]
    receptionist.set_queues(world.app, None, REC, ["Sales"])
    assert [q.name for q in receptionist.console(world.app, None, REC, world.now).queues] == [
        "Sales"]


def test_a_taken_caller_leaves_the_queue_and_rings_the_receptionist_not_an_agent(
        world: World) -> None:
    receptionist.set_queues(world.app, None, REC, ["Support"])
    caller = waiting(world)
    switch = Switch()
    done = receptionist.take(world.app, None, REC, caller.ctx.call_id, None, switch, world.now)
    assert switch.commands == [f"uuid_break {caller.ctx.call_id}"]
    assert (done.action, done.on_behalf_of, done.destination) == ("take", "queue Support", REC)
    world.app.catch_up(world.directory)
    queue = world.centers.queue(None, "Support")
    assert world.directory.waiting_in(queue.id) == []
    assert world.directory.queue_figures[queue.id].taken == 1
    taken: QueueCall = world.app.repository.get(QueueCall.create_id(queue.id,
                                                                    caller.ctx.call_id))
    assert (taken.ended, taken.taken_by, taken.taken_to) == ("taken", REC, REC)
    # An agent is free now: the dispatcher has nothing to offer them; the caller's script,
    # its music slice broken, rings the receptionist, presenting the caller.
    world.centers.set_state(None, "101", "available")
    world.app.catch_up(world.directory)
    ring = caller.wait_slice()
    assert isinstance(ring, Ring)
    assert [t.label() for t in ring.targets] == [REC]
    assert ring.caller_id_number == "+31612345678"
    assert "receptionist 105 took the call out of queue Support (700) to their own phone" \
        in caller.story()
    caller.ring_result(RingResult.ANSWERED, REC)
    assert world.directory.offers_of(queue.enterprise_id) == {}
    assert [(a["action"], a["call_id"], a["on_behalf_of"], a["destination"])
            for a in receptionist.actions_taken(world.app, None, REC)] == [
        ("take", caller.ctx.call_id, "queue Support", REC)]
    assert world.directory.state() == world.fresh().state()


def test_a_caller_is_taken_on_to_a_colleague_or_a_number(world: World) -> None:
    receptionist.set_queues(world.app, None, REC, ["Support"])
    to_colleague, to_number = waiting(world), waiting(world, "+31687654321")
    receptionist.take(world.app, None, REC, to_colleague.ctx.call_id, "104", Switch(),
                      world.now)
    receptionist.take(world.app, None, REC, to_number.ctx.call_id.upper(), "020 5550123",
                      Switch(), world.now)
    world.app.catch_up(world.directory)
    ring = to_colleague.wait_slice()
    assert isinstance(ring, Ring) and [t.label() for t in ring.targets] == ["104"]
    assert "took the call out of queue Support (700) to 104" in to_colleague.story()
    # privacy (issue 6): the outside number is sealed in the events, opened for the reader
    queue = world.centers.queue(None, "Support")
    taken: QueueCall = world.app.repository.get(QueueCall.create_id(queue.id,
                                                                    to_number.ctx.call_id))
    assert "+31205550123" not in str(taken.taken_to) and "5550123" not in str(taken.taken_to)
    assert [a["destination"] for a in receptionist.actions_taken(world.app, None, REC)] == [
        "104", "+31205550123"]
    to_number.wait_slice()  # out through the gateway (none in this world's settings)
    assert ("took the call out of queue Support (700) to +31205550123 | taken out of queue "
            "Support (700) by receptionist 105: no gateway for 020 555 0123") in to_number.story()


def test_takes_that_cannot_be_done_are_refused_and_nothing_is_sent(world: World) -> None:
    receptionist.set_queues(world.app, None, REC, ["Support"])
    in_sales = waiting(world, destination="701")
    caller = waiting(world)
    switch = Switch()
    before = world.app.last_position()
    for call_id, to, why in (
        ("not-a-call", None, "is no call id"),
        (str(uuid4()), None, "is waiting in a queue of 'Acme'"),
        (in_sales.ctx.call_id, None, "waits in queue Sales, which 105 does not handle"),
        (caller.ctx.call_id, "999", "999 is no extension of 'Acme'"),
        (caller.ctx.call_id, "700", "is in queue Support already"),
    ):
        with pytest.raises((ValidationError, NotFoundError), match=why):
            receptionist.take(world.app, None, REC, call_id, to, switch, world.now)
    # Ringing an agent: taken once it waits again.
    world.centers.set_state(None, "101", "available")
    world.app.catch_up(world.directory)
    assert isinstance(caller.wait_slice(), Ring)
    world.app.catch_up(world.directory)
    with pytest.raises(ValidationError, match="is ringing agent 101: take it when it waits"):
        receptionist.take(world.app, None, REC, caller.ctx.call_id, None, switch, world.now)
    assert switch.commands == [] and world.app.last_position() > before  # only the offer
    offered = world.app.last_position()
    with pytest.raises(ValidationError, match="ringing agent 101"):
        receptionist.take(world.app, None, REC, caller.ctx.call_id, None, switch, world.now)
    assert world.app.last_position() == offered


def test_a_take_stands_when_freeswitch_does_not_break_the_music(world: World) -> None:
    """The caller's session sees the take at its next look for an agent all the same."""
    receptionist.set_queues(world.app, None, REC, ["Support"])
    caller = waiting(world)
    done = receptionist.take(world.app, None, REC, caller.ctx.call_id, None,
                             Switch("-ERR no such channel\n"), world.now)
    assert done.reply == "-ERR no such channel"
    world.app.catch_up(world.directory)
    ring = caller.wait_slice()
    assert isinstance(ring, Ring) and [t.label() for t in ring.targets] == [REC]


def test_a_look_that_stops_at_the_asking_caller_gives_it_the_same_agent(world: World) -> None:
    """The dispatcher's shortcut (bench_queue): ``assign(..., until=CALL)`` stops at the asking
    caller's place; the callers behind it never change its offer."""
    queue = world.centers.queue(None, "Support")
    calls = [QueueCall(queue.id, str(uuid4()), f"+3162000000{i}", 1 if i == 3 else 0,
                       world.now - timedelta(seconds=10 - i)) for i in range(5)]
    world.app.save(*calls)
    world.centers.set_state(None, "101", "available")
    world.centers.set_state(None, "102", "available")
    world.app.catch_up(world.directory)
    full = assign(world.directory, queue, world.now, None, 7)
    assert sorted(full.values()) == [("101",), ("102",)]
    assert calls[3].call_id in full  # priority first
    for call in calls:
        assert assign(world.directory, queue, world.now, None, 7,
                      until=call.call_id).get(call.call_id) == full.get(call.call_id)
