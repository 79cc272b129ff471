"""Refused audit, privacy and recording-access commands through the real CLI (issue 6 item 7):
one ``error:`` line and exit status 2 each, the configuration unchanged, and the attempt on the
record for an auditor: one event each, with no number or secret in clear."""

from __future__ import annotations

from tests.e2e.conftest import Pbx

SECRET = "a-long-shared-secret-for-the-crm"


def test_refusals_change_nothing_but_are_each_recorded(acme: Pbx) -> None:
    acme.ok("webhook", "add", "https://crm.example/pbx", "-e", "Acme", "--secret", SECRET)
    configuration = (acme.ok("user", "list", "--json"), acme.ok("webhook", "list"),
                     acme.ok("audit", "state", "--at", "2099-01-01", "--json"))
    before = acme.events()

    assert acme.fails("audit", "state", "--at", "nonsense") == (
        "error: not a timestamp: 'nonsense' (use e.g. 2026-11-26 or 2026-11-26T14:05:00)")
    assert acme.fails("events", "export", "--from", "2026-11-27", "--to", "2026-11-26") == (
        "error: the range is reversed: --to 2026-11-26 is before --from 2026-11-27")
    assert acme.fails("audit", "reroute", "--since", "yesterday") == (
        "error: --since: not a date: 'yesterday' (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    assert acme.fails("privacy", "erase", "06 12345678") == (
        "error: no personal data held for +31612345678 (unknown or already erased)")
    assert acme.fails("webhook", "add", "https://crm.example/pbx", "-e", "Acme",
                      "--secret", SECRET) == "error: webhook https://crm.example/pbx already exists"
    assert acme.fails("recordings", "search", "--as", "102", "--user", "101") == (
        "error: 102 may not hear the recordings of 101: no recording team makes them a "
        "listener of that user")

    after = acme.events()
    assert after[:len(before)] == before  # nothing changed ...
    assert (acme.ok("user", "list", "--json"), acme.ok("webhook", "list"),
            acme.ok("audit", "state", "--at", "2099-01-01", "--json")) == configuration
    added = after[len(before):]  # ... but each attempt is on the record, once
    assert [(e["type"], e["data"].get("command") or e["data"].get("action"))
            for e in added] == [
        ("AuditRequestRefused", "audit state"), ("AuditRequestRefused", "events export"),
        ("AuditRequestRefused", "audit reroute"), ("AuditRequestRefused", "privacy erase"),
        ("AuditRequestRefused", "webhook add"), ("RecordingAccessRefused", "search")]
    assert all(e["data"]["by"] for e in added[:5])  # who tried
    erase = added[3]["data"]["reason"]
    assert erase.startswith("no personal data held for person ") and "1234" not in erase

    listed = acme.ok("events", "list", "--limit", "1000")
    assert "AuditRequestRefused" in listed and "command=audit state" in listed
    stored = b"".join(p.read_bytes() for p in (acme.cwd / "var").glob("pbx*.sqlite*"))
    assert b"12345678" not in stored and SECRET.encode() not in stored
    assert SECRET not in acme.printed()
    acme.ok("events", "seal")
    assert acme.ok("events", "verify").startswith("chain intact: ")
