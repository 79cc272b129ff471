"""The audit commands run as real subprocesses: seal, verify (intact, then tampered with
through sqlite3), checkpoints kept elsewhere, state at a moment, export, rebuild; and their
bad input refused with one line, exit 2, nothing written but the refusal itself."""

from __future__ import annotations

import json
import sqlite3

from tests.e2e.conftest import Pbx


def test_seal_verify_state_export_rebuild_and_their_bad_input(acme: Pbx) -> None:
    acme.ok("user", "dnd", "102", "on")
    acme.ok("user", "forward", "101", "--always", "102")
    events = acme.events()
    top = len(events)
    dnd_at = events[-2]["timestamp"]
    bob = next(e["position"] for e in events if e["data"].get("name") == "Bob de Vries")
    assert acme.ok("events", "seal", "--checkpoint-every", "2").startswith(
        f"sealed {top} new event(s); the chain covers {top} events up to position {top}")
    intact = acme.ok("events", "verify")
    assert intact.startswith(f"chain intact: {top} sealed events intact up to position {top}; "
                             f"{top // 2} checkpoint(s) match")
    checkpoints = acme.ok("events", "checkpoints")
    assert checkpoints.splitlines()[0].split() == ["POSITION", "EVENTS", "HASH", "SEALED", "AT"]
    (acme.cwd / "offsite.txt").write_text(checkpoints)
    assert "off-site checkpoint(s) match" in acme.ok("events", "verify", "--checkpoints",
                                                     "offsite.txt")

    # the configuration as it was: 102 on DND, 101 not yet forwarding
    then = acme.json("audit", "state", "--at", dnd_at, "--enterprise", "Acme")
    users = {u["extension"]: u for u in then["enterprise"]["users"]}
    assert users["102"]["dnd"] is True and users["101"]["forwarding"] == {}
    assert "forwarding:          always -> 102" in acme.ok(
        "audit", "state", "--at", "2099-01-01", "--user", "101")

    # export: JSON Lines of the range; a reversed range writes nothing
    day = dnd_at[:10]
    assert acme.ok("events", "export", "--from", day, "--to", day, "--output", "day.jsonl") == (
        f"exported {top} event(s) to day.jsonl\n")
    lines = [json.loads(line) for line in (acme.cwd / "day.jsonl").read_text().splitlines()]
    assert [line["position"] for line in lines] == list(range(1, top + 1))
    assert lines[-1]["topic"].endswith("User.ForwardingEnabled")
    assert lines[-1]["data"]["destination"] == "102"

    assert acme.ok("projections", "rebuild", "call_log").startswith(
        f"rebuilt call_log from {top} events: equal to the live view")
    assert acme.ok("projections", "rebuild", "directory").startswith(
        f"rebuilt directory from {top} events: equal to the live view")

    # refused: one line, exit 2, nothing written; the attempt itself is recorded
    assert acme.fails("audit", "state", "--at", "half past ten") == (
        "error: not a timestamp: 'half past ten' (use e.g. 2026-11-26 or 2026-11-26T14:05:00)")
    assert "reversed" in acme.fails("events", "export", "--from", "2026-12-01", "--to",
                                    "2026-11-01", "--output", "reversed.jsonl")
    assert not (acme.cwd / "reversed.jsonl").exists()
    assert [(e["type"], e["data"]["command"]) for e in acme.events()[top:]] == [
        ("AuditRequestRefused", "audit state"), ("AuditRequestRefused", "events export")]

    # someone edits the SQLite file: verify names the position, exit status 1
    with sqlite3.connect(acme.cwd / "var" / "pbx.sqlite") as conn:
        conn.execute("UPDATE pbx_events SET state = replace(state, 'Bob', 'Rob') WHERE id = ?",
                     (bob,))
    tampered = acme.run("events", "verify")
    assert tampered.status == 1, tampered.describe()
    assert tampered.stdout == ""
    assert tampered.stderr == (f"verify failed: position {bob}: changed event: its hash "
                               "differs from the sealed chain\n")
