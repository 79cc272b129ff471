"""Crypto-shredding of voicemail messages, faxes and refusals' reasons (issue 6 items 5, 7),
over a real event store: what staff read before and after ``pbx privacy erase``, which files
go and which stay, and that no stored event changes."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_controller import fax as fax_use_cases
from esl_controller import personal, privacy
from esl_controller.application import Pbx
from esl_controller.audit import Sealer, verify
from esl_controller.audit_refusals import record_refusal, refusals_recorded, scrubbed
from esl_controller.domain.mailboxes import Message
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.fax import FaxService, received_faxes
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext, Origin
from esl_controller.simulator.media import _write_tiff
from esl_controller.store import sqlite_path
from esl_controller.voicemail import VoicemailService

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
JAN = "+31612345678"
CTX = CallContext("c0ffee00-0000-4000-8000-0000000000aa", "sofia/external/x", JAN, "",
                  "+31201234567", Origin.EXTERNAL)


def logged(app: Pbx) -> list[Any]:
    """Every stored event, in log order."""
    return [e for _p, e in app.events_after(0)]


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    return pbx


@pytest.fixture
def voicemail(app: Pbx, tmp_path: Path) -> VoicemailService:
    service = VoicemailService(app, tmp_path / "vm", None, None, lambda: NOW)
    service.enable(None, "101", email_audio=False)
    service.enable(None, "102", email_audio=False)
    return service


def stored(app: Pbx) -> bytes:
    path = sqlite_path(app.db_url)
    assert path is not None
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def leave(app: Pbx, service: VoicemailService, ext: str, caller: str, name: str) -> str:
    ent = str(app.enterprise("Acme").id)
    box = (("enterprise", ent), ("extension", ext))
    status = service.handle(Command("voicemail", "status", box), CTX).value
    path = dict(p.split("=", 1) for p in status.split(";"))["record_to"]
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(16000))
    done = service.handle(Command("voicemail", "deposit", (
        *box, ("path", path), ("seconds", "2"), ("caller", caller), ("caller_name", name))), CTX)
    assert done.ok, done.value
    return done.value


def shown(app: Pbx, service: VoicemailService, ext: str) -> dict[str, tuple[str, str, str]]:
    box = service.mailbox(app.enterprise("Acme").id, ext)
    assert box is not None
    return {m.message_id: (m.caller, m.caller_name, m.path) for m in box.messages.values()}


def test_messages_an_erased_caller_left_go_with_their_audio_others_stay(
        app: Pbx, voicemail: VoicemailService) -> None:
    from_jan = leave(app, voicemail, "101", "0612345678", "Jan Klant")
    from_carol = leave(app, voicemail, "101", "103", "Carol")
    forwarded = voicemail.handle(Command("voicemail", "forward", (
        ("enterprise", str(app.enterprise("Acme").id)), ("extension", "101"),
        ("message", from_jan), ("to", "102"))), CTX).value
    # a message stored before sealing existed: the caller in clear
    box = voicemail._get(app.enterprise("Acme").id, "102")
    assert box is not None
    older = Path(voicemail.folder(box)) / "older.wav"
    older.write_bytes(b"RIFF")
    box.leave_message("older", "+31 6 1234 5678", "", 1.0, str(older), NOW)
    app.save(box)

    before = shown(app, voicemail, "101")
    assert before[from_jan][:2] == ("0612345678", "Jan Klant")  # staff see who called
    assert shown(app, voicemail, "102")[forwarded][:2] == ("0612345678", "Jan Klant")
    raw = stored(app)
    assert b"0612345678" not in raw and b"Jan Klant" not in raw and b"Carol" in raw
    listing = voicemail.handle(Command("voicemail", "list", (
        ("enterprise", str(app.enterprise("Acme").id)), ("extension", "101"))), CTX).value
    assert "|0612345678|" in listing  # the portal reads the number out
    Sealer(app).seal()

    done = privacy.erase_person(app, "06 12345678")
    assert done.voicemail_messages == 3  # his, its forwarded copy and the older one
    after = shown(app, voicemail, "101")
    assert list(after) == [from_carol] and Path(after[from_carol][2]).exists()
    assert shown(app, voicemail, "102") == {}
    assert not Path(before[from_jan][2]).exists() and not older.exists()
    reasons = {e.message_id: e.reason for e in logged(app)
               if type(e).__name__ == "MessagePurged"}
    assert reasons == {from_jan: "erased", forwarded: "erased", "older": "erased"}
    Sealer(app).seal()
    assert verify(app).intact  # every event as it was, the erasure appended


def test_a_fax_sender_is_sealed_and_erased_the_document_kept(app: Pbx, tmp_path: Path) -> None:
    fax_use_cases.add_fax_line(app, None, "Office fax", "020 7654322", "fax@acme.example")
    service = FaxService(app, tmp_path / "fax", clock=lambda: NOW)
    line = app.directory().fax_line(app.enterprise(None).id, "Office fax")
    assert line is not None
    prepared = service.handle(Command("fax", "prepare", (("line", str(line.id)),)), CTX)
    path = prepared.value.removeprefix("path=")
    _write_tiff(path, 1, JAN)
    assert service.handle(Command("fax", "received", (
        ("line", str(line.id)), ("call", CTX.call_id), ("path", path), ("ok", "1"),
        ("caller", JAN), ("station", JAN))), CTX).ok
    [fax] = received_faxes(app, line.id)
    assert (fax.caller, fax.remote_station) == (JAN, JAN)
    assert b"31612345678" not in stored(app)

    privacy.erase_person(app, JAN)
    [fax] = received_faxes(app, line.id)
    assert (fax.caller, fax.remote_station) == ("[erased]", "[erased]")
    assert fax.pdf is None and Path(path).with_suffix(".pdf").exists()  # the document stays


def test_our_own_numbers_and_extensions_are_not_sealed(app: Pbx) -> None:
    directory = app.directory()
    assert personal.sealed_caller(app, directory, "103", "Carol") == ("103", "Carol")
    assert personal.sealed_caller(app, directory, "020 1234567", "Alice") == (
        "020 1234567", "Alice")  # Alice's public number
    assert personal.sealed_caller(app, directory, None, None) == (None, None)
    number, name = personal.sealed_caller(app, directory, JAN, "Jan")
    assert personal.is_sealed(number) and personal.is_sealed(name)
    assert personal.opened(app, Message("m", number, name, 1.0, "/x", NOW)) == Message(
        "m", JAN, "Jan", 1.0, "/x", NOW)
    [prefix] = personal.search_forms(app, "06-1234 5678")
    assert number.startswith(prefix) and name.startswith(prefix)


# -- refusals: the attempt recorded, nothing personal or secret in clear ------------------------
def refusals(app: Pbx) -> list[tuple[str, str]]:
    return [(e.command, e.reason) for e in logged(app)
            if type(e).__name__ == "AuditRequestRefused"]


def test_a_refused_command_is_recorded_once_without_the_number_or_secret(app: Pbx) -> None:
    @refusals_recorded("privacy erase", numbers=("number",), secrets=("secret",))
    def erase(app: Pbx, number: str, secret: str) -> None:
        privacy.erase_person(app, number)

    before = [type(e).__name__ for e in logged(app)]
    with pytest.raises(NotFoundError, match=r"\+31612345678"):  # the user sees the number
        erase(app, number="06 12345678", secret="x")
    with pytest.raises(ValidationError):
        erase(app, number="banana", secret="x")
    [(command, reason), (_c, bad)] = refusals(app)
    person = personal.keys(app).person_hash(JAN)[:12]
    assert command == "privacy erase"
    assert reason == f"no personal data held for person {person} (unknown or already erased)"
    assert bad == "not a valid telephone number: '[number]'"
    after = [type(e).__name__ for e in logged(app)]
    assert after == [*before, "AuditRequestRefused", "AuditRequestRefused"]  # nothing else
    assert personal.keys(app).key(personal.keys(app).person_hash(JAN)) is None  # no key made


@given(st.sampled_from(["6 12345678", "6 87654321", "20 1234567", "10 2345678"]),
       st.sampled_from([phonenumbers.PhoneNumberFormat.E164,
                        phonenumbers.PhoneNumberFormat.NATIONAL,
                        phonenumbers.PhoneNumberFormat.INTERNATIONAL]),
       st.text(alphabet="abc :'-", max_size=12))
@settings(max_examples=40, deadline=None)
def test_no_spelling_of_a_scrubbed_number_survives(national: str, fmt: int, text: str) -> None:
    app = Pbx("sqlite://")
    parsed = phonenumbers.parse("0" + national, "NL")
    typed = phonenumbers.format_number(parsed, fmt)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    message = f"{text}{typed} {e164}{text} {e164.lstrip('+')}"
    out = scrubbed(app, message, [typed])
    digits = e164.lstrip("+")[2:]  # the national significant number
    assert digits not in "".join(c for c in out if c.isdigit() or c == " ").replace(" ", "")
    assert out.count("person ") == 3


def test_record_refusal_keeps_the_command_reason_and_who(app: Pbx) -> None:
    refusal = record_refusal(app, "audit state", "not a timestamp: 'nonsense'", NOW)
    [event] = [e for e in logged(app) if type(e).__name__ == "AuditRequestRefused"]
    assert (event.command, event.reason, event.at) == (
        "audit state", "not a timestamp: 'nonsense'", NOW)
    assert event.by and event.originator_id == refusal.id


def test_fax_retention_deletes_old_faxes_files_and_keeps_their_record(
        app: Pbx, tmp_path: Path) -> None:
    from datetime import timedelta

    fax_use_cases.add_fax_line(app, None, "Office fax", "020 7654322", "fax@acme.example")
    line = app.directory().fax_line(app.enterprise(None).id, "Office fax")
    assert line is not None
    paths = []
    for day, call_id in ((NOW - timedelta(days=40), CTX.call_id),
                         (NOW - timedelta(days=2), "c0ffee00-0000-4000-8000-0000000000bb")):
        service = FaxService(app, tmp_path / "fax", clock=lambda day=day: day)
        prepared = service.handle(Command("fax", "prepare", (("line", str(line.id)),)), CTX)
        path = prepared.value.removeprefix("path=")
        _write_tiff(path, 1, JAN)
        assert service.handle(Command("fax", "received", (
            ("line", str(line.id)), ("call", call_id), ("path", path), ("ok", "1"),
            ("caller", JAN), ("station", JAN))), CTX).ok
        paths.append(Path(path))
    old, recent = paths
    assert old.with_suffix(".pdf").exists()  # the TIFF went when it became a PDF
    with pytest.raises(ValidationError):
        fax_use_cases.purge_faxes(app, 0, now=NOW)
    [purged] = fax_use_cases.purge_faxes(app, 30, now=NOW)
    assert not old.with_suffix(".pdf").exists()
    assert recent.with_suffix(".pdf").exists()
    first, second = received_faxes(app, line.id)
    assert (first.status, first.pages) == ("purged", 1) and second.status != "purged"
    assert fax_use_cases.purge_faxes(app, 30, now=NOW) == []  # once only
    assert purged.pages == 1
