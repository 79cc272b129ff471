"""End-to-end: the ``pbx`` command line as a user runs it, one subprocess per command."""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.e2e.conftest import ALICE, BOB, Pbx

ALICE_E164 = "+31201234567"


def stored_secret_hashes(db: Path) -> list[str]:
    """The secret hashes as the event store holds them (read straight from the file)."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found: list[str] = []
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")]
            for column in columns:
                for (value,) in conn.execute(f"SELECT \"{column}\" FROM \"{table}\""):
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(
                        value
                    )
                    found += re.findall(r'"\w*hash\w*"\s*:\s*"([^"]+)"', text)
    return found


def call_log(cli: Pbx, *args: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = cli.json("calls", "list", *args)
    return entries


def simulate(cli: Pbx, *args: str) -> str:
    return cli.ok("simulate", "call", *args)


def only_call_id(cli: Pbx) -> str:
    ids = {e["call_id"] for e in call_log(cli)}
    assert len(ids) == 1, ids
    return ids.pop()


# -- configuration ------------------------------------------------------------------------


def test_first_use_creates_the_store_and_never_shows_secrets(pbx: Pbx) -> None:
    store = pbx.cwd / "var" / "pbx.sqlite"
    assert not store.exists()

    out = pbx.ok("enterprise", "add", "Acme", "--domain", "acme.example")
    assert "Acme" in out and "acme.example" in out
    assert store.is_file()
    out = pbx.ok("user", "add", *ALICE)
    assert "101" in out and "Alice Jansen" in out and ALICE_E164 in out
    out = pbx.ok("user", "add", *BOB)
    assert "102" in out and "Bob de Vries" in out

    users = pbx.json("user", "list")
    assert [(u["extension"], u["name"], u["number"]) for u in users] == [
        ("101", "Alice Jansen", ALICE_E164),
        ("102", "Bob de Vries", None),
    ]
    assert users[0]["sip_password"] == "set" and users[0]["pin"] == "set"
    assert users[1]["sip_password"] is None and users[1]["pin"] is None

    enterprises = pbx.json("enterprise", "list")
    assert len(enterprises) == 1
    assert enterprises[0]["name"] == "Acme"
    assert enterprises[0]["domain"] == "acme.example"
    assert enterprises[0]["numbers"] == [ALICE_E164]

    alice = pbx.json("user", "show", "101")
    assert alice["extension"] == "101"
    assert alice["name"] == "Alice Jansen"
    assert alice["number"] == ALICE_E164
    assert alice["enterprise"] == "Acme"

    # the plain-text forms and the event log, too
    pbx.ok("user", "list")
    pbx.ok("user", "show", "101")
    pbx.ok("enterprise", "list")
    events = pbx.events()
    assert [e["type"] for e in events].count("UserCreated") == 2
    pbx.ok("events", "list")

    printed = pbx.printed()
    assert "s3cret-pass" not in printed
    assert not re.search(r"(?<!\d)1234(?!\d)", printed), "the PIN was printed"
    hashes = stored_secret_hashes(store)
    assert len(hashes) >= 3, "expected the password, A1 and PIN hashes in the store"
    for value in hashes:
        for part in [value, *value.split("$")]:
            if len(part) >= 16:
                assert part not in printed, "a secret's hash was printed"
    assert "hash" not in printed.lower()


def test_explicit_db_url_leaves_the_working_directory_alone(pbx: Pbx, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/elsewhere/store.sqlite"
    pbx.ok("--db", url, "enterprise", "add", "Acme", "--domain", "acme.example")
    assert (tmp_path / "elsewhere" / "store.sqlite").is_file()
    assert not (tmp_path / "var").exists()
    assert [e["name"] for e in pbx.json("--db", url, "enterprise", "list")] == ["Acme"]
    pbx.fails("user", "list")  # the default store has no enterprise


def test_enterprise_is_optional_with_one_and_required_with_two(acme: Pbx) -> None:
    assert len(acme.json("user", "list")) == 2
    acme.ok("enterprise", "add", "Beta", "--domain", "beta.example")
    before = acme.events()

    line = acme.fails("user", "list")
    assert "-e/--enterprise" in line
    line = acme.fails("user", "add", "103", "--name", "Carol")
    assert "-e/--enterprise" in line
    assert acme.events() == before

    assert [u["extension"] for u in acme.json("user", "list", "-e", "Acme")] == ["101", "102"]
    assert acme.json("user", "list", "-e", "Beta") == []
    acme.ok("user", "add", "101", "-e", "Beta", "--name", "Carol")  # same extension, other firm
    assert [u["name"] for u in acme.json("user", "list", "--enterprise", "Beta")] == ["Carol"]


def test_public_numbers(acme: Pbx) -> None:
    assert acme.json("enterprise", "add-number", "+31 20 765 4321") == {"number": "+31207654321"}
    out = acme.ok("enterprise", "add-number", "0207654322")
    assert "+31207654322" in out and "Acme" in out
    assert acme.json("enterprise", "list")[0]["numbers"] == [
        ALICE_E164, "+31207654321", "+31207654322"
    ]


def test_remove_user_frees_the_extension(acme: Pbx) -> None:
    out = acme.ok("user", "remove", "102")
    assert "102" in out and "removed" in out
    assert [u["extension"] for u in acme.json("user", "list")] == ["101"]
    acme.fails("user", "show", "102")
    acme.ok("user", "add", "102", "--name", "Bram")
    assert acme.json("user", "show", "102")["name"] == "Bram"


# -- bad input ----------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param(["user", "add", "103", "--name", "Carol", "-e", "Nope"], {},
                 ["unknown enterprise", "Nope"], id="unknown-enterprise"),
    pytest.param(["user", "list", "-e", "Nope"], {}, ["unknown enterprise", "Nope"],
                 id="unknown-enterprise-list"),
    pytest.param(["user", "add", "101", "--name", "Another"], {}, ["101", "already exists"],
                 id="duplicate-extension"),
    pytest.param(["user", "add", "103", "--name", "Carol", "--number", "12ab"], {},
                 ["12ab"], id="malformed-number"),
    pytest.param(["user", "add", "5000", "--name", "Carol"], {},
                 ["5000", "outside the plan", "100-999"], id="extension-outside-plan"),
    pytest.param(["enterprise", "add", "Other", "--domain", "acme.example"], {},
                 ["acme.example", "already in use"], id="duplicate-domain"),
    pytest.param(["enterprise", "add", "Other", "--domain", "not a domain"], {},
                 ["invalid SIP domain"], id="invalid-domain"),
    pytest.param(["enterprise", "add", "Other", "--domain", "other.example",
                  "--timezone", "Mars/Olympus_Mons"], {},
                 ["unknown time zone", "Mars/Olympus_Mons"], id="unknown-timezone"),
    pytest.param(["user", "add", "103", "--name", "Carol", "--pin", "12x4"], {}, ["PIN"],
                 id="bad-pin"),
    pytest.param(["user", "add", "103", "--name", "Carol", "--password", "short"], {},
                 ["password", "8 characters"], id="short-password"),
    pytest.param(["user", "show", "999"], {}, ["999"], id="unknown-user"),
    pytest.param(["calls", "explain", "not-a-uuid"], {}, ["not a call id", "not-a-uuid"],
                 id="call-id-not-a-uuid"),
    pytest.param(["calls", "explain", "5b8a2f0e-3c1d-4e6f-9a7b-0c2d4e6f8a1b"], {},
                 ["no call", "5b8a2f0e-3c1d-4e6f-9a7b-0c2d4e6f8a1b"], id="unknown-call"),
    pytest.param(["simulate", "call", "--from", "101", "--to", "102", "--endpoint", "102=maybe"],
                 {}, ["--endpoint", "102=maybe"], id="bad-endpoint-behaviour"),
    pytest.param(["simulate", "call", "--from", "101", "--to", "102", "--hangup-after", "-1"],
                 {}, ["--hangup-after"], id="negative-hangup-after"),
    pytest.param(["simulate", "call", "--from", "101", "--to", "102", "--talk", "-5"],
                 {}, ["--talk"], id="negative-talk"),
    pytest.param(["serve", "--esl", "127.0.0.1:8021"], {}, ["--esl", "PBX_ESL_PASSWORD"],
                 id="esl-without-password"),
    pytest.param(["serve", "--esl", "127.0.0.1:8021"], {"PBX_ESL_PASSWORD": "ClueCon"},
                 ["ClueCon"], id="esl-default-password"),
    pytest.param(["user", "add"], {}, ["Missing argument", "EXTENSION"],
                 id="missing-argument"),
    pytest.param(["user", "add", "103"], {}, ["Missing option", "--name"],
                 id="missing-option"),
    pytest.param(["user", "list", "--bogus"], {}, ["No such option", "--bogus"],
                 id="unknown-option"),
    pytest.param(["frobnicate"], {}, ["No such command", "frobnicate"], id="unknown-command"),
    pytest.param([], {}, ["pbx --help"], id="no-command"),
    pytest.param(["user"], {}, ["pbx user --help"], id="no-subcommand"),
    pytest.param(["enterprise", "add-number", "12ab"], {}, ["12ab"], id="malformed-public-number"),
    pytest.param(["enterprise", "add-number", "020 1234567"], {}, ["+31201234567", "Acme"],
                 id="number-already-assigned"),
    pytest.param(["user", "add", "103", "--name", "Carol", "--number", "+31201234567"], {},
                 ["+31201234567", "another user"], id="number-of-another-user"),
    pytest.param(["calls", "list", "--limit", "0"], {}, ["--limit"], id="bad-option-value"),
]


@pytest.mark.parametrize(("args", "env", "named"), BAD_INPUT)
def test_bad_input_is_one_error_line_and_changes_nothing(
    acme: Pbx, args: list[str], env: dict[str, str], named: list[str]
) -> None:
    before = acme.events()
    line = acme.fails(*args, env=env)
    for word in named:
        assert word in line, f"{word!r} not named in {line!r}"
    assert "Traceback" not in line
    assert acme.events() == before


def test_random_call_id_is_unknown(acme: Pbx) -> None:
    call_id = str(uuid.uuid4())
    line = acme.fails("calls", "explain", call_id)
    assert call_id in line
    acme.fails("calls", "explain", call_id, "--json")


def test_commands_needing_an_enterprise_say_how_to_make_one(pbx: Pbx) -> None:
    line = pbx.fails("user", "add", "101", "--name", "Alice")
    assert "pbx enterprise add" in line
    assert pbx.events() == []


# -- calls through the simulator ----------------------------------------------------------


def test_answered_call_story(acme: Pbx) -> None:
    out = simulate(acme, "--from", "101", "--to", "102")
    assert "ringing 102" in out
    assert "answered by 102" in out

    entries = call_log(acme)
    assert {(e["extension"], e["kind"]) for e in entries} == {("101", "placed"), ("102", "received")}
    placed = next(e for e in entries if e["kind"] == "placed")
    received = next(e for e in entries if e["kind"] == "received")
    assert placed["other_number"] == "102" and placed["other_name"] == "Bob de Vries"
    assert received["other_number"] == "101" and received["other_name"] == "Alice Jansen"
    assert placed["outcome"] == received["outcome"] == "answered"
    assert placed["answered"] and received["answered"]
    assert placed["call_id"] == received["call_id"]
    call_id = placed["call_id"]

    assert call_log(acme, "--user", "102", "--missed") == []
    assert [e["kind"] for e in call_log(acme, "--user", "101")] == ["placed"]
    table = acme.ok("calls", "list")
    assert call_id in table and "Bob de Vries (102)" in table

    story = acme.ok("calls", "explain", call_id)
    assert call_id in story
    assert "user 101 dialled 102" in story
    assert "ringing 102" in story
    assert "answered by 102" in story
    assert "ended: answered" in story
    explained = acme.json("calls", "explain", call_id)
    assert explained["answered_by"] == "102" and explained["outcome"] == "answered"

    lamps = acme.json("blf", "show")
    assert [(lamp["extension"], lamp["state"]) for lamp in lamps] == [
        ("101", "idle"), ("102", "idle")
    ]
    lamps_table = acme.ok("blf", "show")
    assert re.search(r"^101\s.*\bidle$", lamps_table, re.M)
    assert re.search(r"^102\s.*\bidle$", lamps_table, re.M)

    window = acme.json("events", "list", "--after", "2", "--limit", "3")
    assert [e["position"] for e in window] == [3, 4, 5]
    assert "Call" in " ".join(e["type"] for e in acme.events())


def test_no_answer_is_a_missed_call(acme: Pbx) -> None:
    out = simulate(acme, "--from", "101", "--to", "102", "--endpoint", "102=no-answer")
    assert "ringing 102" in out
    assert "answered by" not in out
    missed = call_log(acme, "--user", "102", "--missed")
    assert len(missed) == 1
    assert missed[0]["kind"] == "missed"
    assert missed[0]["outcome"] == "no-answer"
    assert missed[0]["other_number"] == "101"
    assert call_log(acme, "--user", "101", "--missed") == []
    table = acme.ok("calls", "list", "--user", "102", "--missed")
    assert missed[0]["call_id"] in table


@pytest.mark.parametrize(
    ("behaviour", "outcome"), [("busy", "busy"), ("unregistered", "not-reachable")]
)
def test_busy_and_unregistered_outcomes(acme: Pbx, behaviour: str, outcome: str) -> None:
    simulate(acme, "--from", "101", "--to", "102", "--endpoint", f"102={behaviour}")
    entries = call_log(acme)
    assert {(e["extension"], e["kind"], e["outcome"]) for e in entries} == {
        ("101", "placed", outcome),
        ("102", "missed", outcome),
    }
    story = acme.ok("calls", "explain", only_call_id(acme))
    assert f"ended: {outcome}" in story


def test_caller_hanging_up_cancels_the_call(acme: Pbx) -> None:
    simulate(acme, "--from", "101", "--to", "102", "--endpoint", "102=no-answer",
             "--hangup-after", "0.5")
    entries = call_log(acme)
    assert {(e["extension"], e["kind"], e["outcome"]) for e in entries} == {
        ("101", "placed", "cancelled"),
        ("102", "missed", "cancelled"),
    }
    assert [e["outcome"] for e in call_log(acme, "--user", "102", "--missed")] == ["cancelled"]
    assert "ORIGINATOR_CANCEL" in acme.ok("calls", "explain", only_call_id(acme))


def test_unallocated_extension(acme: Pbx) -> None:
    out = simulate(acme, "--from", "101", "--to", "555")
    assert "UNALLOCATED_NUMBER" in out
    assert "ringing" not in out
    assert "UNALLOCATED_NUMBER" in acme.ok("calls", "explain", only_call_id(acme))


def test_premium_number_is_barred_by_the_calling_plan(acme: Pbx) -> None:
    out = simulate(acme, "--from", "101", "--to", "09001234567")
    assert "OUTGOING_CALL_BARRED" in out
    assert "ringing" not in out
    data = acme.json("simulate", "call", "--from", "101", "--to", "09001234567")
    assert data["hangup_cause"] == "OUTGOING_CALL_BARRED"
    assert any("OUTGOING_CALL_BARRED" in line for line in data["explanation"])


def test_outside_caller_to_a_public_number_rings_its_user(acme: Pbx) -> None:
    out = simulate(acme, "--from", "0201112222", "--to", "0201234567")
    assert "ringing 101" in out
    assert "answered by 101" in out
    received = call_log(acme, "--user", "101")
    assert len(received) == 1
    assert received[0]["kind"] == "received"
    assert received[0]["other_name"] is None
    assert "0201112222" in received[0]["other_number"] or "201112222" in received[0][
        "other_number"
    ]


# -- serve --------------------------------------------------------------------------------


def test_serve_listens_and_stops_on_sigterm(acme: Pbx) -> None:
    log = acme.cwd / "serve.stderr"
    with log.open("w") as err:
        proc = subprocess.Popen(
            acme.command("serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"),
            cwd=acme.cwd,
            env=acme.environment(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        def listening() -> re.Match[str] | None:
            assert proc.poll() is None, log.read_text()
            return re.search(r"listening for FreeSWITCH on ([\d.]+):(\d+)", log.read_text())

        found = wait_until(listening, 30, "serve to say it is listening")
        host, port = found[1], int(found[2])
        assert port != 0
        with socket.create_connection((host, port), timeout=5):
            pass  # it really accepts connections
        web = wait_until(lambda: re.search(r"http://([\d.]+):(\d+)/directory", log.read_text()),
                       10, "the directory address")
        assert int(web[2]) != 0

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, log.read_text()
        text = log.read_text()
        assert "stopping" in text
        assert "Traceback" not in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
