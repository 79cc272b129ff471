"""``pbx calling-plan``, ``department``, ``capacity``, ``click-to-call`` and ``licence`` run as
real subprocesses: what an operator types and reads; bad input refused with one line and
exit 2, nothing written."""

from __future__ import annotations

from tests.e2e.conftest import Pbx


def test_calling_plans_by_level_and_a_call_they_decide(acme: Pbx) -> None:
    assert acme.ok("department", "add", "Sales", "--members", "102") == (
        "department Sales added: 102\n")
    assert acme.ok("calling-plan", "set", "--group", "Sales", "--block", "mobile") == (
        "outgoing calling plan of department Sales: allowed: internal, local, national, "
        "service; with PIN: none; blocked: mobile, premium, international\n")
    acme.ok("calling-plan", "set", "--user", "101", "--with-pin", "international",
            "--incoming", "no-anonymous")
    bob = acme.json("calling-plan", "show", "--user", "102")
    assert (bob["outgoing"]["mobile"], bob["outgoing_from"]) == (
        "blocked", "the plan of department Sales")
    alice = acme.json("calling-plan", "show", "--user", "101")
    assert (alice["outgoing"]["international"], alice["incoming"]) == ("pin", "no-anonymous")

    out = acme.ok("simulate", "call", "--from", "102", "--to", "0612345678")
    assert "switch result: hangup OUTGOING_CALL_BARRED" in out
    assert "06 12345678 is a mobile number, which the outgoing calling plan blocks " \
           "(the plan of department Sales)" in out
    out = acme.ok("simulate", "call", "--from", "101", "--to", "0612345678")
    assert "connected to +31612345678" in out

    assert acme.ok("calling-plan", "clear", "--group", "Sales") == (
        "outgoing calling plan of department Sales cleared: the default plan applies\n")

    before = acme.events()
    assert "unknown calling plan class 'galactic'" in acme.fails(
        "calling-plan", "set", "--allow", "galactic")
    assert "named in two of" in acme.fails(
        "calling-plan", "set", "--allow", "mobile", "--block", "mobile")
    assert "unknown incoming plan 'friends'" in acme.fails(
        "calling-plan", "set", "--user", "101", "--incoming", "friends")
    assert "no user with extension 999" in acme.fails("calling-plan", "show", "--user", "999")
    assert "no department 'Nope'" in acme.fails("calling-plan", "set", "--group", "Nope",
                                                "--allow", "mobile")
    assert "has no outgoing calling plan of its own" in acme.fails(
        "calling-plan", "clear", "--user", "102")
    assert "unknown member" in acme.fails("department", "add", "Ops", "--members", "103")
    assert "already a member of department Sales" in acme.fails(
        "department", "add", "Ops", "--members", "102")
    assert acme.events() == before


def test_capacity_click_to_call_and_licences(acme: Pbx) -> None:
    assert acme.ok("capacity", "set", "0") == (
        "capacity of enterprise Acme: at most 0 simultaneous calls\n")
    out = acme.ok("simulate", "call", "--from", "101", "--to", "102")
    assert "switch result: hangup USER_BUSY" in out
    assert "enterprise Acme has 0 of 0 calls in progress: the caller hears busy" in out
    assert acme.json("capacity", "show") == [
        {"pool": "enterprise", "name": "Acme", "limit": 0, "calls": 0, "refused": 1}]
    acme.ok("capacity", "set", "none")
    assert "connected to 102" in acme.ok("simulate", "call", "--from", "101", "--to", "102")

    out = acme.ok("click-to-call", "add", "--user", "101", "--label", "website")
    token = out.splitlines()[1].removeprefix("token: ")
    assert token.startswith("c2c_") and len(token) > 40
    [link] = acme.json("click-to-call", "list")
    assert (link["user"], link["label"], link["state"]) == ("101", "website", "live")
    assert token not in acme.ok("events", "list", "--limit", "1000")

    assert acme.ok("licence", "set", "Acme", "--ivr-packages", "1", "--click-to-call", "1") == (
        "licence of Acme: 1 multi-level IVR menus, 5 hunt groups, 5 forwarding toolboxes, "
        "1 group voicemail boxes (business + department), 0 fax-to-e-mail numbers, "
        "1 click-to-call links\n")
    before = acme.events()
    assert acme.fails("click-to-call", "add", "--user", "102") == (
        "error: licence exceeded: Acme has 1 of 1 licensed click-to-call links (pbx licence set)")
    assert "is in the past" in acme.fails("click-to-call", "add", "--user", "101",
                                          "--expires", "2020-01-01")
    assert "no user with extension 999" in acme.fails("click-to-call", "add", "--user", "999")
    assert "invalid capacity 'lots'" in acme.fails("capacity", "set", "lots")
    assert "already has 1 click-to-call links" in acme.fails(
        "licence", "set", "Acme", "--click-to-call", "0")
    assert "--hunt-groups is 0 to 10000" in acme.fails(
        "licence", "set", "Acme", "--hunt-groups", "-1")
    assert acme.events() == before
    acme.ok("click-to-call", "revoke", link["id"][:8])
    assert acme.json("click-to-call", "list")[0]["state"] == "revoked"
