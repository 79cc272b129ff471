"""End-to-end: ``pbx menu`` as an operator runs it, one subprocess per command."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.e2e.conftest import Pbx


def test_build_show_and_take_apart_a_two_level_menu(acme: Pbx, tmp_path: Path) -> None:
    assert acme.ok("menu", "add", "Main", "--extension", "700", "--number", "020 7654321",
                   "--operator", "101") == "menu Main added (ext. 700, +31207654321)\n"
    assert "a sub-menu" in acme.ok("menu", "add", "Sales")
    assert acme.ok("menu", "key", "Main", "1", "menu", "sales") == "menu Main: key 1 -> menu Sales\n"
    acme.ok("menu", "key", "Main", "9", "repeat")
    acme.ok("menu", "key", "Main", "0", "operator")
    acme.ok("menu", "key", "Sales", "2", "user", "102")
    acme.ok("menu", "key", "Sales", "2", "voicemail", "102", "--after-hours")
    wav = tmp_path / "hello.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 4000)
    said = acme.ok("menu", "greeting", "Main", str(wav))
    copied = Path(said.split("greeting ", 1)[1].strip())
    assert copied.read_bytes() == wav.read_bytes()
    assert copied.is_relative_to(acme.cwd / "var" / "audio" / "menus")

    tree = acme.ok("menu", "show", "Main").splitlines()
    assert tree[0] == "menu Main (ext. 700, +31207654321): timeout 5 s, 3 tries, operator 101"
    assert tree[1] == f"  business hours: greeting {copied}"
    assert "    1 -> menu Sales" in tree
    assert "      menu Sales: timeout 5 s, 3 tries, operator none" in tree
    assert "          2 -> user 102 (Bob de Vries)" in tree
    assert "        after hours: greeting ivr/ivr-welcome.wav (stock)" in tree
    assert "          2 -> voicemail of 102 (Bob de Vries)" in tree
    assert "    0 -> operator 101" in tree
    shown = acme.json("menu", "show", "Main")
    assert shown["business"]["keys"][0]["menu"]["name"] == "Sales"

    listed = acme.json("menu", "list")
    assert [(m["name"], m["extension"], m["keys"]) for m in listed] == [
        ("Main", "700", 3), ("Sales", None, 1)]

    assert acme.fails("menu", "remove", "Sales") == (
        "error: menu Sales is still used by key 1 of menu Main")
    assert "removed (was menu Sales)" in acme.ok("menu", "remove-key", "Main", "1")
    assert acme.ok("menu", "remove", "Sales") == "menu Sales removed\n"
    assert [m["name"] for m in acme.json("menu", "list")] == ["Main"]


def test_bad_input_is_one_line_and_writes_nothing(acme: Pbx, tmp_path: Path) -> None:
    acme.ok("menu", "add", "Main", "--extension", "700")
    acme.ok("menu", "add", "Sales")
    acme.ok("menu", "key", "Main", "1", "menu", "Sales")
    before = len(acme.events())
    not_wav = tmp_path / "song.wav"
    not_wav.write_bytes(b"ID3 not a wave file")
    refusals = {
        ("menu", "key", "Sales", "1", "menu", "Main"): "menu Sales -> Main -> Sales would loop",
        ("menu", "key", "Main", "2", "user", "555"): "no user with extension '555'",
        ("menu", "key", "Main", "2", "menu", "Nowhere"): "no menu named 'Nowhere'",
        ("menu", "key", "Main", "2", "operator"): "menu Main has no operator",
        ("menu", "key", "Main", "X", "repeat"): "invalid key 'X'",
        ("menu", "add", "Other", "--extension", "101"): "extension 101 already exists",
        ("menu", "add", "Other", "--schedule", "Nope"): "no schedule named 'Nope'",
        ("menu", "greeting", "Main", str(not_wav)): "song.wav is not a WAV file",
        ("menu", "remove-key", "Main", "5"): "menu Main has no key 5 (business hours)",
        ("menu", "set", "Main"): "nothing to change",
    }
    for args, message in refusals.items():
        assert message in acme.fails(*args), args
    assert len(acme.events()) == before
    assert not (acme.cwd / "var" / "audio").exists()
