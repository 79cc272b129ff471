"""Crypto-shredding beyond the call log, end to end through the simulator (issue 6 item 5).

Jan (a customer, +31 6 1234 5678, calling as "Jan Klant") talks to Alice, who records every
call, and leaves Bob a voicemail message; Carol leaves Bob one too. Neither Jan's number nor
his name is in the SQLite files; staff see both until Jan is erased. Then: the recording is
kept (found by his number still) with its other party ``[erased]``; his voicemail message
and its audio are gone, Carol's stays; the hash chain verifies and the recording index
rebuilds equal to the live one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from esl_controller import privacy
from esl_controller import recording_access as access
from esl_controller.application import Pbx
from esl_controller.audit import Sealer, rebuild, verify
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.domain.mailboxes import Mailbox
from esl_controller.domain.users import User
from esl_controller.recordings import RecordingService
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from esl_controller.store import sqlite_path, views_url
from esl_controller.voicemail import VoicemailService
from projections.recording_index import RecordingIndexProjection
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD

SCALE = 0.05
JAN = "+31612345678"
JAN_SPELLINGS = (b"31612345678", b"0612345678", b"06 12345678", b"Jan Klant")


def logged(app: Pbx) -> list[Any]:
    """Every stored event, in log order."""
    return [e for _p, e in app.events_after(0)]


@pytest.fixture
def pbx(db_url: str, tmp_path: Path) -> Pbx:
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", number="020 1234567")
    app.add_user(None, "102", "Bob de Vries", number="020 1234568")
    app.add_user(None, "103", "Carol Smit")
    VoicemailService(app, tmp_path / "vm").enable(None, "102", email_audio=False)
    RecordingService(app).set_policy(None, "101", "always", "90d")
    return app


@pytest.fixture
def controller(pbx: Pbx, inbound: FakeInboundESL, tmp_path: Path) -> Iterator[Controller]:
    config = ServeConfig(
        db_url=pbx.db_url, listen=("127.0.0.1", 0), http=None,
        esl=("127.0.0.1", inbound.port), esl_password=ESL_PASSWORD, gateway="trunk",
        poll_interval=0.01, voicemail_dir=str(tmp_path / "vm"),
        recordings_dir=str(tmp_path / "recordings"),
    )
    running = Controller(config).start()
    yield running
    running.stop()


@pytest.fixture
def inbound() -> Iterator[FakeInboundESL]:
    fake = FakeInboundESL(ESL_PASSWORD).start()
    yield fake
    fake.stop()


def place(controller: Controller, spec: CallSpec) -> SimCall:
    host, port = controller.esl_address
    table = {"101": Endpoint(talk_seconds=3.0), "102": Endpoint("busy"), "103": Endpoint()}
    return FakeSwitch(host, port, endpoints=table, time_scale=SCALE).place_call(spec)


def from_jan(destination: str, **kw: Any) -> CallSpec:
    return CallSpec(JAN, destination, caller_name="Jan Klant", call_uuid=str(uuid.uuid4()),
                    **kw)


def store_bytes(app: Pbx) -> bytes:
    found = b""
    for url in (app.db_url, views_url(app.db_url)):
        path = sqlite_path(url)
        assert path is not None
        for part in (path, Path(f"{path}-wal")):
            if part.exists():
                found += part.read_bytes()
    return found


def messages(controller: Controller) -> list[Any]:
    box = controller.voicemail.mailbox(controller.app.enterprise("Acme").id, "102")
    return sorted(box.messages.values(), key=lambda m: m.at) if box else []


def test_voicemail_and_recordings_of_an_erased_caller(controller: Controller,
                                                      tmp_path: Path) -> None:
    app = controller.app
    talked = place(controller, from_jan("+31201234567"))
    assert talked.bridged_to == "101"
    place(controller, from_jan("+31201234568", talk_into_recording=5.0))
    place(controller, CallSpec("103", "102", auth_user="103", domain="acme.example",
                               call_uuid=str(uuid.uuid4()), talk_into_recording=4.0))
    left = wait_until(lambda: m if len(m := messages(controller)) == 2 else None,
                      what="both messages kept")
    recorded = wait_until(lambda: [r for r in RecordingService(app).recordings()
                                   if r.stop_reason is not None], what="the recording")
    wait_until(lambda: controller.app.call(talked.call_uuid).ended, what="the call's end")

    # staff see Jan's number and name; the files hold neither
    assert (left[0].caller, left[0].caller_name) == (JAN, "Jan Klant")
    assert left[1].caller == "103"
    assert recorded[0].other_party == JAN
    raw = store_bytes(app)
    assert b"Carol Smit" in raw  # the search does see clear text
    assert [s for s in JAN_SPELLINGS if s in raw] == []
    found = wait_until(lambda: access.search(app, None, "101", number="06 12345678"),
                       what="the recording in the index")
    assert [r.other_party for r in found] == [JAN]

    done = privacy.erase_person(app, "06-12345678")
    assert done.voicemail_messages == 1

    # his message and its audio are gone; Carol's stays
    assert [m.caller for m in messages(controller)] == ["103"]
    assert not Path(left[0].path).exists() and Path(left[1].path).exists()
    purged = [e for e in logged(app) if type(e).__name__ == "MessagePurged"]
    assert [(e.message_id, e.reason) for e in purged] == [(left[0].message_id, "erased")]
    [erased] = [e for e in logged(app) if type(e).__name__ == "PersonErased"]
    box_id = Mailbox.create_id(User.create_id(app.enterprise("Acme").id, "102"))
    assert list(erased.voicemail_messages) == [f"{box_id}/{left[0].message_id}"]

    # the recording is kept (the recorded user's record), its other party erased
    [kept] = [r for r in RecordingService(app).recordings() if r.stop_reason is not None]
    assert kept.other_party == "[erased]" and Path(kept.path).exists()
    again = access.search(app, None, "101", number="+31 6 1234 5678")
    assert [r.other_party for r in again] == ["[erased]"]

    # no event changed: the chain verifies; the index rebuilds equal to the live one
    Sealer(app).seal()
    assert verify(app).intact
    assert rebuild(app, "recording_index", RecordingIndexProjection).equal
