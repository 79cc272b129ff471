"""``pbx calls explain`` with configuration versions, ``pbx audit reroute`` and ``pbx webhook``
as an administrator runs them, bad input included."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.conftest import Pbx


def test_explain_reroute_and_webhooks_from_the_command_line(acme: Pbx) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    to_bob = acme.json("simulate", "call", "--from", "101", "--to", "102")["call_id"]
    acme.json("simulate", "call", "--from", "101", "--to", "103")
    explained = acme.json("calls", "explain", to_bob)
    position = explained["configuration"]["position"]
    assert [v["label"] for v in explained["configuration"]["versions"]] == [
        "enterprise Acme", "user 101", "user 102"]
    assert f"configuration as of event {position} (enterprise Acme v" in acme.ok(
        "calls", "explain", to_bob)

    assert acme.ok("audit", "reroute", "--since", today) == (
        "2 call(s) re-run, 0 would now go elsewhere\n")
    acme.ok("user", "forward", "102", "--always", "103")
    report = acme.json("audit", "reroute", "--since", today)
    assert report["checked"] == 2
    assert [(d["call_id"], d["summary"]) for d in report["differences"]] == [
        (to_bob, "would now ring 103 instead of 102")]
    assert "not a date" in acme.fails("audit", "reroute", "--since", "yesterday")
    assert "not after" in acme.fails("audit", "reroute", "--since", today, "--until", "2000-01-01")

    acme.ok("webhook", "add", "https://crm.example/pbx", "-e", "Acme",
            "--secret", "a-long-shared-secret")
    assert "already exists" in acme.fails("webhook", "add", "https://crm.example/pbx", "-e",
                                          "Acme")
    assert "not an http(s) URL" in acme.fails("webhook", "add", "ftp://crm.example/x")
    listed = acme.json("webhook", "list")  # the bad ones added nothing
    assert [(h["url"], h["enterprise"]) for h in listed] == [("https://crm.example/pbx", "Acme")]
    assert "a-long-shared-secret" not in acme.printed()
    assert acme.ok("webhook", "remove", "https://crm.example/pbx", "-e", "Acme") == (
        "webhook https://crm.example/pbx removed\n")
