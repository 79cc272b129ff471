"""The public event feed (CRM-1): mapping of call events to the documented JSON, signatures,
and delivery that resumes from its tracked position after a restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.domain.webhooks import Webhook
from esl_controller.feed import (
    FEED_TOPICS,
    WebhookDelivery,
    active_webhooks,
    feed_page,
    sign,
)

SCHEMAS = {
    p.name.removesuffix(".schema.json"): json.loads(p.read_text())
    for p in (Path(__file__).parents[2] / "docs" / "events").glob("*.schema.json")
}
AT = datetime(2026, 11, 26, 10, 42, tzinfo=UTC)


@pytest.fixture
def app(db_url: str) -> Pbx:
    pbx = Pbx(db_url)
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "102", "Bob de Vries", number="020 1234567")
    return pbx


def record_call(app: Pbx, caller: str, withheld: bool = False, answered: bool = True) -> str:
    call_id = str(uuid.uuid4())
    ent = app.enterprise("Acme")
    call = Call(call_id, ent.id, caller, None, "+31201234567", "external", "sofia/x", AT)
    call.route("inbound", "102", [])
    if withheld:
        call.withhold()
    call.alert(["102"], AT)
    if answered:
        call.answer("102", AT)
    call.end("NORMAL_CLEARING", "answered" if answered else "no-answer", AT, 12.5, 10.0)
    app.save(call)
    return call_id


def test_each_call_event_becomes_its_documented_public_event(app: Pbx) -> None:
    call_id = record_call(app, "0612345678")
    app.save(Webhook("http://crm.example/hook", None, None, 5, 0))  # not public: left out
    docs, after = feed_page(app, 0)
    assert [d["type"] for d in docs] == [
        "call.offered", "call.ringing", "call.answered", "call.ended"]
    for doc in docs:
        jsonschema.validate(doc, SCHEMAS[doc["type"]])
        assert doc["call_id"] == call_id and doc["enterprise"] == "Acme"
        assert doc["caller"] == {"number": "0612345678", "user": None}
        assert doc["callee"] == {"number": "+31201234567", "user": "102"}
    assert docs[1]["ringing"] == ["102"]
    assert (docs[3]["outcome"], docs[3]["talk_seconds"]) == ("answered", 10.0)
    assert after == app.last_position() - 1  # the webhook's event was not a feed event
    assert feed_page(app, after)[0] == []


def test_a_withheld_number_never_reaches_the_feed(app: Pbx) -> None:
    record_call(app, "0612345678", withheld=True)
    docs, _ = feed_page(app, 0)
    assert {json.dumps(d["caller"]) for d in docs} == {'{"number": null, "user": null}'}
    assert "0612345678" not in json.dumps(docs)


def test_feed_of_one_enterprise_leaves_out_the_others(app: Pbx) -> None:
    record_call(app, "0612345678")
    other = app.create_enterprise("Other", "other.example")
    assert feed_page(app, 0, enterprise_id=str(other.id))[0] == []
    assert len(feed_page(app, 0, enterprise_id=str(app.enterprise("Acme").id))[0]) == 4


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"id":1}'
    assert sign("k" * 16, body) == "sha256=" + hmac.new(
        b"k" * 16, body, hashlib.sha256).hexdigest()
    assert sign("k" * 16, body) != sign("k" * 16, body + b" ")


def test_delivery_resumes_after_a_restart_from_its_tracked_position(app: Pbx) -> None:
    app.save(Webhook("http://crm.example/hook", None, "s" * 16, 5, app.last_position()))
    got: list[dict[str, Any]] = []

    def crm(url: str, body: bytes, headers: dict[str, str]) -> int:
        got.append(json.loads(body))
        return 200

    first = record_call(app, "0611111111", answered=False)
    hook = active_webhooks(app)[0]
    WebhookDelivery(app, post=crm).deliver_once(hook)
    assert [(d["call_id"], d["type"]) for d in got] == [
        (first, "call.offered"), (first, "call.ringing"), (first, "call.ended")]
    second = record_call(app, "0622222222")
    restarted = WebhookDelivery(app, post=crm)  # a new process: the same store
    restarted.deliver_once(hook)
    restarted.deliver_once(hook)
    assert [d["call_id"] for d in got[3:]] == [second] * 4
    assert len({d["id"] for d in got}) == 7  # none twice


def test_feed_topics_are_the_four_public_events_only() -> None:
    assert sorted(t.rsplit(".", 1)[1] for t in FEED_TOPICS) == [
        "CallAlerting", "CallAnswered", "CallEnded", "CallOffered"]
    assert sorted(SCHEMAS) == ["call.answered", "call.ended", "call.offered", "call.ringing"]


def test_a_webhook_added_again_gets_nothing_of_the_time_it_was_removed(app: Pbx) -> None:
    hook = Webhook("http://crm.example/hook", None, None, 5, app.last_position())
    app.save(hook)
    got: list[str] = []

    def crm(url: str, body: bytes, headers: dict[str, str]) -> int:
        got.append(json.loads(body)["call_id"])
        return 200

    before = record_call(app, "0611111111")
    WebhookDelivery(app, post=crm).deliver_once(active_webhooks(app)[0])
    hook.remove()
    app.save(hook)
    record_call(app, "0622222222")  # while removed
    assert active_webhooks(app) == []
    hook.reinstate(None, 5, app.last_position())
    app.save(hook)
    after = record_call(app, "0633333333")
    WebhookDelivery(app, post=crm).deliver_once(active_webhooks(app)[0])
    assert got == [before] * 4 + [after] * 4
