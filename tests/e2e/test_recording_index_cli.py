"""``pbx recording-team`` and ``pbx recordings search | label | favourite | share | unshare``
as a real subprocess: the output people read, and bad input refused in one line."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

from esl_controller.application import Pbx as Store
from esl_controller.domain.recordings import Recording
from tests.e2e.conftest import Pbx


def add_recording(store: Store, where: Path, ext: str, other: str, at: datetime,
                  seconds: float) -> str:
    user = store.user(None, ext)
    call_id = str(uuid.uuid4())
    path = where / f"{call_id}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(1600))
    rec = Recording(call_id, user.enterprise_id, user.id, ext, other, "inbound", "always",
                    str(path), "90d", at)
    rec.stop(at + timedelta(seconds=seconds), seconds, "call-ended")
    store.save(rec)
    return str(rec.id)


def test_teams_search_labels_and_share_links(acme: Pbx) -> None:
    acme.ok("user", "add", "103", "--name", "Carol Smit")
    assert acme.ok("recording-team", "add", "Sales") == "recording team Sales created\n"
    assert acme.ok("recording-team", "member", "add", "Sales", "101", "--listener") == (
        "101 (Alice Jansen) is now listener in recording team Sales\n")
    acme.ok("recording-team", "member", "add", "Sales", "102", "--contributor")
    assert acme.ok("recording-team", "show", "Sales").splitlines() == [
        "recording team Sales: 2 member(s)",
        "EXTENSION  LISTENER  CONTRIBUTOR",
        "101        yes       no",
        "102        no        yes",
    ]
    store = Store(f"sqlite:///{acme.cwd}/var/pbx.sqlite")
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    bob = add_recording(store, acme.cwd, "102", "+31612345678", at, 75)
    carol = add_recording(store, acme.cwd, "103", "+31201111111", at, 30)

    found = acme.ok("recordings", "search", "--as", "101").splitlines()
    assert found[0].split() == ["ID", "STARTED", "(UTC)", "USER", "OTHER", "PARTY", "DIRECTION",
                                "SECONDS", "STATE", "LABELS", "FAV", "SHARES"]
    assert [line.split()[:7] for line in found[1:]] == [
        [bob[:8], "2026-03-02", "09:00", "102", "+31612345678", "inbound", "75"]]
    assert acme.ok("recordings", "label", bob[:8], "complaint", "--as", "101") == (
        f"recording {bob[:8]}: your labels: complaint\n")
    assert acme.ok("recordings", "favourite", bob[:8], "--as", "101") == (
        f"recording {bob[:8]} is a favourite of 101\n")
    rows = acme.json("recordings", "search", "--as", "101", "--label", "complaint",
                     "--favourites", "--number", "0612345678", "--from", "2026-03-02",
                     "--to", "2026-03-02", "--min-seconds", "60")
    assert [(r["recording_id"], r["labels"], r["favourite"]) for r in rows] == [
        (bob, ["complaint"], True)]

    shared = acme.ok("recordings", "share", bob[:8], "--as", "101", "--expires", "2d",
                     "--base-url", "https://pbx.acme.example").splitlines()
    share_id = shared[0].split()[1]
    assert shared[0].startswith(f"share {share_id} of recording {bob[:8]} until ")
    assert shared[1].startswith("https://pbx.acme.example/play/rec_")
    assert acme.ok("recordings", "unshare", share_id, "--as", "101") == (
        f"share {share_id} of recording {bob[:8]} revoked\n")
    assert "rebuilt" in acme.ok("projections", "rebuild", "recording_index")

    # bad input: one line each, exit 2, and refused access is on the record
    assert acme.fails("recordings", "search", "--as", "102", "--user", "103") == (
        "error: 102 may not hear the recordings of 103: no recording team makes them a "
        "listener of that user")
    assert acme.fails("recordings", "share", carol[:8], "--as", "101") == (
        f"error: 101 may not hear recording {carol[:8]} of 103")
    assert acme.fails("recordings", "search", "--as", "101", "--from", "2026-02-30") == (
        "error: invalid --from '2026-02-30': use YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    assert acme.fails("recordings", "search", "--as", "101", "--from", "2026-03-05",
                      "--to", "2026-03-01") == (
        "error: --from 2026-03-05 is after --to 2026-03-01: reversed range")
    assert acme.fails("recordings", "unshare", share_id, "--as", "101") == (
        f"error: share {share_id} is already revoked")
    refused = [e for e in acme.events() if e["type"] == "RecordingAccessRefused"]
    assert [(e["data"]["extension"], e["data"]["action"]) for e in refused] == [
        ("102", "search"), ("101", "share")]
    others = [e for e in acme.events() if e["type"] == "AuditRequestRefused"]  # not twice
    assert [(e["data"]["command"], e["data"]["reason"]) for e in others] == [
        ("recordings search", "invalid --from '2026-02-30': use YYYY-MM-DD or YYYY-MM-DDTHH:MM"),
        ("recordings search", "--from 2026-03-05 is after --to 2026-03-01: reversed range"),
        ("recordings unshare", f"share {share_id} is already revoked")]
