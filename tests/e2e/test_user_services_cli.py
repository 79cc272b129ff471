"""End-to-end: a user's own call services from the command line (one subprocess per command).

``pbx user forward`` / ``dnd`` / ``set`` / ``show``, their effect on a simulated call, the
feature access codes dialled on a phone, and the refusals: exit 2, one ``error:`` line,
nothing on stdout and not one event written.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Pbx

ALWAYS = ("schedule", "add", "always", "--hours", "daily 00:00-24:00", "--holidays", "none")


def shown(cli: Pbx, extension: str = "101") -> dict[str, Any]:
    found: dict[str, Any] = cli.json("user", "show", extension)
    return found


def call(cli: Pbx, *args: str) -> dict[str, Any]:
    """A simulated call: its JSON report (route, hangup cause, explanation)."""
    result: dict[str, Any] = cli.json("simulate", "call", *args)
    return result


def explained(result: dict[str, Any]) -> str:
    return "\n".join(result["explanation"])


@pytest.fixture
def office(acme: Pbx) -> Pbx:
    """Acme with a schedule 'always' that is open every minute of every day."""
    acme.ok(*ALWAYS)
    return acme


# -- every setting shows up in ``user show`` ----------------------------------------------------


def test_a_new_user_has_no_services_switched_on(acme: Pbx) -> None:
    user = shown(acme)
    assert user["forwarding"] == {}
    assert user["do_not_disturb"] is False
    assert user["anonymous_rejection"] is False
    assert user["identity"] == "business"
    assert user["mobile"] is None
    assert user["intercept"] is None


def test_each_forwarding_kind_shows_up_and_off_removes_it(office: Pbx) -> None:
    out = office.ok("user", "forward", "101", "--always", "102")
    assert out == "always forwarding of 101 to 102 on\n"
    office.ok("user", "forward", "101", "--busy", "0612345678")
    office.ok("user", "forward", "101", "--no-answer", "102", "--after", "15")
    office.ok("user", "forward", "101", "--not-reachable", "+31612345678")
    office.ok("user", "forward", "101", "--selective", "102", "--schedule", "always",
              "--from", "+3120*")
    assert shown(office)["forwarding"] == {
        "always": "102",
        "busy": "+31612345678",
        "no-answer": "102 after 15 s",
        "not-reachable": "+31612345678",
        "selective": "102 when always is open for callers +3120*",
    }
    # the plain-text view says the same
    text = office.ok("user", "show", "101")
    assert "always -> 102" in text and "no-answer -> 102 after 15 s" in text

    out = office.ok("user", "forward", "101", "--off", "busy")
    assert out == "busy forwarding of 101 off\n"
    assert "busy" not in shown(office)["forwarding"]
    for kind in ("always", "no-answer", "not-reachable", "selective"):
        office.ok("user", "forward", "101", "--off", kind)
    assert shown(office)["forwarding"] == {}


def test_switching_off_what_is_not_on_says_so_and_writes_nothing(acme: Pbx) -> None:
    before = acme.events()
    out = acme.ok("user", "forward", "101", "--off", "busy")
    assert out == "busy forwarding of 101 was not on\n"
    assert acme.events() == before


def test_setting_a_forwarding_again_replaces_it(acme: Pbx) -> None:
    acme.ok("user", "forward", "101", "--always", "102")
    acme.ok("user", "forward", "101", "--always", "0612345678")
    assert shown(acme)["forwarding"] == {"always": "+31612345678"}


def test_do_not_disturb_on_and_off(acme: Pbx) -> None:
    assert acme.ok("user", "dnd", "101", "on") == "do not disturb for 101 on\n"
    assert shown(acme)["do_not_disturb"] is True
    assert re.search(r"^do_not_disturb:\s+on$", acme.ok("user", "show", "101"), re.M)
    events = acme.events()
    acme.ok("user", "dnd", "101", "on")
    assert acme.events() == events, "switching on what is on writes nothing"
    acme.ok("user", "dnd", "101", "off")
    assert shown(acme)["do_not_disturb"] is False


def test_user_set_mobile_identity_rejection_and_intercept(acme: Pbx) -> None:
    out = acme.ok("user", "set", "101", "--mobile", "06 12345678", "--identity", "mobile")
    assert out == "user 101 updated\n"
    user = shown(acme)
    assert user["mobile"] == "+31612345678"
    assert user["identity"] == "mobile"

    acme.ok("user", "set", "101", "--anonymous-rejection", "on")
    assert shown(acme)["anonymous_rejection"] is True
    acme.ok("user", "set", "101", "--identity", "anonymous", "--anonymous-rejection", "off")
    user = shown(acme)
    assert user["identity"] == "anonymous" and user["anonymous_rejection"] is False

    acme.ok("user", "set", "101", "--intercept", "announcement")
    assert shown(acme)["intercept"] == "announcement"
    acme.ok("user", "set", "101", "--intercept", "102")
    assert shown(acme)["intercept"] == "102"
    acme.ok("user", "set", "101", "--intercept", "off")
    assert shown(acme)["intercept"] is None

    acme.ok("user", "set", "101", "--mobile", "none")
    assert shown(acme)["mobile"] is None


# -- the effect on a call -----------------------------------------------------------------------


def test_busy_forwarding_rings_the_destination_when_busy(acme: Pbx) -> None:
    acme.ok("user", "forward", "102", "--busy", "101")
    result = call(acme, "--from", "101", "--to", "102", "--endpoint", "102=busy")
    text = explained(result)
    assert "102 forwards (busy) to 101" in text, text
    assert "ringing 101" in text, text
    assert result["hangup_cause"] == "NORMAL_CLEARING", text


def test_busy_forwarding_does_nothing_when_the_user_answers(acme: Pbx) -> None:
    acme.ok("user", "forward", "102", "--busy", "101")
    text = explained(call(acme, "--from", "101", "--to", "102"))
    assert "forwards" not in text, text
    assert "102 answered" in text, text


def test_do_not_disturb_makes_the_user_busy(acme: Pbx) -> None:
    acme.ok("user", "dnd", "102", "on")
    result = call(acme, "--from", "101", "--to", "102")
    text = explained(result)
    assert "do not disturb" in text, text
    assert result["hangup_cause"] == "USER_BUSY", text
    assert "ringing 102" not in text, text


def test_selective_forwarding_while_the_schedule_is_open(office: Pbx) -> None:
    office.ok("user", "forward", "102", "--selective", "101", "--schedule", "always")
    result = call(office, "--from", "101", "--to", "102")
    text = explained(result)
    assert "schedule 'always' is open" in text, text
    assert "102 forwards (selective) to 101" in text, text
    assert "101 answered" in text, text


def test_feature_codes_switch_forward_always_on_and_off(acme: Pbx) -> None:
    text = explained(call(acme, "--from", "102", "--to", "*72101"))
    assert "*72" in text, text
    assert shown(acme, "102")["forwarding"] == {"always": "101"}

    text = explained(call(acme, "--from", "101", "--to", "102"))
    assert "102 forwards (always) to 101" in text, text

    text = explained(call(acme, "--from", "102", "--to", "*73"))
    assert "*73" in text, text
    assert shown(acme, "102")["forwarding"] == {}


def test_star_67_withholds_the_number_for_one_call(acme: Pbx) -> None:
    result = call(acme, "--from", "101", "--to", "*670612345678")
    text = explained(result)
    assert "withholds the number" in text, text
    assert result["bridged_to"] == "+31612345678", text
    # only for that call: the setting itself is unchanged
    assert shown(acme)["identity"] == "business"


# -- refusals -----------------------------------------------------------------------------------

REFUSED = [
    pytest.param(("user", "forward", "101", "--always", "101"), "101 cannot forward to itself",
                 id="forward-to-own-extension"),
    pytest.param(("user", "forward", "101", "--always", "0201234567"),
                 "101 cannot forward to its own number", id="forward-to-own-number"),
    pytest.param(("user", "forward", "101", "--always", "+31201234567"),
                 "101 cannot forward to itself", id="forward-to-own-e164"),
    pytest.param(("user", "forward", "101", "--busy", "09001234567"), "premium number",
                 id="premium-number"),
    pytest.param(("user", "forward", "101", "--always", "+441234567890"),
                 "international number", id="international-number"),
    pytest.param(("user", "forward", "101", "--always", "12ab"), "'12ab'",
                 id="malformed-destination"),
    pytest.param(("user", "forward", "101", "--always", "5"), "not a telephone number: '5'",
                 id="unknown-extension"),
    pytest.param(("user", "forward", "101", "--no-answer", "102", "--after", "2"),
                 "--after is 5 to 120 seconds", id="after-too-short"),
    pytest.param(("user", "forward", "101", "--no-answer", "102", "--after", "soon"),
                 "--after", id="after-not-a-number"),
    pytest.param(("user", "forward", "101", "--busy", "102", "--after", "10"),
                 "--after applies to no-answer forwarding only", id="after-with-busy"),
    pytest.param(("user", "forward", "101", "--selective", "102"),
                 "selective forwarding needs --schedule", id="selective-without-schedule"),
    pytest.param(("user", "forward", "101", "--selective", "102", "--schedule", "nope"),
                 "unknown schedule: 'nope'", id="unknown-schedule"),
    pytest.param(("user", "forward", "101", "--always", "102", "--schedule", "always"),
                 "apply to selective forwarding only", id="schedule-without-selective"),
    pytest.param(("user", "forward", "101", "--selective", "102", "--schedule", "always",
                  "--from", "abc!"), "invalid caller pattern 'abc!'", id="bad-from-pattern"),
    pytest.param(("user", "forward", "101", "--always", "102", "--busy", "102"),
                 "give exactly one of", id="two-kinds"),
    pytest.param(("user", "forward", "101"), "give exactly one of", id="no-kind"),
    pytest.param(("user", "forward", "101", "--off", "busy", "--always", "102"),
                 "--off cannot be combined with a destination", id="off-with-destination"),
    pytest.param(("user", "forward", "101", "--off", "bogus"), "'bogus'", id="off-bogus"),
    pytest.param(("user", "forward", "999", "--always", "102"), "999",
                 id="forward-unknown-user"),
    pytest.param(("user", "dnd", "101", "maybe"), "'maybe'", id="dnd-maybe"),
    pytest.param(("user", "set", "101", "--identity", "mobile"), "mobile",
                 id="identity-mobile-without-mobile"),
    pytest.param(("user", "set", "101", "--mobile", "0201234567"),
                 "+31201234567 is not a mobile number", id="mobile-not-a-mobile"),
    pytest.param(("user", "set", "101", "--intercept", "101"), "101 cannot forward to itself",
                 id="intercept-to-itself"),
    pytest.param(("user", "set", "101", "--intercept", "09001234567"), "premium number",
                 id="intercept-to-premium"),
    pytest.param(("user", "set", "101", "--anonymous-rejection", "yes"), "'yes'",
                 id="anonymous-rejection-yes"),
    pytest.param(("user", "set", "101"), "nothing to set", id="set-nothing"),
    pytest.param(("user", "set", "101", "--mobile", "0612345678", "--identity", "bogus"),
                 "'bogus'", id="set-bad-identity-with-good-mobile"),
    pytest.param(("user", "set", "101", "--mobile", "0612345678", "--intercept", "101"),
                 "101 cannot forward to itself", id="set-bad-intercept-with-good-mobile"),
    pytest.param(("user", "set", "101", "--identity", "mobile", "--anonymous-rejection", "on"),
                 "mobile", id="set-bad-identity-with-good-rejection"),
    pytest.param(("schedule", "add", "bad", "--hours", "mon-fri 25:00-26:00"), "25:00",
                 id="schedule-hours-do-not-parse"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_bad_input_is_refused_and_writes_nothing(
    office: Pbx, args: tuple[str, ...], message: str
) -> None:
    before = office.events()
    users_before = office.json("user", "list")
    error = office.fails(*args)
    assert message in error, error
    assert "Traceback" not in office.printed()
    assert office.events() == before
    assert office.json("user", "list") == users_before


def test_a_refused_change_leaves_earlier_settings_alone(office: Pbx) -> None:
    office.ok("user", "forward", "101", "--busy", "102")
    office.ok("user", "set", "101", "--mobile", "0612345678", "--identity", "mobile")
    before = shown(office)
    events = office.events()
    office.fails("user", "forward", "101", "--busy", "09001234567")
    office.fails("user", "set", "101", "--mobile", "none")  # it still presents the mobile
    office.fails("user", "set", "101", "--mobile", "0687654321", "--intercept", "101")
    assert shown(office) == before
    assert office.events() == events


def test_the_refused_schedule_does_not_exist_afterwards(office: Pbx) -> None:
    office.fails("schedule", "add", "bad", "--hours", "mon-fri 25:00-26:00")
    assert [s["name"] for s in office.json("schedule", "list")] == ["always"]
    error = office.fails("user", "forward", "101", "--selective", "102", "--schedule", "bad")
    assert "unknown schedule: 'bad'" in error
