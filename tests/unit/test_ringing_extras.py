"""Ringing extras of a user's line: alternate numbers (USR-10), priority alert (USR-18),
shared call appearances (USR-21) and per-number schedules (USR-9).

Pure routing on a Directory folded from the events of a real Pbx on a temp SQLite file;
each test asserts what the caller, the callee's phones or FreeSWITCH would notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.secrets import sip_a1_hash, verify_secret
from esl_controller.domain.users import User
from esl_controller.errors import ValidationError
from esl_controller.esl.session import dial_string
from esl_controller.routing.actions import (
    Action,
    Command,
    GatewayNumber,
    Hangup,
    Ring,
    SharedDevice,
    UserDevices,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.schedules import add_schedule
from projections.directory import Directory
from projections.directory_xml import render_directory

GATEWAY = RoutingSettings(gateway="trunk")
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam: office open
MONDAY_22 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 22:00 in Amsterdam: office closed
DR = "<http://www.notused.com>;info=Bellcore-dr{}"


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example", extensions="100-199")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    return pbx


def fresh(app: Pbx) -> Directory:
    directory = Directory()
    app.catch_up(directory)
    return directory


def internal(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000001", f"sofia/internal/{caller}",
                       caller, caller, dialled, Origin.INTERNAL, "acme.example", caller)


def external(caller: str, dialled: str) -> CallContext:
    return CallContext("00000000-0000-4000-8000-000000000002", "sofia/external/x", caller, "",
                       dialled, Origin.EXTERNAL)


def run(
    app: Pbx, ctx: CallContext, result: RingResult = RingResult.ANSWERED,
    now: datetime = MONDAY_10,
) -> tuple[list[Action], str, list[Command]]:
    """Route one call; every Ring gets ``result``. Returns actions, the trace, commands."""
    trace = Trace()
    script = route_call(ctx, fresh(app), GATEWAY, trace, now)
    actions: list[Action] = []
    commands: list[Command] = []

    def respond(action: Action) -> Outcome:
        if isinstance(action, Ring):
            if result is RingResult.ANSWERED:
                return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, "x")
            cause = {RingResult.NO_ANSWER: HangupCause.NO_ANSWER,
                     RingResult.BUSY: HangupCause.USER_BUSY}.get(
                         result, HangupCause.USER_NOT_REGISTERED)
            return Rang.failed_with(cause)
        if isinstance(action, Command):
            commands.append(action)  # settings changes succeed; nobody has a mailbox
            return CommandResult(action.service == "settings", "")
        return Done()

    try:
        action = next(script)
        while True:
            assert len(actions) < 40, "the script never ends"
            if not isinstance(action, Command):
                actions.append(action)
            action = script.send(respond(action))
    except StopIteration:
        pass
    return actions, " | ".join(s.detail for s in trace.steps), commands


def ring_of(actions: list[Action]) -> Ring:
    ring = next(a for a in actions if isinstance(a, Ring))
    return ring


# -- alternate numbers (USR-10) --------------------------------------------------------------
def test_alternate_extensions_ring_the_user_with_the_ring_of_their_place(app: Pbx) -> None:
    user_services.add_alternate(app, None, "101", "150")
    user_services.add_alternate(app, None, "101", "151")
    user_services.add_alternate(app, None, "101", "152")
    for dialled, place, alert in (("150", 1, None), ("151", 2, DR.format(2)),
                                  ("152", 3, DR.format(3))):
        actions, story, _ = run(app, internal("102", dialled))
        ring = ring_of(actions)
        assert ring.targets == (UserDevices("101", "acme.example"),)
        assert ring.answered_as == "101"
        assert ring.alert_info == alert
        assert f"{dialled} is alternate number {place} of 101 (Alice)" in story
    actions, story, _ = run(app, internal("102", "101"))  # the own extension: normal ring
    assert ring_of(actions).alert_info is None


def test_a_public_alternate_number_reaches_the_user_from_outside_until_removed(
    app: Pbx,
) -> None:
    view, number = user_services.add_alternate(app, None, "101", "020 7654321", ring=2)
    assert number == "+31207654321"
    assert fresh(app).enterprise_with_number(number) is not None  # the exchange owns it
    actions, story, _ = run(app, external("0301234567", "+31207654321"))
    assert ring_of(actions).targets == (UserDevices("101", "acme.example"),)
    assert ring_of(actions).alert_info == DR.format(2)
    assert "020 765 4321 is alternate number 1 of 101 (Alice) of Acme" in story
    assert "Bellcore-dr2" in story
    user_services.remove_alternate(app, None, "101", "0207654321")
    actions, story, _ = run(app, external("0301234567", "+31207654321"))
    assert not any(isinstance(a, Ring) for a in actions)
    assert actions[-1] == Hangup(HangupCause.UNALLOCATED_NUMBER)


def test_a_forwarded_call_to_an_alternate_number_rings_normally(app: Pbx) -> None:
    user_services.add_alternate(app, None, "102", "160")
    user_services.add_alternate(app, None, "102", "161")
    user_services.forward(app, None, "102", "always", "103")
    actions, story, _ = run(app, internal("101", "161"))
    ring = ring_of(actions)
    assert ring.targets == (UserDevices("103", "acme.example"),)
    assert ring.alert_info is None  # Carol was not called on an alternate number of hers


@pytest.mark.parametrize(
    ("raw", "why"),
    [("102", "extension 102 is already taken by Bob"),
     ("101", "extension 101 is already taken by Alice"),
     ("250", "outside the plan"),
     ("112", "emergency number"),
     ("020 1234567", "already belongs to 101"),
     ("12ab", "not a telephone number")],
)
def test_taken_or_invalid_alternate_numbers_are_refused_and_nothing_changes(
    app: Pbx, raw: str, why: str
) -> None:
    before = fresh(app).state()
    with pytest.raises(ValidationError, match=why):
        user_services.add_alternate(app, None, "102", raw)
    assert fresh(app).state() == before


def test_the_eleventh_alternate_number_is_refused(app: Pbx) -> None:
    for ext in range(150, 160):
        user_services.add_alternate(app, None, "101", str(ext))
    before = fresh(app).state()
    with pytest.raises(ValidationError, match="no more than 10"):
        user_services.add_alternate(app, None, "101", "160")
    assert fresh(app).state() == before
    with pytest.raises(ValidationError, match="is alternate number 1 of 101"):
        user_services.add_alternate(app, None, "102", "150")
    with pytest.raises(ValidationError, match="alternate number"):
        app.add_user(None, "150", "Eve")  # a new user cannot take an alternate extension


def test_a_removed_user_s_alternate_numbers_reach_nobody(app: Pbx) -> None:
    user_services.add_alternate(app, None, "102", "170")
    app.remove_user(None, "102")
    actions, story, _ = run(app, internal("101", "170"))
    assert not any(isinstance(a, Ring) for a in actions)
    assert "'170' is no extension or number" in story
    app.add_user(None, "170", "Frank")  # the extension is free again


# -- priority alert (USR-18) -----------------------------------------------------------------
def test_priority_alert_rings_matching_callers_distinctively(app: Pbx) -> None:
    user_services.add_priority_alert(app, None, "101", "+3130*")
    user_services.add_alternate(app, None, "101", "150")
    user_services.add_alternate(app, None, "101", "151")  # ring 2
    actions, story, _ = run(app, external("+31301234567", "+31201234567"))
    assert ring_of(actions).alert_info == DR.format(4)
    assert "matches priority alert +3130* of 101: Bellcore-dr4" in story
    actions, _, _ = run(app, external("+31401234567", "+31201234567"))
    assert ring_of(actions).alert_info is None
    actions, _, _ = run(app, internal("102", "151"))
    assert ring_of(actions).alert_info == DR.format(2)
    user_services.add_priority_alert(app, None, "101", "102")
    actions, _, _ = run(app, internal("102", "151"))
    assert ring_of(actions).alert_info == DR.format(4)  # priority wins over the alternate's
    user_services.remove_priority_alert(app, None, "101", "102")
    actions, _, _ = run(app, internal("102", "151"))
    assert ring_of(actions).alert_info == DR.format(2)


def test_priority_alert_with_a_schedule_only_while_it_is_open(app: Pbx) -> None:
    add_schedule(app, None, "office", "mon-fri 08:30-17:30", "NL")
    user_services.add_priority_alert(app, None, "101", "anonymous", schedule="office")
    actions, _, _ = run(app, external("anonymous", "+31201234567"), now=MONDAY_10)
    assert ring_of(actions).alert_info == DR.format(4)
    actions, story, _ = run(app, external("anonymous", "+31201234567"), now=MONDAY_22)
    assert ring_of(actions).alert_info is None
    assert "schedule 'office' is closed now" in story


def test_bad_priority_alert_rules_are_refused(app: Pbx) -> None:
    with pytest.raises(ValidationError, match="invalid caller pattern"):
        user_services.add_priority_alert(app, None, "101", "abc")
    with pytest.raises(ValidationError, match="unknown schedule"):
        user_services.add_priority_alert(app, None, "101", "+31*", schedule="nope")
    with pytest.raises(ValidationError, match="no priority alert"):
        user_services.remove_priority_alert(app, None, "101", "+31*")
    assert app.user(None, "101").priority_alerts == ()


# -- shared call appearance (USR-21) ---------------------------------------------------------
def test_the_user_s_devices_ring_with_the_desk_phone_and_answer_as_the_user(app: Pbx) -> None:
    assert user_services.add_device(app, None, "101", "home", "home-pass-1") == "101-home"
    user_services.add_device(app, None, "101", "soft", "soft-pass-1")
    actions, story, _ = run(app, internal("102", "101"))
    ring = ring_of(actions)
    assert ring.targets == (UserDevices("101", "acme.example"),
                            SharedDevice("101", "home", "acme.example"),
                            SharedDevice("101", "soft", "acme.example"))
    assert ring.answered_as == "101"
    assert "on all registered devices (shared: 101-home, 101-soft)" in story
    assert dial_string(ring).endswith(
        "}user/101@acme.example,user/101-home@acme.example,user/101-soft@acme.example")
    user_services.remove_device(app, None, "101", "home")
    assert [t.label() for t in ring_of(run(app, internal("102", "101"))[0]).targets] == [
        "101", "101-soft"]


def test_a_device_calls_as_its_user(app: Pbx) -> None:
    user_services.add_device(app, None, "101", "home", "home-pass-1")
    actions, story, _ = run(app, internal("101-home", "102"))
    ring = ring_of(actions)
    assert ring.targets == (UserDevices("102", "acme.example"),)
    assert ring.caller_id_number == "101" and ring.caller_id_name == "Alice"
    assert "101-home is a shared device of 101 (Alice)" in story
    _, story, commands = run(app, internal("101-home", "*78"))
    assert "101: do not disturb on" in story
    assert [c.name for c in commands] == ["dnd"]
    user_services.remove_device(app, None, "101", "home")
    actions, story, _ = run(app, internal("101-home", "102"))
    assert actions[-1] == Hangup(HangupCause.CALL_REJECTED)


def test_device_rules_and_the_eleventh_device(app: Pbx) -> None:
    for bad, why in (("Home", "invalid device name"), ("1x", "invalid device name"),
                     ("a" * 17, "invalid device name")):
        with pytest.raises(ValidationError, match=why):
            user_services.add_device(app, None, "101", bad, "long-enough")
    with pytest.raises(ValidationError, match="at least 8"):
        user_services.add_device(app, None, "101", "home", "short")
    for i in range(10):
        user_services.add_device(app, None, "101", f"d{i}", "long-enough")
    before = fresh(app).state()
    with pytest.raises(ValidationError, match="no more than 10"):
        user_services.add_device(app, None, "101", "extra", "long-enough")
    with pytest.raises(ValidationError, match="already"):
        user_services.add_device(app, None, "101", "d0", "long-enough")
    assert fresh(app).state() == before


def test_devices_are_served_to_freeswitch_with_their_own_a1_hash_only(app: Pbx) -> None:
    user_services.add_device(app, None, "101", "home", "home-pass-1")
    stored: User = app.repository.get(app.user(None, "101").id)
    assert verify_secret("home-pass-1", stored.devices[0]["sip_password_hash"])
    form = {"section": "directory", "domain": "acme.example", "user": "101-home",
            "action": "sip_auth"}
    body = render_directory(fresh(app), form)
    assert b"home-pass-1" not in body
    user = etree.fromstring(body).find("section/domain/groups/group/users/user")
    assert user is not None and user.get("id") == "101-home"
    params = {p.get("name"): p.get("value") for p in user.iterfind("params/param")}
    assert params == {"a1-hash": sip_a1_hash("101-home", "acme.example", "home-pass-1")}
    variables = {v.get("name"): v.get("value") for v in user.iterfind("variables/variable")}
    assert variables["effective_caller_id_number"] == "101"
    assert variables["outbound_caller_id_number"] == "+31201234567"
    user_services.remove_device(app, None, "101", "home")
    assert b'status="not found"' in render_directory(fresh(app), form)
    missing = render_directory(fresh(app), form | {"user": "102-home"})
    assert b'status="not found"' in missing


# -- per-number schedules (USR-9) ------------------------------------------------------------
def test_desk_rings_in_office_hours_the_mobile_always(app: Pbx) -> None:
    add_schedule(app, None, "office", "mon-fri 08:30-17:30", "NL")
    user_services.update(app, None, "101", mobile="0612345678", mobility=True)
    user_services.add_device(app, None, "101", "home", "home-pass-1")
    user_services.set_leg_schedules(app, None, "101", {"desk": "office"})
    mobile = GatewayNumber("trunk", "+31612345678")
    actions, _, _ = run(app, external("0301234567", "+31201234567"), now=MONDAY_10)
    assert ring_of(actions).targets == (UserDevices("101", "acme.example"),
                                        SharedDevice("101", "home", "acme.example"), mobile)
    actions, story, _ = run(app, external("0301234567", "+31201234567"), now=MONDAY_22)
    assert ring_of(actions).targets == (mobile,)
    assert "the desk phones of 101 do not ring: schedule 'office' is closed now" in story
    assert "on the mobile 06 12345678 only" in story


def test_when_no_leg_is_open_the_user_is_not_reachable(app: Pbx) -> None:
    add_schedule(app, None, "office", "mon-fri 08:30-17:30", "NL")
    user_services.update(app, None, "101", mobile="0612345678", mobility=True)
    user_services.set_leg_schedules(app, None, "101", {"desk": "office", "mobile": "office"})
    user_services.forward(app, None, "101", "not-reachable", "103")
    actions, story, _ = run(app, external("0301234567", "+31201234567"), now=MONDAY_22)
    assert ring_of(actions).targets == (UserDevices("103", "acme.example"),)
    assert "the mobile of 101 does not ring" in story
    assert "no line of 101 may ring now: treated as not reachable" in story
    assert "101 forwards (not-reachable) to 103" in story
    user_services.forward_off(app, None, "101", "not-reachable")
    actions, _, _ = run(app, external("0301234567", "+31201234567"), now=MONDAY_22)
    assert actions[-1] == Hangup(HangupCause.USER_NOT_REGISTERED)
    user_services.set_leg_schedules(app, None, "101", {"desk": None, "mobile": None})
    actions, _, _ = run(app, external("0301234567", "+31201234567"), now=MONDAY_22)
    assert len(ring_of(actions).targets) == 2  # 'none': always again


def test_an_unknown_leg_schedule_is_refused(app: Pbx) -> None:
    with pytest.raises(ValidationError, match="unknown schedule for --mobile-schedule"):
        user_services.set_leg_schedules(app, None, "101", {"mobile": "nope"})


# -- what reaches FreeSWITCH ------------------------------------------------------------------
def test_the_distinctive_ring_is_an_alert_info_variable_of_the_dial_string() -> None:
    ring = Ring((UserDevices("101", "acme.example"),), 20, "102", "Bob",
                alert_info=DR.format(2))
    assert "alert_info='<http://www.notused.com>;info=Bellcore-dr2'" in dial_string(ring)
    plain = Ring((UserDevices("101", "acme.example"),), 20, "102", "Bob")
    assert "alert_info" not in dial_string(plain)


def test_a_device_calling_its_own_user_does_not_ring_itself(app: Pbx) -> None:
    user_services.add_device(app, None, "101", "home", "home-pass-1")
    user_services.add_device(app, None, "101", "soft", "soft-pass-1")
    ctx = CallContext("00000000-0000-4000-8000-000000000003",
                      "sofia/internal/101-home@acme.example", "101-home", "",
                      "101", Origin.INTERNAL, "acme.example", "101-home")
    actions, _, _ = run(app, ctx)
    assert [t.label() for t in ring_of(actions).targets] == ["101", "101-soft"]


def test_forwarding_to_an_alternate_extension_reaches_its_owner(app: Pbx) -> None:
    user_services.add_alternate(app, None, "101", "150")
    user_services.forward(app, None, "102", "always", "150")
    assert app.user(None, "102").forward("always").destination == "101"  # type: ignore[union-attr]
    actions, story, _ = run(app, internal("103", "102"))
    assert ring_of(actions).targets == (UserDevices("101", "acme.example"),)
    assert "102 forwards (always) to 101 (Alice)" in story
    with pytest.raises(ValidationError, match="own alternate 150"):
        user_services.forward(app, None, "101", "always", "150")
