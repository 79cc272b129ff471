"""``pbx privacy erase`` and ``pbx calls purge`` (issue 6 item 5) through the real CLI."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_erase_a_caller_then_purge_the_call_log(acme: Pbx) -> None:
    placed = acme.ok("simulate", "call", "--from", "06 12345678", "--to", "020 1234567")
    call_id = next(line.split()[1] for line in placed.splitlines() if line.startswith("Call "))
    assert "06 12345678" in acme.ok("calls", "list")
    events = acme.ok("events", "list", "--limit", "1000", "--json")
    assert "12345678" not in events and "pd:v1:" in events  # sealed in the events

    erased = acme.ok("privacy", "erase", "+31 6 1234 5678", "-e", "Acme")
    assert erased.startswith("Erased +31612345678: key of person ")
    listed = acme.ok("calls", "list")
    assert "[erased]" in listed and "12345678" not in listed
    story = acme.ok("calls", "explain", call_id)
    assert "[erased] dialled 020 1234567" in story and "12345678" not in story
    assert acme.json("calls", "explain", call_id)["caller"] == "[erased]"
    acme.ok("events", "verify")  # no stored event changed
    acme.ok("projections", "rebuild", "call_log")  # exits 1 if it differs from the live one
    assert "[erased]" in acme.ok("calls", "list")

    before = acme.events()
    assert acme.fails("privacy", "erase", "06 12345678") == (
        "error: no personal data held for +31612345678 (unknown or already erased)")
    assert acme.fails("privacy", "erase", "banana") == (
        "error: not a valid telephone number: 'banana'")
    assert acme.fails("privacy", "erase", "06 12345678", "-e", "Nope") == (
        "error: unknown enterprise: 'Nope'")
    assert acme.fails("calls", "purge", "--older-than", "-1") == (
        "error: --older-than must be 0 to 36500 days, not -1")
    after = acme.events()  # nothing changed; each refusal recorded, without the number
    assert after[:len(before)] == before
    assert [e["type"] for e in after[len(before):]] == ["AuditRequestRefused"] * 4
    assert "12345678" not in str(after[len(before):])

    assert acme.ok("calls", "purge", "--older-than", "30").startswith(
        "Purged 0 call log entries of calls started before ")
    assert acme.json("calls", "purge", "--older-than", "0")["rows"] == 1
    assert call_id not in acme.ok("calls", "list")
    last = acme.events()[-3:]
    assert [e["type"] for e in last] == ["AuditRequestRefused", "CallLogPurged",
                                         "CallLogPurged"]
    assert last[-1]["data"]["rows"] == 1
