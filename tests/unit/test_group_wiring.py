"""Group services working together: a toolbox attached to a hunt group bounds the hunt by
its no-answer time, then takes the call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from esl_controller import night_service
from esl_controller.application import Pbx
from esl_controller.hunt_service import HuntGroups
from esl_controller.night_service import RuleChange
from esl_controller.routing.actions import Action, Ring, UserDevices
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import Done, Rang
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol"), ("104", "Dave")):
        pbx.add_user(None, ext, name)
    return pbx


def test_a_toolbox_no_answer_rule_bounds_the_hunt_and_takes_the_call(app: Pbx) -> None:
    HuntGroups(app).add(None, "Sales", "600", "regular", ["102", "103"], member_timeout=15)
    night_service.add_toolbox(app, None, "Backup", (RuleChange("no-answer", "104", 20),))
    night_service.attach_toolbox(app, None, "Backup", "Sales")
    directory = Directory()
    app.catch_up(directory)
    trace = Trace()
    ctx = CallContext(str(uuid4()), "sofia/internal/101", "101", "101", "600",
                      Origin.INTERNAL, "acme.example", "101")
    script = route_call(ctx, directory, RoutingSettings(gateway="trunk"), trace, NOW)
    rings: list[Ring] = []
    action: Action = next(script)
    try:
        while True:
            if isinstance(action, Ring):
                rings.append(action)
                action = script.send(Rang.failed_with(HangupCause.NO_ANSWER))
            else:
                action = script.send(Done())
    except StopIteration:
        pass
    assert [(r.targets, r.timeout) for r in rings[:2]] == [
        ((UserDevices("102", "acme.example"),), 15),
        ((UserDevices("103", "acme.example"),), 5),  # 20 s of the toolbox, 15 s used
    ]
    assert rings[2].targets == (UserDevices("104", "acme.example"),)
    story = " | ".join(s.detail for s in trace.steps)
    assert "the attached toolbox takes unanswered calls after 20 s" in story
