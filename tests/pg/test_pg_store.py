"""The PostgreSQL path: the same application and read models on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC

import pytest

from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.errors import ValidationError

pytestmark = pytest.mark.pg


def test_configuration_is_stored_in_postgresql_and_read_back_by_a_new_process(
    pg_url: str,
) -> None:
    app = Pbx(pg_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice", number="020 1234567", password="s3cret-pass")
    app.add_user(None, "102", "Bob")

    again = Pbx(pg_url)
    users = again.directory().users_of(again.enterprise("Acme").id)
    assert [(u.extension, u.name, u.number) for u in users] == [
        ("101", "Alice", "+31201234567"),
        ("102", "Bob", None),
    ]


def test_bad_input_writes_nothing_in_postgresql(pg_url: str) -> None:
    app = Pbx(pg_url)
    app.create_enterprise("Acme", "acme.example")
    before = app.last_position()
    with pytest.raises(ValidationError):
        app.add_user(None, "5000", "Outside The Plan")
    assert app.last_position() == before


def test_optimistic_concurrency_one_of_two_stale_writers_loses(pg_url: str) -> None:
    from eventsourcing.persistence import IntegrityError

    app = Pbx(pg_url)
    call = Call("6b1f9c2e-1d5a-4c43-9d2e-1a2b3c4d5e6f", None, "101", "101", "102", "internal",
                "sofia/internal/101@acme.example", _now())
    app.save(call)
    first = app.repository.get(call.id)
    second = app.repository.get(call.id)
    first.alert(["102"], _now())
    app.save(first)
    second.alert(["103"], _now())
    with pytest.raises(IntegrityError):
        app.save(second)
    assert app.repository.get(call.id).alerted == ["102"]


def _now():  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.now(UTC)
