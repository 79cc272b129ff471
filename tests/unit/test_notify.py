"""Call notify (USR-17) in the incoming-call chain, driven as a plain generator.

A real Pbx on a temp SQLite file, a Directory folded from its events; each test asserts what
the user would notice: whether an e-mail about the call is asked for, to whom, naming whom,
and that the call rings the user whatever the mail service answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.notify import notice
from esl_controller.routing.actions import Action, Command, Ring
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import CommandResult, Done, Outcome, Rang, RingResult
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from esl_controller.schedules import add_schedule
from projections.directory import Directory

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
SUNDAY_10 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
QUEUED = CommandResult(True, "queued")


@pytest.fixture
def app(tmp_path: Path) -> Pbx:
    pbx = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    pbx.create_enterprise("Acme", "acme.example")
    pbx.add_user(None, "101", "Alice", number="020 1234567", email="alice@acme.example")
    pbx.add_user(None, "102", "Bob")
    return pbx


def external(caller: str, name: str = "", privacy: bool = False) -> CallContext:
    return CallContext("00000000-0000-4000-8000-0000000000aa", "sofia/external/x", caller, name,
                       "+31201234567", Origin.EXTERNAL, privacy=privacy)


class Run:
    """Drives one call to 101: answers the notify command with ``notify``, rings busy."""

    def __init__(self, app: Pbx, ctx: CallContext, now: datetime = MONDAY_10,
                 notify: CommandResult = QUEUED) -> None:
        directory = Directory()
        app.catch_up(directory)
        self.trace = Trace()
        self.commands: list[Command] = []
        self.actions: list[Action] = []
        script = route_call(ctx, directory, RoutingSettings(gateway="trunk"), self.trace, now)
        try:
            action = next(script)
            while len(self.actions) < 40:
                outcome: Outcome = Done()
                if isinstance(action, Command):
                    self.commands.append(action)
                    outcome = notify if action.service == "notify" else CommandResult(False)
                else:
                    self.actions.append(action)
                    if isinstance(action, Ring):
                        outcome = Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING,
                                       action.targets[0].label())
                action = script.send(outcome)
        except StopIteration:
            pass

    @property
    def notified(self) -> list[Command]:
        return [c for c in self.commands if c.service == "notify"]

    @property
    def rang(self) -> list[str]:
        return [t.label() for a in self.actions if isinstance(a, Ring) for t in a.targets]

    def story(self) -> str:
        return " | ".join(step.detail for step in self.trace.steps)


def test_matching_caller_asks_for_an_e_mail_to_the_user_and_the_call_still_rings(
    app: Pbx,
) -> None:
    user_services.add_notify(app, None, "101", "+3161*")
    run = Run(app, external("+31612345678", "Carla Client"))
    [command] = run.notified
    assert command.name == "call"
    assert command.arg("to") == "alice@acme.example"
    assert (command.arg("caller"), command.arg("caller_name")) == ("+31612345678", "Carla Client")
    assert command.arg("extension") == "101" and command.arg("user_name") == "Alice"
    assert command.arg("timezone") == "Europe/Amsterdam"
    assert datetime.fromisoformat(command.arg("at")) == MONDAY_10
    assert run.rang == ["101"]
    assert "e-mail to alice@acme.example queued" in run.story()


def test_other_callers_do_not_notify(app: Pbx) -> None:
    user_services.add_notify(app, None, "101", "+3161*")
    run = Run(app, external("+31201111111"))
    assert run.notified == []
    assert run.rang == ["101"]


def test_explicit_address_and_first_matching_rule_wins(app: Pbx) -> None:
    user_services.add_notify(app, None, "101", "+31201111111", email="desk@acme.example")
    user_services.add_notify(app, None, "101", "*")
    [command] = Run(app, external("+31201111111")).notified
    assert command.arg("to") == "desk@acme.example"
    [command] = Run(app, external("+31209999999")).notified
    assert command.arg("to") == "alice@acme.example"


def test_rule_with_a_schedule_notifies_only_while_it_is_open(app: Pbx) -> None:
    add_schedule(app, None, "office", "mon-fri 08:30-17:30", "NL")
    user_services.add_notify(app, None, "101", "*", schedule="office")
    assert len(Run(app, external("+31201111111"), now=MONDAY_10).notified) == 1
    sunday = Run(app, external("+31201111111"), now=SUNDAY_10)
    assert sunday.notified == []
    assert "schedule office closed" in sunday.story()
    assert sunday.rang == ["101"]


def test_a_failing_mail_service_never_affects_the_call(app: Pbx) -> None:
    user_services.add_notify(app, None, "101", "*")
    run = Run(app, external("+31201111111"), notify=CommandResult(False, "no mail relay"))
    assert len(run.notified) == 1
    assert run.rang == ["101"]
    assert "not sent (no mail relay); the call goes on" in run.story()


def test_withheld_number_is_never_written_into_the_e_mail(app: Pbx) -> None:
    user_services.add_notify(app, None, "101", "anonymous")
    [command] = Run(app, external("+31612345678", "Secret", privacy=True)).notified
    assert (command.arg("caller"), command.arg("caller_name")) == ("anonymous", "")
    subject, text = notice(command, MONDAY_10)
    assert "+31612345678" not in subject + text and "Secret" not in subject + text


def test_removed_rule_notifies_no_more(app: Pbx) -> None:
    user_services.add_notify(app, None, "101", "*")
    user_services.remove_notify(app, None, "101", "*")
    assert Run(app, external("+31201111111")).notified == []


def test_notice_names_caller_user_and_local_time() -> None:
    command = Command("notify", "call", (
        ("caller", "+31612345678"), ("caller_name", "Carla Client"), ("extension", "101"),
        ("user_name", "Alice"), ("timezone", "Europe/Amsterdam")))
    subject, text = notice(command, MONDAY_10)
    assert subject == "Call from Carla Client (+31612345678) for Alice (101)"
    assert "Time: 2026-11-23 10:00:00 CET" in text


@pytest.mark.parametrize(("args", "message"), [
    (("101", "12ab"), "invalid caller pattern"),
    (("102", "*"), "102 has no e-mail address"),
    (("101", "*", "nosuch"), "unknown schedule"),
])
def test_bad_rules_are_refused_and_change_nothing(
    app: Pbx, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        user_services.add_notify(app, None, *args)
    assert app.user(None, args[0]).notify == ()


def test_bad_address_and_duplicates_are_refused(app: Pbx) -> None:
    with pytest.raises(ValidationError, match="invalid e-mail address"):
        user_services.add_notify(app, None, "102", "*", email="not-an-address")
    user_services.add_notify(app, None, "101", "*")
    with pytest.raises(ValidationError, match="already has the notify rule"):
        user_services.add_notify(app, None, "101", "*")
    with pytest.raises(ValidationError, match="no notify rule 123"):
        user_services.remove_notify(app, None, "101", "123")
    assert len(app.user(None, "101").notify) == 1
