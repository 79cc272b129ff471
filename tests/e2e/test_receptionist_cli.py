"""``pbx assistant`` (MA-1) and ``pbx receptionist`` (RCP-1) run as real subprocesses: what an
operator types and reads, a simulated call screened by the assistant, bad input refused with
one line and exit 2, nothing changed."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_assistant_and_receptionist_commands_and_their_bad_input(acme: Pbx) -> None:
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    assert acme.ok("assistant", "add", "101", "102", "--filter", "external") == (
        "manager    101 (Alice Jansen)\nscreening  on\nfilter     external\n"
        "ASSISTANT  NAME\n102        Bob de Vries\n")
    assert acme.json("assistant", "show", "101") == {
        "manager": "101", "assistants": ["102"], "filter": "external", "screening": True}
    call = acme.ok("simulate", "call", "--from", "+31612345678", "--to", "0201234567")
    assert "answered by assistant 102 on behalf of 101" in call
    assert "screening  off" in acme.ok("assistant", "screening", "101", "off")
    assert acme.ok("receptionist", "add", "103", "--licence", "entry") == (
        "receptionist 103: entry licence (8 monitored users)\n")
    assert acme.ok("receptionist", "monitor", "103", "101,102") == (
        "receptionist 103 monitors 2 of 8: 101, 102\n")
    console = acme.json("receptionist", "show", "103")
    assert [(line["extension"], line["state"], line["calls"]) for line in console["lines"]] == [
        ("101", "idle", []), ("102", "idle", [])]

    before = acme.events()
    assert "101 cannot be their own assistant" in acme.fails("assistant", "add", "101", "101")
    assert "unknown filter 'friends'" in acme.fails(
        "assistant", "add", "101", "103", "--filter", "friends")
    assert "102 has no assistant" in acme.fails("assistant", "show", "102")
    assert "103 is no assistant of 101" in acme.fails("assistant", "remove", "101", "103")
    assert "no user with extension 999" in acme.fails("receptionist", "monitor", "103", "999")
    assert "is no receptionist" in acme.fails("receptionist", "show", "101")
    assert "--esl" in acme.fails("receptionist", "transfer", "103",
                                 "00000000-0000-4000-8000-000000000001", "102")
    # Queue handling (premium only): refused on the entry licence, nothing changed.
    assert "queue handling comes with the premium licence only" in acme.fails(
        "receptionist", "queues", "103", "Support")
    assert acme.events() == before

    acme.ok("queue", "add", "Support", "--extension", "700", "--tier", "25", "--policy",
            "regular")
    assert acme.ok("receptionist", "add", "103", "--licence", "premium") == (
        "receptionist 103: premium licence (unlimited monitored users, queue handling)\n")
    assert acme.ok("receptionist", "queues", "103", "700") == (
        "receptionist 103 handles 1 queue(s): Support\n")
    before = acme.events()
    secret = {"PBX_ESL_PASSWORD": "not-the-default"}
    assert "no call 00000000-0000-4000-8000-000000000001 is waiting in a queue" in acme.fails(
        "receptionist", "take", "103", "00000000-0000-4000-8000-000000000001",
        "--esl", "127.0.0.1:9", env=secret)  # refused before the switch is contacted
    assert "no queue 'Billing'" in acme.fails("receptionist", "queues", "103", "Billing")
    assert acme.events() == before
