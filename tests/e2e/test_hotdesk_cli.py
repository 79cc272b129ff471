"""``pbx hotdesk`` (USR-8) and privacy (USR-19) run as real subprocesses: what an operator
types and reads, bad input refused with one line and exit 2, nothing changed."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_hotdesk_phones_login_by_phone_list_logout_and_removal(acme: Pbx) -> None:
    out = acme.ok("hotdesk", "add", "flex1", "--password", "desk-pass-1")
    assert out == ("hot-desk phone flex1 added to Acme (SIP account flex1@acme.example, "
                   "automatic logout at 00:00 Europe/Amsterdam)\n")
    acme.ok("hotdesk", "add", "flex2", "--password", "desk-pass-2", "--auto-logout", "18:30")
    before = acme.events()
    assert "invalid --auto-logout '24:00'" in acme.fails(
        "hotdesk", "add", "flex3", "--password", "desk-pass-3", "--auto-logout", "24:00")
    assert "already exists" in acme.fails("hotdesk", "add", "flex1", "--password", "x" * 8)
    assert "invalid hot-desk phone name '101'" in acme.fails(
        "hotdesk", "add", "101", "--password", "desk-pass-3")
    assert "at least 8 characters" in acme.fails("hotdesk", "add", "flex3", "--password", "p")
    assert "no hot-desk phone 'flex9'" in acme.fails("hotdesk", "remove", "flex9")
    assert "--dtmf" in acme.fails("simulate", "call", "--from", "flex1", "--to", "*31",
                                  "--dtmf", "12a")
    assert acme.events() == before

    # Alice (PIN 1234) logs in on flex1 by phone: *31, extension, PIN.
    acme.ok("simulate", "call", "--from", "flex1", "--to", "*31", "--dtmf", "101#1234#")
    [flex1, flex2] = acme.json("hotdesk", "list")
    assert (flex1["name"], flex1["logged_in"], flex2["logged_in"]) == (
        "flex1", "101 (Alice Jansen)", None)
    assert flex1["logout_at"].endswith(" 00:00")
    listing = acme.ok("hotdesk", "list").splitlines()
    assert listing[0].split() == ["PHONE", "LOGGED", "IN", "SINCE", "LOGOUT", "AT", "AUTO",
                                  "LOGOUT"]
    assert "101 (Alice Jansen)" in listing[1]

    assert acme.ok("hotdesk", "logout-expired") == "0 hot-desk login(s) ended\n"
    assert acme.ok("hotdesk", "remove", "flex1") == (
        "hot-desk phone flex1 removed; 101 logged out\n")
    assert [p["name"] for p in acme.json("hotdesk", "list")] == ["flex2"]


def test_privacy_leaves_the_phone_book_and_shows_in_user_show(acme: Pbx) -> None:
    book = acme.ok("directory", "list")
    assert "Bob de Vries" in book and "Alice Jansen" in book
    assert acme.ok("user", "set", "102", "--privacy", "on") == "user 102 updated\n"
    assert "Bob de Vries" not in acme.ok("directory", "list")
    assert [u["extension"] for u in acme.json("directory", "list")] == ["101"]
    assert "privacy:             on" in acme.ok("user", "show", "102")
    assert acme.json("user", "show", "102")["privacy"] is True
    before = acme.events()
    assert "--privacy" in acme.fails("user", "set", "102", "--privacy", "maybe")
    assert "no user with extension 109" in acme.fails("user", "set", "109", "--privacy", "on")
    assert acme.events() == before
    acme.ok("user", "set", "102", "--privacy", "off")
    assert [u["extension"] for u in acme.json("directory", "list")] == ["101", "102"]
