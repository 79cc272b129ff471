"""Hot desking (USR-8): the *31 / *32 scripts driven with the real hot-desk service on a temp
SQLite store, the automatic logout's date maths, and what a logged-in phone changes for calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gevent
import pytest
from lxml import etree

from esl_controller.application import Pbx
from esl_controller.domain.hotdesk import HotDesk, next_logout
from esl_controller.hotdesk import HotDeskService
from esl_controller.routing.actions import (
    Action,
    CollectDigits,
    Command,
    GatewayNumber,
    Hangup,
    Playback,
    Ring,
    UserDevices,
)
from esl_controller.routing.announcements import CONFIRM, SIT
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.hotdesk import ENTER_EXTENSION, ENTER_PIN, LOCKED, WRONG_PIN
from esl_controller.routing.outcomes import (
    CommandResult,
    Digits,
    Done,
    Outcome,
    Rang,
    RingResult,
)
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.settings_service import SettingsService
from projections.directory import Directory
from projections.directory_xml import render_directory
from tests.conftest import wait_until

GATEWAY = RoutingSettings(gateway="trunk")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Amsterdam


class Clock:
    """A settable clock; once ``run()`` it moves on with real time from where it was set."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at
        self.started: float | None = None

    def run(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> datetime:
        if self.started is None:
            return self.at
        return self.at + timedelta(seconds=time.monotonic() - self.started)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567", pin="2468")
    pbx.add_user(None, "102", "Bob", pin="1357")
    pbx.add_user(None, "103", "Carol")  # no PIN: cannot log in
    return pbx


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(app: Pbx, clock: Clock) -> HotDeskService:
    desks = HotDeskService(app, clock)
    desks.add(None, "flex1", "desk-pass-1")
    desks.add(None, "flex2", "desk-pass-2", auto_logout="18:30")
    return desks


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


def phone(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000031", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller)


def dial(app: Pbx, service: HotDeskService, caller: str, dialled: str, keys: list[str] = (),
         ring: Callable[[Ring], Outcome] | None = None) -> tuple[list[Action], Trace]:
    """Run the call; Commands go to the real services, digit prompts get ``keys`` in turn."""
    trace = Trace()
    ctx = phone(caller, dialled)
    handlers = {"hotdesk": service.handle,
                "settings": service.as_logged_in_user(SettingsService(app).handle)}
    pending = list(keys)
    script = route_call(ctx, fresh(app), GATEWAY, trace, T0)
    actions: list[Action] = []
    outcome: Outcome | None = None
    try:
        action = next(script)
        while True:
            assert len(actions) < 40, "the script never ends"
            if isinstance(action, Command):  # no other service (voicemail ...) here
                handler = handlers.get(action.service)
                outcome = handler(action, ctx) if handler else CommandResult(False, "none")
            else:
                actions.append(action)
                if isinstance(action, CollectDigits):
                    outcome = Digits(pending.pop(0) if pending else "")
                elif isinstance(action, Ring):
                    outcome = ring(action) if ring else Rang.failed_with(HangupCause.NO_ANSWER)
                else:
                    outcome = Done()
            action = script.send(outcome)
    except StopIteration:
        pass
    return actions, trace


def played(actions: list[Action]) -> list[str]:
    return [a.media for a in actions if isinstance(a, Playback)]


def prompts(actions: list[Action]) -> list[str]:
    return [a.prompt for a in actions if isinstance(a, CollectDigits)]


def story(trace: Trace) -> str:
    return " | ".join(step.detail for step in trace.steps)


def logged_in(app: Pbx) -> dict[str, str | None]:
    return {h.name: h.extension for h in fresh(app).hotdesks.values()}


def logouts(app: Pbx) -> list[tuple[str, str]]:
    return [(e.extension, e.reason) for _, e in app.events_after()
            if type(e).__name__ == "HotDeskLoggedOut"]


def login(app: Pbx, service: HotDeskService, desk: str, ext: str, pin: str
          ) -> tuple[list[Action], Trace]:
    return dial(app, service, desk, "*31", [ext, pin])


# -- logging in and out ------------------------------------------------------------------------
def test_star31_asks_extension_then_pin_and_logs_the_user_in(
    app: Pbx, service: HotDeskService
) -> None:
    actions, trace = login(app, service, "flex1", "101", "2468")
    assert prompts(actions) == [ENTER_EXTENSION, ENTER_PIN]
    assert played(actions) == [CONFIRM]
    assert logged_in(app) == {"flex1": "101", "flex2": None}
    assert "101 logged in on hot-desk phone flex1" in story(trace)
    assert trace.classification.outcome == "feature-code"


def test_the_extension_may_follow_the_code(app: Pbx, service: HotDeskService) -> None:
    actions, _ = dial(app, service, "flex2", "*31102#", ["1357"])
    assert prompts(actions) == [ENTER_PIN]
    assert logged_in(app)["flex2"] == "102"


def test_the_pin_never_reaches_the_trace_or_the_log(app: Pbx, service: HotDeskService) -> None:
    dial(app, service, "flex1", "*31", ["101", "9876", "2468"])
    _, trace = dial(app, service, "flex2", "*31", ["102", "5555", "1357"])
    stored = "".join(repr(e) for _, e in app.events_after())
    for pin in ("2468", "9876", "1357", "5555"):
        assert pin not in story(trace) and pin not in stored


def test_a_wrong_pin_may_be_retried_in_the_same_call(app: Pbx, service: HotDeskService) -> None:
    actions, trace = dial(app, service, "flex1", "*31", ["101", "1111", "2468"])
    assert played(actions) == [WRONG_PIN, CONFIRM]
    assert "wrong PIN or extension for 101 on flex1 (try 1)" in story(trace)
    assert logged_in(app)["flex1"] == "101"


def test_three_wrong_pins_in_a_row_lock_login_for_15_minutes(
    app: Pbx, service: HotDeskService, clock: Clock
) -> None:
    dial(app, service, "flex1", "*31", ["101", "0000"])  # one wrong, then no more digits
    actions, trace = dial(app, service, "flex2", "*31", ["101", "1111", "2222"])
    assert played(actions)[-1] == LOCKED
    assert "hot-desk login of 101 is locked after 3 wrong PINs in a row" in story(trace)
    clock.at += timedelta(minutes=14)
    actions, _ = login(app, service, "flex1", "101", "2468")  # the right PIN, still locked
    assert played(actions) == [LOCKED]
    assert logged_in(app)["flex1"] is None
    clock.at += timedelta(minutes=2)
    login(app, service, "flex1", "101", "2468")
    assert logged_in(app)["flex1"] == "101"
    names = [type(e).__name__ for _, e in app.events_after()]
    assert names.count("HotDeskPinFailed") == 3 and names.count("HotDeskLoginLocked") == 1


def test_a_right_pin_resets_the_count_of_wrong_ones(app: Pbx, service: HotDeskService) -> None:
    dial(app, service, "flex1", "*31", ["101", "1111", "2222", "2468"])
    dial(app, service, "flex1", "*32")
    actions, _ = dial(app, service, "flex1", "*31", ["101", "3333", "2468"])
    assert played(actions) == [WRONG_PIN, CONFIRM]  # not locked: the count started again


def test_user_without_pin_or_unknown_extension_cannot_log_in(
    app: Pbx, service: HotDeskService
) -> None:
    actions, trace = login(app, service, "flex1", "103", "2468")
    assert played(actions) == [SIT] and "103 has no PIN" in story(trace)
    actions, _ = dial(app, service, "flex1", "*31", ["555", "2468", "2468", "2468"])
    assert played(actions) == [WRONG_PIN, WRONG_PIN, WRONG_PIN]
    assert logged_in(app) == {"flex1": None, "flex2": None}


def test_logging_in_on_another_phone_logs_out_of_the_first(
    app: Pbx, service: HotDeskService
) -> None:
    login(app, service, "flex1", "101", "2468")
    _, trace = login(app, service, "flex2", "101", "2468")
    assert logged_in(app) == {"flex1": None, "flex2": "101"}
    assert "logged out of flex1" in story(trace)
    assert logouts(app) == [("101", "moved")]


def test_another_user_logging_in_replaces_the_first(app: Pbx, service: HotDeskService) -> None:
    login(app, service, "flex1", "101", "2468")
    login(app, service, "flex1", "102", "1357")
    assert logged_in(app)["flex1"] == "102"
    assert logouts(app) == [("101", "replaced")]


def test_star32_logs_out_and_again_is_refused(app: Pbx, service: HotDeskService) -> None:
    login(app, service, "flex1", "101", "2468")
    actions, trace = dial(app, service, "flex1", "*32")
    assert played(actions) == [CONFIRM] and "logged out: 101 from flex1" in story(trace)
    assert logouts(app) == [("101", "user")]
    actions, trace = dial(app, service, "flex1", "*32")
    assert played(actions) == [SIT] and "nobody to log out on hot-desk phone flex1" in story(trace)


def test_star32_on_the_users_own_phone_logs_them_out_of_the_hot_desk(
    app: Pbx, service: HotDeskService
) -> None:
    login(app, service, "flex2", "101", "2468")
    actions, _ = dial(app, service, "101", "*32")
    assert played(actions) == [CONFIRM]
    assert logged_in(app)["flex2"] is None


def test_star31_on_an_ordinary_phone_is_refused(app: Pbx, service: HotDeskService) -> None:
    actions, trace = dial(app, service, "102", "*31")
    assert played(actions) == [SIT]
    assert "*31 works on hot-desk phones only" in story(trace)


# -- the phone carries the user's number and settings -----------------------------------------
def test_calls_to_the_user_also_ring_the_hot_desk_phone(app: Pbx, service: HotDeskService
                                                        ) -> None:
    login(app, service, "flex1", "101", "2468")
    actions, trace = dial(app, service, "102", "101")
    [ring] = [a for a in actions if isinstance(a, Ring)]
    assert ring.targets[:1] == (UserDevices("101", "acme.example"),)
    assert UserDevices("flex1", "acme.example") in ring.targets
    assert ring.answered_as == "101"  # answered on flex1, the call log says 101 answered
    assert "and the hot-desk phone flex1" in story(trace)
    dial(app, service, "flex1", "*32")
    actions, _ = dial(app, service, "102", "101")
    [ring] = [a for a in actions if isinstance(a, Ring)]
    assert ring.targets == (UserDevices("101", "acme.example"),)


def test_calls_from_the_hot_desk_phone_are_the_users_calls(app: Pbx, service: HotDeskService
                                                           ) -> None:
    login(app, service, "flex1", "101", "2468")
    actions, trace = dial(app, service, "flex1", "0612345678")
    [ring] = [a for a in actions if isinstance(a, Ring)]
    assert ring.targets == (GatewayNumber("trunk", "+31612345678"),)
    assert (ring.caller_id_number, ring.caller_id_name) == ("+31201234567", "Alice")
    assert trace.classification.caller_user == "101"
    assert "flex1 is a hot-desk phone where 101 (Alice) is logged in" in story(trace)
    actions, trace = dial(app, service, "flex1", "09001234567")  # Alice's calling plan
    assert isinstance(actions[-1], Hangup)
    assert actions[-1].cause is HangupCause.OUTGOING_CALL_BARRED
    actions, _ = dial(app, service, "flex1", "102")
    [ring] = [a for a in actions if isinstance(a, Ring)]
    assert ring.caller_id_number == "101"


def test_feature_codes_on_the_hot_desk_phone_change_the_users_settings(
    app: Pbx, service: HotDeskService
) -> None:
    login(app, service, "flex1", "102", "1357")
    actions, _ = dial(app, service, "flex1", "*78")  # do not disturb on
    assert played(actions) == [CONFIRM]
    assert app.user(None, "102").dnd


def test_without_login_only_extensions_and_emergency_numbers(
    app: Pbx, service: HotDeskService
) -> None:
    actions, trace = dial(app, service, "flex1", "102")
    [ring] = [a for a in actions if isinstance(a, Ring)]
    assert ring.targets == (UserDevices("102", "acme.example"),)
    assert (ring.caller_id_number, ring.caller_id_name) == ("flex1", "Hot desk flex1")
    assert "with nobody logged in" in story(trace)
    actions, _ = dial(app, service, "flex1", "112")
    [ring] = [a for a in actions if isinstance(a, Ring)]
    assert ring.targets == (GatewayNumber("trunk", "112"),)
    actions, trace = dial(app, service, "flex1", "0612345678")
    assert not any(isinstance(a, Ring) for a in actions)
    assert isinstance(actions[-1], Hangup)
    assert actions[-1].cause is HangupCause.OUTGOING_CALL_BARRED
    assert "0612345678 cannot be called before a user logs in" in story(trace)
    actions, _ = dial(app, service, "flex1", "*78")
    assert actions[-1] == Hangup(HangupCause.OUTGOING_CALL_BARRED)


def test_directory_serves_the_phone_with_its_own_secret_and_the_users_name(
    app: Pbx, service: HotDeskService
) -> None:
    form = {"section": "directory", "domain": "acme.example", "user": "flex1",
            "action": "sip_auth"}
    doc = etree.fromstring(render_directory(fresh(app), form))
    [user] = doc.iter("user")
    assert user.get("id") == "flex1"
    [a1] = [p.get("value") for p in user.iter("param") if p.get("name") == "a1-hash"]
    import hashlib
    assert a1 == hashlib.md5(b"flex1:acme.example:desk-pass-1").hexdigest()  # noqa: S324
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert variables["effective_caller_id_name"] == "Hot desk flex1"
    login(app, service, "flex1", "101", "2468")
    doc = etree.fromstring(render_directory(fresh(app), form))
    variables = {v.get("name"): v.get("value") for v in doc.iter("variable")}
    assert variables["effective_caller_id_name"] == "Alice"
    assert variables["outbound_caller_id_number"] == "+31201234567"
    service.remove(None, "flex1")
    assert b"not found" in render_directory(fresh(app), form)


# -- automatic logout -------------------------------------------------------------------------
def test_next_logout_is_the_next_wall_clock_time_in_the_enterprise_zone() -> None:
    ams = "Europe/Amsterdam"
    assert next_logout(T0, "00:00", ams) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert next_logout(datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "00:00", ams) == (
        datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    assert next_logout(T0, "18:30", ams) == datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert next_logout(summer, "00:00", ams) == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    # The night the clocks go forward: 00:00 still exists, one hour earlier in UTC than after.
    spring = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_logout(spring, "00:00", ams) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert next_logout(spring + timedelta(days=1), "00:00", ams) == (
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC))


def test_logout_expired_ends_logins_at_each_phones_time_only(
    app: Pbx, service: HotDeskService
) -> None:
    login(app, service, "flex1", "101", "2468")  # logout at 00:00 = 23:00 UTC
    login(app, service, "flex2", "102", "1357")  # logout at 18:30 = 17:30 UTC
    assert service.next_due() == datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    assert service.logout_expired(datetime(2026, 11, 23, 17, 29, tzinfo=UTC)) == []
    [ended] = service.logout_expired(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))
    assert (ended.phone, ended.extension, ended.reason) == ("flex2", "102", "auto")
    assert logged_in(app) == {"flex1": "101", "flex2": None}
    service.logout_expired(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    assert logged_in(app) == {"flex1": None, "flex2": None}
    assert logouts(app) == [("102", "auto"), ("101", "auto")]


def test_a_removed_users_login_ends(app: Pbx, service: HotDeskService) -> None:
    login(app, service, "flex1", "101", "2468")
    app.remove_user(None, "101")
    [ended] = service.logout_expired(T0)
    assert ended.reason == "user-removed" and logged_in(app)["flex1"] is None


def test_the_auto_logout_greenlet_wakes_when_a_login_is_due(
    app: Pbx, service: HotDeskService, clock: Clock
) -> None:
    login(app, service, "flex2", "102", "1357")
    clock.at = datetime(2026, 11, 23, 17, 29, 59, 900000, tzinfo=UTC)  # 0.1 s before 18:30
    clock.run()
    worker = gevent.spawn(service.run_auto_logout, 5.0)
    try:
        wait_until(lambda: logged_in(app)["flex2"] is None, timeout=3, what="auto logout")
    finally:
        worker.kill()
    assert logouts(app) == [("102", "auto")]


def test_removing_a_phone_logs_its_user_out_and_the_name_can_be_reused(
    app: Pbx, service: HotDeskService
) -> None:
    login(app, service, "flex1", "101", "2468")
    service.remove(None, "flex1")
    assert logouts(app) == [("101", "removed")]
    assert "flex1" not in logged_in(app)
    service.add(None, "flex1", "new-desk-pass", auto_logout="07:00")
    view = fresh(app).hotdesk(app.enterprise(None).id, "flex1")
    assert view is not None and view.auto_logout == "07:00" and view.extension is None


def test_the_directory_rebuilt_from_zero_equals_the_live_one(
    app: Pbx, service: HotDeskService
) -> None:
    live = Directory()
    app.catch_up(live)
    login(app, service, "flex1", "101", "2468")
    app.catch_up(live)
    login(app, service, "flex2", "101", "2468")
    service.remove(None, "flex1")
    service.add(None, "flex1", "desk-pass-9")
    app.catch_up(live)
    assert live.state() == fresh(app).state()
    assert live.hotdesk_devices_of(app.user(None, "101").id) == ("flex2",)
    assert HotDesk.create_id(app.enterprise(None).id, "flex2") in live.hotdesks


def test_unknown_commands_are_refused(service: HotDeskService) -> None:
    result = service.handle(Command("hotdesk", "nonsense"), phone("flex1", "*31"))
    assert result == CommandResult(False, "unknown command 'nonsense'")


def test_ring_results_keep_their_meaning(app: Pbx, service: HotDeskService) -> None:
    login(app, service, "flex1", "101", "2468")

    def flex_answers(ring: Ring) -> Outcome:
        return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "101")

    actions, trace = dial(app, service, "102", "101", ring=flex_answers)
    assert "101 answered" in story(trace)
    assert not any(isinstance(a, Hangup) for a in actions)
