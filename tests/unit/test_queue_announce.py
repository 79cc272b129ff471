"""Call-center queues (CC-2): position and estimated-wait announcements, the overflow
greeting, and an offer withdrawn when the ringing agent turns unavailable. The queue script
is driven one action at a time against the real ``queue`` service on a real log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from commands.main import cli
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters, QueueService
from esl_controller.domain.call_centers import BOUNCE_UNAVAILABLE, QueueCall
from esl_controller.errors import ValidationError
from esl_controller.esl.session import RING_WATCH_VARIABLE, dial_string
from esl_controller.routing import queue as queue_routing
from esl_controller.routing.actions import Action, Command, Execute, Hangup, Playback, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import Done, Executed, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections import call_centers_fold
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SAY = "say"


class World:
    """A real log: users 101-105, queues made by ``queue``; a settable clock."""

    def __init__(self, path: Path) -> None:
        self.app = Pbx(f"sqlite:///{path}/pbx.sqlite")
        self.app.create_enterprise("Acme", "acme.example")
        for ext in ("101", "102", "103", "104", "105"):
            self.app.add_user(None, ext, f"User {ext}")
        self.now = NOW
        self.centers = CallCenters(self.app, clock=lambda: self.now)
        self.busy: set[str] = set()
        self.directory = Directory()
        self.service = QueueService(self.app, lambda: self.directory, clock=lambda: self.now,
                                    busy=lambda _ent, ext: ext in self.busy)

    def queue(self, agents: str = "101,102", **kw: object) -> None:
        kw.setdefault("tier", 25)
        kw.setdefault("policy", "regular")
        self.centers.add(None, "Support", "700", numbers_=("+31207000700",),
                         **kw)  # type: ignore[arg-type]
        for agent in agents.split(","):
            if agent:
                self.centers.add_agent(None, "Support", agent)
        self.app.catch_up(self.directory)

    def fresh(self) -> Directory:
        rebuilt = Directory()
        self.app.catch_up(rebuilt)
        return rebuilt

    def figures(self) -> call_centers_fold.QueueFigures:
        self.app.catch_up(self.directory)
        view = self.directory.queue_named(self.app.enterprise(None).id, "Support")
        assert view is not None
        return self.directory.queue_figures[view.id]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield World(tmp_path)


class Caller:
    """One call from the public network to the queue, driven one action at a time."""

    def __init__(self, world: World, number: str = "+31612345678") -> None:
        self.world = world
        self.ctx = CallContext(str(uuid4()), f"sofia/external/{number}", number, "",
                               "+31207000700", Origin.EXTERNAL)
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

    def run(self, max_steps: int = 60) -> Action | None:
        """Carry out every action up to the next Ring, hang-up or music slice."""
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

    def slice_over(self) -> Action | None:
        assert isinstance(self.action, Execute)
        self.send(Executed("FILE PLAYED", False))
        return self.run()

    def rang(self, result: RingResult, by: str | None = None,
             cause: HangupCause = HangupCause.NO_ANSWER) -> Action | None:
        assert isinstance(self.action, Ring)
        self.send(Rang(result, cause, by))
        return self.run()

    def heard(self) -> list[str]:
        """What the caller heard, in order: files, and ``say`` as "say N"."""
        out = []
        for a in self.seen:
            if isinstance(a, Playback):
                out.append(a.media)
            elif isinstance(a, Execute) and a.app == "playback" and dict(a.variables).get(
                    "playback_timeout_sec") == "0":
                out.append(a.arg)
            elif isinstance(a, Execute) and a.app == SAY:
                out.append("say " + a.arg.split()[-1])
        return out

    def story(self) -> str:
        return " | ".join(step.detail for step in self.trace.steps)


def rung(action: Action | None) -> list[str]:
    assert isinstance(action, Ring), action
    return [t.label() for t in action.targets]


POSITION = [queue_routing.YOU_ARE_NUMBER, "say {n}", queue_routing.IN_LINE]


def position_words(n: int) -> list[str]:
    return [w.format(n=n) for w in POSITION]


# -- the formula and what is said -----------------------------------------------------------------
def test_the_estimate_is_the_recent_average_wait_times_position_over_serving_agents() -> None:
    assert queue_routing.estimated_wait([], 1, 1) is None  # nothing answered yet
    assert queue_routing.estimated_wait([30.0, 90.0], 1, 1) == 60
    assert queue_routing.estimated_wait([30.0, 90.0], 3, 1) == 180
    assert queue_routing.estimated_wait([30.0, 90.0], 3, 2) == 90
    assert queue_routing.estimated_wait([30.0, 90.0], 2, 0) == 120  # nobody serving: as one
    assert queue_routing.estimated_wait([10.0, 10.0, 11.0], 1, 1) == 11  # rounded up


@given(st.lists(st.floats(0, 3600), min_size=1, max_size=10), st.integers(1, 525),
       st.integers(0, 200))
def test_the_estimate_grows_with_the_position_and_shrinks_with_more_agents(
        waits: list[float], position: int, agents: int) -> None:
    estimate = queue_routing.estimated_wait(waits, position, agents)
    assert estimate is not None and estimate >= 0
    behind = queue_routing.estimated_wait(waits, position + 1, agents)
    assert behind is not None and behind >= estimate
    more = queue_routing.estimated_wait(waits, position, agents + 1)
    assert more is not None and more <= estimate
    assert estimate <= max(waits) * position + 1


def said(actions: list[Action]) -> list[str]:
    out = []
    for a in actions:
        if isinstance(a, Playback):
            out.append(a.media)
        elif isinstance(a, Execute):
            out.append(a.arg if a.app == "playback" else f"{a.app} {a.arg}")
    return out


def test_what_is_said_for_the_position_and_the_estimated_wait() -> None:
    assert said(queue_routing.announcement("position", 3, None)) == [
        "ivr/ivr-you_are_number.wav", "say en number pronounced 3", "ivr/ivr-in_line.wav"]
    assert said(queue_routing.announcement("wait", 3, 45)) == [
        "ivr/ivr-estimated_hold_time.wav", "ivr/ivr-less_than.wav",
        "say en number pronounced 1", "time/minute.wav"]
    assert said(queue_routing.announcement("wait", 1, 150)) == [
        "ivr/ivr-estimated_hold_time.wav", "say en number pronounced 3", "time/minutes.wav"]
    assert said(queue_routing.announcement("wait", 1, 60)) == [
        "ivr/ivr-estimated_hold_time.wav", "say en number pronounced 1", "time/minute.wav"]
    both = queue_routing.announcement("both", 2, 61)
    assert said(both) == ["ivr/ivr-you_are_number.wav", "say en number pronounced 2",
                          "ivr/ivr-in_line.wav", "ivr/ivr-estimated_hold_time.wav",
                          "say en number pronounced 2", "time/minutes.wav"]
    first = both[0]  # lifts the music slices' playback_timeout_sec
    assert isinstance(first, Execute) and first.variables == (("playback_timeout_sec", "0"),)
    assert queue_routing.announcement("wait", 1, None) == []  # no estimate: nothing said
    assert queue_routing.announcement("none", 4, 100) == []
    assert queue_routing.announcement_words("both", 2, 61) == (
        "you are number 2 in line; your estimated hold time is 2 minutes (61 s)")


# -- through the queue script ---------------------------------------------------------------------
def test_the_second_caller_hears_position_two_after_the_welcome_and_with_each_comfort(
        world: World) -> None:
    world.queue(agents="101", announce="position", welcome="ivr/welcome.wav",
                comfort_every=10, comfort="ivr/comfort.wav")
    world.busy.add("101")
    first = Caller(world)
    assert isinstance(first.run(), Execute)
    world.now += timedelta(seconds=1)
    second = Caller(world, "+31687654321")
    assert isinstance(second.run(), Execute)  # music: waiting
    assert second.heard() == ["ivr/welcome.wav", *position_words(2)]
    assert first.heard() == ["ivr/welcome.wav", *position_words(1)]
    assert "the caller hears: you are number 2 in line" in second.story()
    for _ in range(5):  # 10 s of music: the comfort message, then the position again
        second.slice_over()
    assert second.heard() == ["ivr/welcome.wav", *position_words(2), "ivr/comfort.wav",
                              *position_words(2)]
    first.script.close()
    world.service.call_ended(first.ctx)  # the first caller gives up: second moves up
    for _ in range(5):
        second.slice_over()
    assert second.heard()[-3:] == position_words(1)


def test_the_estimated_wait_comes_from_the_queues_answered_calls(world: World) -> None:
    world.queue(agents="101", announce="wait")
    world.busy.add("101")
    early = Caller(world)
    assert isinstance(early.run(), Execute)
    assert early.heard() == []  # nothing answered yet: no estimate is said
    assert "no estimated wait yet" in early.story()
    world.now += timedelta(seconds=90)
    world.busy.clear()
    assert rung(early.slice_over()) == ["101"]  # offered after 90 s
    early.rang(RingResult.ANSWERED, "101", HangupCause.NORMAL_CLEARING)
    assert world.figures().recent_waits == (90.0,)
    world.now += timedelta(seconds=600)  # 101's wrap-up is long over; 101 busy again
    world.busy.add("101")
    second = Caller(world)
    second.run()
    world.now += timedelta(seconds=1)
    third = Caller(world)
    third.run()
    # 90 s average, position 2, one agent serving: 180 s, "3 minutes"
    assert third.heard() == [queue_routing.ESTIMATED_HOLD_TIME, "say 3",
                             queue_routing.MINUTES]
    assert "your estimated hold time is 3 minutes (180 s)" in third.story()
    assert second.heard() == [queue_routing.ESTIMATED_HOLD_TIME, "say 2",
                              queue_routing.MINUTES]


def test_the_recent_waits_keep_the_last_ten_and_a_rebuild_equals_the_live_fold(
        world: World) -> None:
    world.queue(agents="101", wrap_up=0)
    for waited in range(12):
        caller = Caller(world)
        world.busy.add("101")
        assert isinstance(caller.run(), Execute)
        world.now += timedelta(seconds=waited)
        world.busy.clear()
        assert rung(caller.slice_over()) == ["101"]
        caller.rang(RingResult.ANSWERED, "101", HangupCause.NORMAL_CLEARING)
    assert world.figures().recent_waits == tuple(float(w) for w in range(2, 12))
    assert world.directory.state() == world.fresh().state()


# -- overflow greeting ----------------------------------------------------------------------------
def test_a_full_queue_plays_the_overflow_greeting_then_busy(world: World) -> None:
    world.queue(agents="101", overflow_greeting="ivr/sorry-full.wav")
    world.busy.add("101")
    for _ in range(25):
        assert isinstance(Caller(world).run(), Execute)
    extra = Caller(world)
    end = extra.run()
    assert isinstance(end, Hangup) and end.cause is HangupCause.USER_BUSY
    assert extra.heard() == ["ivr/sorry-full.wav"]
    assert "the caller hears ivr/sorry-full.wav before the overflow" in extra.story()


def test_after_the_maximum_wait_the_greeting_plays_before_the_destination_rings(
        world: World) -> None:
    world.queue(agents="101", max_wait=10, overflow="105",
                overflow_greeting="ivr/sorry-long.wav")
    world.busy.add("101")
    caller = Caller(world)
    action = caller.run()
    while isinstance(action, Execute):
        action = caller.slice_over()
    assert rung(action) == ["105"]
    greeting = next(i for i, a in enumerate(caller.seen)
                    if isinstance(a, Execute) and a.arg == "ivr/sorry-long.wav")
    overflow = next(i for i, a in enumerate(caller.seen)
                    if isinstance(a, Command) and a.name == "overflow")
    assert overflow < greeting < len(caller.seen) - 1  # recorded, greeted, then rung
    assert caller.heard() == ["ivr/sorry-long.wav"]


def test_without_an_overflow_greeting_nothing_is_played(world: World) -> None:
    world.queue(agents="")
    end = Caller(world)
    assert isinstance(end.run(), Hangup)
    assert end.heard() == []


# -- bounce when the agent turns unavailable while ringing ----------------------------------------
def test_an_agent_set_unavailable_while_ringing_withdraws_the_offer_to_the_next_agent(
        world: World) -> None:
    world.queue(agents="101,102", max_no_answers=1)
    caller = Caller(world)
    ring = caller.run()
    assert rung(ring) == ["101"]
    assert isinstance(ring, Ring) and ring.watch == "queue"
    assert world.service.withdraw_reason(caller.ctx) is None  # 101 is still available
    world.centers.set_state(None, "101", "unavailable", "lunch")
    world.app.catch_up(world.directory)  # as the controller's directory follower does
    assert world.service.withdraw_reason(caller.ctx) == "agent 101: unavailable (lunch)"
    nxt = caller.rang(RingResult.WITHDRAWN, cause=HangupCause.LOSE_RACE)
    assert rung(nxt) == ["102"]  # back at the head: offered to the next agent at once
    assert ("agent 101 became unavailable while ringing: the ring stopped and the call goes "
            "back to the head of the queue") in caller.story()
    queue = world.directory.queue_named(world.app.enterprise(None).id, "Support")
    assert queue is not None
    events = list(world.app.events.get(QueueCall.create_id(queue.id, caller.ctx.call_id)))
    bounce = next(e for e in events if type(e).__name__ == "QueueCallBounced")
    data = vars(bounce)  # the event's attributes
    assert (data["agents"], data["reason"]) == (["101"], BOUNCE_UNAVAILABLE)
    agent = world.directory.agent_of(world.app.enterprise(None).id, "101")
    assert agent is not None and agent.missed == 0  # not a missed call (max no-answers 1)
    assert agent.reason == "lunch"
    assert world.figures().bounced == 1


def test_signing_out_or_dnd_also_withdraws_but_not_while_another_agent_still_rings(
        world: World) -> None:
    world.queue(agents="101,102", policy="simultaneous")
    caller = Caller(world)
    assert rung(caller.run()) == ["101", "102"]
    world.centers.sign(None, "101", "Support", out=True)
    world.app.catch_up(world.directory)
    assert world.service.withdraw_reason(caller.ctx) is None  # 102 may still answer
    user_services.set_dnd(world.app, None, "102", True)
    world.app.catch_up(world.directory)
    assert world.service.withdraw_reason(caller.ctx) == (
        "agent 101: signed out; agent 102: do not disturb")


def test_a_ring_is_only_marked_for_withdrawal_when_watched() -> None:
    from esl_controller.routing.actions import UserDevices

    ring = Ring((UserDevices("101", "acme.example"),), 15, "+31612345678", "", watch="queue")
    assert f"{RING_WATCH_VARIABLE}=abc-123" in dial_string(ring, None, "acme.example",
                                                           "abc-123")
    assert RING_WATCH_VARIABLE not in dial_string(ring, None, "acme.example")


# -- bad input ------------------------------------------------------------------------------------
def test_bad_announcement_settings_are_refused_and_nothing_is_written(world: World) -> None:
    before = world.app.last_position()
    with pytest.raises(ValidationError, match="unknown announcement 'loud'"):
        world.centers.add(None, "Support", "700", 25, "regular", announce="loud")
    with pytest.raises(ValidationError, match="the overflow greeting is empty"):
        world.centers.add(None, "Support", "700", 25, "regular", overflow_greeting=" ")
    assert world.app.last_position() == before


def test_the_cli_sets_and_shows_the_announcement(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    app = Pbx(url)
    app.create_enterprise("Acme", "acme.example")
    monkeypatch.setenv("PBX_DB_URL", url)
    runner = CliRunner()
    done = runner.invoke(cli, ["queue", "add", "Support", "--extension", "700", "--tier", "25",
                               "--policy", "regular", "--announce", "both",
                               "--overflow-greeting", "ivr/sorry.wav"])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(cli, ["queue", "show", "Support"])
    assert "announce: both; overflow greeting: ivr/sorry.wav" in shown.output
    bad = runner.invoke(cli, ["queue", "add", "Other", "--extension", "701", "--tier", "25",
                              "--policy", "regular", "--announce", "loud"])
    assert bad.exit_code == 2 and "'loud' is not one of" in bad.output
