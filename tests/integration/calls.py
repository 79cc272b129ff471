"""Shared pieces of the integration tests: a running controller and simulated calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller, ServeConfig
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch
from projections.call_log import entries
from projections.directory import Directory
from tests.conftest import wait_until

ESL_PASSWORD = "not-the-default-secret"


@pytest.fixture
def pbx(db_url: str) -> Pbx:
    app = Pbx(db_url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "101", "Alice Jansen", number="020 1234567", password="s3cret-pass")
    app.add_user(None, "102", "Bob de Vries")
    app.add_user(None, "103", "Carol Smit")
    return app


@pytest.fixture
def inbound() -> Iterator[FakeInboundESL]:
    fake = FakeInboundESL(ESL_PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def controller(pbx: Pbx, inbound: FakeInboundESL) -> Iterator[Controller]:
    config = ServeConfig(
        db_url=pbx.db_url,
        listen=("127.0.0.1", 0),
        http=("127.0.0.1", 0),
        esl=("127.0.0.1", inbound.port),
        esl_password=ESL_PASSWORD,
        gateway="trunk",
        poll_interval=0.01,
    )
    running = Controller(config).start()
    yield running
    running.stop()


def switch(controller: Controller, scale: float = 0.02, **endpoints: Endpoint) -> FakeSwitch:
    """The simulator dialling ``controller``; ``scale``: wall seconds per simulated second
    (a test that must act while a phone rings wants more than the default 0.4 s ring)."""
    host, port = controller.esl_address
    table = {"101": Endpoint(), "102": Endpoint(), "103": Endpoint(), **endpoints}
    return FakeSwitch(host, port, endpoints=table, time_scale=scale)


def internal(caller: str, destination: str, **kw: object) -> CallSpec:
    return CallSpec(caller, destination, auth_user=caller, domain="acme.example",
                    call_uuid=str(uuid.uuid4()), **kw)  # type: ignore[arg-type]


def settled(controller: Controller) -> None:
    """Wait until both read models have folded every event of theirs written so far."""
    app = controller.app
    followers = (controller.call_log, controller.blf)
    wait_until(
        lambda: all(not app.notifications(f.position, 1, f.projection.topics) for f in followers),
        what="projections to catch up",
    )


def log_of(controller: Controller, extension: str) -> list[tuple[str, str, str]]:
    settled(controller)
    ent = controller.app.enterprise("Acme")
    return [
        (e.kind, personal.open_(controller.app, e.other_party), e.outcome)  # privacy: sealed
        for e in entries(controller.call_log.engine, ent.id, extension=extension)
    ]


def caught_up(controller: Controller) -> Directory:
    """The controller's directory has every change written to the log so far."""
    last = controller.app.last_position()
    wait_until(lambda: controller.directory.position >= last, what="the directory")
    return controller.directory
