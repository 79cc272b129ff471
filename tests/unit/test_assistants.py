"""Manager/assistant (MA-1): the chain's executive-assistant step, its feature codes, the
filter parser and the use cases' bad input. Pure routing driven by feeding outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_controller import assistants, user_services
from esl_controller.application import Pbx
from esl_controller.domain.assistants import parse_filter
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.routing.actions import Command, Hangup, Ring
from esl_controller.routing.assistant import split_on_behalf
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.outcomes import CommandResult
from esl_controller.routing.route import route_call
from esl_controller.routing.trace import Trace
from projections.assistants_fold import ExecutiveView
from tests.unit.test_chain_services import (
    GATEWAY,
    MONDAY_10,
    answered_by,
    drive,
    external,
    fresh,
    internal,
    nobody,
    rings,
    run,
    story,
)


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567", email="alice@acme.example")
    pbx.add_user(None, "102", "Bob")
    pbx.add_user(None, "103", "Carol")
    pbx.add_user(None, "104", "Dave")
    return pbx


def test_all_calls_ring_the_assistants_and_the_manager_is_notified(app: Pbx) -> None:
    assistants.add_assistant(app, None, "101", "102")
    assistants.add_assistant(app, None, "101", "103")
    sent: list[Command] = []

    def commands(command: Command) -> CommandResult:
        sent.append(command)
        return CommandResult(True, "alice@acme.example")

    trace = Trace()
    script = route_call(internal("104", "101"), fresh(app), GATEWAY, trace, MONDAY_10)
    actions = drive(script, answered_by("102"), commands)
    assert rings(actions) == ["102", "103"]  # both assistants at once; 101 does not ring
    ring = actions[0]
    assert isinstance(ring, Ring) and ring.caller_id_name == "Dave (for 101)"
    assert [(c.service, c.arg("to")) for c in sent] == [("notify", "alice@acme.example")]
    assert "answered by assistant 102 on behalf of 101" in story(trace)


def test_external_filter_lets_colleagues_reach_the_manager_directly(app: Pbx) -> None:
    assistants.add_assistant(app, None, "101", "102", "external")
    actions, trace = run(app, internal("104", "101"), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "filter external: an internal call" in story(trace)
    actions, _ = run(app, external("0612345678"), answered_by("102"))
    assert rings(actions) == ["102"]


def test_numbers_filter_screens_only_matching_callers(app: Pbx) -> None:
    assistants.add_assistant(app, None, "101", "102", "numbers:06*,+3130XXXXXXX")
    assert rings(run(app, external("0612345678"), answered_by("102"))[0]) == ["102"]
    assert rings(run(app, external("+31301234567"), answered_by("102"))[0]) == ["102"]
    actions, trace = run(app, external("0201111111"), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "matches none of 06*, +3130XXXXXXX" in story(trace)


def test_unanswered_by_the_assistants_the_call_goes_on_to_the_managers_forwarding(
    app: Pbx
) -> None:
    assistants.add_assistant(app, None, "101", "102")
    user_services.forward(app, None, "101", "always", "104")
    actions, trace = run(app, external("0612345678"), nobody(HangupCause.NO_ANSWER))
    assert rings(actions) == ["102", "104"]
    assert "no assistant answered" in story(trace)


def test_an_assistants_own_call_and_screening_off_reach_the_manager(app: Pbx) -> None:
    assistants.add_assistant(app, None, "101", "102")
    actions, trace = run(app, internal("102", "101"), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "comes from assistant 102" in story(trace)
    assistants.set_screening(app, None, "101", False)
    actions, trace = run(app, external("0612345678"), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "switched screening off" in story(trace)


def test_an_assistant_on_dnd_is_skipped_and_with_none_left_the_manager_rings(
    app: Pbx
) -> None:
    assistants.add_assistant(app, None, "101", "102")
    user_services.set_dnd(app, None, "102", True)
    actions, trace = run(app, external("0612345678"), answered_by("101"))
    assert rings(actions) == ["101"]
    assert "assistant 102 is on do not disturb" in story(trace)


def test_screening_codes_go_to_the_assistants_service(app: Pbx) -> None:
    sent: list[Command] = []

    def commands(command: Command) -> CommandResult:
        sent.append(command)
        return CommandResult(True, "off")

    trace = Trace()
    drive(route_call(internal("101", "*48"), fresh(app), GATEWAY, trace, MONDAY_10),
          answered_by("nobody"), commands)
    assert [(c.service, c.name, c.arg("manager"), c.arg("on")) for c in sent] == [
        ("assistants", "screening", "101", "no")]
    assert "101: assistant screening off" in story(trace)


def test_on_behalf_call_presents_the_managers_number_and_refuses_others(app: Pbx) -> None:
    assistants.add_assistant(app, None, "101", "102")
    actions, trace = run(app, internal("102", "*491010612345678"),
                         answered_by("+31612345678"))
    ring = actions[0]
    assert isinstance(ring, Ring) and ring.caller_id_number == "+31201234567"
    assert rings(actions) == ["+31612345678"]
    actions, trace = run(app, internal("103", "*491010612345678"), answered_by("x"))
    assert rings(actions) == []
    assert isinstance(actions[-1], Hangup) and actions[-1].cause is HangupCause.CALL_REJECTED
    assert "103 is no assistant of the manager dialled" in story(trace)


def _view(ext: str) -> ExecutiveView:
    import uuid

    return ExecutiveView(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), ext, ("200",))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exts=st.lists(st.from_regex(r"[1-9][0-9]{1,3}", fullmatch=True), min_size=1,
                     max_size=4, unique=True),
       pick=st.integers(min_value=0, max_value=3),
       number=st.from_regex(r"0[1-9][0-9]{8}", fullmatch=True))
def test_on_behalf_digits_split_into_a_managers_extension_and_the_number(
    exts: list[str], pick: int, number: str
) -> None:
    views = [_view(e) for e in exts]
    chosen = exts[pick % len(exts)]
    found = split_on_behalf(chosen + number, views)
    assert found is not None
    manager, rest = found
    # The split is exact: extension + number gives back the digits, and no longer manager
    # extension also prefixes them.
    assert manager.manager_extension + rest == chosen + number
    assert len(manager.manager_extension) >= len(chosen)


def test_filters_parse_and_bad_ones_are_refused() -> None:
    assert parse_filter("all") == ("all", [])
    assert parse_filter("External") == ("external", [])
    assert parse_filter("numbers:06*, +3120x") == ("numbers", ["06*", "+3120X"])
    for bad in ("some", "numbers:", "numbers:abc", "external:06*"):
        with pytest.raises(ValueError):
            parse_filter(bad)


def test_bad_input_changes_nothing(app: Pbx) -> None:
    before = app.last_position()
    with pytest.raises(ValidationError, match="own assistant"):
        assistants.add_assistant(app, None, "101", "101")
    with pytest.raises(NotFoundError):
        assistants.add_assistant(app, None, "101", "999")
    with pytest.raises(ValidationError, match="unknown filter"):
        assistants.add_assistant(app, None, "101", "102", "friends")
    with pytest.raises(ValidationError, match="no assistant"):
        assistants.set_screening(app, None, "101", False)
    with pytest.raises(NotFoundError):
        assistants.remove_assistant(app, None, "101", "102")
    assert app.last_position() == before
    for ext in ("102", "103", "104"):
        assistants.add_assistant(app, None, "101", ext)
    with pytest.raises(ValidationError, match="already"):
        assistants.add_assistant(app, None, "101", "102")
    view = assistants.remove_assistant(app, None, "101", "103")
    assert view.assistants == ("102", "104")


def test_the_fold_rebuilds_to_the_live_state(app: Pbx) -> None:
    live = fresh(app)
    assistants.add_assistant(app, None, "101", "102", "numbers:06*")
    assistants.add_assistant(app, None, "101", "103")
    assistants.remove_assistant(app, None, "101", "102")
    assistants.set_screening(app, None, "101", False)
    app.catch_up(live)
    rebuilt = fresh(app)
    assert rebuilt._fold_state()["executives"] == live._fold_state()["executives"]
    view = rebuilt.executive(app.user(None, "101").id)
    assert view is not None
    assert (view.assistants, view.filter_text, view.screening) == (("103",), "numbers:06*", False)
    assert [v.manager_extension for v in rebuilt.managers_of(view.enterprise_id, "103")] == ["101"]
