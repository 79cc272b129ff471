"""Call-center queues (CC-1 to CC-4): the queue script driven step by step against the real
``queue`` service on a real log, the dispatcher's choices, the agents' states, and the use
cases' refusals of bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters, QueueService
from esl_controller.domain.call_centers import Agent, QueueCall
from esl_controller.errors import PbxError, ValidationError
from esl_controller.routing import queue as queue_routing
from esl_controller.routing.actions import Action, Command, Execute, Hangup, Playback, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Executed, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class World:
    """A real log: users 101-105 and 199, a queue Support (700) with agents 101-103."""

    def __init__(self, path: Path) -> None:
        self.app = Pbx(f"sqlite:///{path}/pbx.sqlite")
        self.app.create_enterprise("Acme", "acme.example")
        for ext in ("101", "102", "103", "104", "105", "199"):
            self.app.add_user(None, ext, f"User {ext}")
        self.now = NOW
        self.centers = CallCenters(self.app, clock=lambda: self.now)
        self.busy: set[str] = set()
        self.directory = Directory()
        self.service = QueueService(self.app, lambda: self.directory, clock=lambda: self.now,
                                    busy=lambda _ent, ext: ext in self.busy)

    def queue(self, name: str = "Support", extension: str = "700", agents: str = "101,102,103",
              **kw: object) -> None:
        kw.setdefault("tier", 25)
        kw.setdefault("policy", "regular")
        self.centers.add(None, name, extension, numbers_=(f"+31207000{extension}",), **kw)  # type: ignore[arg-type]
        for agent in agents.split(","):
            if agent:
                self.centers.add_agent(None, name, agent)
        self.app.catch_up(self.directory)

    def fresh(self) -> Directory:
        rebuilt = Directory()
        self.app.catch_up(rebuilt)
        return rebuilt


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield World(tmp_path)


class Caller:
    """One call from the public network to a queue's number, driven one action at a time."""

    def __init__(self, world: World, destination: str = "700", number: str = "+31612345678"
                 ) -> None:
        self.world = world
        self.ctx = CallContext(str(uuid4()), f"sofia/external/{number}", number, "",
                               f"+31207000{destination}", Origin.EXTERNAL)
        self.trace = Trace()
        self.script: Script = route_call(self.ctx, world.directory, RoutingSettings(),
                                         self.trace, world.now,
                                         lambda _ent, ext: ext in world.busy)
        self.action: Action | None = next(self.script)
        self.seen: list[Action] = [self.action]

    def send(self, outcome: Outcome) -> Action | None:
        try:
            self.action = self.script.send(outcome)
        except StopIteration:
            self.action = None
        if self.action is not None:
            self.seen.append(self.action)
        return self.action

    def run_until_ring_or_wait(self, max_steps: int = 50) -> Action | None:
        """Carry out every action up to the next Ring or the next music slice (waiting)."""
        for _ in range(max_steps):
            action = self.action
            if action is None or isinstance(action, Ring | Hangup):
                return action
            if isinstance(action, Execute) and action.app == "playback" and any(
                    k == "playback_timeout_sec" and v != "0" for k, v in action.variables):
                return action
            self.send(self.outcome_of(action))
        raise AssertionError("the script never rang or waited")

    def outcome_of(self, action: Action) -> Outcome:
        if isinstance(action, Command) and action.service == "queue":
            return self.world.service.handle(action, self.ctx)
        if isinstance(action, Execute):
            return Executed("FILE PLAYED", False)
        return Done()

    def wait_slice(self) -> Action | None:
        """The music slice is over: on to the next ring or slice."""
        assert isinstance(self.action, Execute)
        self.send(Executed("FILE PLAYED", False))
        return self.run_until_ring_or_wait()

    def ring_result(self, result: RingResult, by: str | None = None) -> Action | None:
        assert isinstance(self.action, Ring)
        cause = {RingResult.ANSWERED: HangupCause.NORMAL_CLEARING,
                 RingResult.BUSY: HangupCause.USER_BUSY}.get(result, HangupCause.NO_ANSWER)
        self.send(Rang(result, cause, by))
        return self.run_until_ring_or_wait()

    def hang_up(self) -> None:
        self.script.close()
        self.world.service.call_ended(self.ctx)

    def story(self) -> str:
        return " | ".join(step.detail for step in self.trace.steps)


def rung(action: Action | None) -> list[str]:
    assert isinstance(action, Ring), action
    return [t.label() for t in action.targets]


# -- answered by an agent ------------------------------------------------------------------------
def test_the_first_free_agent_answers_then_wraps_up_for_the_queues_time(world: World) -> None:
    world.queue(wrap_up=30)
    caller = Caller(world)
    ring = caller.run_until_ring_or_wait()
    assert rung(ring) == ["101"]
    assert isinstance(ring, Ring) and ring.timeout == 15 and ring.answered_as == "101"
    world.now += timedelta(seconds=40)
    assert caller.ring_result(RingResult.ANSWERED, "101") is None
    assert "agent 101 answered" in caller.story()
    world.app.catch_up(world.directory)
    agent = world.directory.agent_of(world.app.enterprise(None).id, "101")
    assert agent is not None and agent.state == "wrap-up"
    assert agent.state_at(world.now + timedelta(seconds=29)) == "wrap-up"
    assert agent.state_at(world.now + timedelta(seconds=30)) == "available"
    queue = world.directory.queue_named(world.app.enterprise(None).id, "Support")
    assert queue is not None
    figures = world.directory.queue_figures[queue.id]
    assert (figures.entered, figures.answered, figures.abandoned) == (1, 1, 0)
    assert world.directory.waiting_in(queue.id) == []
    # The next caller goes to 102: 101 is in wrap-up.
    assert rung(Caller(world).run_until_ring_or_wait()) == ["102"]


def test_agents_on_dnd_busy_unavailable_or_signed_out_are_never_offered(world: World) -> None:
    world.queue(agents="101,102,103,104,105")
    user_services.set_dnd(world.app, None, "101", True)
    world.centers.set_state(None, "102", "unavailable", "lunch")
    world.centers.sign(None, "103", "Support", out=True)
    world.busy.add("104")
    world.app.catch_up(world.directory)
    caller = Caller(world)
    ring = caller.run_until_ring_or_wait()
    assert rung(ring) == ["105"]
    assert queue_routing.agent_state(
        world.directory, world.directory.queues[next(iter(world.directory.queues))], "101",
        world.now, None, {}) == "do not disturb"


def test_a_queue_call_rings_the_agents_desk_with_auto_answer_not_their_forwarding(
        world: World) -> None:
    world.queue(agents="101", auto_answer=True)
    ring = Caller(world).run_until_ring_or_wait()
    assert isinstance(ring, Ring)
    assert ring.auto_answer
    assert [t.dial_string() for t in ring.targets] == ["user/101@acme.example"]


# -- bounce ---------------------------------------------------------------------------------------
def test_an_unanswered_offer_bounces_to_the_head_and_the_agent_goes_unavailable(
        world: World) -> None:
    world.queue(agents="101,102", max_no_answers=2, bounce_after=10)
    first = Caller(world)
    assert rung(first.run_until_ring_or_wait()) == ["101"]
    second = Caller(world)
    assert rung(second.run_until_ring_or_wait()) == ["102"]
    after = first.ring_result(RingResult.NO_ANSWER)  # back to the queue: music, then again
    assert isinstance(after, Execute)
    assert "goes back to the head of the queue" in first.story()
    assert rung(first.wait_slice()) == ["101"]
    first.ring_result(RingResult.NO_ANSWER)
    world.app.catch_up(world.directory)
    agent = world.directory.agent_of(world.app.enterprise(None).id, "101")
    assert agent is not None and agent.state == "unavailable"
    assert agent.reason == "missed 2 queue calls in a row"
    queue = world.directory.queue_named(world.app.enterprise(None).id, "Support")
    assert queue is not None
    head = world.directory.waiting_in(queue.id)[0]
    assert head.call_id == first.ctx.call_id and head.bounced == 2
    # 102 hangs up on second: first (bounced, at the head) gets 102 next.
    second.ring_result(RingResult.ANSWERED, "102")
    world.now += timedelta(seconds=60)  # 102's wrap-up is over
    assert rung(first.wait_slice()) == ["102"]


# -- overflow -------------------------------------------------------------------------------------
def test_a_full_queue_overflows_the_next_caller_to_busy(world: World) -> None:
    world.queue(agents="101")
    world.busy.add("101")
    waiting = [Caller(world) for _ in range(25)]
    for caller in waiting:
        assert isinstance(caller.run_until_ring_or_wait(), Execute)
    extra = Caller(world)
    end = extra.run_until_ring_or_wait()
    assert isinstance(end, Hangup) and end.cause is HangupCause.USER_BUSY
    assert "overflows (full: 25 callers wait, the tier's limit) to busy" in extra.story()


def test_after_the_maximum_wait_the_caller_overflows_to_the_destination(world: World) -> None:
    world.queue(agents="101", max_wait=10, overflow="105", comfort_every=10)
    world.busy.add("101")
    caller = Caller(world)
    slices = []
    action = caller.run_until_ring_or_wait()
    while isinstance(action, Execute):
        slices.append(dict(action.variables)["playback_timeout_sec"])
        action = caller.wait_slice()
    assert slices == ["2"] * 5
    assert rung(action) == ["105"]  # the overflow destination's chain rings 105
    story = caller.story()
    assert "overflows (max wait: waited 10 s of 10 s) to 105" in story
    assert not any(isinstance(a, Execute) and a.variables == (("playback_timeout_sec", "0"),)
                   for a in caller.seen)  # the overflow came first, no comfort at 10 s


def test_comfort_messages_every_n_seconds_while_waiting(world: World) -> None:
    world.queue(agents="101", comfort_every=10, comfort="ivr/comfort.wav", max_wait=25)
    world.busy.add("101")
    caller = Caller(world)
    action = caller.run_until_ring_or_wait()
    while isinstance(action, Execute):
        action = caller.wait_slice()
    comforts = [a for a in caller.seen if isinstance(a, Execute) and a.arg == "ivr/comfort.wav"]
    assert len(comforts) == 2  # after 10 s and 20 s
    assert isinstance(action, Hangup) and action.cause is HangupCause.USER_BUSY


def test_stranded_calls_overflow_at_once_or_wait_by_policy(world: World) -> None:
    world.queue(agents="")
    end = Caller(world).run_until_ring_or_wait()
    assert isinstance(end, Hangup) and end.cause is HangupCause.USER_BUSY
    world.queue("Patient", "701", agents="", stranded="wait")
    caller = Caller(world, "701")
    assert isinstance(caller.run_until_ring_or_wait(), Execute)
    world.centers.add_agent(None, "Patient", "102")  # an agent arrives
    assert rung(caller.wait_slice()) == ["102"]


def test_the_welcome_greeting_is_skipped_when_an_agent_is_free_unless_mandatory(
        world: World) -> None:
    world.queue(agents="101", welcome="ivr/welcome.wav")
    quick = Caller(world)
    quick.run_until_ring_or_wait()
    assert not any(isinstance(a, Playback) and a.media == "ivr/welcome.wav" for a in quick.seen)
    world.queue("Formal", "701", agents="102", welcome="ivr/welcome.wav",
                welcome_mandatory=True)
    formal = Caller(world, "701")
    ring = formal.run_until_ring_or_wait()
    assert rung(ring) == ["102"]
    assert any(isinstance(a, Playback) and a.media == "ivr/welcome.wav" for a in formal.seen)


def test_priority_callers_are_served_first(world: World) -> None:
    world.queue(agents="101", priority_numbers=("06 12345699",))
    world.busy.add("101")
    plain = Caller(world)
    assert isinstance(plain.run_until_ring_or_wait(), Execute)
    world.now += timedelta(seconds=5)
    vip = Caller(world, number="+31612345699")
    assert isinstance(vip.run_until_ring_or_wait(), Execute)
    world.busy.clear()
    assert isinstance(plain.wait_slice(), Execute)  # 101 is kept for the priority caller
    assert rung(vip.wait_slice()) == ["101"]


# -- abandon, restart, rebuild --------------------------------------------------------------------
def test_a_caller_who_hangs_up_abandons_and_frees_the_offered_agent(world: World) -> None:
    world.queue(agents="101")
    caller = Caller(world)
    assert rung(caller.run_until_ring_or_wait()) == ["101"]
    caller.hang_up()
    world.app.catch_up(world.directory)
    queue = world.directory.queue_named(world.app.enterprise(None).id, "Support")
    assert queue is not None
    assert world.directory.queue_figures[queue.id].abandoned == 1
    assert world.directory.offers_of(queue.enterprise_id) == {}
    assert rung(Caller(world).run_until_ring_or_wait()) == ["101"]


def test_recover_closes_the_calls_a_dead_controller_left_and_keeps_agent_states(
        world: World) -> None:
    world.queue(agents="101,102")
    world.centers.set_state(None, "102", "wrap-up", seconds=300)
    caller = Caller(world)
    assert rung(caller.run_until_ring_or_wait()) == ["101"]  # the controller dies here
    directory = Directory()
    restarted = QueueService(world.app, lambda: directory, clock=lambda: world.now)
    assert restarted.recover() == 1  # expected back for the re-attach window ...
    assert restarted.abandon_unattached() == 1  # ... which passed: abandoned
    assert directory.queue_calls == {}
    ent = world.app.enterprise(None).id
    agent = directory.agent_of(ent, "102")
    assert agent is not None and agent.state_at(world.now) == "wrap-up"
    assert directory.offers_of(ent) == {}
    assert directory.state() == world.fresh().state()


def test_a_fresh_fold_equals_the_live_directory(world: World) -> None:
    world.queue(agents="101,102", wrap_up=5)
    one, two = Caller(world), Caller(world)
    one.run_until_ring_or_wait()
    two.run_until_ring_or_wait()
    one.ring_result(RingResult.ANSWERED, "101")
    two.ring_result(RingResult.NO_ANSWER)
    world.app.catch_up(world.directory)
    assert world.directory.state() == world.fresh().state()
    assert world.directory.state()["queue_calls"]


# -- feature codes ----------------------------------------------------------------------------------
def agent_dials(world: World, extension: str, dialled: str) -> tuple[Trace, list[Action]]:
    ctx = CallContext(str(uuid4()), f"sofia/internal/{extension}", extension, extension,
                      dialled, Origin.INTERNAL, "acme.example", extension)
    trace = Trace()
    script = route_call(ctx, world.directory, RoutingSettings(), trace, world.now)
    seen: list[Action] = []
    try:
        action = next(script)
        while True:
            seen.append(action)
            outcome: Outcome = (world.service.handle(action, ctx)
                                if isinstance(action, Command) and action.service == "queue"
                                else CommandResult(True, "") if isinstance(action, Command)
                                else Done())
            action = script.send(outcome)
    except StopIteration:
        pass
    return trace, seen


def test_agents_sign_out_and_in_with_star_51_and_star_50(world: World) -> None:
    world.queue(agents="101")
    trace, _ = agent_dials(world, "101", "*51700")
    assert "101: sign out of queue 700 (Support)" in " | ".join(s.detail for s in trace.steps)
    world.app.catch_up(world.directory)
    assert isinstance(Caller(world).run_until_ring_or_wait(), Hangup)  # stranded: overflow
    trace, _ = agent_dials(world, "101", "*50700")
    assert trace.classification.outcome == "feature-code"
    world.app.catch_up(world.directory)
    assert rung(Caller(world).run_until_ring_or_wait()) == ["101"]
    trace, _ = agent_dials(world, "104", "*50700")  # no agent of the queue
    assert trace.classification.outcome == "refused"


def test_star_5_before_a_queue_extension_only_means_sign_in(world: World) -> None:
    world.queue(agents="101")
    assert queue_routing.handles("*50700", world.directory, world.app.enterprise(None).id)
    assert not queue_routing.handles("*50102", world.directory, world.app.enterprise(None).id)


# -- the use cases refuse bad input, writing nothing ---------------------------------------------
@pytest.mark.parametrize(("kw", "message"), [
    ({"tier": 30}, "the tier is 25, 50, 525 waiting callers, not 30"),
    ({"policy": "random"}, "unknown policy 'random'"),
    ({"overflow": "700"}, "the queue cannot overflow to itself (700)"),
    ({"overflow": "555"}, "overflow destination 555 is no user or group"),
    ({"max_wait": 5}, "the maximum wait is 10 to 7200 seconds, not 5"),
    ({"extension": "101"}, "101"),
    ({"welcome_mandatory": True}, "--welcome-mandatory needs a --welcome greeting"),
])
def test_queue_add_refuses_bad_input(world: World, kw: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"tier": 25, "policy": "regular", "extension": "700", **kw}
    before = world.app.last_position()
    with pytest.raises(PbxError) as exc:
        world.centers.add(None, "Support", **args)  # type: ignore[arg-type]
    assert message in str(exc.value)
    assert world.app.last_position() == before


def test_agent_changes_refuse_bad_input(world: World) -> None:
    world.queue(agents="101")
    before = world.app.last_position()
    refusals: list[tuple[Callable[[], object], str]] = [
        (lambda: world.centers.set_state(None, "102", "available"), "102 is no agent of any"),
        (lambda: world.centers.set_state(None, "101", "available", "lunch"),
         "--reason goes with unavailable only"),
        (lambda: world.centers.add_agent(None, "Support", "101"), "already an agent"),
        (lambda: world.centers.add_agent(None, "Support", "999"), "no user with extension"),
        (lambda: world.centers.sign(None, "101", "Support", out=False), "already signed in"),
    ]
    for call, message in refusals:
        with pytest.raises(ValidationError, match=message):
            call()
    assert world.app.last_position() == before


def test_the_aggregates_ids_are_derived_from_natural_keys() -> None:
    ent = uuid4()
    assert Agent.create_id(ent, "101") == Agent.create_id(ent, "101")
    assert QueueCall.create_id(ent, "call-1") != QueueCall.create_id(ent, "call-2")


# -- supervisor: move ------------------------------------------------------------------------------
def test_a_supervisor_moves_a_waiting_call_and_its_session_follows(world: World) -> None:
    world.queue(agents="101")
    world.queue("Second line", "701", agents="102")
    world.busy.add("101")
    caller = Caller(world)
    assert isinstance(caller.run_until_ring_or_wait(), Execute)
    before = world.app.last_position()
    with pytest.raises(ValidationError, match="the call is in queue Support already"):
        world.centers.move(None, caller.ctx.call_id, "Support")
    with pytest.raises(PbxError, match="no call 'nope' is waiting in a queue"):
        world.centers.move(None, "nope", "Second line")
    assert world.app.last_position() == before
    world.centers.move(None, caller.ctx.call_id, "Second line")
    assert rung(caller.wait_slice()) == ["102"]
    assert ("a supervisor moved the call from queue Support (700) to queue Second line (701)"
            in caller.story())
    caller.ring_result(RingResult.ANSWERED, "102")
    world.app.catch_up(world.directory)
    ent = world.app.enterprise(None).id
    first = world.directory.queue_named(ent, "Support")
    second = world.directory.queue_named(ent, "Second line")
    assert first is not None and second is not None
    assert world.directory.queue_figures[first.id].moved_out == 1
    assert world.directory.queue_figures[second.id].answered == 1
    assert world.directory.state() == world.fresh().state()


def test_a_call_ringing_an_agent_is_not_moved(world: World) -> None:
    world.queue(agents="101")
    world.queue("Second line", "701", agents="102")
    caller = Caller(world)
    assert rung(caller.run_until_ring_or_wait()) == ["101"]
    with pytest.raises(ValidationError, match="the call is ringing agent 101"):
        world.centers.move(None, caller.ctx.call_id, "Second line")


def test_an_outside_callers_number_is_sealed_in_the_queue_and_erased_on_request(
        world: World) -> None:
    from esl_controller import privacy
    from esl_controller.store import sqlite_path

    world.queue()
    world.busy.update({"101", "102", "103"})
    caller = Caller(world, number="+31612345678")
    caller.run_until_ring_or_wait()
    path = sqlite_path(world.app.db_url)
    assert path is not None
    stored = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert b"612345678" not in stored  # no spelling of the number in the log
    queue = world.centers.queue(None, "Support")
    assert [c["caller"] for c in world.centers.live(queue)["waiting"]] == ["+31612345678"]
    privacy.erase_person(world.app, "+31612345678")
    assert [c["caller"] for c in world.centers.live(queue)["waiting"]] == ["[erased]"]


def test_a_queue_is_changed_in_place_keeping_its_agents_and_waiting_callers(
        world: World) -> None:
    from esl_controller.errors import ValidationError

    world.queue()
    world.busy.update({"101", "102", "103"})
    caller = Caller(world)
    caller.run_until_ring_or_wait()
    view = world.centers.set(None, "Support", {"announce": "position", "max_wait": 120,
                                               "overflow": "104", "welcome": "hello.wav"})
    assert (view.announce, view.max_wait, view.overflow, view.welcome) == (
        "position", 120, "104", "hello.wav")
    assert view.agents == ("101", "102", "103") and view.extension == "700"
    world.app.catch_up(world.directory)
    assert [c.call_id for c in world.directory.waiting_in(view.id)] == [caller.ctx.call_id]
    cleared = world.centers.set(None, "Support", {"max_wait": None, "welcome": None})
    assert (cleared.max_wait, cleared.welcome, cleared.announce) == (None, None, "position")
    world.app.catch_up(world.directory)
    assert world.fresh().state() == world.directory.state()  # rebuild equals live
    before = world.app.last_position()
    for bad in ({"tier": 30}, {"announce": "shout"}, {"overflow": "700"}, {},
                {"policy": None}, {"wrap_up": 100000}):
        with pytest.raises(ValidationError):
            world.centers.set(None, "Support", bad)
    assert world.app.last_position() == before  # nothing written
