"""``pbx user recording`` and ``pbx recordings list|purge`` (REC-1, REC-2) as real
subprocesses: settings shown by ``user show``, a simulated call recorded into a WAV under
var/recordings, retention purging the audio but keeping the evidence, bad input refused."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Pbx


def test_recording_settings_a_recorded_call_and_its_purge(acme: Pbx) -> None:
    assert acme.ok("user", "recording", "101", "--mode", "always", "--retention", "90d") == (
        "recording of 101: always, keep 90d\n")
    assert acme.ok("user", "recording", "102", "--retention", "7y-1000") == (
        "recording of 102: never, keep 7y-1000\n")
    shown = acme.ok("user", "show", "102")
    assert "recording:           never, keep 7y-1000, 0.0 of 1000 minutes this month" in shown
    assert acme.json("user", "show", "101")["recording"] == "always, keep 90d"

    before = acme.events()
    assert "'sometimes' is not one of" in acme.fails("user", "recording", "101",
                                                     "--mode", "sometimes")
    assert "give --mode and/or --retention" in acme.fails("user", "recording", "101")
    assert "no user with extension 109" in acme.fails("user", "recording", "109", "--mode", "always")
    assert "invalid --now 'yesterday'" in acme.fails("recordings", "purge", "--now",
                                                     "yesterday")
    assert acme.events() == before

    acme.ok("simulate", "call", "--from", "101", "--to", "102", "--talk", "3")
    [rec] = acme.json("recordings", "list")
    assert (rec["user"], rec["other_party"], rec["mode"], rec["stopped"]) == (
        "101", "102", "always", "call-ended")
    assert 2.0 <= rec["seconds"] <= 6.0
    wav = Path(rec["audio"])
    assert wav.is_relative_to(acme.cwd / "var" / "recordings") and wav.exists()
    listing = acme.ok("recordings", "list", "--user", "101").splitlines()
    assert listing[0].split()[:4] == ["STARTED", "USER", "OTHER", "PARTY"]

    assert acme.ok("recordings", "purge") == "0 recordings purged\n"
    out = acme.ok("recordings", "purge", "--now", "2099-01-01T00:00:00")
    assert out.endswith("(90d): " + str(wav) + "\n1 recording purged\n")
    assert not wav.exists()
    [evidence] = acme.json("recordings", "list")
    assert evidence["audio"] == "purged (retention)" and evidence["seconds"] == rec["seconds"]
