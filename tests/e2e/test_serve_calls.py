"""`make run`'s controller, called through: `pbx serve` as a process, its projection worker
as a second process, the simulator dialling in with `pbx simulate call --controller`, and a
fake FreeSWITCH inbound socket receiving the lamps' PRESENCE_IN."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator

import pytest

from esl_controller.simulator import FakeInboundESL
from tests.conftest import wait_until
from tests.e2e.conftest import Pbx

PASSWORD = "e2e-not-the-default"


@pytest.fixture
def inbound() -> Iterator[FakeInboundESL]:
    fake = FakeInboundESL(PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def served(acme: Pbx, inbound: FakeInboundESL) -> Iterator[tuple[Pbx, str]]:
    secret = acme.cwd / "esl-password"
    secret.write_text(PASSWORD + "\n")
    log = acme.cwd / "serve.stderr"
    with log.open("w") as err:
        proc = subprocess.Popen(
            acme.command("serve", "--listen", "127.0.0.1:0", "--http", "off",
                         "--esl", f"127.0.0.1:{inbound.port}",
                         "--esl-password-file", str(secret), "--gateway", "trunk"),
            cwd=acme.cwd, env=acme.environment(), stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        found = wait_until(
            lambda: re.search(r"listening for FreeSWITCH on ([\d.]+:\d+)", log.read_text()),
            30, "serve to listen")
        yield acme, found[1]  # type: ignore[index]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text()
        assert PASSWORD not in log.read_text()  # never logged
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_running_controller_routes_records_and_lights_the_lamps(
    served: tuple[Pbx, str], inbound: FakeInboundESL
) -> None:
    cli, address = served
    out = cli.ok("simulate", "call", "--from", "101", "--to", "102", "--controller", address)
    assert "answered by 102" in out
    wait_until(lambda: any(p.get("from") == "102@acme.example"
                           and p.get("answer-state") == "terminated" for p in inbound.presence),
               15, "102's lamp to go off through PRESENCE_IN")
    states = [p["answer-state"] for p in inbound.presence if p.get("from") == "102@acme.example"]
    assert states == ["early", "confirmed", "terminated"]

    busy = cli.ok("simulate", "call", "--from", "101", "--to", "102", "--endpoint", "102=busy",
                  "--controller", address)
    assert "USER_BUSY" in busy
    listed = cli.json("calls", "list", "--user", "102")
    assert [(e["kind"], e["outcome"]) for e in listed] == [("missed", "busy"),
                                                          ("received", "answered")]
    lamps = cli.json("blf", "show")
    assert {lamp["extension"]: lamp["state"] for lamp in lamps} == {"101": "idle", "102": "idle"}
