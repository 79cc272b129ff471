"""``pbx queue supervisor | priority | monitor | report`` (CC-5) as a user runs them: a
supervisor named, a call answered by the simulator, its report, and bad input refused with
one line, exit status 2 and nothing changed."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_supervisor_commands_and_the_report_of_a_simulated_call(acme: Pbx) -> None:
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    acme.ok("queue", "add", "Support", "--extension", "700", "--number", "020 7000700",
            "--tier", "25", "--policy", "regular")
    acme.ok("queue", "agent", "add", "Support", "102")
    assert acme.ok("queue", "supervisor", "add", "Support", "103") == (
        "103 supervises queue Support: supervisors 103\n")
    before = len(acme.events())
    assert acme.fails("queue", "supervisor", "add", "Support", "103") == (
        "error: 103 is already a supervisor of queue Support")
    assert acme.fails("queue", "supervisor", "remove", "Support", "101") == (
        "error: 101 is no supervisor of queue Support")
    assert acme.fails("queue", "priority", "no-such-call", "3") == (
        "error: no call 'no-such-call' is in a queue of 'Acme'")
    assert acme.fails("queue", "monitor", "102", "--supervisor", "103", "--mode",
                      "listen") == ("error: missing option '--esl' (FreeSWITCH's inbound ESL "
                                    "HOST:PORT)")
    assert acme.fails("queue", "monitor", "102", "--supervisor", "103", "--mode", "listen",
                      "--esl", "127.0.0.1:9", env={"PBX_ESL_PASSWORD": "a-secret"}) == (
        "error: agent 102 is talking on no queue call")
    assert acme.fails("queue", "report", "Support", "--from", "yesterday", "--to",
                      "2026-11-30") == ("error: not a timestamp: 'yesterday' (use e.g. "
                                        "2026-11-26 or 2026-11-26T14:05:00)")
    assert acme.fails("queue", "report", "Support", "--from", "2026-12-01", "--to",
                      "2026-11-01") == ("error: the range is reversed: --to 2026-11-01 is "
                                        "before --from 2026-12-01")
    assert len(acme.events()) == before  # nothing was recorded

    acme.ok("simulate", "call", "--from", "+31612345678", "--to", "020 7000700")
    report = acme.ok("queue", "report", "Support", "--from", "2000-01-01", "--to",
                     "2100-12-31", "--service-level", "30").splitlines()
    assert report[0] == ("queue Support: calls that entered from 2000-01-01 00:00:00 to "
                         "2100-12-31 23:59:59 UTC")
    assert report[1] == ("offered 1: 1 answered, 0 abandoned, 0 overflowed, 0 moved, "
                         "0 still in the queue; 0 offers rang out")
    assert report[4] == "service level: 1 of 1 answered within 30 s (100.0 %)"
    assert report[5].split() == ["AGENT", "NAME", "ANSWERED", "AVERAGE", "TALK"]
    assert report[6].split()[:4] == ["102", "Bob", "de", "Vries"]
    assert "equal to the live view" in acme.ok("projections", "rebuild", "queue_report")
