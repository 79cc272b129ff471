"""``pbx group-voicemail`` and ``pbx fax`` as a user runs them: real subprocesses on a store
holding Acme with Alice (101) and Bob (102)."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.e2e.conftest import Pbx


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 4000)
    return path


def test_group_voicemail_cli_and_its_bad_input(acme: Pbx) -> None:
    greeting = _wav(acme.cwd / "welcome.wav")
    (acme.cwd / "notes.wav").write_text("not audio")
    out = acme.ok("group-voicemail", "add", "Sales", "--extension", "600", "--number",
                  "020 7654321", "--email", "sales@acme.example", "--cc", "boss@acme.example",
                  "--greeting", str(greeting))
    assert out == ("group voicemail Sales added: extension 600, number 020 765 4321; messages "
                   "e-mailed to sales@acme.example, cc boss@acme.example\n")
    before = len(acme.events())
    bad = [
        ("--extension", "601", "--email", "sales-at-acme"),
        ("--extension", "600", "--email", "x@acme.example"),
        ("--extension", "101", "--email", "x@acme.example"),
        ("--extension", "601", "--email", "x@acme.example", "--greeting", "notes.wav"),
        ("--extension", "601", "--email", "x@acme.example", "--greeting-only", "hangup"),
        ("--extension", "601", "--email", "x@acme.example", "--greeting", "welcome.wav",
         "--greeting-only", "forward:555"),
    ]
    errors = [acme.fails("group-voicemail", "add", "Support", *args) for args in bad]
    assert errors == [
        "error: invalid e-mail address: 'sales-at-acme'",
        "error: extension 600 is taken by group voicemail Sales (ext. 600)",
        "error: extension 101 already exists in 'Acme'",
        "error: notes.wav is not a WAV file (file does not start with RIFF id)",
        "error: greeting-only mode needs a greeting: give --greeting FILE.wav",
        "error: forward to 555: no user or target has extension '555' in 'Acme'",
    ]
    assert len(acme.events()) == before  # nothing written
    acme.ok("group-voicemail", "change", "Sales", "--greeting-only", "forward:102")
    [box] = acme.json("group-voicemail", "list")
    assert box["mode"] == "greeting only, then forward to 102" and box["cc"] == "boss@acme.example"
    shown = acme.json("group-voicemail", "show", "Sales")
    assert Path(shown["greeting"]).read_bytes() == greeting.read_bytes()
    assert shown["capacity"] == "60 minutes, 60 left" and shown["retention"] == "14 days"
    assert acme.ok("group-voicemail", "remove", "Sales") == "group voicemail Sales removed\n"
    assert acme.fails("group-voicemail", "show", "Sales") == (
        "error: no group voicemail 'Sales' in 'Acme'")
    acme.ok("user", "add", "600", "--name", "Carol")  # the extension is free again


def test_fax_cli_and_its_bad_input(acme: Pbx) -> None:
    out = acme.ok("fax", "add", "Office fax", "--number", "020 7654322", "--email",
                  "fax@acme.example", "--email2", "archive@acme.example")
    assert out == ("fax line Office fax added: number 020 765 4322; faxes mailed as PDF to "
                   "fax@acme.example and archive@acme.example\n")
    before = len(acme.events())
    assert acme.fails("fax", "add", "Other", "--number", "020 7654322", "--email",
                      "a@acme.example") == (
        "error: number +31207654322 already belongs to fax Office fax")
    assert acme.fails("fax", "add", "Other", "--number", "020 7654323", "--email",
                      "a@acme.example", "--email2", "A@acme.example") == (
        "error: the second e-mail address is the same as the first")
    assert acme.fails("fax", "add", "Other", "--number", "12", "--email",
                      "a@acme.example").startswith("error: ")
    assert len(acme.events()) == before
    acme.ok("fax", "change", "Office fax", "--email2", "none")
    [line] = acme.json("fax", "list")
    assert line["email2"] is None and line["numbers"] == ["+31207654322"]
    assert acme.json("fax", "received", "Office fax") == []
