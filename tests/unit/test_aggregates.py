"""Aggregates: natural-key ids, past-tense events, and replay that rebuilds the same state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.users import User

AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def event_names(aggregate: Aggregate) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


def replay(events: list[Any]) -> Any:
    """Fold the events of one aggregate from nothing, as the repository does."""
    aggregate = None
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k not in ("_pending_events",)}


def new_enterprise(name: str = "Acme") -> Enterprise:
    return Enterprise(name, "acme.example", "Europe/Amsterdam", "NL", 100, 999)


def new_user(enterprise_id: UUID, extension: str = "101") -> User:
    return User(enterprise_id, extension, "Alice", "+31201234567", None, None, None, None, 20)


def new_call(call_uuid: str) -> Call:
    return Call(call_uuid, None, "+31612345678", None, "+31201234567", "inbound", "sofia/x", AT)


# -- ids ---------------------------------------------------------------------------------


def test_enterprise_id_is_a_uuid5_of_its_name_ignoring_case_and_spaces() -> None:
    key = Enterprise.create_id("Acme")
    assert key.version == 5
    assert Enterprise.create_id("acme") == key
    assert Enterprise.create_id("  ACME ") == key
    assert Enterprise.create_id("Globex") != key


def test_a_new_enterprise_gets_its_natural_key_as_id() -> None:
    assert new_enterprise("Acme").id == Enterprise.create_id("acme")


def test_user_id_is_a_uuid5_of_enterprise_and_extension() -> None:
    acme, globex = Enterprise.create_id("Acme"), Enterprise.create_id("Globex")
    key = User.create_id(acme, "101")
    assert key.version == 5
    assert User.create_id(acme, "101") == key
    assert User.create_id(acme, "102") != key
    assert User.create_id(globex, "101") != key
    assert new_user(acme, "101").id == key


def test_call_id_is_the_switch_call_uuid() -> None:
    call_uuid = str(uuid.uuid4())
    assert Call.create_id(call_uuid) == UUID(call_uuid)
    assert new_call(call_uuid).id == UUID(call_uuid)


# -- events ------------------------------------------------------------------------------


def test_enterprise_events_are_past_tense() -> None:
    ent = new_enterprise()
    ent.assign_number("+31201234567")
    ent.assign_number("+31207654321")
    ent.release_number("+31201234567")
    assert ent.numbers == ["+31207654321"]
    assert event_names(ent) == [
        "EnterpriseCreated",
        "NumberAssigned",
        "NumberAssigned",
        "NumberReleased",
    ]


def test_user_events_are_past_tense() -> None:
    user = new_user(Enterprise.create_id("Acme"))
    user.remove()
    assert user.removed and user.number is None
    user.reinstate("Alice B.", "+31201234567", "alice@acme.example", None, None, None, 30)
    assert not user.removed and user.name == "Alice B." and user.no_answer_seconds == 30
    assert event_names(user) == ["UserCreated", "UserRemoved", "UserReinstated"]


def test_call_events_are_past_tense_from_offered_to_ended() -> None:
    call = new_call(str(uuid.uuid4()))
    steps = [{"service": "alerting", "rule": "ring all devices", "detail": "ringing 101"}]
    call.route("inbound", "101", steps)
    call.continue_route([{"service": "alerting", "rule": "answered", "detail": "101 answered"}])
    call.alert(["user/101@acme.example"], AT)
    call.answer("101", AT)
    call.bridge("user/101@acme.example", AT)
    call.end("NORMAL_CLEARING", "answered", AT, 12.5, 10.0)
    assert event_names(call) == [
        "CallOffered",
        "CallRouted",
        "CallRouteContinued",
        "CallAlerting",
        "CallAnswered",
        "CallBridged",
        "CallEnded",
    ]
    assert call.target_user == "101"
    assert [s["rule"] for s in call.steps] == ["ring all devices", "answered"]
    assert call.answered_by == "101" and call.ended and call.cause == "NORMAL_CLEARING"


# -- replay ------------------------------------------------------------------------------


def test_replaying_a_users_events_gives_the_same_state() -> None:
    user = new_user(Enterprise.create_id("Acme"))
    user.remove()
    user.reinstate("Alice", "+31612345678", None, None, None, None, 25)
    events = user.collect_events()
    assert state(replay(events)) == state(user)


def test_replaying_a_calls_events_gives_the_same_state() -> None:
    call = new_call(str(uuid.uuid4()))
    call.route("inbound", "101", [{"service": "s", "rule": "r", "detail": "d"}])
    call.answer("101", AT)
    call.end("NORMAL_CLEARING", "answered", AT, 3.0, 2.0)
    events = call.collect_events()
    assert state(replay(events)) == state(call)


@pytest.fixture
def pbx(tmp_path: Path) -> Pbx:
    return Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")


def test_repository_get_after_save_gives_the_same_enterprise(pbx: Pbx) -> None:
    ent = new_enterprise()
    ent.assign_number("+31201234567")
    pbx.save(ent)
    loaded = pbx.repository.get(ent.id)
    assert loaded.version == ent.version == 2
    assert state(loaded) == state(ent)


def test_repository_get_after_save_gives_the_same_user_and_call(pbx: Pbx) -> None:
    user = new_user(Enterprise.create_id("Acme"))
    user.remove()
    call = new_call(str(uuid.uuid4()))
    call.route("inbound", "101", [{"service": "alerting", "rule": "r", "detail": "d"}])
    call.alert(["user/101@acme.example"], AT)
    call.end("NO_ANSWER", "missed", AT, 20.0, 0.0)
    pbx.save(user, call)
    assert state(pbx.repository.get(user.id)) == state(user)
    loaded_call = pbx.call(str(call.id))
    assert state(loaded_call) == state(call)
    assert loaded_call.offered_at == AT
    assert loaded_call.outcome == "missed"


def test_repository_get_at_an_earlier_version_shows_the_earlier_state(pbx: Pbx) -> None:
    user = new_user(Enterprise.create_id("Acme"))
    pbx.save(user)
    user.remove()
    pbx.save(user)
    assert pbx.repository.get(user.id).removed
    assert not pbx.repository.get(user.id, version=1).removed
