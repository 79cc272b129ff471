"""Hunt groups (CORE-2), driven by feeding outcomes: a real Pbx on a temp SQLite file, the
directory folded from its events, the real ``hunt`` service recording the rotation.

Each test asserts what callers and members would notice: who rings, in which order, for how
long, and where the call goes when nobody answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.hunt_service import HuntGroups, HuntService
from esl_controller.routing.actions import (
    Action,
    Answer,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    Record,
    Ring,
    SharedDevice,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.hunt_group import weighted_order
from esl_controller.routing.outcomes import (
    CommandResult,
    Done,
    Outcome,
    Rang,
    Recorded,
    RingResult,
)
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.voicemail import VoicemailService
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DOMAIN = "acme.example"
Answers = Callable[[tuple[str, ...]], "RingResult | str"]  # str: who answered


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=30)
        return self.now


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", DOMAIN)
    for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol"), ("104", "Dave")):
        pbx.add_user(None, ext, name)
    return pbx


class Exchange:
    """The directory a controller reads plus its hunt service, and a way to place calls."""

    def __init__(self, app: Pbx, seed: int = 7) -> None:
        self.app = app
        self.directory = Directory()
        app.catch_up(self.directory)
        self.service = HuntService(app, lambda: self.directory, clock=Clock(),
                                   seeds=random.Random(seed))
        self.busy: set[str] = set()

    def call(self, dialled: str, answers: Answers, caller: str = "104",
             external: bool = False) -> tuple[list[Action], str]:
        """Place a call; ``answers(labels)`` decides each Ring's result."""
        self.app.catch_up(self.directory)
        if external:
            ctx = CallContext(str(uuid4()), "sofia/external/x", "+31301234567", "",
                              dialled, Origin.EXTERNAL)
        else:
            ctx = CallContext(str(uuid4()), f"sofia/internal/{caller}", caller, caller,
                              dialled, Origin.INTERNAL, DOMAIN, caller)
        trace = Trace()
        script = route_call(ctx, self.directory, RoutingSettings(gateway="trunk"), trace, NOW,
                            lambda _ent, ext: ext in self.busy)
        actions: list[Action] = []
        try:
            action = next(script)
            while True:
                assert len(actions) < 40
                actions.append(action)
                outcome: Outcome = Done()
                if isinstance(action, Ring):
                    labels = tuple(t.label() for t in action.targets)
                    answer = answers(labels)
                    result = RingResult.ANSWERED if isinstance(answer, str) else answer
                    who = answer if isinstance(answer, str) else labels[0]
                    outcome = (Rang(result, HangupCause.NORMAL_CLEARING, who)
                               if result is RingResult.ANSWERED
                               else Rang(result, {RingResult.BUSY: HangupCause.USER_BUSY,
                                                  RingResult.NOT_REACHABLE:
                                                  HangupCause.USER_NOT_REGISTERED}.get(
                                                      result, HangupCause.NO_ANSWER)))
                elif isinstance(action, Command) and action.service == "hunt":
                    outcome = self.service.handle(action, ctx)
                elif isinstance(action, Command):
                    outcome = CommandResult(True, "")
                elif isinstance(action, Record):
                    outcome = Recorded(action.path, 0.0)
                action = script.send(outcome)
        except StopIteration:
            pass
        return actions, " | ".join(s.detail for s in trace.steps)


def rung(actions: list[Action]) -> list[tuple[tuple[str, ...], int]]:
    return [(tuple(t.label() for t in a.targets), a.timeout)
            for a in actions if isinstance(a, Ring)]


def nobody(_labels: tuple[str, ...]) -> RingResult:
    return RingResult.NO_ANSWER


def answered_by(ext: str) -> Answers:
    return lambda labels: ext if ext in labels else RingResult.NO_ANSWER


def add(app: Pbx, policy: str, members: str = "101,102,103", **kw: object) -> None:
    HuntGroups(app).add(None, "Sales", "600", policy, members.split(","), **kw)  # type: ignore[arg-type]


def test_regular_rings_from_the_top_every_time_and_advances_on_no_answer(app: Pbx) -> None:
    add(app, "regular", member_timeout=10)
    ex = Exchange(app)
    actions, story = ex.call("600", answered_by("102"))
    assert rung(actions) == [(("101",), 10), (("102",), 10)]
    assert "101 did not answer within 10 s: next member" in story
    assert "102 (Bob) answered" in story
    again, _ = ex.call("600", answered_by("101"))
    assert rung(again) == [(("101",), 10)]


def test_circular_starts_after_the_member_offered_the_previous_call(app: Pbx) -> None:
    add(app, "circular")
    ex = Exchange(app)
    first, _ = ex.call("600", answered_by("101"))
    second, story = ex.call("600", answered_by("103"))
    third, _ = ex.call("600", nobody)
    assert [r[0] for r in rung(first)] == [("101",)]
    assert [r[0] for r in rung(second)] == [("102",), ("103",)]
    assert "after 101, who was offered the previous call" in story
    assert [r[0] for r in rung(third)] == [("101",), ("102",), ("103",)]  # after 103: wraps


def test_uniform_offers_the_member_idle_longest_in_this_group_first(app: Pbx) -> None:
    add(app, "uniform")
    ex = Exchange(app)
    first, _ = ex.call("600", answered_by("101"))  # 101 answered: now idle the shortest
    second, _ = ex.call("600", answered_by("102"))
    third, story = ex.call("600", answered_by("103"))
    fourth, _ = ex.call("600", nobody)
    assert [r[0] for r in rung(first)] == [("101",)]
    assert [r[0] for r in rung(second)] == [("102",)]
    assert [r[0] for r in rung(third)] == [("103",)]
    assert "longest idle first: 103, 101, 102" in story
    # 101's group call ended longest ago of all three.
    assert [r[0] for r in rung(fourth)] == [("101",), ("102",), ("103",)]


def test_simultaneous_rings_every_available_member_at_once(app: Pbx) -> None:
    add(app, "simultaneous", member_timeout=20)
    user_services.set_dnd(app, None, "102", True)
    ex = Exchange(app)
    actions, story = ex.call("600", answered_by("103"))
    assert rung(actions) == [(("101", "103"), 20)]
    assert "102 (Bob) is do not disturb: not offered" in story
    assert "103 answered first" in story


def test_weighted_order_follows_the_seed_the_service_supplies(app: Pbx) -> None:
    add(app, "weighted", "101:1,102:1,103:98")
    ex = Exchange(app, seed=11)
    seed = random.Random(11).getrandbits(32)
    expected = weighted_order([("101", 1), ("102", 1), ("103", 98)], seed)
    actions, story = ex.call("600", nobody)
    assert [r[0][0] for r in rung(actions)] == expected
    assert f"(seed {seed})" in story
    firsts = [weighted_order([("101", 1), ("102", 1), ("103", 98)], s)[0] for s in range(400)]
    assert firsts.count("103") > 340  # 98 %: almost always first


def test_busy_dnd_signed_out_members_and_the_caller_are_never_rung(app: Pbx) -> None:
    HuntGroups(app).add(None, "Sales", "600", "regular", ["101", "102", "103", "104"])
    HuntGroups(app).sign(None, "Sales", "103", out=True)
    user_services.set_dnd(app, None, "102", True)
    ex = Exchange(app)
    ex.busy.add("101")
    actions, story = ex.call("600", nobody, caller="104")
    assert rung(actions) == []
    assert "101 (Alice) is busy: not offered" in story
    assert "103 (Carol) is signed out: not offered" in story
    assert "104 (Dave) is the caller: not offered" in story
    assert actions[-1] == Hangup(HangupCause.USER_BUSY)  # busy and DND members: busy


def test_a_member_who_is_busy_when_rung_is_passed_over(app: Pbx) -> None:
    add(app, "regular")
    ex = Exchange(app)

    def answers(labels: tuple[str, ...]) -> RingResult:
        return {"101": RingResult.BUSY, "102": RingResult.NO_ANSWER}.get(
            labels[0], RingResult.ANSWERED)

    actions, story = ex.call("600", answers)
    assert [r[0] for r in rung(actions)] == [("101",), ("102",), ("103",)]
    assert "101: busy (USER_BUSY): next member" in story


def test_the_groups_no_answer_time_bounds_the_whole_hunt(app: Pbx) -> None:
    VoicemailService(app, Path("unused")).enable(None, "104", email_audio=False)
    add(app, "regular", "101,102,103,104", member_timeout=10, after=25, no_answer="vm:104")
    ex = Exchange(app)
    actions, story = ex.call("600", nobody, caller="101")
    assert rung(actions)[:2] == [(("102",), 10), (("103",), 10)]
    assert rung(actions)[2] == (("104",), 5)  # what is left of the 25 s
    assert "forwards to vm:104" in story
    assert "to the voicemail box of 104" in story
    assert rung(actions)[3:] == []  # voicemail: the box, not 104's phone again


def test_group_calls_ring_the_desk_only_and_skip_personal_forwarding(app: Pbx) -> None:
    user_services.forward(app, None, "101", "always", "06 12345678")
    user_services.add_device(app, None, "101", "desk", "s3cret-pass")
    add(app, "regular")
    ex = Exchange(app)
    actions, _ = ex.call("600", answered_by("101"), caller="104")
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (UserDevices("101", DOMAIN), SharedDevice("101", "desk", DOMAIN))
    assert not any(isinstance(t, GatewayNumber) for a in actions if isinstance(a, Ring)
                   for t in a.targets)
    assert ring.answered_as == "101"


def test_a_mobility_members_mobile_rings_with_the_group_call(app: Pbx) -> None:
    # USR-9: a mobile user can be a member; their own ring mode (desk only here) is theirs.
    user_services.update(app, None, "102", mobile="06 12345678", mobility=True, ring="desk")
    add(app, "simultaneous", "101,102")
    ex = Exchange(app)
    actions, story = ex.call("600", lambda _labels: "+31612345678", caller="104")
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.targets == (UserDevices("101", DOMAIN), UserDevices("102", DOMAIN),
                            GatewayNumber("trunk", "+31612345678"))
    assert "102 answered first" in story  # the mobile's answer is the member's


def test_busy_forwarding_and_not_reachable_forwarding(app: Pbx) -> None:
    add(app, "regular", "101,102", busy="103", not_reachable="020 7777777")
    ex = Exchange(app)
    actions, story = ex.call("600", lambda _l: RingResult.BUSY, caller="104")
    assert rung(actions)[-1][0] == ("103",)
    assert "every member is busy: hunt group Sales (ext. 600) forwards to 103" in story
    ring = [a for a in actions if isinstance(a, Ring)][-1]
    assert ring.diversion == "<sip:600@acme.example>;reason=user-busy"
    unreachable, story = ex.call("600", lambda labels: RingResult.NOT_REACHABLE
                                 if labels[0] in ("101", "102") else RingResult.ANSWERED)
    assert rung(unreachable)[-1][0] == ("+31207777777",)
    assert "no member could be reached" in story


def test_without_forwarding_an_unanswered_group_call_ends_no_answer(app: Pbx) -> None:
    add(app, "circular", "101,102")
    ex = Exchange(app)
    actions, story = ex.call("+31201110000", nobody, external=True)  # no number: unallocated
    assert actions[-1] == Hangup(HangupCause.UNALLOCATED_NUMBER)
    actions, story = ex.call("600", nobody)
    assert actions[-1] == Hangup(HangupCause.NO_ANSWER)
    assert "no member answered" in story


def test_the_groups_public_number_reaches_it_from_outside(app: Pbx) -> None:
    HuntGroups(app).add(None, "Sales", "600", "regular", ["101"], ["020 7654321"])
    ex = Exchange(app)
    actions, story = ex.call("+31207654321", answered_by("101"), external=True)
    ring = next(a for a in actions if isinstance(a, Ring))
    assert ring.caller_id_number == "+31301234567"
    assert "is the number of hunt group Sales (ext. 600)" in story


def test_sign_out_and_in_by_feature_code(app: Pbx) -> None:
    add(app, "regular")
    ex = Exchange(app)
    actions, story = ex.call("*35600", nobody, caller="101")
    assert Playback in [type(a) for a in actions] and Answer() in actions
    assert "101: sign out of hunt group 600 (Sales)" in story
    actions, story = ex.call("600", answered_by("102"), caller="104")
    assert [r[0] for r in rung(actions)] == [("102",)]
    assert "101 (Alice) is signed out: not offered" in story
    _, story = ex.call("*35600", nobody, caller="101")
    assert "refused: 101 is already signed out of Sales" in story
    _, story = ex.call("*35600", nobody, caller="104")
    assert "refused: 104 is no member of hunt group Sales" in story
    ex.call("*36600", nobody, caller="101")
    actions, _ = ex.call("600", answered_by("101"), caller="104")
    assert [r[0] for r in rung(actions)] == [("101",)]


def test_the_rotation_survives_a_fresh_fold_which_equals_the_live_one(app: Pbx) -> None:
    add(app, "circular")
    ex = Exchange(app)
    ex.call("600", answered_by("101"))
    ex.call("600", answered_by("102"))
    rebuilt = Directory()
    app.catch_up(rebuilt)
    ex.app.catch_up(ex.directory)
    assert rebuilt.state() == ex.directory.state()
    later = Exchange(app)  # a restarted controller: a new fold, a new service
    actions, _ = later.call("600", nobody)
    assert [r[0] for r in rung(actions)] == [("103",), ("101",), ("102",)]


def test_removing_and_re_adding_a_group_starts_a_fresh_rotation(app: Pbx) -> None:
    add(app, "circular")
    ex = Exchange(app)
    ex.call("600", answered_by("101"))
    HuntGroups(app).remove(None, "Sales")
    actions, _ = ex.call("600", nobody)
    assert actions[-1] == Hangup(HangupCause.UNALLOCATED_NUMBER)
    add(app, "circular")
    actions, _ = ex.call("600", nobody)
    assert [r[0] for r in rung(actions)] == [("101",), ("102",), ("103",)]


# -- administration: bad input writes nothing -------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"members": ["101", "199"]}, "unknown member: no user with extension '199'"),
        ({"extension": "101"}, "extension 101 already exists"),
        ({"policy": "random"}, "unknown policy 'random'"),
        ({"members": ["101:5", "102"]}, "weights apply to weighted groups only"),
        ({"no_answer": "555"}, "forwarding destination 555 is no user or group"),
        ({"busy": "0900 1234567"}, "premium number, which the outgoing calling plan"),
        ({"no_answer": "vm:199"}, "no user '199' for the voicemail destination"),
        ({"no_answer": "vm:103"}, "103 has no voicemail box for 'vm:103'"),
        ({"members": ["101", "101"]}, "member 101 is listed twice"),
        ({"member_timeout": 2}, "the member timeout is 5 to 120, not 2"),
        ({"numbers_": ["12ab"]}, "not a"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    app: Pbx, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"enterprise": None, "name": "Sales", "extension": "600",
                               "policy": "regular", "members": ["101", "102"]}
    args.update(kwargs)
    before = app.last_position()
    with pytest.raises(ValidationError, match=message):
        HuntGroups(app).add(**args)  # type: ignore[arg-type]
    assert app.last_position() == before


def test_extensions_and_numbers_are_one_namespace_with_the_users(app: Pbx) -> None:
    HuntGroups(app).add(None, "Sales", "600", "regular", ["101"], ["020 7654321"])
    with pytest.raises(ValidationError, match="extension 600 is taken by hunt group Sales"):
        app.add_user(None, "600", "Someone")
    with pytest.raises(ValidationError, match="already belongs to hunt group Sales"):
        HuntGroups(app).add(None, "Support", "601", "regular", ["102"], ["020 7654321"])
    with pytest.raises(ValidationError, match="hunt group Sales already exists"):
        HuntGroups(app).add(None, "sales", "602", "regular", ["102"])


def test_members_are_added_removed_and_weighted_only_where_it_applies(app: Pbx) -> None:
    groups = HuntGroups(app)
    groups.add(None, "Sales", "600", "weighted", ["101:10", "102:30"])
    group = groups.add_member(None, "Sales", "103", 60)
    assert [(m.extension, m.weight) for m in group.members] == [
        ("101", 10), ("102", 30), ("103", 60)]
    group = groups.remove_member(None, "600", "102")  # by extension too
    assert group.member_extensions() == ("101", "103")
    groups.add(None, "Support", "601", "regular", ["101"])
    with pytest.raises(ValidationError, match="weights apply to weighted groups only"):
        groups.add_member(None, "Support", "102", 5)
    with pytest.raises(ValidationError, match="the weight is 1 to 100"):
        groups.add_member(None, "Sales", "104", 500)
    with pytest.raises(ValidationError, match="last member"):
        groups.remove_member(None, "Support", "101")
    with pytest.raises(ValidationError, match="no user with extension '199'"):
        groups.add_member(None, "Support", "199")


def test_a_group_is_changed_in_place_and_calls_follow_the_new_hunting(app: Pbx) -> None:
    add(app, "regular", "101,102")
    ex = Exchange(app)
    actions, _story = ex.call("600", lambda _l: RingResult.BUSY, caller="104")
    assert rung(actions)[-1][0] != ("103",)  # no busy forwarding yet
    groups = HuntGroups(app)
    view = groups.set(None, "Sales", {"policy": "simultaneous", "busy": "103", "after": 40})
    assert (view.policy, view.forward("busy"), view.total_timeout) == ("simultaneous", "103", 40)
    assert view.member_extensions() == ("101", "102") and view.extension == "600"
    ex = Exchange(app)
    actions, story = ex.call("600", lambda _l: RingResult.BUSY, caller="104")
    assert rung(actions)[0][0] == ("101", "102")  # simultaneous now
    assert rung(actions)[-1][0] == ("103",)
    cleared = groups.set(None, "Sales", {"busy": None, "after": None})
    assert (cleared.forward("busy"), cleared.total_timeout) == (None, None)
    fresh = Directory()
    app.catch_up(fresh)
    assert fresh.hunt_groups[view.id] == app.directory().hunt_groups[view.id]
    before = app.last_position()
    for bad in ({"policy": "random"}, {"member_timeout": 1}, {"busy": "600"}, {},
                {"busy": None}, {"colour": "red"}):
        with pytest.raises(ValidationError):
            groups.set(None, "Sales", bad)
    assert app.last_position() == before  # nothing written
