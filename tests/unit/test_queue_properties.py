"""Properties of the call-center dispatcher (CC-1 to CC-4), checked with hypothesis.

Random sequences of what happens in a call center (callers enqueue in two queues sharing
agents, callers' sessions poll, agents answer, let it ring out, go unavailable or into
wrap-up, sign out, get busy on other calls, callers hang up, time passes) are driven through
the real ``queue`` service on a real log. After every step:

- no agent is ever offered two calls at once (across both queues);
- no caller is ever in two queues (nor twice in one);
- an offer only ever goes to an agent who was free for that queue just before;
- and at the end a fresh fold of the log equals the service's live directory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.call_centers import CallCenters, QueueService
from esl_controller.errors import PbxError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.queue import AVAILABLE, agent_state
from projections.call_centers_fold import QueueView
from projections.directory import Directory

AGENTS = ("101", "102", "103", "104")
QUEUES = ("Sales", "Service")
POLICIES = ("regular", "simultaneous")
OPS = ("enqueue", "enqueue", "poll", "poll", "poll", "answer", "bounce", "abandon",
       "overflow", "again", "move", "state", "sign", "busy", "tick")


class World:
    def __init__(self, path: Path) -> None:
        self.app = Pbx(f"sqlite:///{path}/pbx.sqlite")
        self.app.create_enterprise("Acme", "acme.example")
        for ext in AGENTS:
            self.app.add_user(None, ext, f"Agent {ext}")
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        self.centers = CallCenters(self.app, clock=lambda: self.now)
        for i, (name, policy) in enumerate(zip(QUEUES, POLICIES, strict=True)):
            self.centers.add(None, name, str(700 + i), 50, policy, wrap_up=5,
                             max_no_answers=2, stranded="wait")
            for agent in AGENTS[i:]:  # 102-104 are agents of both queues
                self.centers.add_agent(None, name, agent)
        self.busy: set[str] = set()
        self.directory = Directory()
        self.service = QueueService(self.app, lambda: self.directory, clock=lambda: self.now,
                                    busy=lambda _ent, ext: ext in self.busy)
        self.app.catch_up(self.directory)
        self.queues: list[QueueView] = [q for q in self.directory.queues.values()]
        self.ended: list[str] = []

    def ctx(self, call_id: str) -> CallContext:
        return CallContext(call_id, "sofia/external/x", "+31612345678", "", "700",
                           Origin.EXTERNAL)

    def command(self, name: str, call_id: str, queue: QueueView, *args: tuple[str, str]
                ) -> tuple[bool, str]:
        result = self.service.handle(
            Command("queue", name, (("queue", str(queue.id)), *args)), self.ctx(call_id))
        return result.ok, result.value


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield World(tmp_path_factory.mktemp("queues"))


def check_invariants(world: World) -> None:
    world.app.catch_up(world.directory)
    live = list(world.directory.queue_calls.values())
    offered = Counter(agent for call in live for agent in call.offered_to)
    assert all(n == 1 for n in offered.values()), f"an agent offered two calls: {offered}"
    calls = Counter(call.call_id for call in live)
    assert all(n == 1 for n in calls.values()), f"a caller in two queues: {calls}"


steps = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 1000)), min_size=5,
                 max_size=40)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_no_agent_is_offered_two_calls_and_no_caller_is_in_two_queues(
        world: World, ops: list[tuple[str, int]]) -> None:
    for op, n in ops:
        live = sorted(world.directory.queue_calls.values(), key=lambda c: c.call_id)
        queue = world.queues[n % 2]
        if op == "enqueue":
            world.command("enqueue", str(uuid4()), queue, ("caller", "+31612345678"),
                          ("priority", str(n % 2)))
        elif op == "again" and live:  # a caller already in a queue, into the other one
            call = live[n % len(live)]
            other = next(q for q in world.queues if q.id != call.queue_id)
            ok, _ = world.command("enqueue", call.call_id, other, ("caller", "x"))
            assert not ok
        elif op == "poll" and live:
            call = live[n % len(live)]
            own = world.directory.queues[call.queue_id]
            before = {a: agent_state(world.directory, own, a, world.now,
                                     world.service.busy, world.directory.offers_of(own.enterprise_id))
                      for a in own.agents}
            ok, value = world.command("poll", call.call_id, own)
            assert ok
            if value.startswith("offer") and not call.offered_to:
                for agent in value.split()[1].split(","):
                    assert before[agent] == AVAILABLE, (agent, before)
        elif op in ("answer", "bounce") and live:
            offered = [c for c in live if c.offered_to]
            if offered:
                call = offered[n % len(offered)]
                own = world.directory.queues[call.queue_id]
                if op == "answer":
                    world.command("answered", call.call_id, own, ("agent", call.offered_to[0]))
                else:
                    world.command("bounced", call.call_id, own,
                                  ("agents", ",".join(call.offered_to)), ("reason", "no-answer"))
        elif op == "abandon" and live:
            world.service.call_ended(world.ctx(live[n % len(live)].call_id))
        elif op == "overflow" and live:
            call = live[n % len(live)]
            world.command("overflow", call.call_id, world.directory.queues[call.queue_id],
                          ("reason", "max wait"), ("destination", "busy"))
        elif op == "move" and live:  # a supervisor moves a call to the other queue
            call = live[n % len(live)]
            other = next(q for q in world.queues if q.id != call.queue_id)
            try:
                world.centers.move(None, call.call_id, other.name)
            except PbxError as exc:  # refused: ringing an agent, or the other queue is full
                assert call.offered_to or "is full" in str(exc)
        elif op == "state":
            agent = AGENTS[n % len(AGENTS)]
            state = ("available", "unavailable", "wrap-up")[n % 3]
            world.centers.set_state(None, agent, state)
        elif op == "sign":
            agent = AGENTS[1 + n % 3]
            try:
                world.centers.sign(None, agent, queue.name, out=bool(n % 2))
            except PbxError:
                pass  # already signed in / out: refused, nothing changed
        elif op == "busy":
            world.busy ^= {AGENTS[n % len(AGENTS)]}
        elif op == "tick":
            world.now += timedelta(seconds=n % 12)
        check_invariants(world)
    fresh = Directory()
    world.app.catch_up(fresh)
    assert fresh.state() == world.directory.state()
