"""Audit reroute, pure parts: the context rebuilt from a call's events, the replay against
today's directory, and the wording of the difference."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import commands.main  # noqa: F401 - the CLI first (commands.common imports it)
from commands.audit_reroute import parse_date
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.errors import ValidationError
from esl_controller.reroute import (
    RecordedCall,
    Replay,
    compare,
    describe_configuration,
    recorded_call,
    replay,
)
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.script import RoutingSettings

AT = datetime(2026, 11, 26, 10, 42, tzinfo=UTC)
SETTINGS = RoutingSettings(gateway="trunk")


@pytest.fixture
def app(db_url: str) -> Pbx:
    pbx = Pbx(db_url)
    pbx.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol")):
        pbx.add_user(None, ext, name)
    return pbx


def a_call(app: Pbx, noted: bool, answered_by: str | None = "102") -> tuple[str, list[object]]:
    ent = app.enterprise("Acme")
    call_id = str(uuid.uuid4())
    call = Call(call_id, ent.id, "101", "101", "102", "internal", "sofia/internal/101", AT)
    call.route("internal", "102", [{"service": "destination", "rule": "extension",
                                    "detail": "102 is the extension of Bob"}])
    if noted:
        call.note_configuration(7, [], {
            "caller_number": "101", "caller_name": "Alice", "destination": "102",
            "origin": "internal", "domain": "acme.example", "auth_user": "101-desk",
            "context": "default", "diverted_from": None, "privacy": True, "gateway": "trunk"})
    call.alert(["102"], AT)
    if answered_by:
        call.answer(answered_by, AT)
    call.end("NORMAL_CLEARING" if answered_by else "NO_ANSWER",
             "answered" if answered_by else "no-answer", AT, 5.0, 3.0)
    app.save(call)
    return call_id, list(app.events.get(uuid.UUID(call_id)))


def domain_of(app: Pbx) -> object:
    return lambda eid: next(e.domain for e in app.directory().enterprises.values()
                            if e.id == eid)


def test_the_recorded_context_is_rebuilt_exactly(app: Pbx) -> None:
    call_id, events = a_call(app, noted=True)
    rec = recorded_call(call_id, events, domain_of(app))  # type: ignore[arg-type]
    assert rec is not None
    assert rec.ctx == CallContext(call_id, "sofia/internal/101", "101", "Alice", "102",
                                  Origin.INTERNAL, "acme.example", "101-desk", "default",
                                  None, True)
    assert (rec.rings, rec.answered_by, rec.gateway, rec.position) == (
        [("102",)], "102", "trunk", 7)


def test_an_older_call_without_a_noted_context_is_rebuilt_from_its_offer(app: Pbx) -> None:
    call_id, events = a_call(app, noted=False)
    rec = recorded_call(call_id, events, domain_of(app))  # type: ignore[arg-type]
    assert rec is not None
    assert (rec.ctx.origin, rec.ctx.domain, rec.ctx.auth_user, rec.ctx.caller_number) == (
        Origin.INTERNAL, "acme.example", "101", "101")


def test_replay_is_the_same_until_the_configuration_changes(app: Pbx) -> None:
    call_id, events = a_call(app, noted=False)
    rec = recorded_call(call_id, events, domain_of(app))  # type: ignore[arg-type]
    assert rec is not None
    same = replay(rec, app.directory(), SETTINGS)
    assert (same.rings, same.ending) == ([("102",)], "answered by 102")
    assert compare(rec, same, lambda r: []) is None

    user_services.forward(app, None, "102", "always", "103")
    moved = replay(rec, app.directory(), SETTINGS)
    assert moved.rings == [("103",)]
    diff = compare(rec, moved, lambda r: ["user 102 changed since the call"])
    assert diff is not None
    assert diff.line() == ("would now ring 103 instead of 102: 102 forwards (always) to 103 "
                           "(Carol); "
                           "user 102 changed since the call")


def test_an_unanswered_call_replayed_with_no_answer_reaches_the_new_no_answer_forward(
    app: Pbx,
) -> None:
    call_id, events = a_call(app, noted=False, answered_by=None)
    rec = recorded_call(call_id, events, domain_of(app))  # type: ignore[arg-type]
    assert rec is not None
    assert compare(rec, replay(rec, app.directory(), SETTINGS), lambda r: []) is None
    user_services.forward(app, None, "102", "no-answer", "103")
    diff = compare(rec, replay(rec, app.directory(), SETTINGS), lambda r: [])
    assert diff is not None and diff.summary == "would now also ring 103"


def recorded(rings: list[tuple[str, ...]], answered: str | None, outcome: str, cause: str
             ) -> RecordedCall:
    ctx = CallContext("c", "ch", "101", "", "102", Origin.INTERNAL, "acme.example", "101")
    return RecordedCall("c", AT, ctx, None, rings, answered, outcome, cause)


def test_wording_of_each_kind_of_difference() -> None:
    was = recorded([("102",)], None, "no-answer", "NO_ANSWER")
    assert compare(was, Replay([], "refused (CALL_REJECTED)", []), lambda r: []).summary == (  # type: ignore[union-attr]
        "would no longer ring 102: it would end refused (CALL_REJECTED)")
    assert compare(was, Replay([("102",)], "busy (USER_BUSY)", []), lambda r: []).summary == (  # type: ignore[union-attr]
        "would now end busy (USER_BUSY) instead of no-answer (NO_ANSWER)")
    cancelled = recorded([("102",)], None, "cancelled", "ORIGINATOR_CANCEL")
    assert compare(cancelled, Replay([("102",), ("103",)], "x", []), lambda r: []) is None


@given(st.lists(st.tuples(st.sampled_from(["101", "102", "103", "104"])), max_size=4),
       st.sampled_from(["NO_ANSWER", "USER_BUSY", "NORMAL_CLEARING"]))
def test_a_replay_equal_to_the_record_is_never_a_difference(
    rings: list[tuple[str, ...]], cause: str
) -> None:
    was = recorded(rings, None, "x", cause)
    assert compare(was, Replay(list(rings), f"y ({cause})", []), lambda r: []) is None


def test_configuration_is_described_in_plain_words() -> None:
    assert describe_configuration(42, [
        {"label": "user 102", "version": 7}, {"label": "hunt group Sales", "version": 3}]) == (
        "configuration as of event 42 (user 102 v7, hunt group Sales v3)")


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", ""])
def test_a_date_that_does_not_parse_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="--since: not a date"):
        parse_date(text, "--since")
    assert parse_date("2026-11-26", "--since") == datetime(2026, 11, 26, tzinfo=UTC)
