"""Pickup groups, park slots, conference rooms, intercept / instant groups, music on hold and
ringback from the command line, run as real subprocesses: what an operator types and reads;
bad input refused with one line and exit 2, nothing written."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.e2e.conftest import Pbx


def test_configuring_the_call_services_and_refusing_bad_input(acme: Pbx, tmp_path: Path
                                                              ) -> None:
    assert acme.ok("pickup-group", "add", "Sales", "--members", "101,102") == (
        "pickup group Sales added: 101, 102 pick up each other's calls with *8\n")
    assert acme.ok("park", "add", "--slots", "700-709", "--recall", "90") == (
        "park slots 700-709: recall to the parker after 90 s\n")
    assert acme.ok("conference", "add", "Weekly", "--extension", "800", "--pin", "4321") == (
        "conference room Weekly added: dial 800 and the PIN, at most 16 callers\n")
    music = tmp_path / "music.wav"
    with wave.open(str(music), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 8000)
    assert acme.ok("moh", "set", str(music)) == (
        f"music on hold of the enterprise: {music.resolve()}\n")
    acme.ok("moh", "set", "local_stream://jazz", "--user", "102")
    acme.ok("ringback", "set", "%(1000,4000,425)", "--user", "101")
    acme.ok("barge-in-exempt", "102", "on")
    before = acme.events()

    assert acme.fails("pickup-group", "add", "Support", "--members", "102,999") == (
        "error: unknown member extension(s) in 'Acme': 999")
    assert acme.fails("pickup-group", "add", "Support", "--members", "102") == (
        "error: 102 is already in pickup group 'Sales'")
    assert acme.fails("park", "add", "--slots", "101-103") == (
        "error: extension 101 already exists in 'Acme'")
    assert acme.fails("park", "add", "--slots", "700-709", "--recall", "2") == (
        "error: the recall time is 10 to 3600 seconds")
    assert acme.fails("conference", "add", "Big", "--extension", "801", "--max", "17") == (
        "error: a conference room holds 2 to 16 callers (the user plus up to 15 others)")
    assert acme.fails("conference", "add", "Other", "--extension", "705") == (
        "error: extension 705 is taken by park slot 705 (ext. 705)")
    assert acme.fails("moh", "set", str(tmp_path / "missing.wav")) == (
        f"error: no such audio file: {tmp_path / 'missing.wav'}")
    assert acme.fails("ringback", "set", "http://example.com/ring.mp3") == (
        "error: unsupported stream 'http://example.com/ring.mp3': use local_stream://NAME, "
        "tone_stream://... or a .wav file")
    assert acme.fails("intercept-group", "add", "Loop", "--members", "101",
                      "--to", "101") == "error: 101 is intercepted itself: calls would loop"
    assert acme.fails("instant-group", "add", "Crisis", "--extension", "800",
                      "--members", "101,102") == (
        "error: extension 800 is taken by conference Weekly (ext. 800)")
    assert acme.events() == before

    listing = acme.ok("moh", "show").splitlines()
    assert listing[1].split()[:2] == ["(enterprise)", str(music.resolve())]
    assert listing[2].split() == ["101", "-", "%(1000,4000,425)", "no"]
    assert listing[3].split() == ["102", "local_stream://jazz", "-", "yes"]
    assert acme.json("conference", "list")[0]["pin"] is True


def test_a_call_into_a_conference_room_and_an_intercept_group(acme: Pbx) -> None:
    acme.ok("conference", "add", "Weekly", "--extension", "800")
    out = acme.ok("simulate", "call", "--from", "101", "--to", "800", "--hangup-after", "3")
    assert "101 joins conference Weekly (ext. 800), caller 1 of at most 16" in out
    assert acme.ok("intercept-group", "add", "Moved", "--members", "800", "--to",
                   "announcement") == (
        "intercept group Moved on: calls to 800 go to announcement\n")
    out = acme.ok("simulate", "call", "--from", "102", "--to", "800")
    assert "intercept group Moved (its members) intercepts every call to conference Weekly" in out
    assert "joins conference" not in out
