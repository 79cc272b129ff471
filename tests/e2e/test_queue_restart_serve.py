"""`pbx serve` restarted (SIGTERM, then a new process on the same address) with a caller
waiting in a queue: the caller's channel comes back through the dialplan's re-attach window
(the simulator dialling in from this test) and is answered; `--reattach-window` refuses bad
input."""

from __future__ import annotations

import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import gevent

from esl_controller.simulator import CallSpec, Endpoint, FakeSwitch, SimCall
from tests.conftest import _free_port, wait_until
from tests.e2e.conftest import Pbx


@contextmanager
def serving(cli: Pbx, port: int, name: str) -> Iterator[str]:
    """``pbx serve`` as a process until the block ends with SIGTERM; yields its log."""
    log = cli.cwd / f"{name}.stderr"
    with log.open("w") as err:
        proc = subprocess.Popen(
            cli.command("serve", "--listen", f"127.0.0.1:{port}", "--http", "off",
                        "--reattach-window", "20"),
            cwd=cli.cwd, env=cli.environment(), stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: "listening for FreeSWITCH" in log.read_text(), 30, "serve")
        yield str(log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_caller_waiting_through_a_serve_restart_is_re_attached_and_answered(
        acme: Pbx) -> None:
    assert "--reattach-window" in acme.fails("serve", "--reattach-window", "2")
    acme.ok("queue", "add", "Support", "--extension", "700", "--number", "020 7000700",
            "--tier", "25", "--policy", "regular", "--wrap-up", "0")
    acme.ok("queue", "agent", "add", "Support", "102")
    acme.ok("agent", "set", "102", "wrap-up", "--seconds", "900")
    port = _free_port()
    sim = FakeSwitch("127.0.0.1", port, endpoints={"102": Endpoint("answer", 0.2, 0.5)},
                     time_scale=0.5)  # the dialplan's window: 4 x 2.5 s for the restart
    spec = CallSpec("+31612345678", "+31207000700", call_uuid=str(uuid.uuid4()))
    call_id = spec.call_uuid or ""
    placed: list[SimCall] = []
    with serving(acme, port, "first"):
        caller = gevent.spawn(lambda: placed.append(sim.place_call(spec, timeout=90)))
        wait_until(lambda: call_id in sim.channels and any(
            app == "playback" for app, _ in sim.channels[call_id].call.apps), 30,
            "the caller to wait with music")
        shown = acme.ok("queue", "show", "Support")
        assert re.search(rf"1 +\+31612345678 .* {call_id} +127\.0\.0\.1:{port}", shown), shown
    with serving(acme, port, "second") as log:
        wait_until(lambda: "QueueCallReattached" in acme.ok("events", "list", "--limit", "500"),
                   30, "the caller to come back")
        assert f"1 caller(s) left waiting by the previous controller process of node " \
               f"'127.0.0.1:{port}'" in open(log).read()
        acme.ok("agent", "set", "102", "available")
        caller.join(timeout=60)
        assert placed and placed[0].resumed is not None
        assert placed[0].resumed.bridged_to == "102"
        assert placed[0].resume_apps[0] == ("set", "pbx_reattach=true")
        shown = acme.ok("queue", "show", "Support")
        assert "calls: 1 entered, 1 answered, 0 abandoned" in shown, shown
