"""The CRM event feed (CRM-1) end to end: a call through the simulator is POSTed to a real
local HTTP server that fails twice first, and pulled from GET /events; every payload is
checked against docs/events schemas and its signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from gevent.pywsgi import WSGIServer

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.domain.webhooks import Webhook
from tests.conftest import wait_until
from tests.integration.calls import internal, switch

SECRET = "crm-shared-secret-0123"
SCHEMAS = {
    p.name.removesuffix(".schema.json"): json.loads(p.read_text())
    for p in (Path(__file__).parents[2] / "docs" / "events").glob("*.schema.json")
}


class Crm:
    """A CRM's webhook receiver: answers 500 to the first ``fail`` requests, then 200."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.tries: list[tuple[int, dict[str, Any]]] = []  # (status given, payload)
        self.signatures_ok = True
        self.server = WSGIServer(("127.0.0.1", 0), self.app, log=None)

    def app(self, environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.signatures_ok &= environ.get("HTTP_X_PBX_SIGNATURE") == expected
        status = 500 if len(self.tries) < self.fail else 200
        self.tries.append((status, json.loads(body)))
        start(f"{status} X", [("Content-Length", "0")])
        return [b""]

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [doc for status, doc in self.tries if status == 200]


@pytest.fixture
def crm() -> Iterator[Crm]:
    receiver = Crm(fail=2)
    receiver.server.start()
    yield receiver
    receiver.server.stop()


def get(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token
                                 else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_call_is_delivered_once_in_order_after_two_failures_and_pulled_the_same(
    controller: Controller, pbx: Pbx, crm: Crm
) -> None:
    host, port = crm.server.address[:2]
    acme = pbx.enterprise("Acme")
    hook = Webhook(f"http://{host}:{port}/pbx", acme.id, SECRET, 2, pbx.last_position())
    pbx.save(hook)

    call = switch(controller).place_call(internal("101", "102"))
    assert call.bridged_to == "102"
    wait_until(lambda: len(crm.delivered) == 4, timeout=20, what="four events delivered")

    docs = crm.delivered
    assert [d["type"] for d in docs] == [
        "call.offered", "call.ringing", "call.answered", "call.ended"]
    assert [d["id"] for d in docs] == sorted({d["id"] for d in docs})  # once each, in order
    assert [status for status, _doc in crm.tries[:3]] == [500, 500, 200]
    assert all(doc == docs[0] for _status, doc in crm.tries[:3])  # the same event retried
    assert crm.signatures_ok
    for doc in docs:
        jsonschema.validate(doc, SCHEMAS[doc["type"]])
        assert doc["call_id"] == call.call_uuid
        assert doc["caller"] == {"number": "101", "user": "101"}
        assert doc["callee"] == {"number": "102", "user": "102"}
        assert doc["enterprise"] == "Acme"
    assert docs[2]["user"] == "102"
    assert docs[3]["outcome"] == "answered"
    failing = [e for e in pbx.events.get(hook.id) if type(e).__name__ ==
               "WebhookDeliveryFailing"]
    assert [(e.position, e.attempts, e.error) for e in failing] == [(docs[0]["id"], 2, "HTTP 500")]

    assert controller.http is not None
    web_host, web_port = controller.http.address
    url = f"http://{web_host}:{web_port}/events"
    status, page = get(f"{url}?after=0", SECRET)
    assert status == 200
    assert page["events"] == docs
    status, rest = get(f"{url}?after={page['next']}", SECRET)
    assert (status, rest["events"]) == (200, [])
    assert get(f"{url}?after=0", "wrong-token")[0] == 401
    assert get(f"{url}?after=0", None)[0] == 401
    assert get(f"{url}?after=minus", SECRET)[0] == 400
