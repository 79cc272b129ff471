"""Click-to-call (OPT-5) through the running controller's HTTP server and the simulator's
inbound event socket: what FreeSWITCH is asked to dial, what the web page gets back, and
that every attempt is in the log."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from esl_controller import click_to_call as c2c
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.simulator import FakeInboundESL
from tests.conftest import wait_until
from tests.integration.calls import caught_up


def post(controller: Controller, fields: dict[str, str], as_json: bool = False
         ) -> tuple[int, dict[str, Any]]:
    assert controller.http is not None
    host, port = controller.http.address
    body = (json.dumps(fields) if as_json else urllib.parse.urlencode(fields)).encode()
    req = urllib.request.Request(f"http://{host}:{port}/click-to-call", data=body,
                                 method="POST")
    req.add_header("Content-Type", "application/json" if as_json
                   else "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def originates(inbound: FakeInboundESL) -> list[str]:
    return [c for c in inbound.api_commands if c.startswith("originate")]


def attempts(pbx: Pbx) -> list[Any]:
    topic = "esl_controller.domain.click_to_call:ClickToCallAttempt.ClickToCallAttempted"
    return [e for _, e in pbx.events_after(0, (topic,))]


def test_a_visitor_is_called_and_then_the_employee(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    token, link = c2c.add_link(pbx, None, "101", label="website")
    caught_up(controller)
    status, answer = post(controller, {"token": token, "number": "06 12345678"})
    assert (status, answer["status"], answer["number"]) == (202, "calling", "+31612345678")
    sent = wait_until(lambda: originates(inbound), what="the originate")
    assert sent == [
        "originate {origination_caller_id_number=+31201234567,origination_caller_id_name="
        "'Acme',originate_timeout=30,ignore_early_media=true,click_to_call_link="
        f"{link.id}}}sofia/gateway/trunk/+31612345678 &bridge({{origination_caller_id_number="
        "+31612345678,origination_caller_id_name='Click-to-call',call_timeout=30}"
        "user/101@acme.example)"]
    recorded = attempts(pbx)
    assert [(e.outcome, e.status, e.visitor) for e in recorded] == [
        ("dialled", 202, "06 12345678")]
    assert token not in json.dumps([vars(e) for e in recorded], default=str)


def test_bad_tokens_and_toll_numbers_dial_nothing(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    token, _ = c2c.add_link(pbx, None, "102")
    old, _ = c2c.add_link(pbx, None, "102", expires="2020-06-30",
                          now=datetime(2020, 1, 1, tzinfo=UTC))
    revoked, view = c2c.add_link(pbx, None, "103")
    c2c.revoke_link(pbx, None, str(view.id)[:8])
    caught_up(controller)
    cases = [
        ({"token": token[:-1] + "x", "number": "0612345678"}, 403, "unknown or revoked"),
        ({"token": "", "number": "0612345678"}, 403, "unknown or revoked"),
        ({"token": revoked, "number": "0612345678"}, 403, "unknown or revoked"),
        ({"token": old, "number": "0612345678"}, 403, "expired"),
        ({"token": token, "number": "09001234567"}, 400, "premium number"),
        ({"token": token, "number": "+44 20 7946 0958"}, 400, "international number"),
    ]
    for fields, code, why in cases:
        status, answer = post(controller, fields, as_json=True)
        assert status == code and why in answer["error"], (fields, answer)
    status, answer = post(controller, {"token": token, "number": "112"})
    assert status == 400
    assert originates(inbound) == []
    assert len(attempts(pbx)) == len(cases) + 1
    assert {e.outcome for e in attempts(pbx)} == {"refused"}


def test_a_link_places_at_most_three_calls_a_minute(
    controller: Controller, pbx: Pbx, inbound: FakeInboundESL
) -> None:
    token, _ = c2c.add_link(pbx, None, "101")
    caught_up(controller)
    statuses = [post(controller, {"token": token, "number": "0101234567"})[0] for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    wait_until(lambda: len(originates(inbound)) == 3, what="three originates")
    other, _ = c2c.add_link(pbx, None, "102")  # another link has its own allowance
    caught_up(controller)
    assert post(controller, {"token": other, "number": "0101234567"})[0] == 202
