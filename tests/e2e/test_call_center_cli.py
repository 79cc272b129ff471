"""``pbx queue`` and ``pbx agent`` (CC-1 to CC-4) run as real subprocesses: a queue set up,
a call through it, the live view; bad input refused with one line, exit 2, nothing changed."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_a_queue_is_set_up_called_and_shown_live(acme: Pbx) -> None:
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    out = acme.ok("queue", "add", "Support", "--extension", "700", "--number", "020 7000700",
                  "--tier", "25", "--policy", "regular", "--max-wait", "60", "--overflow",
                  "103", "--comfort-every", "20", "--bounce-after", "10", "--wrap-up", "300")
    assert out == ("queue Support added: extension 700, number 020 700 0700, tier 25, "
                   "regular, overflow after 60 s to 103\n")
    assert acme.ok("queue", "agent", "add", "Support", "101") == (
        "101 is an agent of queue Support, signed in: agents 101\n")
    acme.ok("queue", "agent", "add", "Support", "102")
    assert acme.ok("agent", "set", "102", "unavailable", "--reason", "lunch") == (
        "agent 102 is unavailable (lunch)\n")
    before = acme.events()
    refusals = {
        "'30' is not one of '25', '50', '525'": ("--tier", "30", "--policy",
                                                             "regular"),
        "unknown policy 'random'": ("--tier", "25", "--policy", "random"),
        "the queue cannot overflow to itself (701)": ("--tier", "25", "--policy", "regular",
                                                     "--overflow", "701"),
    }
    for message, args in refusals.items():
        assert message in acme.fails("queue", "add", "Other", "--extension", "701", *args)
    assert "extension 700 is taken" in acme.fails("user", "add", "700", "--name", "Someone")
    assert "103 is no agent of any queue" in acme.fails("agent", "set", "103", "available")
    assert "--reason goes with unavailable only" in acme.fails(
        "agent", "set", "101", "available", "--reason", "x")
    assert "101 is already an agent of queue Support" in acme.fails(
        "queue", "agent", "add", "Support", "101")
    assert "no queue 'Nope'" in acme.fails("queue", "show", "Nope")
    assert acme.events() == before

    routed = acme.ok("simulate", "call", "--from", "+31612345678", "--to", "020 7000700")
    assert "[queue: offer] after 0 s: ringing agent 101 (Alice Jansen) for 10 s" in routed
    assert "[queue: answered] agent 101 answered; wrap-up 300 s after the call" in routed
    shown = acme.ok("queue", "show", "Support")
    assert "waiting: 0" in shown
    assert "101    Alice Jansen  wrap-up (" in shown
    assert "102    Bob de Vries  unavailable (lunch)" in shown
    assert "calls: 1 entered, 1 answered, 0 abandoned, 0 overflowed, 0 bounced" in shown
    assert "Support  700  020 700 0700  25    regular  101, 102  0" in acme.ok("queue", "list")
    assert acme.json("queue", "show", "Support")["figures"]["answered"] == 1
    assert acme.ok("agent", "sign-out", "101", "Support") == (
        "agent 101 signed out of queue Support\n")
    # changed in place (pbx queue set): only the settings given, the agents stay
    assert acme.ok("queue", "set", "Support", "--announce", "both", "--max-wait", "300",
                   "--welcome", "none") == (
        "queue Support changed (announce, max-wait, welcome): tier 25, regular, overflow "
        "after 300 s to 103, announce both\n")
    before = acme.events()
    assert "unknown policy 'nope'" in acme.fails(
        "queue", "set", "Support", "--max-wait", "30", "--tier", "50", "--policy", "nope")
    assert "nothing to change" in acme.fails("queue", "set", "Support")
    assert acme.events() == before
