"""Call-center supervisor functions (CC-5) through the real controller, the simulator over
TCP and the fake inbound event socket: monitoring an agent's call with eavesdrop (the exact
originate sent, the event recorded, refusals that send nothing), a waiting call's priority
changed from the CLI, and the report of a few calls (answered, abandoned, overflowed)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator

import gevent
import pytest

from commands.main import main
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.call_centers import CallCenters
from esl_controller.simulator import CallSpec, Endpoint, FakeInboundESL, FakeSwitch, SimCall
from esl_controller.supervisor import Supervision
from tests.conftest import wait_until
from tests.integration.calls import ESL_PASSWORD, caught_up, switch

QUEUE_NUMBER = "+31207000700"


class Cli:
    """``pbx`` run in this process (its sockets are gevent's, like the simulator's)."""

    def __init__(self, pbx: Pbx, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = pbx.db_url
        self.capsys = capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            main(["--db", self.db, *args])
            status = 0
        except SystemExit as exc:
            status = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return status, out, err

    def ok(self, *args: str) -> str:
        status, out, err = self.run(*args)
        assert status == 0, err
        return out

    def refused(self, *args: str) -> str:
        status, out, err = self.run(*args)
        assert (status, out) == (2, ""), (status, out, err)
        assert len(err.splitlines()) == 1 and err.startswith("error: "), err
        return err.strip()


@pytest.fixture
def cli(pbx: Pbx, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("PBX_ESL_PASSWORD", ESL_PASSWORD)
    yield Cli(pbx, capsys)


def support(pbx: Pbx, controller: Controller, **kw: object) -> None:
    """Queue Support (700) with agent 102; 101 supervises it (103 does not)."""
    centers = CallCenters(pbx)
    centers.add(None, "Support", "700", numbers_=("020 7000700",), tier=25,  # type: ignore[arg-type]
                policy="regular", **kw)
    centers.add_agent(None, "Support", "102")
    Supervision(pbx).add_supervisor(None, "Support", "101")
    caught_up(controller)


def outside(**kw: object) -> CallSpec:
    return CallSpec("+31612345678", QUEUE_NUMBER, call_uuid=str(uuid.uuid4()),
                    **kw)  # type: ignore[arg-type]


def in_background(fs: FakeSwitch, spec: CallSpec) -> Callable[[], SimCall]:
    job = gevent.spawn(fs.place_call, spec)
    return lambda: job.get(timeout=30)


def events_named(pbx: Pbx, name: str) -> list[dict[str, object]]:
    return [dict(e.__dict__) for _p, e in pbx.events_after(0) if type(e).__name__ == name]


def test_a_supervisor_whispers_to_the_agent_of_a_queue_call_over_eavesdrop(
        pbx: Pbx, controller: Controller, inbound: FakeInboundESL, cli: Cli) -> None:
    support(pbx, controller)
    fs = switch(controller, **{"102": Endpoint(talk_seconds=300)})  # 6 s of talk
    spec = outside()
    done = in_background(fs, spec)
    esl = f"127.0.0.1:{inbound.port}"
    wait_until(lambda: (c := caught_up(controller).queue_call_of(spec.call_uuid or ""))
               is not None and c.connected_to == "102", what="agent 102 to answer")
    call = caught_up(controller).queue_call_of(spec.call_uuid or "")
    assert call is not None and call.agent_leg is not None
    leg = call.agent_leg
    assert uuid.UUID(leg) and leg != spec.call_uuid  # the agent's channel, not the caller's

    # refusals: one line, exit 2, nothing sent to FreeSWITCH, nothing recorded
    assert cli.refused("queue", "monitor", "102", "--supervisor", "103", "--mode", "listen",
                       "--esl", esl) == ("error: 103 is no supervisor of queue Support: "
                                         "pbx queue supervisor add Support 103")
    assert cli.refused("queue", "monitor", "nope", "--supervisor", "101", "--mode", "listen",
                       "--esl", esl) == "error: no queue call or agent 'nope' in 'Acme'"
    assert cli.refused("queue", "monitor", spec.call_uuid or "", "--supervisor", "101",
                       "--mode", "spy", "--esl", esl).startswith(
        "error: Invalid value for '--mode': 'spy' is not one of")
    assert inbound.api_commands == [] and events_named(pbx, "QueueCallMonitored") == []

    out = cli.ok("queue", "monitor", "102", "--supervisor", "101", "--mode", "whisper",
                 "--esl", esl)
    [monitored] = events_named(pbx, "QueueCallMonitored")
    channel = str(monitored["channel"])
    expected = (f"originate {{origination_uuid={channel},origination_caller_id_number=102,"
                "origination_caller_id_name='whisper 102 Support',originate_timeout=30,"
                "eavesdrop_enable_dtmf=false,eavesdrop_whisper_aleg=false,"
                f"eavesdrop_whisper_bleg=true}}user/101@acme.example &eavesdrop({leg})")
    assert inbound.api_commands == [expected]
    assert (monitored["supervisor"], monitored["mode"], monitored["agent"],
            monitored["leg"]) == ("101", "whisper", "102", leg)
    assert out.splitlines() == [
        f"101 (Alice Jansen) whispers to agent 102 (Bob de Vries) on call {spec.call_uuid} "
        "of queue Support",
        f"sent to {esl}: api {expected}",
        f"FreeSWITCH: +OK {channel}",  # the switch answers with the new channel's uuid
    ]
    sim = done()
    assert sim.bridged_to == "102"
    wait_until(lambda: caught_up(controller).queue_call_of(spec.call_uuid or "") is None,
               what="the queue call to close")
    assert cli.refused("queue", "monitor", spec.call_uuid or "", "--supervisor", "101",
                       "--mode", "barge", "--esl", esl) == (
        f"error: no queue call or agent '{spec.call_uuid}' in 'Acme'")
    assert len(inbound.api_commands) == 1


def test_priority_and_the_report_of_answered_abandoned_and_overflowed_calls(
        pbx: Pbx, controller: Controller, cli: Cli) -> None:
    support(pbx, controller, max_wait=100, stranded="wait")
    fs = switch(controller)
    answered = fs.place_call(outside())
    assert answered.bridged_to == "102"
    CallCenters(pbx).set_state(None, "102", "unavailable", "meeting")
    caught_up(controller)
    spec = outside(hangup_after=80)  # gives up before the maximum wait (1.6 s)
    gone = in_background(fs, spec)
    wait_until(lambda: caught_up(controller).queue_call_of(spec.call_uuid or "") is not None,
               what="the caller to wait")
    out = cli.ok("queue", "priority", spec.call_uuid or "", "3", "--supervisor", "101")
    assert out == (f"call {spec.call_uuid} in queue Support: priority 0 -> 3 (0-9), now "
                   "position 1 of 1\n")
    shown = cli.ok("queue", "show", "Support")
    assert re.search(rf"1 +\+31612345678 +\d+ s +3 +- +{spec.call_uuid}", shown), shown
    assert "supervisors: 101" in shown
    assert cli.refused("queue", "priority", spec.call_uuid or "", "12") == (
        "error: the priority is 0 to 9, not 12")
    assert gone().bridged_to is None
    host, port = controller.esl_address  # faster: 100 s of waiting in 0.5 s
    overflowed = FakeSwitch(host, port, endpoints={"102": Endpoint()},
                            time_scale=0.005).place_call(outside())  # nobody free: busy
    assert overflowed.hangup_cause == "USER_BUSY"
    wait_until(lambda: not caught_up(controller).queue_calls, what="every queue life closed")
    [change] = events_named(pbx, "QueueCallPriorityChanged")
    assert (change["priority"], change["by"]) == (3, "101")

    report = cli.ok("queue", "report", "Support", "--from", "2000-01-01", "--to", "2100-12-31",
                    "--json")
    data = json.loads(report)
    assert (data["offered"], data["answered"], data["abandoned"], data["overflowed"],
            data["moved"], data["waiting"]) == (3, 1, 1, 1, 0, 0)
    assert (data["answered_in_time"], data["service_level"]) == (1, 33.3)
    assert data["average_wait"] is not None and data["average_wait"] < 20
    assert data["average_abandon_wait"] is not None
    assert [(a["agent"], a["answered"]) for a in data["agents"]] == [("102", 1)]
    assert data["agents"][0]["average_talk"] is not None  # the answer was recorded live
    text = cli.ok("queue", "report", "Support", "--from", "2000-01-01", "--to", "2100-12-31")
    assert "offered 3: 1 answered, 1 abandoned, 1 overflowed, 0 moved" in text
    assert "service level: 1 of 3 answered within 20 s (33.3 %)" in text
    assert cli.refused("queue", "report", "Support", "--from", "2026-12-01", "--to",
                       "2026-11-01") == (
        "error: the range is reversed: --to 2026-11-01 is before --from 2026-12-01")
    rebuilt = cli.ok("projections", "rebuild", "queue_report")
    assert "equal to the live view" in rebuilt
