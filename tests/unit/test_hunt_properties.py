"""Properties of the hunt policies (CORE-2), checked with hypothesis.

- circular visits every member once before repeating;
- uniform always offers the longest-idle member first;
- simultaneous rings all available members, at once;
- members on DND, signed out or busy are never rung, whatever the policy.

The orders are checked as pure functions and through the real routing script, whose
rotation the real ``hunt`` service records in a real log.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller.application import Pbx
from esl_controller.domain.hunt_groups import POLICIES
from esl_controller.hunt_service import HuntGroups, HuntService
from esl_controller.routing.actions import Action, Command, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.hunt_group import circular_order, uniform_order, weighted_order
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory

MEMBERS = ("101", "102", "103", "104", "105", "106")
EXTENSION = {policy: str(600 + i) for i, policy in enumerate(POLICIES)}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
QUICK = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

member_lists = st.lists(st.sampled_from([str(n) for n in range(100, 130)]), min_size=1,
                        max_size=12, unique=True)


class World:
    """A real log with six users and one hunt group per policy, and a controller's view."""

    def __init__(self, path: Path) -> None:
        self.app = Pbx(f"sqlite:///{path}/pbx.sqlite")
        self.app.create_enterprise("Acme", "acme.example")
        for ext in (*MEMBERS, "199"):
            self.app.add_user(None, ext, f"User {ext}")
        groups = HuntGroups(self.app)
        for policy, extension in EXTENSION.items():
            groups.add(None, policy.title(), extension, policy, list(MEMBERS))
        self.directory = Directory()
        self.app.catch_up(self.directory)
        self.service = HuntService(self.app, lambda: self.directory,
                                   clock=self._tick, seeds=random.Random(3))
        self._now = NOW

    def _tick(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now

    def group_id(self, policy: str) -> UUID:
        found = self.directory.hunt_group_named(self.app.enterprise(None).id, policy)
        assert found is not None
        return found.id

    def call(self, policy: str, directory: Directory | None = None,
             busy: frozenset[str] = frozenset(), answer_first: bool = False) -> list[Ring]:
        """Call the group of ``policy`` from 199; every ring goes unanswered unless
        ``answer_first``. Returns the rings."""
        where = directory or self.directory
        ctx = CallContext(str(uuid4()), "sofia/internal/199", "199", "199", EXTENSION[policy],
                          Origin.INTERNAL, "acme.example", "199")
        script = route_call(ctx, where, RoutingSettings(), Trace(), NOW,
                            lambda _ent, ext: ext in busy)
        rings: list[Ring] = []
        outcome: Outcome
        try:
            action: Action = next(script)
            while True:
                if isinstance(action, Ring):
                    rings.append(action)
                    outcome = (Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING,
                                    action.targets[0].label()) if answer_first
                               else Rang(RingResult.NO_ANSWER, HangupCause.NO_ANSWER))
                elif isinstance(action, Command) and action.service == "hunt":
                    outcome = (self.service.handle(action, ctx) if directory is None
                               else CommandResult(True, "5"))
                else:
                    outcome = Done()
                action = script.send(outcome)
        except StopIteration:
            pass
        return rings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield World(tmp_path_factory.mktemp("hunt"))


def labels(rings: list[Ring]) -> list[str]:
    return [t.label() for ring in rings for t in ring.targets]


# -- circular -----------------------------------------------------------------------------------
@given(member_lists, st.data())
def test_circular_order_is_each_member_once_starting_after_the_last_offered(
    members: list[str], data: st.DataObject
) -> None:
    last = data.draw(st.one_of(st.none(), st.sampled_from(members)))
    order = circular_order(members, last)
    assert sorted(order) == sorted(members)
    if last is not None:
        assert order[-1] == last  # the last offered comes last
        assert order[0] == members[(members.index(last) + 1) % len(members)]


@QUICK
@given(prior=st.integers(0, 8), answer_first=st.booleans())
def test_circular_calls_visit_every_member_once_before_repeating(
    world: World, prior: int, answer_first: bool
) -> None:
    for _ in range(prior):  # wherever the rotation stands
        world.call("circular", answer_first=True)
    firsts = []
    for _ in range(len(MEMBERS)):
        rings = world.call("circular", answer_first=True)
        firsts.append(rings[0].targets[0].label())
    assert sorted(firsts) == sorted(MEMBERS)  # six calls, six different members first
    unanswered = labels(world.call("circular", answer_first=answer_first))
    assert len(unanswered) == len(set(unanswered))  # within a call: each member once
    assert unanswered[0] == firsts[0]  # the seventh call starts the round again


# -- uniform ------------------------------------------------------------------------------------
@given(member_lists, st.data())
def test_uniform_order_puts_the_longest_idle_member_first(
    members: list[str], data: st.DataObject
) -> None:
    minutes = st.one_of(st.none(), st.integers(0, 10_000))
    idle = {m: NOW + timedelta(minutes=n) for m in members
            if (n := data.draw(minutes)) is not None}
    order = uniform_order(members, idle)
    assert sorted(order) == sorted(members)
    first = order[0]
    never = [m for m in members if m not in idle]
    if never:
        assert first == never[0]  # never answered a group call: idle the longest
    else:
        assert idle[first] == min(idle.values())


@QUICK
@given(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=8))
def test_uniform_calls_offer_the_longest_idle_member_first(
    world: World, answering: list[str]
) -> None:
    gid = world.group_id("uniform")
    for member in answering:  # these members answer group calls, in this order
        world.service.handle(Command("hunt", "answered", (("group", str(gid)),
                                                           ("member", member))),
                             CallContext("x", "", "", "", "", Origin.INTERNAL))
    rotation = world.directory.hunt_rotations[gid]
    idle = dict(rotation.idle_since)
    rings = world.call("uniform")
    first = rings[0].targets[0].label()
    never = [m for m in MEMBERS if m not in idle]
    expected = never[0] if never else min(idle, key=lambda m: idle[m])
    assert first == expected


# -- weighted -----------------------------------------------------------------------------------
@given(st.lists(st.tuples(st.sampled_from(MEMBERS), st.integers(1, 100)), min_size=1,
                max_size=6, unique_by=lambda m: m[0]), st.integers(0, 2**32 - 1))
def test_weighted_order_is_a_permutation_fixed_by_the_seed(
    members: list[tuple[str, int]], seed: int
) -> None:
    order = weighted_order(members, seed)
    assert sorted(order) == sorted(m for m, _ in members)
    assert order == weighted_order(members, seed)


# -- skipped members and simultaneous ---------------------------------------------------------
def _with(world: World, policy: str, dnd: set[str], signed_out: set[str]) -> Directory:
    """A copy of the controller's view with some members on DND or signed out."""
    view = copy.deepcopy(world.directory)
    ent = world.app.enterprise(None).id
    for ext in dnd:
        user = view.user(ent, ext)
        assert user is not None
        view.users[user.id] = replace(user, dnd=True)
    gid = world.group_id(policy)
    view.hunt_groups[gid] = replace(view.hunt_groups[gid], signed_out=tuple(sorted(signed_out)))
    return view


subsets = st.sets(st.sampled_from(MEMBERS), max_size=len(MEMBERS))


@QUICK
@given(policy=st.sampled_from(POLICIES), dnd=subsets, signed_out=subsets, busy=subsets)
def test_members_on_dnd_signed_out_or_busy_are_never_rung(
    world: World, policy: str, dnd: set[str], signed_out: set[str], busy: set[str]
) -> None:
    view = _with(world, policy, dnd, signed_out)
    rung = labels(world.call(policy, view, frozenset(busy)))
    skipped = dnd | signed_out | busy
    assert not skipped & set(rung)
    assert set(rung) == set(MEMBERS) - skipped  # everyone else rings, unanswered


@QUICK
@given(dnd=subsets, signed_out=subsets, busy=subsets)
def test_simultaneous_rings_all_available_members_at_once(
    world: World, dnd: set[str], signed_out: set[str], busy: set[str]
) -> None:
    view = _with(world, "simultaneous", dnd, signed_out)
    rings = world.call("simultaneous", view, frozenset(busy))
    available = [m for m in MEMBERS if m not in dnd | signed_out | busy]
    if not available:
        assert rings == []
        return
    assert len(rings) == 1
    assert [t.label() for t in rings[0].targets] == available
