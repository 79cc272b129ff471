"""Call capacity (GRP-2): a call takes a place in its enterprise's and departments' pools;
a full pool gives the caller busy with an announcement, and the refusal is counted.

Routing driven by feeding outcomes; the ``capacity`` service is the real one over a real
ActiveLines, its refusals saved to a real Pbx and folded into the directory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from esl_controller import calling_plans as plans
from esl_controller.application import Pbx
from esl_controller.calling_plans import CapacityService
from esl_controller.errors import ValidationError
from esl_controller.lines import ActiveLines
from esl_controller.routing.actions import Action, Command, Hangup, Playback, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory

GATEWAY = RoutingSettings(gateway="trunk")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob", number="020 1234568")
    pbx.add_user(None, "103", "Carol")
    return pbx


class Exchange:
    """Calls routed against one ActiveLines, as the controller does; calls stay up until
    ``hang_up``."""

    def __init__(self, app: Pbx) -> None:
        self.app = app
        self.lines = ActiveLines()
        self.saved: list[Any] = []
        self.service = CapacityService(self.lines, self._save, lambda: NOW)
        self.count = 0

    def _save(self, aggregate: Any) -> None:
        self.app.save(aggregate)

    def call(self, ctx: CallContext) -> tuple[list[Action], Trace]:
        directory = Directory()
        self.app.catch_up(directory)
        trace = Trace()
        script = route_call(ctx, directory, GATEWAY, trace, NOW)
        actions: list[Action] = []
        try:
            action = next(script)
            while True:
                actions.append(action)
                outcome: Outcome = Done()
                if isinstance(action, Command) and action.service == "capacity":
                    outcome = self.service.handle(action, ctx)
                elif isinstance(action, Command):
                    outcome = CommandResult(False, "")
                elif isinstance(action, Ring):
                    outcome = Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING,
                                   action.targets[0].label())
                action = script.send(outcome)
        except StopIteration:
            pass
        return actions, trace

    def hang_up(self, ctx: CallContext) -> None:
        self.lines.end(ctx.call_id)


def internal(caller: str, dialled: str, n: int) -> CallContext:
    return CallContext(f"00000000-0000-4000-8000-{n:012d}", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller)


def external(caller: str, dialled: str, n: int) -> CallContext:
    return CallContext(f"00000000-0000-4000-9000-{n:012d}", "sofia/external/x", caller, "",
                       dialled, Origin.EXTERNAL)


def rang(actions: list[Action]) -> bool:
    return any(isinstance(a, Ring) for a in actions)


def busy(actions: list[Action]) -> bool:
    hangups = [a.cause for a in actions if isinstance(a, Hangup)]
    return (hangups == [HangupCause.USER_BUSY] and not rang(actions)
            and any(isinstance(a, Playback) for a in actions))


def test_calls_over_the_enterprise_limit_get_busy_until_a_place_frees(app: Pbx) -> None:
    plans.set_capacity(app, None, None, 2)
    exchange = Exchange(app)
    first, second = internal("101", "0612345678", 1), external("0101234567", "0201234568", 2)
    assert rang(exchange.call(first)[0])
    assert rang(exchange.call(second)[0])
    third = internal("103", "102", 3)
    actions, trace = exchange.call(third)
    assert busy(actions)
    assert trace.classification.outcome == "busy"
    assert "enterprise Acme has 2 of 2 calls in progress: the caller hears busy" in " | ".join(
        s.detail for s in trace.steps)
    exchange.hang_up(first)
    assert rang(exchange.call(internal("103", "102", 4))[0])


def test_a_department_limit_counts_its_members_calls_only(app: Pbx) -> None:
    plans.add_department(app, None, "Sales", "102,103")
    plans.set_capacity(app, None, "Sales", 1)
    exchange = Exchange(app)
    assert rang(exchange.call(internal("102", "0612345678", 1))[0])
    actions, trace = exchange.call(external("0101234567", "0201234568", 2))  # to Bob
    assert busy(actions)
    assert "department Sales has 1 of 1 calls" in " | ".join(s.detail for s in trace.steps)
    assert busy(exchange.call(internal("103", "0612345678", 3))[0])  # from Carol
    assert rang(exchange.call(internal("101", "0612345678", 4))[0])  # Alice: not in Sales


def test_refusals_are_counted_per_pool(app: Pbx) -> None:
    plans.set_capacity(app, None, None, 0)
    exchange = Exchange(app)
    for n in range(3):
        assert busy(exchange.call(internal("101", "102", n))[0])
    rows = plans.capacity_rows(app, None)
    assert rows == [{"pool": "enterprise", "name": "Acme", "limit": 0, "calls": 0,
                     "refused": 3}]


def test_an_emergency_call_is_never_refused_for_capacity(app: Pbx) -> None:
    plans.set_capacity(app, None, None, 0)
    actions, _ = Exchange(app).call(internal("101", "112", 1))
    assert rang(actions)


def test_without_limits_calls_ask_nothing_of_the_capacity_service(app: Pbx) -> None:
    actions, _ = Exchange(app).call(internal("101", "102", 1))
    assert not [a for a in actions if isinstance(a, Command)]
    assert rang(actions)


def test_removing_the_limit_lets_calls_through_again(app: Pbx) -> None:
    plans.set_capacity(app, None, None, 0)
    exchange = Exchange(app)
    assert busy(exchange.call(internal("101", "102", 1))[0])
    plans.set_capacity(app, None, None, None)
    assert rang(exchange.call(internal("101", "102", 2))[0])


def test_bad_capacity_is_refused_and_writes_nothing(app: Pbx) -> None:
    before = app.last_position()
    with pytest.raises(ValidationError):
        plans.set_capacity(app, None, None, -1)
    with pytest.raises(ValidationError, match="no department"):
        plans.set_capacity(app, None, "Nope", 3)
    assert app.last_position() == before


# -- package limits (OPT-6) ------------------------------------------------------------------
def test_an_ivr_package_brings_one_menu_five_hunt_groups_and_five_toolboxes(app: Pbx) -> None:
    from esl_controller import licences, menus, night_service
    from esl_controller.hunt_service import HuntGroups

    hunt = HuntGroups(app)
    hunt.add(None, "Before", "600", "regular", ["101"])  # not metered yet: anything goes
    with pytest.raises(ValidationError, match="already has 1 hunt groups"):
        licences.set_licence(app, None, 0, {})
    licences.set_licence(app, None, 1, {})
    for n in range(4):
        hunt.add(None, f"Team{n}", f"61{n}", "regular", ["102"])
    before = app.last_position()
    with pytest.raises(ValidationError, match="licence exceeded: Acme has 5 of 5 licensed "
                                              "hunt groups; each IVR package brings 5 more"):
        hunt.add(None, "Team9", "619", "regular", ["102"])
    menus.add_menu(app, None, "Main", extension="700")
    menus.add_menu(app, None, "Sub")  # a sub-menu comes with its multi-level menu
    with pytest.raises(ValidationError, match="licence exceeded: Acme has 1 of 1 licensed "
                                              "multi-level IVR menus"):
        menus.add_menu(app, None, "Second", extension="701")
    for n in range(5):
        night_service.add_toolbox(app, None, f"box{n}")
    with pytest.raises(ValidationError, match="5 of 5 licensed forwarding toolboxes"):
        night_service.add_toolbox(app, None, "box9")
    assert app.last_position() == before + 1 + 1 + 5  # the two menus and five toolboxes
    licences.set_licence(app, None, 2, {})
    hunt.add(None, "Team9", "619", "regular", ["102"])
    assert {r["kind"]: (r["licensed"], r["used"]) for r in licences.licence_rows(app, None)[1]
            }["hunt-group"] == (10, 6)


def test_the_directory_rebuilt_from_the_log_equals_the_live_one(app: Pbx) -> None:
    from esl_controller import click_to_call, licences

    live = app.directory()
    plans.add_department(app, None, "Sales", "102,103")
    plans.set_outgoing(app, plans.scope(app, None, "101"), with_pin="international")
    plans.set_incoming(app, plans.scope(app, None), "no-anonymous")
    plans.set_capacity(app, None, "Sales", 0)
    assert busy(Exchange(app).call(internal("102", "0612345678", 1))[0])
    plans.set_department_members(app, None, "Sales", "103")
    _, link = click_to_call.add_link(app, None, "101")
    click_to_call.revoke_link(app, None, str(link.id)[:8])
    licences.set_licence(app, None, 1, {"fax": 2})
    plans.remove_department(app, None, "Sales")
    app.directory()
    rebuilt = Directory()
    app.catch_up(rebuilt)
    assert rebuilt.state() == live.state()
    assert [v.refused for v in live.capacity.values()] == [1]
    assert live.department_named(link.enterprise_id, "Sales") is None
