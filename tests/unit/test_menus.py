"""IVR menus (OPT-1): configuration rules and the menu script, driven with Digits outcomes.

A real Pbx on a temp SQLite file, the use cases of esl_controller/menus.py, a Directory
folded from the log, and the routing script run as a plain generator.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_controller import menus, user_services
from esl_controller.application import Pbx
from esl_controller.domain.menus import MAX_MENUS, loop_path
from esl_controller.errors import ValidationError
from esl_controller.routing import menu as menu_script
from esl_controller.routing import targets
from esl_controller.routing.actions import (
    Action,
    Answer,
    CollectDigits,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    Ring,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Digits, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings, Script
from esl_controller.routing.trace import Trace
from projections.directory import Directory
from projections.targets import TargetView

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam, open
MONDAY_20 = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 20:00, closed
CHRISTMAS_10 = datetime(2026, 12, 25, 9, 0, tzinfo=UTC)  # a Friday, a holiday in NL


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    return pbx


@pytest.fixture
def group(app: Pbx) -> Iterator[str]:
    """A group target at extension 600 whose script rings 103 (stands in for a hunt group)."""
    kind = "test-group"

    @targets.register(kind)
    def ring_carol(call: targets.TargetCall) -> Script:
        call.trace.add(kind, "ringing", f"{call.target.label()} rings 103")
        yield Ring((UserDevices("103", "acme.example"),), 20, call.presented_number,
                   call.presented_name)

    ent = app.enterprise(None)
    app.directory()._put_target(TargetView(kind, uuid4(), ent.id, "Sales", "600"))
    yield "600"
    targets.SCRIPTS.pop(kind)


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext(str(uuid4()), f"sofia/internal/{caller}", caller, caller, dialled,
                       Origin.INTERNAL, "acme.example", caller)


class Caller:
    """Presses ``keys`` one per CollectDigits ("" = no key before the timeout); phones
    answer; services say no. Records every action and the trace."""

    def __init__(self, *keys: str) -> None:
        self.keys = list(keys)
        self.actions: list[Action] = []
        self.trace = Trace()

    def respond(self, action: Action) -> Outcome:
        if isinstance(action, CollectDigits):
            return Digits(self.keys.pop(0) if self.keys else "")
        if isinstance(action, Ring):
            return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "x")
        if isinstance(action, Command):
            return CommandResult(False, "")
        return Done()

    def run(self, script: Script) -> Caller:
        try:
            action = next(script)
            while True:
                assert len(self.actions) < 80, "the script never ends"
                self.actions.append(action)
                action = script.send(self.respond(action))
        except StopIteration:
            pass
        return self

    @property
    def story(self) -> str:
        return " | ".join(s.detail for s in self.trace.steps)

    def of(self, kind: type[Action]) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]


def call(app: Pbx, dialled: str, *keys: str, now: datetime = MONDAY_10,
         directory: Directory | None = None) -> Caller:
    caller = Caller(*keys)
    script = route_call(internal("101", dialled), directory or fresh(app),
                        RoutingSettings(gateway="trunk"), caller.trace, now)
    return caller.run(script)


def main_menu(app: Pbx, **settings: object) -> None:
    menus.add_menu(app, None, "Main", "700", settings=menus.Settings(**settings))  # type: ignore[arg-type]


# -- the script ---------------------------------------------------------------------------


def test_a_key_to_a_user_answers_plays_the_greeting_and_rings_the_user(app: Pbx) -> None:
    main_menu(app)
    menus.set_key(app, None, "Main", "1", "user", "102")
    heard = call(app, "700", "1")
    assert isinstance(heard.actions[0], Answer)
    prompt = heard.of(CollectDigits)[0]
    assert isinstance(prompt, CollectDigits)
    assert prompt.prompt == menu_script.DEFAULT_GREETING and prompt.max_digits == 1
    assert prompt.terminators == ""  # '#' is a key of the menu, not a terminator
    rings = heard.of(Ring)
    assert [r.targets for r in rings if isinstance(r, Ring)] == [
        (UserDevices("102", "acme.example"),)]
    assert "menu Main: caller pressed 1 -> user 102 (Bob)" in heard.story


def test_a_menu_transfer_is_no_diversion_the_users_own_forwarding_applies(app: Pbx) -> None:
    main_menu(app)
    menus.set_key(app, None, "Main", "2", "user", "102")
    user_services.forward(app, None, "102", "always", "103")
    heard = call(app, "700", "2")
    ring = heard.of(Ring)[0]
    assert isinstance(ring, Ring)
    assert ring.targets == (UserDevices("103", "acme.example"),)


def test_keys_reach_groups_voicemail_numbers_and_any_destination(
    app: Pbx, group: str
) -> None:
    main_menu(app)
    menus.set_key(app, None, "Main", "1", "group", group)
    menus.set_key(app, None, "Main", "2", "voicemail", "102")
    menus.set_key(app, None, "Main", "3", "number", "06 12345678")
    menus.set_key(app, None, "Main", "4", "destination", "103")
    directory = fresh(app)
    directory._put_target(app.directory().target(app.enterprise(None).id, group))  # type: ignore[arg-type]

    to_group = call(app, "700", "1", directory=directory)
    assert [r.targets for r in to_group.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("103", "acme.example"),)]
    assert "menu Main: caller pressed 1 -> test group Sales (ext. 600)" in to_group.story

    to_voicemail = call(app, "700", "2", directory=directory)
    assert any(isinstance(a, Command) and a.service == "voicemail" for a in to_voicemail.actions)
    assert "caller pressed 2 -> voicemail of 102 (Bob)" in to_voicemail.story
    assert "to the voicemail box of 102" in to_voicemail.story

    outside = call(app, "700", "3", directory=directory)
    assert [r.targets for r in outside.of(Ring) if isinstance(r, Ring)] == [
        (GatewayNumber("trunk", "+31612345678"),)]

    anywhere = call(app, "700", "4", directory=directory)
    assert [r.targets for r in anywhere.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("103", "acme.example"),)]


def test_a_sub_menu_plays_its_own_greeting_then_its_key_decides(app: Pbx) -> None:
    main_menu(app)
    menus.add_menu(app, None, "Sales")
    menus.set_greeting(app, None, "Sales", prompt="ivr/ivr-sales.wav")
    menus.set_key(app, None, "Main", "2", "menu", "sales")
    menus.set_key(app, None, "Sales", "1", "user", "103")
    heard = call(app, "700", "2", "1")
    prompts = [a.prompt for a in heard.of(CollectDigits) if isinstance(a, CollectDigits)]
    assert prompts == [menu_script.DEFAULT_GREETING, "ivr/ivr-sales.wav"]
    assert [r.targets for r in heard.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("103", "acme.example"),)]
    assert "menu Main: caller pressed 2 -> menu Sales" in heard.story
    assert "menu Sales: caller pressed 1 -> user 103 (Carol)" in heard.story


def test_repeat_replays_the_greeting_and_operator_goes_to_the_operator(app: Pbx) -> None:
    main_menu(app, operator="101")
    menus.set_key(app, None, "Main", "9", "repeat")
    menus.set_key(app, None, "Main", "0", "operator")
    heard = call(app, "700", "9", "9", "0")
    assert len(heard.of(CollectDigits)) == 3
    assert [r.targets for r in heard.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("101", "acme.example"),)]
    assert heard.story.count("caller pressed 9 -> repeat the menu") == 2
    assert "caller pressed 0 -> operator 101" in heard.story


def test_repeat_is_bounded_so_no_call_circles_forever(app: Pbx) -> None:
    main_menu(app, retries=2)
    menus.set_key(app, None, "Main", "9", "repeat")
    heard = call(app, "700", *["9"] * 20)
    plays = len(heard.of(CollectDigits))
    assert plays == menu_script.MAX_REPEATS + 2
    assert heard.actions[-1] == Hangup(HangupCause.NORMAL_CLEARING)


def test_no_key_three_times_then_goodbye_without_an_operator(app: Pbx) -> None:
    main_menu(app, timeout=7)
    menus.set_key(app, None, "Main", "1", "user", "102")
    heard = call(app, "700")
    prompts = heard.of(CollectDigits)
    assert len(prompts) == 3
    assert all(isinstance(p, CollectDigits) and p.timeout_seconds == 7 for p in prompts)
    assert heard.actions[-2:] == [Playback(menu_script.GOODBYE),
                                  Hangup(HangupCause.NORMAL_CLEARING)]
    assert "no key pressed within 7 s (try 3 of 3)" in heard.story
    assert not heard.of(Ring)


def test_invalid_keys_are_announced_then_the_last_try_goes_to_the_operator(app: Pbx) -> None:
    main_menu(app, retries=2, operator="103")
    menus.set_key(app, None, "Main", "1", "user", "102")
    heard = call(app, "700", "5", "#")
    assert heard.of(Playback) == [Playback(menu_script.INVALID)]  # once, between the tries
    assert [r.targets for r in heard.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("103", "acme.example"),)]
    assert "caller pressed 5, which does nothing here (try 1 of 2)" in heard.story
    assert "no choice after 2 tries -> operator 103" in heard.story


def test_an_invalid_key_then_a_valid_one_connects(app: Pbx) -> None:
    main_menu(app)
    menus.set_key(app, None, "Main", "*", "user", "102")
    heard = call(app, "700", "7", "*")
    assert heard.of(Playback) == [Playback(menu_script.INVALID)]
    assert [r.targets for r in heard.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("102", "acme.example"),)]


@pytest.mark.parametrize(("now", "expected", "why"), [
    (MONDAY_10, "102", "open: Monday 2026-11-23 10:00"),
    (MONDAY_20, "103", "closed: Monday 2026-11-23 20:00"),
    (CHRISTMAS_10, "103", "Christmas"),
])
def test_the_schedule_picks_the_after_hours_keys_and_greeting(
    app: Pbx, now: datetime, expected: str, why: str
) -> None:
    from esl_controller.schedules import add_schedule

    add_schedule(app, None, "Office", "mon-fri 08:30-17:30")
    main_menu(app, schedule="office")
    menus.set_key(app, None, "Main", "1", "user", "102")
    menus.set_key(app, None, "Main", "1", "user", "103", after_hours=True)
    menus.set_greeting(app, None, "Main", prompt="ivr/ivr-closed.wav", after_hours=True)
    heard = call(app, "700", "1", now=now)
    assert [r.targets for r in heard.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices(expected, "acme.example"),)]
    prompt = heard.of(CollectDigits)[0]
    assert isinstance(prompt, CollectDigits)
    closed = expected == "103"
    assert prompt.prompt == ("ivr/ivr-closed.wav" if closed else menu_script.DEFAULT_GREETING)
    assert why in heard.story


def test_without_an_after_hours_variant_the_business_keys_apply_at_night(app: Pbx) -> None:
    from esl_controller.schedules import add_schedule

    add_schedule(app, None, "Office", "mon-fri 08:30-17:30")
    main_menu(app, schedule="Office")
    menus.set_key(app, None, "Main", "1", "user", "102")
    heard = call(app, "700", "1", now=MONDAY_20)
    assert [r.targets for r in heard.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("102", "acme.example"),)]


def test_a_menu_number_from_outside_reaches_the_menu(app: Pbx) -> None:
    menus.add_menu(app, None, "Reception", number="020 7654321")
    menus.set_key(app, None, "Reception", "1", "user", "102")
    caller = Caller("1")
    outside = CallContext(str(uuid4()), "sofia/external/x", "+31301234567", "",
                          "+31207654321", Origin.EXTERNAL)
    caller.run(route_call(outside, fresh(app), RoutingSettings(gateway="trunk"),
                          caller.trace, MONDAY_10))
    assert [r.targets for r in caller.of(Ring) if isinstance(r, Ring)] == [
        (UserDevices("102", "acme.example"),)]
    assert "is the number of menu Reception of Acme" in caller.story


def test_a_key_to_a_user_removed_later_ends_with_the_sit_tone(app: Pbx) -> None:
    main_menu(app)
    menus.set_key(app, None, "Main", "2", "user", "102")
    app.remove_user(None, "102")
    heard = call(app, "700", "2")
    assert heard.actions[-1] == Hangup(HangupCause.UNALLOCATED_NUMBER)
    assert not heard.of(Ring)
    keys = menus.tree(app, None, "Main")["business"]["keys"]
    assert [k["label"] for k in keys] == ["102 (no longer exists)"]


# -- configuration rules ------------------------------------------------------------------


def unchanged(app: Pbx) -> Callable[[], None]:
    before = app.last_position()
    return lambda: None if app.last_position() == before else pytest.fail("something written")


def test_a_key_leading_back_to_its_menu_is_refused(app: Pbx) -> None:
    main_menu(app)
    menus.add_menu(app, None, "Sales")
    menus.add_menu(app, None, "Support")
    menus.set_key(app, None, "Main", "1", "menu", "Sales")
    menus.set_key(app, None, "Sales", "1", "menu", "Support", after_hours=True)
    menus.add_menu(app, None, "Reception", number="020 7654321")
    check = unchanged(app)
    with pytest.raises(ValidationError, match=r"menu Main -> Main would loop \(use the "
                                              r"'repeat' action"):
        menus.set_key(app, None, "Main", "2", "menu", "main")
    with pytest.raises(ValidationError, match="menu Sales -> Main -> Sales would loop"):
        menus.set_key(app, None, "Sales", "9", "menu", "Main")
    with pytest.raises(ValidationError,
                       match="menu Support -> Main -> Sales -> Support would loop"):
        menus.set_key(app, None, "Support", "0", "menu", "Main")
    with pytest.raises(ValidationError, match="use the 'menu' action"):
        menus.set_key(app, None, "Sales", "0", "destination", "700")
    with pytest.raises(ValidationError, match="020 765 4321 is menu Reception: use the 'menu'"):
        menus.set_key(app, None, "Sales", "0", "number", "+31207654321")
    check()
    menus.set_key(app, None, "Main", "2", "menu", "Support")  # a diamond is no loop


def test_keys_to_destinations_that_do_not_exist_are_refused(app: Pbx) -> None:
    main_menu(app)
    check = unchanged(app)
    cases = [
        (("1", "user", "555"), "no user with extension '555'"),
        (("1", "menu", "Nowhere"), "no menu named 'Nowhere'"),
        (("1", "group", "102"), "no hunt group, call center or other target"),
        (("1", "voicemail", "555"), "no user or group voicemail box has extension '555'"),
        (("1", "number", "12ab"), "not a telephone number"),
        (("1", "destination", "555"), "no user or target has extension '555'"),
        (("1", "operator", None), "menu Main has no operator"),
        (("1", "dial", "102"), "unknown key action 'dial'"),
        (("1", "user", None), "needs a destination"),
        (("1", "repeat", "102"), "takes no destination"),
        (("11", "user", "102"), "invalid key '11'"),
        (("A", "user", "102"), "invalid key 'A'"),
    ]
    for (key, action, dest), message in cases:
        with pytest.raises(ValidationError, match=message):
            menus.set_key(app, None, "Main", key, action, dest)
    with pytest.raises(ValidationError, match="no schedule named 'Nope'"):
        menus.add_menu(app, None, "Other", settings=menus.Settings(schedule="Nope"))
    with pytest.raises(ValidationError, match="operator 555: no user or target"):
        menus.add_menu(app, None, "Other", settings=menus.Settings(operator="555"))
    with pytest.raises(ValidationError, match="extension 101 already exists"):
        menus.add_menu(app, None, "Other", "101")
    with pytest.raises(ValidationError, match="extension 700 is taken by menu Main"):
        menus.add_menu(app, None, "Other", "700")
    with pytest.raises(ValidationError, match="menu 'Main' already exists"):
        menus.add_menu(app, None, "main")
    with pytest.raises(ValidationError, match="timeout must be 1 to 60"):
        menus.add_menu(app, None, "Other", settings=menus.Settings(timeout=0))
    check()


def test_at_most_150_menus_per_enterprise(app: Pbx) -> None:
    for i in range(MAX_MENUS):
        menus.add_menu(app, None, f"M{i}")
    check = unchanged(app)
    with pytest.raises(ValidationError, match="'Acme' already has 150 menus, the most"):
        menus.add_menu(app, None, "One too many")
    check()
    menus.remove_menu(app, None, "M0")
    menus.add_menu(app, None, "One too many")
    assert len(menus.list_menus(app, None)) == MAX_MENUS


def test_a_menu_in_use_cannot_be_removed_and_a_removed_name_starts_empty(app: Pbx) -> None:
    main_menu(app)
    menus.add_menu(app, None, "Sales")
    menus.set_key(app, None, "Sales", "1", "user", "102")
    menus.set_key(app, None, "Main", "3", "menu", "Sales", after_hours=True)
    with pytest.raises(ValidationError,
                       match=r"menu Sales is still used by key 3 of menu Main \(after hours\)"):
        menus.remove_menu(app, None, "Sales")
    menus.remove_key(app, None, "Main", "3", after_hours=True)
    menus.remove_menu(app, None, "Sales")
    assert [m.name for m in menus.list_menus(app, None)] == ["Main"]
    again = menus.add_menu(app, None, "Sales")
    assert again.business.keys == ()


def test_an_operator_still_used_by_a_key_cannot_be_cleared(app: Pbx) -> None:
    main_menu(app, operator="101")
    menus.set_key(app, None, "Main", "0", "operator")
    with pytest.raises(ValidationError, match="key 0 of menu Main goes to the operator"):
        menus.change_menu(app, None, "Main", operator="none")
    changed = menus.change_menu(app, None, "Main", operator="vm:101", timeout=9)
    assert (changed.operator, changed.timeout) == ("vm:101", 9)


def test_a_wav_greeting_is_copied_and_played(app: Pbx, tmp_path: Path) -> None:
    main_menu(app)
    menus.set_key(app, None, "Main", "1", "user", "102")
    source = tmp_path / "welcome.wav"
    with wave.open(str(source), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x10" * 8000)
    played = menus.set_greeting(app, None, "Main", source, audio_dir=tmp_path / "audio")
    copied = Path(played)
    assert copied.is_absolute() and copied.parent.parent.name == "menus"
    assert copied.read_bytes() == source.read_bytes()
    heard = call(app, "700", "1")
    prompt = heard.of(CollectDigits)[0]
    assert isinstance(prompt, CollectDigits) and prompt.prompt == played

    text = tmp_path / "notes.wav"
    text.write_text("hello")
    check = unchanged(app)
    with pytest.raises(ValidationError, match="notes.wav is not a WAV file"):
        menus.set_greeting(app, None, "Main", text, audio_dir=tmp_path / "audio")
    with pytest.raises(ValidationError, match="invalid stock prompt"):
        menus.set_greeting(app, None, "Main", prompt="../../etc/passwd")
    with pytest.raises(ValidationError, match="cannot read"):
        menus.set_greeting(app, None, "Main", tmp_path / "missing.wav")
    check()


def test_rebuilding_the_directory_gives_the_live_menus(app: Pbx) -> None:
    live = app.directory()
    main_menu(app, operator="101")
    menus.add_menu(app, None, "Sales")
    menus.set_key(app, None, "Main", "1", "menu", "Sales")
    menus.set_key(app, None, "Main", "2", "user", "102", after_hours=True)
    menus.set_greeting(app, None, "Main", prompt="ivr/ivr-welcome.wav")
    menus.remove_key(app, None, "Main", "2", after_hours=True)
    menus.remove_key(app, None, "Main", "1")
    menus.remove_menu(app, None, "Sales")
    app.catch_up(live)
    assert fresh(app).state() == live.state()
    assert [t.name for t in live.targets_of(app.enterprise(None).id, "menu")] == ["Main"]


# -- property: accepted keys never form a loop ---------------------------------------------


def _acyclic(graph: dict[str, set[str]]) -> bool:
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        if state.get(node) == 1:
            return False
        if state.get(node) == 2:
            return True
        state[node] = 1
        ok = all(visit(n) for n in graph.get(node, ()))
        state[node] = 2
        return ok

    return all(visit(n) for n in list(graph))


@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=60))
def test_edges_accepted_by_the_loop_check_never_make_a_cycle(
    edges: list[tuple[int, int]]
) -> None:
    graph: dict[str, set[str]] = {f"M{i}": set() for i in range(8)}
    for a, b in edges:
        parent, child = f"M{a}", f"M{b}"
        path = loop_path(child, parent, lambda m: sorted(graph[m]))
        if path is None:
            graph[parent].add(child)
        else:
            assert path[0] == child and path[-1] == parent
            assert all(nxt in graph[cur] for cur, nxt in zip(path, path[1:], strict=False))
    assert _acyclic(graph)
