"""``pbx assistant``: a manager's assistants, the calls they screen, screening on / off."""

from __future__ import annotations

from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import assistants as use_cases
from esl_controller.application import Pbx
from projections.assistants_fold import ExecutiveView

FILTER_HELP = ("Which calls the assistants screen: all, external (calls from outside the "
               "enterprise) or numbers:PATTERN,... (X or . one digit, a trailing * any rest).")


def _as_dict(manager: str, view: ExecutiveView) -> dict[str, Any]:
    return {"manager": manager, "assistants": list(view.assistants),
            "filter": view.filter_text, "screening": view.screening}


def _echo(app: Pbx, enterprise: str | None, view: ExecutiveView, as_json: bool) -> None:
    if as_json:
        emit_json(_as_dict(view.manager_extension, view))
        return
    ent = app.enterprise(enterprise)
    directory = app.directory()
    manager = directory.user(ent.id, view.manager_extension)
    click.echo(f"manager    {view.manager_extension} ({manager.name if manager else '?'})")
    click.echo(f"screening  {'on' if view.screening else 'off'}")
    click.echo(f"filter     {view.filter_text}")
    rows = []
    for ext in view.assistants:
        user = directory.user(ent.id, ext)
        rows.append((ext, user.name if user else "(removed)"))
    if rows:
        table(rows, ("assistant", "name"))
    else:
        click.echo("no assistants")


@click.group("assistant")
def assistant() -> None:
    """Manager/assistant (MA-1): assistants answer the manager's calls from their own phones."""


@assistant.command("add")
@click.argument("manager")
@click.argument("assistant_ext", metavar="ASSISTANT")
@click.option("--filter", "filter_text", default=None, metavar="FILTER", help=FILTER_HELP)
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, manager: str, assistant_ext: str, filter_text: str | None,
        enterprise: str | None, as_json: bool) -> None:
    """Make ASSISTANT an assistant of MANAGER (both extensions); --filter sets the manager's
    filter (an assistant already there: only the filter changes)."""
    view = use_cases.add_assistant(app, enterprise, manager, assistant_ext, filter_text)
    _echo(app, enterprise, view, as_json)


@assistant.command("remove")
@click.argument("manager")
@click.argument("assistant_ext", metavar="ASSISTANT")
@enterprise_option
@json_option
@pass_app
def remove(app: Pbx, manager: str, assistant_ext: str, enterprise: str | None,
           as_json: bool) -> None:
    """ASSISTANT no longer screens MANAGER's calls."""
    view = use_cases.remove_assistant(app, enterprise, manager, assistant_ext)
    _echo(app, enterprise, view, as_json)


@assistant.command("screening")
@click.argument("manager")
@click.argument("mode", type=click.Choice(["on", "off"], case_sensitive=False))
@enterprise_option
@json_option
@pass_app
def screening(app: Pbx, manager: str, mode: str, enterprise: str | None, as_json: bool) -> None:
    """Switch MANAGER's screening on or off (the phone: *47 on, *48 off)."""
    view = use_cases.set_screening(app, enterprise, manager, mode.lower() == "on")
    _echo(app, enterprise, view, as_json)


@assistant.command("show")
@click.argument("manager")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, manager: str, enterprise: str | None, as_json: bool) -> None:
    """MANAGER's assistants, filter and screening."""
    _, view = use_cases.show(app, enterprise, manager)
    _echo(app, enterprise, view, as_json)


COMMANDS: list[click.Command] = [assistant]
