"""Crypto-shredding of outside parties' numbers (issue 6 item 5): sealing, opening, erasure.

Real Pbx on a temp SQLite file; the keys live in its events database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller import personal, privacy
from esl_controller.application import Pbx
from esl_controller.errors import NotFoundError, ValidationError
from projections.directory import Directory

CALLER = "+31612345678"


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567")
    return pbx


def test_seal_open_round_trip_hides_the_number(app: Pbx, tmp_path: Path) -> None:
    sealed = personal.seal(app, "06 12345678", CALLER)
    assert sealed.startswith("pd:v1:")
    assert "12345678" not in sealed
    assert personal.open_(app, sealed) == "06 12345678"
    # the same person under another spelling shares one key
    again = personal.seal(app, "Jan Klant", "0612345678")
    assert personal.open_(app, again) == "Jan Klant"
    assert again.split(":")[2] == sealed.split(":")[2]
    assert personal.keys(app).count() == 1
    # the key table lists no number in clear, only salted hashes
    with sqlite3.connect(tmp_path / "pbx.sqlite") as db:
        hashes = [row[0] for row in db.execute("SELECT person_hash FROM person_keys")]
    assert hashes == [sealed.split(":")[2]]
    assert all("612345678" not in h for h in hashes)


def test_erased_person_reads_erased_and_others_stay_readable(app: Pbx) -> None:
    first = personal.seal(app, CALLER, CALLER)
    other = personal.seal(app, "+31687654321", "+31687654321")
    privacy.erase_person(app, "06-12345678")
    assert personal.open_(app, first) == personal.ERASED
    assert personal.open_(app, f"call from {first} via trunk") == "call from [erased] via trunk"
    assert personal.open_(app, other) == "+31687654321"
    # a new call from the erased person gets a new key: readable again
    later = personal.seal(app, CALLER, CALLER)
    assert personal.open_(app, later) == CALLER
    assert personal.open_(app, first) == personal.ERASED


def test_values_that_are_not_sealed_pass_through(app: Pbx) -> None:
    for plain in ("", "101", "+31612345678", "anonymous", "pd:v2:something", "pd:v1:short"):
        assert personal.open_(app, plain) == plain


def test_a_tampered_value_is_unreadable_not_wrong(app: Pbx) -> None:
    sealed = personal.seal(app, CALLER, CALLER)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert personal.open_(app, flipped) == personal.UNREADABLE


def test_seal_text_seals_every_spelling_in_place(app: Pbx) -> None:
    note = ("call from +31612345678 (06 12345678, 0612345678) to 020 1234567; "
            "channel sofia/external/31612345678@trunk")
    sealed = personal.seal_text(app, note, [CALLER])
    for spelling in ("+31612345678", "06 12345678", "0612345678", "31612345678"):
        assert spelling not in sealed
    assert "020 1234567" in sealed  # not this person's
    assert personal.open_(app, sealed) == note
    assert personal.seal_text(app, sealed, [CALLER]) == sealed  # idempotent


def test_outsiders_are_not_our_numbers_or_extensions(app: Pbx) -> None:
    directory = Directory()
    app.catch_up(directory)
    assert personal.outsider(directory, "0612345678") == CALLER
    assert personal.outsider(directory, "020 1234567") is None  # Alice's number
    assert personal.outsider(directory, "101") is None
    assert personal.outsider(directory, "anonymous") is None


def test_erase_refuses_bad_and_unknown_numbers_without_recording(app: Pbx) -> None:
    before = app.last_position()
    with pytest.raises(ValidationError):
        privacy.erase_person(app, "not a number")
    with pytest.raises(NotFoundError):
        privacy.erase_person(app, "+31687654321")
    assert app.last_position() == before
    personal.seal(app, CALLER, CALLER)
    done = privacy.erase_person(app, CALLER, "Acme")
    assert app.last_position() == before + 1
    event = list(app.events_after(before))[0][1]
    assert type(event).__name__ == "PersonErased"
    assert event.person_hash == done.person_hash  # type: ignore[attr-defined]
    assert CALLER not in repr(event.__dict__)
    with pytest.raises(NotFoundError):
        privacy.erase_person(app, CALLER)  # already erased


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60), digits=st.from_regex(r"\A6[1-5][0-9]{7}\Z"))
def test_any_text_round_trips_and_erasure_hides_it(app: Pbx, text: str, digits: str) -> None:
    person = "+31" + digits
    sealed = personal.seal(app, text, person)
    assert personal.open_(app, sealed) == text
    note = personal.seal_text(app, f"{text} from 0{digits}", [person])
    assert f"0{digits}" not in note.replace(text, "")
    assert personal.open_(app, note) == f"{text} from 0{digits}"
