"""End-to-end: ``pbx self EXT --pin PIN ...`` (USR-24) and ``pbx user notify`` (USR-17).

Alice (101) has the PIN 1234. What the user changes shows up in ``pbx user show``; a wrong
PIN is one ``error:`` line with exit 2 and no setting changed; three in a row lock
self-service; the PIN never appears in anything the CLI prints.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Pbx


def shown(cli: Pbx, extension: str = "101") -> dict[str, Any]:
    found: dict[str, Any] = cli.json("user", "show", extension)
    return found


def kinds(cli: Pbx) -> list[str]:
    return [e["type"] for e in cli.events()]


def test_the_user_changes_their_own_settings_with_the_right_pin(acme: Pbx) -> None:
    assert acme.ok("self", "101", "--pin", "1234", "dnd", "on") == "do not disturb for 101 on\n"
    acme.ok("self", "101", "--pin", "1234", "forward", "no-answer", "102", "--after", "15")
    acme.ok("self", "101", "--pin", "1234", "set", "--call-waiting", "off",
            "--anonymous-rejection", "on")
    user = shown(acme)
    assert user["do_not_disturb"] is True
    assert user["forwarding"] == {"no-answer": "102 after 15 s"}
    assert (user["call_waiting"], user["anonymous_rejection"]) == (False, True)
    mine = acme.json("self", "101", "--pin", "1234", "show")
    assert mine["forwarding"] == {"no-answer": "102 after 15 s"}
    acme.ok("self", "101", "--pin", "1234", "forward", "no-answer", "off")
    assert shown(acme)["forwarding"] == {}
    # The PIN also comes from the environment (kept out of the process list).
    acme.ok("self", "101", "dnd", "off", env={"PBX_PIN": "1234"})
    assert shown(acme)["do_not_disturb"] is False
    assert not any("1234" in r.stdout + r.stderr for r in acme.transcript if r.args[0] == "self")


def test_wrong_pins_change_nothing_and_three_lock_self_service(acme: Pbx) -> None:
    before = shown(acme)
    assert acme.fails("self", "101", "--pin", "9999", "dnd", "on") == (
        "error: wrong PIN for 101 (2 tries left)")
    assert acme.fails("self", "101", "--pin", "8888", "dnd", "on") == (
        "error: wrong PIN for 101 (1 tries left)")
    assert acme.fails("self", "101", "--pin", "7777", "dnd", "on") == (
        "error: wrong PIN: self-service of 101 is locked for 15 minutes")
    locked = acme.fails("self", "101", "--pin", "1234", "dnd", "on")  # even the right one
    assert locked.startswith("error: self-service of 101 is locked until ")
    assert shown(acme) == before
    assert kinds(acme).count("SelfServicePinFailed") == 3
    assert "SelfServiceLocked" in kinds(acme)
    printed = acme.printed()
    assert not any(pin in printed for pin in ("9999", "8888", "7777", "1234\n"))


def test_operator_only_settings_and_bad_input_are_refused(acme: Pbx) -> None:
    before = acme.events()
    acme.fails("self", "101", "--pin", "1234", "set", "--intercept", "announcement")
    acme.fails("self", "101", "--pin", "1234", "set", "--mobile", "0612345678")
    acme.fails("self", "101", "--pin", "1234", "forward", "selective", "102")
    acme.fails("self", "101", "--pin", "1234", "forward", "always", "101")
    acme.fails("self", "101", "--pin", "1234", "set", "--ring", "loud")
    acme.fails("self", "102", "--pin", "1234", "dnd", "on")  # Bob has no PIN
    acme.fails("self", "101", "--pin", "1234", "voicemail", "--email-only")  # no box
    assert acme.events() == before


def test_call_notify_rules_from_the_command_line(acme: Pbx) -> None:
    before = acme.events()
    acme.fails("user", "notify", "101", "--add", "12ab")
    acme.fails("user", "notify", "101", "--add", "*")  # Alice has no e-mail address
    acme.fails("user", "notify", "101", "--add", "*", "--email", "nope")
    acme.fails("user", "notify", "101", "--add", "*", "--email", "a@b.nl", "--schedule", "x")
    acme.fails("user", "notify", "101", "--remove", "*")
    assert acme.events() == before
    assert acme.ok("user", "notify", "101", "--add", "+3161*", "--email", "alice@acme.example"
                   ) == "calls to 101 from +3161* e-mailed to alice@acme.example\n"
    assert acme.json("user", "notify", "101") == [
        {"pattern": "+3161*", "schedule": None, "email": "alice@acme.example"}]
    acme.ok("user", "notify", "101", "--remove", "+3161*")
    assert acme.json("user", "notify", "101") == []


def test_email_only_voicemail_from_the_operator_and_from_the_user(acme: Pbx) -> None:
    acme.ok("user", "add", "103", "--name", "Carol Smit", "--email", "carol@acme.example",
            "--pin", "5678")
    assert acme.ok("voicemail", "enable", "103", "--email-only") == (
        "voicemail enabled for 103, messages e-mailed to carol@acme.example only "
        "(not kept in the box)\n")
    before = acme.events()
    assert acme.fails("voicemail", "enable", "103", "--email-only", "--no-email-audio") == (
        "error: --email-only needs --email-audio: messages would be lost")
    assert acme.fails("voicemail", "enable", "103", "--no-email-audio") == (
        "error: the box is e-mail only: give --keep with --no-email-audio")
    assert acme.events() == before
    assert acme.ok("self", "103", "--pin", "5678", "voicemail", "--keep") == (
        "voicemail of 103: messages e-mailed to carol@acme.example\n")
    assert [e["data"] for e in acme.events() if e["type"] == "MailboxDeliveryChanged"] == [
        {"keep": False}, {"keep": True}]
