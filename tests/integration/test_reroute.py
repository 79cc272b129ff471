"""Audit through the simulator: explain names the configuration a call read; reroute after a
forwarding change lists exactly the calls that would now go elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import commands.main  # noqa: F401 - the CLI first (commands.common imports it)
from commands.calls import explain_call
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.bootstrap import Controller
from esl_controller.reroute import reroute
from esl_controller.simulator import Endpoint
from tests.integration.calls import caught_up, internal, switch


def test_reroute_after_a_forwarding_change_lists_exactly_the_affected_calls(
    controller: Controller, pbx: Pbx
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    sw = switch(controller, **{"103": Endpoint("no-answer")})
    to_bob = sw.place_call(internal("101", "102"))
    to_carol = sw.place_call(internal("101", "103"))
    bob_calls = sw.place_call(internal("102", "101"))
    assert to_bob.bridged_to == "102"
    position = controller.app.call(to_bob.call_uuid).configuration_position

    story = "\n".join(explain_call(pbx, to_bob.call_uuid))
    assert (f"Decided on the configuration as of event {position} "
            "(enterprise Acme v2, user 101 v1, user 102 v1)") in story

    assert reroute(pbx, since).differences == []  # nothing changed: all would go the same way

    user_services.forward(pbx, None, "102", "always", "103")
    caught_up(controller)
    report = reroute(pbx, since)
    assert report.checked == 3
    assert [d.call_id for d in report.differences] == [to_bob.call_uuid]
    diff = report.differences[0]
    assert diff.summary == "would now ring 103 instead of 102"
    assert "102 forwards (always) to 103" in diff.reason
    assert "user 102 changed since the call (v1 -> v2, last at" in diff.reason
    assert {to_carol.call_uuid, bob_calls.call_uuid}.isdisjoint(
        d.call_id for d in report.differences)
    assert reroute(pbx, datetime.now(UTC) + timedelta(minutes=1)).checked == 0
