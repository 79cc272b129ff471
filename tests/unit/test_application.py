"""The application: use cases validate first and write nothing when they refuse."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from esl_controller.application import Pbx
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.numbers import InvalidNumberError
from esl_controller.domain.secrets import sip_a1_hash
from esl_controller.domain.users import User
from esl_controller.errors import NotFoundError, ValidationError
from projections.directory import Directory

PASSWORD = "Tr0ub4dor&3-horse"
PIN = "73915286"


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/var/pbx.sqlite"


@pytest.fixture
def pbx(tmp_path: Path) -> Pbx:
    app = Pbx(url(tmp_path))
    app.create_enterprise("Acme", "acme.example")
    app.create_enterprise("Globex", "globex.example", extensions="2000-2999")
    app.add_user("Acme", "101", "Alice", number="020 1234567", password=PASSWORD, pin=PIN)
    app.add_user("Acme", "102", "Bob")
    app.assign_number("Globex", "010 7654321")
    return app


def stored_events(path: Path) -> list[tuple[str, str]]:
    """(topic, state as text) of every event in the SQLite file, read without the app."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT topic, state FROM pbx_events ORDER BY rowid").fetchall()
    return [(t, s.decode() if isinstance(s, bytes) else s) for t, s in rows]


# -- happy paths -------------------------------------------------------------------------


def test_create_enterprise_and_users(pbx: Pbx) -> None:
    acme = pbx.enterprise("acme")
    assert acme.id == Enterprise.create_id("Acme")
    assert (acme.domain, acme.timezone, acme.country) == ("acme.example", "Europe/Amsterdam", "NL")
    assert (acme.extension_low, acme.extension_high) == (100, 999)
    assert acme.numbers == ("+31201234567",)
    alice = pbx.user("Acme", "101")
    assert alice.id == User.create_id(acme.id, "101")
    assert alice.name == "Alice"
    assert alice.number == "+31201234567"
    assert alice.has_password and alice.has_pin
    assert alice.sip_a1_hash == sip_a1_hash("101", "acme.example", PASSWORD)
    bob = pbx.user("Acme", "102")
    assert bob.number is None and not bob.has_password and not bob.has_pin
    assert bob.no_answer_seconds == 20
    assert [u.extension for u in pbx.directory().users_of(acme.id)] == ["101", "102"]


def test_enterprise_input_is_tidied(tmp_path: Path) -> None:
    app = Pbx(url(tmp_path))
    ent = app.create_enterprise("  Initech ", " SIP.Initech.Example ", country="be")
    assert (ent.name, ent.domain, ent.country) == ("Initech", "sip.initech.example", "BE")


def test_extension_plan_is_honoured(pbx: Pbx) -> None:
    user = pbx.add_user("Globex", "2001", "Hank")
    assert user.extension == "2001"


def test_assign_number_stores_e164(pbx: Pbx) -> None:
    assert pbx.assign_number("Acme", "0031 20 765 4321") == "+31207654321"
    assert "+31207654321" in pbx.enterprise("Acme").numbers


def test_a_users_number_may_be_one_of_the_enterprise_numbers(pbx: Pbx) -> None:
    pbx.add_user("Globex", "2002", "Marge", number="+31 10 765 4321")
    assert pbx.user("Globex", "2002").number == "+31107654321"
    assert pbx.enterprise("Globex").numbers == ("+31107654321",)


def test_the_only_enterprise_is_found_without_naming_it(tmp_path: Path) -> None:
    app = Pbx(url(tmp_path))
    with pytest.raises(NotFoundError):
        app.enterprise(None)
    app.create_enterprise("Solo", "solo.example")
    assert app.add_user(None, "100", "Sam").extension == "100"


def test_events_after_lists_the_log_in_order(pbx: Pbx) -> None:
    names = [type(e).__name__ for _, e in pbx.events_after(0)]
    assert names == [
        "EnterpriseCreated",
        "EnterpriseCreated",
        "NumberAssigned",
        "UserCreated",
        "UserCreated",
        "NumberAssigned",
    ]
    positions = [p for p, _ in pbx.events_after(0)]
    assert positions == sorted(positions) and positions[-1] == pbx.last_position()
    assert [type(e).__name__ for _, e in pbx.events_after(positions[-2])] == ["NumberAssigned"]


# -- refusals: a clear message, and nothing written ---------------------------------------

Refusal = Callable[[Pbx], Any]

REFUSALS: dict[str, tuple[Refusal, str]] = {
    "unknown enterprise": (lambda a: a.add_user("Initech", "101", "Peter"), "unknown enterprise"),
    "unknown enterprise for a number": (
        lambda a: a.assign_number("Initech", "020 7654321"),
        "unknown enterprise",
    ),
    "duplicate enterprise name": (
        lambda a: a.create_enterprise("ACME ", "acme2.example"),
        "already exists",
    ),
    "duplicate domain": (
        lambda a: a.create_enterprise("Acme Two", "ACME.example"),
        "already in use",
    ),
    "invalid domain": (lambda a: a.create_enterprise("Initech", "not a domain"), "SIP domain"),
    "domain without a dot": (lambda a: a.create_enterprise("Initech", "localhost"), "SIP domain"),
    "invalid name": (lambda a: a.create_enterprise("", "initech.example"), "name"),
    "unknown time zone": (
        lambda a: a.create_enterprise("Initech", "initech.example", timezone="Mars/Olympus"),
        "time zone",
    ),
    "unknown country": (
        lambda a: a.create_enterprise("Initech", "initech.example", country="XX"),
        "country",
    ),
    "bad extension plan": (
        lambda a: a.create_enterprise("Initech", "initech.example", extensions="900-100"),
        "extension plan",
    ),
    "duplicate extension": (lambda a: a.add_user("Acme", "101", "Alice Two"), "already exists"),
    "extension above the default plan": (lambda a: a.add_user("Acme", "1000", "Zed"), "outside"),
    "extension below the default plan": (lambda a: a.add_user("Acme", "99", "Zed"), "outside"),
    "extension outside a custom plan": (lambda a: a.add_user("Globex", "101", "Zed"), "outside"),
    "extension that is no number": (lambda a: a.add_user("Acme", "1a1", "Zed"), "outside"),
    "extension with a leading zero": (lambda a: a.add_user("Acme", "0101", "Zed"), "outside"),
    "extension in other digits": (
        lambda a: a.add_user("Acme", "\u0661\u0660\u0663", "Zed"),
        "outside",
    ),
    "extension with a superscript": (lambda a: a.add_user("Acme", "1\u00b23", "Zed"), "outside"),
    "extension that is the emergency number": (
        lambda a: a.add_user("Acme", "112", "Zed"),
        "emergency",
    ),
    "empty user name": (lambda a: a.add_user("Acme", "103", "  "), "name"),
    "malformed number": (lambda a: a.add_user("Acme", "103", "Carol", number="020 12"), "020 12"),
    "malformed enterprise number": (lambda a: a.assign_number("Acme", "hello"), "hello"),
    "number of another user": (
        lambda a: a.add_user("Acme", "103", "Carol", number="+31201234567"),
        "another user",
    ),
    "number of another user in national format": (
        lambda a: a.add_user("Acme", "103", "Carol", number="020-1234567"),
        "another user",
    ),
    "user number owned by another enterprise": (
        lambda a: a.add_user("Acme", "103", "Carol", number="010 7654321"),
        "Globex",
    ),
    "user number of a user of another enterprise": (
        lambda a: a.add_user("Globex", "2003", "Carol", number="020 1234567"),
        "+31201234567",
    ),
    "enterprise number owned by another enterprise": (
        lambda a: a.assign_number("Acme", "010 7654321"),
        "Globex",
    ),
    "enterprise number owned by a user": (
        lambda a: a.assign_number("Globex", "020 1234567"),
        "Acme",
    ),
    "bad e-mail": (lambda a: a.add_user("Acme", "103", "Carol", email="carol.acme"), "e-mail"),
    "short password": (lambda a: a.add_user("Acme", "103", "Carol", password="short"), "8"),
    "PIN with letters": (lambda a: a.add_user("Acme", "103", "Carol", pin="12ab"), "PIN"),
    "PIN too short": (lambda a: a.add_user("Acme", "103", "Carol", pin="123"), "PIN"),
    "PIN too long": (lambda a: a.add_user("Acme", "103", "Carol", pin="123456789"), "PIN"),
    "no-answer time too short": (
        lambda a: a.add_user("Acme", "103", "Carol", no_answer_seconds=1),
        "no-answer",
    ),
    "unknown user": (lambda a: a.remove_user("Acme", "555"), "555"),
    "not a call id": (lambda a: a.call("not-a-uuid"), "not a call id"),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_bad_input_is_refused_clearly_and_writes_nothing(pbx: Pbx, case: str) -> None:
    attempt, message = REFUSALS[case]
    before = pbx.last_position()
    before_state = pbx.directory().state()
    with pytest.raises(ValidationError) as raised:
        attempt(pbx)
    assert message.lower() in str(raised.value).lower()
    assert pbx.last_position() == before
    assert pbx.directory().state() == before_state


def test_a_malformed_number_is_an_invalid_number_error(pbx: Pbx) -> None:
    with pytest.raises(InvalidNumberError):
        pbx.add_user("Acme", "103", "Carol", number="not a number")


def test_an_unknown_call_is_not_found(pbx: Pbx) -> None:
    with pytest.raises(NotFoundError):
        pbx.call("6b1f3c1e-8f0e-4a57-9a59-0b8f2f7c1d11")


# -- remove and re-add -----------------------------------------------------------------------


def test_remove_then_re_add_the_same_extension_reinstates_the_user(pbx: Pbx) -> None:
    alice = pbx.remove_user("Acme", "101")
    with pytest.raises(NotFoundError):
        pbx.user("Acme", "101")
    assert pbx.directory().user_with_number("+31201234567") is None

    again = pbx.add_user("Acme", "101", "Alison", number="020 1234567")
    assert again.id == alice.id
    assert again.name == "Alison" and again.number == "+31201234567"
    assert not again.has_password and not again.has_pin, "old secrets do not come back"
    names = [type(e).__name__ for _, e in pbx.events_after(0)]
    assert names[-2:] == ["UserRemoved", "UserReinstated"]
    assert pbx.directory().user_with_number("+31201234567") == again


def test_a_removed_users_number_stays_with_the_enterprise(pbx: Pbx) -> None:
    pbx.remove_user("Acme", "101")
    before = pbx.last_position()
    with pytest.raises(ValidationError, match="Acme"):
        pbx.add_user("Globex", "2003", "Carol", number="020 1234567")
    assert pbx.last_position() == before
    assert pbx.add_user("Acme", "103", "Carol", number="020 1234567").number == "+31201234567"


# -- secrets never stored in clear -----------------------------------------------------


def test_pin_and_password_are_never_stored_in_clear(pbx: Pbx, tmp_path: Path) -> None:
    pbx.remove_user("Acme", "101")
    pbx.add_user("Acme", "101", "Alice", password=PASSWORD + "!", pin="40617283")
    events = stored_events(tmp_path / "var" / "pbx.sqlite")
    assert len(events) == pbx.last_position()
    user_states = [json.loads(s) for t, s in events if ".User" in t]
    assert any("pin_hash" in s and s["pin_hash"] for s in user_states), "the scan saw the users"
    for topic, text in events:
        for secret in (PASSWORD, PIN, "40617283"):
            assert secret not in text, f"{secret!r} stored in clear in {topic}"


# -- the store -------------------------------------------------------------------------------


def test_the_sqlite_file_is_created_under_the_given_path_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "pbx.sqlite"
    app = Pbx(f"sqlite:///{path}")
    app.create_enterprise("Acme", "acme.example")
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_instance_on_the_same_file_sees_the_first_ones_users(
    pbx: Pbx, tmp_path: Path
) -> None:
    other = Pbx(url(tmp_path))
    assert other.user("Acme", "101") == pbx.user("Acme", "101")
    assert other.directory().state() == pbx.directory().state()
    assert other.last_position() == pbx.last_position()

    other.add_user("Acme", "103", "Carol")
    assert pbx.user("Acme", "103").name == "Carol"
    with pytest.raises(ValidationError, match="already exists"):
        pbx.add_user("Acme", "103", "Carol again")


def test_a_directory_rebuilt_from_the_log_equals_the_live_one(pbx: Pbx) -> None:
    pbx.remove_user("Acme", "102")
    pbx.add_user("Acme", "102", "Bobby", number="06 12345678")
    live = pbx.directory()
    rebuilt = Directory()
    for _, event in pbx.events_after(0):
        rebuilt.apply(event)
    assert rebuilt.state() == live.state()
