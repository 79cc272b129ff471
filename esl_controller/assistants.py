"""Use cases of manager/assistant (MA-1), and the ``assistants`` command service.

A manager (a user) has up to five assistants (users). While screening is on, calls to the
manager that pass the manager's filter (all calls, external calls only, or calls from
selected numbers) ring the assistants first (routing/assistant.py). The manager switches
screening on and off with the CLI or a feature code (*47 / *48); the code reaches
:class:`AssistantsService` as ``assistants screening on=yes|no`` from the manager's phone.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from esl_controller.application import Pbx
from esl_controller.domain.assistants import MAX_ASSISTANTS, ExecutiveAssistants, parse_filter
from esl_controller.errors import NotFoundError, PbxError, ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from projections.assistants_fold import ExecutiveView
from projections.directory import UserView


def _load(app: Pbx, manager: UserView) -> ExecutiveAssistants | None:
    try:
        found: ExecutiveAssistants = app.repository.get(
            ExecutiveAssistants.create_id(manager.id))
    except AggregateNotFoundError:
        return None
    return found


def _view(app: Pbx, manager: UserView) -> ExecutiveView:
    view = app.directory().executive(manager.id)
    assert view is not None
    return view


def add_assistant(app: Pbx, enterprise: str | None, manager_ext: str, assistant_ext: str,
                  filter_text: str | None = None) -> ExecutiveView:
    """Give the manager an assistant; ``filter_text`` (all, external, numbers:P,...) sets
    which calls the assistants screen (kept when not given; "all" at first)."""
    ent = app.enterprise(enterprise)
    manager = app.user(ent.name, manager_ext)
    assistant = app.user(ent.name, assistant_ext)
    parsed = None
    if filter_text is not None:
        try:
            parsed = parse_filter(filter_text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
    if assistant.id == manager.id:
        raise ValidationError(f"{manager.extension} cannot be their own assistant")
    found = _load(app, manager)
    if found is None:
        found = ExecutiveAssistants(ent.id, manager.id, manager.extension)
    if assistant.extension in found.assistants and parsed is None:
        raise ValidationError(
            f"{assistant.extension} is an assistant of {manager.extension} already")
    if assistant.extension not in found.assistants:
        if len(found.assistants) >= MAX_ASSISTANTS:
            raise ValidationError(
                f"{manager.extension} has {MAX_ASSISTANTS} assistants, the most there can be")
        found.add(assistant.extension)
    if parsed is not None and parsed != (found.filter_kind, found.patterns):
        found.set_filter(*parsed)
    app.save(found)
    return _view(app, manager)


def remove_assistant(app: Pbx, enterprise: str | None, manager_ext: str, assistant_ext: str
                     ) -> ExecutiveView:
    ent = app.enterprise(enterprise)
    manager = app.user(ent.name, manager_ext)
    found = _load(app, manager)
    wanted = assistant_ext.strip()
    if found is None or wanted not in found.assistants:
        raise NotFoundError(f"{wanted} is no assistant of {manager.extension}")
    found.remove(wanted)
    app.save(found)
    return _view(app, manager)


def set_screening(app: Pbx, enterprise: str | None, manager_ext: str, on: bool,
                  by: str = "cli") -> ExecutiveView:
    ent = app.enterprise(enterprise)
    manager = app.user(ent.name, manager_ext)
    found = _load(app, manager)
    if found is None or not found.assistants:
        raise ValidationError(f"{manager.extension} has no assistant: add one first")
    if found.screening != on:
        found.set_screening(on, by)
        app.save(found)
    return _view(app, manager)


def show(app: Pbx, enterprise: str | None, manager_ext: str) -> tuple[UserView, ExecutiveView]:
    ent = app.enterprise(enterprise)
    manager = app.user(ent.name, manager_ext)
    view = app.directory().executive(manager.id)
    if view is None:
        raise NotFoundError(f"{manager.extension} has no assistant")
    return manager, view


def managers_of(app: Pbx, enterprise: str | None, assistant_ext: str) -> list[ExecutiveView]:
    ent = app.enterprise(enterprise)
    assistant = app.user(ent.name, assistant_ext)
    return app.directory().managers_of(ent.id, assistant.extension)


class AssistantsService:
    """``assistants screening on=yes|no``: the manager's feature codes (*47 / *48)."""

    def __init__(self, app: Pbx) -> None:
        self.app = app

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        if command.name != "screening":
            return CommandResult(False, f"unknown assistants command {command.name!r}")
        try:
            ent_id = UUID(command.arg("enterprise"))
            directory = self.app.directory()
            ent = directory.enterprises.get(ent_id)
            if ent is None:
                return CommandResult(False, "unknown enterprise")
            on = command.arg("on") == "yes"
            view = set_screening(self.app, ent.name, command.arg("manager"), on,
                                 by=command.arg("code", "feature code"))
        except PbxError as exc:
            return CommandResult(False, str(exc))
        return CommandResult(True, "on" if view.screening else "off")
