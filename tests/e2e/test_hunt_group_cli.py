"""``pbx hunt-group`` (CORE-2) run as real subprocesses: what an operator types and reads,
bad input refused with one line and exit 2 and nothing changed."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_a_hunt_group_is_added_shown_changed_and_removed(acme: Pbx) -> None:
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    assert "102 has no voicemail box for 'vm:102'" in acme.fails(
        "hunt-group", "add", "Sales", "--extension", "600", "--policy", "regular",
        "--members", "101", "--no-answer", "vm:102")
    acme.ok("voicemail", "enable", "101", "--no-email-audio")
    out = acme.ok("hunt-group", "add", "Sales", "--extension", "600", "--number", "020 7654321",
                  "--policy", "circular", "--members", "101,102", "--member-timeout", "10",
                  "--no-answer", "vm:101", "--after", "25", "--busy", "103")
    assert out == ("hunt group Sales added: extension 600, number 020 765 4321, circular, "
                   "members 101, 102\n")
    before = acme.events()
    refusals = {
        "unknown member: no user with extension '109'": (
            "--members", "101,109", "--policy", "regular"),
        "extension 101 already exists": ("--members", "101", "--policy", "regular"),
        "unknown policy 'random'": ("--members", "101", "--policy", "random"),
        "weights apply to weighted groups only": ("--members", "101:5", "--policy", "regular"),
        "forwarding destination 555 is no user or group": (
            "--members", "101", "--policy", "regular", "--no-answer", "555"),
        "premium number, which the outgoing calling plan does not allow": (
            "--members", "101", "--policy", "regular", "--busy", "0900 1234567"),
    }
    for message, args in refusals.items():
        extension = "101" if "already exists" in message else "601"
        assert message in acme.fails("hunt-group", "add", "Support", "--extension", extension,
                                     *args)
    assert "extension 600 is taken by hunt group Sales" in acme.fails(
        "user", "add", "600", "--name", "Someone")
    assert "no hunt group 'Nope'" in acme.fails("hunt-group", "show", "Nope")
    assert "103 is no member of hunt group Sales" in acme.fails(
        "hunt-group", "sign-out", "Sales", "103")
    assert acme.events() == before

    assert acme.ok("hunt-group", "add-member", "Sales", "103") == (
        "103 added to hunt group Sales: members 101, 102, 103\n")
    assert acme.ok("hunt-group", "sign-out", "Sales", "102") == (
        "102 signed out of hunt group Sales\n")
    shown = acme.ok("hunt-group", "show", "Sales")
    assert shown.splitlines()[:4] == [
        "hunt group Sales: extension 600, numbers 020 765 4321",
        "policy circular, each member rings 10 s, the whole hunt at most 25 s",
        "forward no-answer: vm:101",
        "forward busy: 103",
    ]
    assert "102  Bob de Vries  signed out" in shown
    assert shown.splitlines()[-1] == "next call: 101 (order 101, 102, 103)"
    data = acme.json("hunt-group", "show", "600")
    assert [(m["extension"], m["state"]) for m in data["members"]] == [
        ("101", "available"), ("102", "signed out"), ("103", "available")]

    # A call: 101 rings first and does not answer, 102 is signed out, 103 answers.
    acme.ok("simulate", "call", "--from", "+31301234567", "--to", "020 7654321",
            "--endpoint", "101=no-answer")
    assert acme.json("hunt-group", "show", "Sales")["next"] == "101"  # after 103: wraps
    [listed] = acme.json("hunt-group", "list")
    assert (listed["name"], listed["policy"], listed["numbers"]) == (
        "Sales", "circular", ["+31207654321"])
    acme.ok("hunt-group", "sign-in", "Sales", "102")
    assert acme.ok("hunt-group", "remove-member", "Sales", "101") == (
        "101 removed from hunt group Sales: members 102, 103\n")
    assert acme.ok("hunt-group", "remove", "Sales") == (
        "hunt group Sales removed (extension 600 is free again)\n")
    assert acme.json("hunt-group", "list") == []
    acme.ok("user", "add", "600", "--name", "Now a user")


def test_a_call_to_the_group_explains_each_member_it_tried(acme: Pbx) -> None:
    acme.ok("hunt-group", "add", "Desk", "--extension", "610", "--policy", "weighted",
            "--members", "101:1,102:99")
    assert "weights apply to weighted groups only" not in acme.ok(
        "hunt-group", "show", "Desk")
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    out = acme.ok("simulate", "call", "--from", "103", "--to", "610",
                  "--endpoint", "101=busy", "--endpoint", "102=busy")
    assert "hunts weighted (seed " in out
    assert "every member is busy" in out
    assert "ended: busy (USER_BUSY)" in out
    # changed in place: the next call hunts the new way
    assert acme.ok("hunt-group", "set", "Desk", "--policy", "regular", "--busy", "103") == (
        "hunt group Desk changed: regular, 15 s per member; forwarding busy to 103\n")
    before = acme.events()
    assert "the member timeout is 5 to 120, not 1" in acme.fails(
        "hunt-group", "set", "Desk", "--member-timeout", "1")
    assert "has these settings already" in acme.fails("hunt-group", "set", "Desk",
                                                      "--policy", "regular")
    assert acme.events() == before
    out = acme.ok("simulate", "call", "--from", "101", "--to", "610",
                  "--endpoint", "102=busy")
    assert "forwards to 103" in out
