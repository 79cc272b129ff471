"""Self-service over HTTP (USR-24): ``GET``/``POST /self/EXT`` of the running controller,
the PIN in ``X-Pbx-Pin``, JSON in and out; what the app changes routes the next call."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from tests.conftest import wait_until
from tests.integration.calls import internal, switch


@pytest.fixture
def office(db_url: str) -> Pbx:
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", password="s3cret-pass")
    app.add_user(None, "102", "Bob de Vries", pin="2468")
    app.add_user(None, "103", "Carol Smit")
    return app


@pytest.fixture
def running(office: Pbx) -> Iterator[Controller]:
    config = ServeConfig(db_url=office.db_url, listen=("127.0.0.1", 0), http=("127.0.0.1", 0),
                         poll_interval=0.01)
    controller = Controller(config).start()
    yield controller
    controller.stop()


def request(controller: Controller, ext: str, pin: str | None, body: object = None,
            raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    assert controller.http is not None
    host, port = controller.http.address
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://{host}:{port}/self/{ext}", data=data,
                                 method="POST" if data is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if pin is not None:
        req.add_header("X-Pbx-Pin", pin)
    try:
        with urllib.request.urlopen(req, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_app_forwards_busy_calls_and_the_next_call_follows(
    running: Controller, office: Pbx
) -> None:
    status, answer = request(running, "102", "2468", {"forward": {"always": "103"},
                                                      "call_waiting": False})
    assert status == 200
    assert answer["forwarding"] == {"always": "103"} and answer["call_waiting"] is False
    wait_until(lambda: running.directory.user(office.enterprise("Acme").id, "102")
               .forward("always"), what="directory caught up")  # type: ignore[union-attr]
    call = switch(running).place_call(internal("101", "102"))
    assert call.bridged_to == "103"
    assert request(running, "102", "2468")[1]["forwarding"] == {"always": "103"}


def test_wrong_pin_and_operator_settings_are_refused_and_change_nothing(
    running: Controller, office: Pbx
) -> None:
    before = office.last_position()
    assert request(running, "102", "1111", {"dnd": True}) == (
        403, {"error": "wrong PIN for 102 (2 tries left)"})
    assert request(running, "102", None) == (403, {"error": "wrong PIN for 102 (1 tries left)"})
    failures = office.last_position() - before  # two SelfServicePinFailed, nothing else
    assert failures == 2
    assert request(running, "102", "2468", {"intercept": "announcement"}) == (
        400, {"error": "not a self-service setting: 'intercept'"})
    assert request(running, "102", "2468", {"dnd": "yes"}) == (
        400, {"error": "dnd is true or false"})
    assert request(running, "102", "2468", raw=b"{not json")[0] == 400
    assert request(running, "999", "2468")[0] == 404
    assert request(running, "103", "2468")[0] == 403  # Carol has no PIN
    assert office.last_position() - before == failures
    assert office.user(None, "102").dnd is False
