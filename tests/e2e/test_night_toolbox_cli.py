"""End-to-end: ``pbx night-service``, ``pbx toolbox`` and ``pbx schedule close`` as an operator
runs them, one subprocess per command, with calls placed through ``pbx simulate call``."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_night_service_of_a_user_from_the_command_line(acme: Pbx) -> None:
    acme.ok("schedule", "add", "office", "--hours", "mon-thu 08:30-17:30, fri 08:30-16:00")
    out = acme.ok("night-service", "102", "auto", "--to", "06 12345678", "--schedule", "office")
    assert out == ("night service of user 102 (Bob de Vries) automatic: calls go to "
                   "06 12345678 while schedule 'office' is closed\n")
    shown = acme.json("night-service", "102", "--at", "2026-12-25T10:00")
    assert shown["diverting"] is True and "Christmas Day" in shown["reason"]
    shown = acme.json("night-service", "102", "--at", "2026-11-27T15:30")  # Friday 15:30
    assert shown["diverting"] is False and "is open" in shown["reason"]
    acme.ok("schedule", "close", "office", "2026-11-27")
    shown = acme.json("night-service", "102", "--at", "2026-11-27T15:30")
    assert shown["diverting"] is True and "extra closed day" in shown["reason"]

    assert "on: every call goes to 06 12345678" in acme.ok("night-service", "102", "on")
    call = acme.ok("simulate", "call", "--from", "101", "--to", "102")
    assert "night service of 102 (Bob de Vries) is on (manual): to 06 12345678" in call
    assert "answered by +31612345678" in call
    assert "ringing 102" not in call
    listed = acme.json("night-services")
    assert listed == [{"target": "102", "mode": "on", "to": "+31612345678",
                       "schedule": "office"}]


def test_bad_night_service_and_schedule_input_is_refused_and_writes_nothing(acme: Pbx) -> None:
    acme.ok("schedule", "add", "office", "--hours", "weekdays 08:30-17:30")
    count = len(acme.events())
    assert "no user or target '999'" in acme.fails("night-service", "999", "on", "--to", "101")
    assert "premium number" in acme.fails("night-service", "102", "on", "--to", "09001234567")
    assert "unknown schedule: 'nope'" in acme.fails(
        "night-service", "102", "auto", "--to", "101", "--schedule", "nope")
    assert "needs a destination" in acme.fails("night-service", "102", "on")
    assert "'sometimes'" in acme.fails("night-service", "102", "sometimes")
    assert "'mon-fry'" in acme.fails("schedule", "add", "late", "--hours", "mon-fry 08:00-17:00")
    assert "bad date" in acme.fails("schedule", "close", "office", "2026-02-30")
    assert "before the first" in acme.fails("schedule", "close", "office", "2026-06-12",
                                            "--until", "2026-06-01")
    assert len(acme.events()) == count


def test_toolbox_on_a_hunt_group_and_its_bad_input(acme: Pbx) -> None:
    acme.ok("hunt-group", "add", "Sales", "--extension", "600", "--policy", "regular",
            "--members", "102")
    out = acme.ok("toolbox", "add", "Out of office", "--busy", "0612345678",
                  "--reject-anonymous", "on")
    assert out == "toolbox 'Out of office' added: busy, rejects anonymous callers\n"
    acme.ok("toolbox", "set", "out of office", "--no-answer", "101", "--after", "15")
    assert acme.ok("toolbox", "attach", "Out of office", "Sales") == (
        "toolbox 'Out of office' attached to hunt group Sales (ext. 600)\n")
    shown = acme.ok("toolbox", "show", "Out of office")
    assert "busy:             to 06 12345678" in shown
    assert "no-answer:        to 101 after 15 s" in shown
    assert "attached to:      hunt group Sales (ext. 600)" in shown

    call = acme.ok("simulate", "call", "--from", "101", "--to", "600", "--endpoint", "102=busy")
    assert "toolbox 'Out of office' of hunt group Sales (ext. 600) forwards when busy" in call
    assert "answered by +31612345678" in call

    count = len(acme.events())
    assert "not users" in acme.fails("toolbox", "attach", "Out of office", "102")
    assert "no user or target 'Support'" in acme.fails("toolbox", "attach", "Out of office",
                                                       "Support")
    assert "already has toolbox" in acme.fails("toolbox", "attach", "Out of office", "600")
    assert "--after goes with --no-answer" in acme.fails("toolbox", "set", "Out of office",
                                                         "--after", "20")
    assert "premium number" in acme.fails("toolbox", "set", "Out of office", "--busy",
                                          "0900 1234567")
    assert "needs --schedule" in acme.fails("toolbox", "set", "Out of office",
                                            "--selective", "101")
    assert "would send calls of hunt group Sales" in acme.fails(
        "toolbox", "set", "Out of office", "--always", "600")
    assert "no toolbox named 'Nope'" in acme.fails("toolbox", "show", "Nope")
    assert len(acme.events()) == count

    listed = acme.json("toolbox", "list")
    assert [(t["name"], sorted(t["rules"]), t["attached"]) for t in listed] == [
        ("Out of office", ["busy", "no-answer"], ["hunt group Sales (ext. 600)"])]
    acme.ok("toolbox", "detach", "Out of office", "600")
    call = acme.ok("simulate", "call", "--from", "101", "--to", "600", "--endpoint", "102=busy")
    assert "toolbox" not in call
    assert "removed" in acme.ok("toolbox", "remove", "Out of office")
    assert acme.json("toolbox", "list") == []
