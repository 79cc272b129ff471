"""Share links of recordings (REC-3) over the controller's real HTTP server (port 0)."""

from __future__ import annotations

import http.client
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from esl_controller import recording_access as access
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.domain.recordings import Recording
from esl_controller.recordings import RecordingService
from esl_controller.simulator import Endpoint, FakeInboundESL, FakeSwitch
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD, internal

SHARED = "esl_controller.domain.recording_notes:"


def recording(pbx: Pbx, tmp_path: Path, ext: str = "102", seconds: float = 0.5) -> Recording:
    user = pbx.user(None, ext)
    call_id = str(uuid.uuid4())
    path = tmp_path / f"{call_id}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * int(8000 * seconds * 2 / 256))
    now = datetime.now(UTC)
    rec = Recording(call_id, user.enterprise_id, user.id, ext, "+31612345678", "inbound",
                    "always", str(path), "90d", now - timedelta(seconds=seconds))
    rec.stop(now, seconds, "call-ended")
    pbx.save(rec)
    return rec


def get(controller: Controller, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    assert controller.http is not None
    host, port = controller.http.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def accesses(pbx: Pbx) -> list[tuple[str, Any]]:
    topics = (f"{SHARED}RecordingShareOpening.RecordingShareOpened",
              f"{SHARED}RecordingShareRefusal.RecordingShareRefused")
    return [(type(e).__name__, e.reason if hasattr(e, "reason") else e.range_)
            for _p, e in pbx.events_after(0, topics)]


def team(pbx: Pbx) -> None:
    access.add_team(pbx, None, "Sales")
    access.set_member(pbx, None, "Sales", "101", "listener")
    access.set_member(pbx, None, "Sales", "102", "contributor")


def test_a_share_link_plays_the_wav_inline_and_each_play_is_an_event(
        controller: Controller, pbx: Pbx, tmp_path: Path, db_url: str) -> None:
    team(pbx)
    rec = recording(pbx, tmp_path)
    token, link = access.share(pbx, None, "101", str(rec.id)[:8], expires="1d")
    url = access.link_of(token, "http://{}:{}".format(*controller.http.address))  # type: ignore[union-attr]
    path = url.split("://", 1)[1].split("/", 1)[1]
    status, headers, body = get(controller, "/" + path)
    audio = Path(rec.path).read_bytes()
    assert status == 200
    assert headers["content-type"] == "audio/wav"
    assert headers["content-disposition"] == "inline"  # played in the browser, no download
    assert body == audio and body[:4] == b"RIFF"
    status, headers, body = get(controller, "/" + path, {"Range": "bytes=44-99"})
    assert status == 206 and body == audio[44:100]
    assert headers["content-range"] == f"bytes 44-99/{len(audio)}"
    assert accesses(pbx) == [("RecordingShareOpened", ""), ("RecordingShareOpened", "44-99")]
    # the worker's index counts them; the token is nowhere in the store
    wait_until(lambda: [r[-2:] for r in controller.recording_index.state()[
        "recording_index_shares"]] == [(2, 0)], what="the index to count the plays")
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert token[4:].encode() not in raw
    assert str(link.id) in str(controller.recording_index.state())


def test_expired_revoked_purged_and_wrong_links_are_refused_and_logged(
        controller: Controller, pbx: Pbx, tmp_path: Path) -> None:
    team(pbx)
    rec = recording(pbx, tmp_path)
    ref = str(rec.id)[:8]
    expired, _ = access.share(pbx, None, "101", ref, expires="1h",
                              now=datetime.now(UTC) - timedelta(hours=2))
    revoked, link = access.share(pbx, None, "101", ref)
    access.unshare(pbx, None, "102", str(link.id)[:8])  # the owner may revoke it
    good, _ = access.share(pbx, None, "102", ref)
    wrong = good[:-2] + ("xx" if not good.endswith("xx") else "yy")
    answers = {name: get(controller, "/play/" + token)
               for name, token in (("expired", expired), ("revoked", revoked),
                                   ("wrong", wrong), ("listing", ""))}
    assert {name: (status, body) for name, (status, _h, body) in answers.items()} == {
        "expired": (410, b"this link has expired\n"),
        "revoked": (410, b"this link was revoked\n"),
        "wrong": (403, b"this link is not valid\n"),
        "listing": (403, b"this link is not valid\n"),  # no directory listing
    }
    assert get(controller, "/play/" + good)[0] == 200
    stored = pbx.repository.get(rec.id)
    stored.purge(datetime.now(UTC), "retention")
    pbx.save(stored)
    Path(rec.path).unlink()  # the purge deletes the audio
    status, headers, body = get(controller, "/play/" + good)
    assert (status, body) == (410, b"this recording was deleted\n")
    assert "audio" not in headers["content-type"]
    assert get(controller, "/play/" + good, method="POST")[0] == 405
    assert accesses(pbx) == [
        ("RecordingShareRefused", "expired"), ("RecordingShareRefused", "revoked"),
        ("RecordingShareRefused", "unknown-token"), ("RecordingShareRefused", "unknown-token"),
        ("RecordingShareOpened", ""), ("RecordingShareRefused", "purged"),
    ]


def test_a_recorded_call_is_found_by_a_listener_and_played_through_its_share_link(
        pbx: Pbx, inbound: FakeInboundESL, tmp_path: Path) -> None:
    """The whole story through the simulator: Bob is recorded on a real (simulated) call,
    it is in the index, Alice (listener of his team) finds it and shares it, and the link
    plays the WAV the switch wrote."""
    team(pbx)
    RecordingService(pbx).set_policy(None, "102", "always", "90d")
    config = ServeConfig(
        db_url=pbx.db_url, listen=("127.0.0.1", 0), http=("127.0.0.1", 0),
        esl=("127.0.0.1", inbound.port), esl_password=ESL_PASSWORD, gateway="trunk",
        poll_interval=0.01, recordings_dir=str(tmp_path / "recordings"))
    controller = Controller(config).start()
    try:
        host, port = controller.esl_address
        endpoints = {"101": Endpoint(), "102": Endpoint(talk_seconds=2.0)}
        FakeSwitch(host, port, endpoints=endpoints, time_scale=0.05).place_call(
            internal("101", "102"))
        [found] = wait_until(lambda: [r for r in access.search(pbx, None, "101")
                                      if r.state == "stopped"],
                             timeout=20, what="the recording in the index")
        assert (found.extension, found.other_party, found.direction) == ("102", "101",
                                                                         "internal")
        assert access.search(pbx, None, "103") == []  # in no team: hears nothing of Bob
        token, _link = access.share(pbx, None, "101", found.recording_id[:8])
        status, headers, body = get(controller, "/play/" + token)
        assert (status, headers["content-disposition"]) == (200, "inline")
        assert body == Path(found.path).read_bytes() and body[:4] == b"RIFF"
    finally:
        controller.stop()
