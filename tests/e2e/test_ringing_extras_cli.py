"""End-to-end: ringing extras from the command line (one subprocess per command).

``pbx user alt-number``, ``priority-alert``, ``device`` and ``set --desk-schedule /
--mobile-schedule``: what ``user show`` lists, what a simulated call does with it, and the
refusals (exit 2, one ``error:`` line, not one event written).
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Pbx


def explained(cli: Pbx, *args: str) -> str:
    result: dict[str, Any] = cli.json("simulate", "call", *args)
    return "\n".join(result["explanation"])


def test_ringing_extras_are_listed_and_used_by_calls(acme: Pbx) -> None:
    assert acme.ok("user", "alt-number", "101", "add", "150") == (
        "alternate number 150 of 101 added (ring 1, normal)\n")
    assert acme.ok("user", "alt-number", "101", "add", "020 7654321") == (
        "alternate number +31207654321 of 101 added (ring 2: Bellcore-dr2)\n")
    assert acme.ok("user", "priority-alert", "101", "--add", "+3130*") == (
        "priority alert +3130* added to 101\n")
    assert acme.ok("user", "device", "101", "add", "home", "--password", "home-pass-1") == (
        "device home of 101 added: registers as 101-home@acme.example\n")
    acme.ok("schedule", "add", "never", "--hours", "daily closed", "--holidays", "none")
    assert acme.ok("user", "set", "101", "--desk-schedule", "never") == "user 101 updated\n"
    shown = acme.json("user", "show", "101")
    assert shown["alternate_numbers"] == ["150", "+31207654321 (ring 2)"]
    assert shown["priority_alert"] == ["+3130*"]
    assert shown["devices"] == ["101-home"]
    assert shown["desk_schedule"] == "never"
    assert "home-pass-1" not in acme.printed()

    story = explained(acme, "--from", "102", "--to", "150")
    assert "150 is alternate number 1 of 101 (Alice Jansen)" in story
    assert "the desk phones of 101 do not ring: schedule 'never' is closed now" in story
    assert "treated as not reachable" in story

    acme.ok("user", "set", "101", "--desk-schedule", "none")
    story = explained(acme, "--from", "0301234567", "--to", "020 7654321")
    assert "is alternate number 2 of 101" in story
    assert "on all registered devices (shared: 101-home)" in story
    assert "Bellcore-dr2" in story

    acme.ok("user", "alt-number", "101", "remove", "150")
    acme.ok("user", "priority-alert", "101", "--remove", "+3130*")
    acme.ok("user", "device", "101", "remove", "home")
    shown = acme.json("user", "show", "101")
    assert shown["alternate_numbers"] == ["+31207654321 (ring 2)"]
    assert shown["priority_alert"] == [] and shown["devices"] == []


def test_bad_input_is_refused_with_one_line_and_writes_nothing(acme: Pbx) -> None:
    for ext in range(150, 160):
        acme.ok("user", "alt-number", "101", "add", str(ext))
    before = len(acme.events())
    refusals = {
        ("user", "alt-number", "101", "add", "160"): "no more than 10",
        ("user", "alt-number", "102", "add", "101"): "already taken by Alice Jansen",
        ("user", "alt-number", "102", "add", "150"): "is alternate number 1 of 101",
        ("user", "alt-number", "102", "add", "020 1234567"): "already belongs to 101",
        ("user", "alt-number", "102", "add", "150", "--ring", "4"): "'--ring'",
        ("user", "alt-number", "102", "remove", "170"): "170 is no alternate number of 102",
        ("user", "priority-alert", "101", "--add", "abc"): "invalid caller pattern",
        ("user", "priority-alert", "101", "--add", "+31*", "--schedule", "x"):
            "unknown schedule",
        ("user", "priority-alert", "101"): "give one of --add PATTERN or --remove PATTERN",
        ("user", "device", "101", "add", "Home", "--password", "long-enough"):
            "invalid device name",
        ("user", "device", "101", "add", "home", "--password", "short"): "at least 8",
        ("user", "device", "101", "remove", "home"): "101 has no device 'home'",
        ("user", "set", "101", "--desk-schedule", "nope", "--call-waiting", "off"):
            "unknown schedule for --desk-schedule",
    }
    for args, why in refusals.items():
        line = acme.fails(*args)
        assert why in line, line
    assert len(acme.events()) == before
    assert acme.json("user", "show", "101")["call_waiting"] is True
