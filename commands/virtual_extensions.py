"""``pbx virtual-extension``: outside numbers dialable as extensions (USR-22)."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import virtual_extensions
from esl_controller.application import Pbx
from esl_controller.domain.numbers import national_format


@click.group("virtual-extension")
def group() -> None:
    """Outside numbers colleagues dial as a short extension (USR-22)."""


@group.command("add")
@click.argument("extension")
@click.argument("number")
@click.option("--name", required=True, help="What the extension stands for, e.g. 'Accountant'.")
@enterprise_option
@pass_app
def add(app: Pbx, extension: str, number: str, name: str, enterprise: str | None) -> None:
    view = virtual_extensions.add(app, enterprise, extension, number, name)
    number_shown = national_format(app.directory().virtual_numbers[view.id])
    click.echo(f"virtual extension {view.extension} ({view.name}) dials {number_shown}")


@group.command("remove")
@click.argument("extension")
@enterprise_option
@pass_app
def remove(app: Pbx, extension: str, enterprise: str | None) -> None:
    view = virtual_extensions.remove(app, enterprise, extension)
    click.echo(f"virtual extension {view.extension} ({view.name}) removed")


@group.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    rows = virtual_extensions.list_(app, enterprise)
    if as_json:
        emit_json([{"extension": t.extension, "name": t.name, "number": n} for t, n in rows])
        return
    table([[t.extension or "", t.name, national_format(n)] for t, n in rows],
          ["EXT", "NAME", "NUMBER"])


COMMANDS = [group]
