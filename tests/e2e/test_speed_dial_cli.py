"""``pbx user speed-dial`` (USR-12) end to end: set, list, show, dial, clear, bad input."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_speed_dial_set_list_dial_and_clear(acme: Pbx) -> None:
    assert acme.ok("user", "speed-dial", "101", "2", "102") == "speed dial #2 of 101 dials 102\n"
    assert acme.ok("user", "speed-dial", "101", "07", "06 12345678") == (
        "speed dial #07 of 101 dials +31612345678\n")
    assert acme.ok("user", "speed-dial", "101") == "#2   102\n#07  +31612345678\n"
    assert "speed_dial:          #2 -> 102, #07 -> +31612345678" in acme.ok("user", "show", "101")
    dialled = acme.ok("simulate", "call", "--from", "101", "--to", "#2")
    assert "speed dial #2 of 101 is 102" in dialled
    assert "user/102@acme.example" in dialled
    assert acme.ok("user", "speed-dial", "101", "--remove", "2") == (
        "speed dial #2 of 101 cleared\n")
    assert acme.json("user", "speed-dial", "101") == [
        {"slot": "07", "dial": "#07", "number": "+31612345678"}]


def test_bad_speed_dials_are_refused_and_change_nothing(acme: Pbx) -> None:
    acme.ok("user", "speed-dial", "101", "3", "102")
    before = acme.events()
    assert acme.fails("user", "speed-dial", "101", "1", "102") == (
        "error: invalid speed dial slot '1': one digit 2-9, or two digits 00-99")
    assert acme.fails("user", "speed-dial", "101", "100", "102").startswith(
        "error: invalid speed dial slot '100'")
    assert acme.fails("user", "speed-dial", "101", "4", "0900 1234567") == (
        "error: +319001234567 is a premium number, which the outgoing calling plan of 101 "
        "does not allow")
    assert acme.fails("user", "speed-dial", "101", "4", "banana") == (
        "error: 'banana' is no extension of Acme and no valid number")
    assert acme.fails("user", "speed-dial", "101", "4", "101") == (
        "error: 101 cannot speed-dial itself")
    assert acme.fails("user", "speed-dial", "101", "--remove", "5") == (
        "error: 101 has no speed dial in slot 5")
    assert acme.fails("user", "speed-dial", "101", "4").startswith("error: missing NUMBER")
    assert acme.fails("user", "speed-dial", "999", "4", "102").startswith("error: ")
    assert acme.events() == before
