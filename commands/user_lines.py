"""``pbx user alt-number / priority-alert / device``: ringing extras of a user's line.

Alternate numbers (USR-10), priority alert (USR-18) and shared call appearances (USR-21).
The per-number schedules (USR-9) are options of ``pbx user set``. Every refusal is one
``error:`` line with exit status 2 and nothing written.
"""

from __future__ import annotations

import click

from commands.common import enterprise_option, pass_app
from commands.users import user
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.routing.alerting import DISTINCTIVE_RINGS


def _extension() -> str:
    """The EXT argument of the enclosing ``alt-number`` / ``device`` group."""
    parent = click.get_current_context().parent
    assert parent is not None
    extension: str = parent.params["extension"]
    return extension


@user.group("alt-number")
@click.argument("extension")
def alt_number(extension: str) -> None:
    """Alternate numbers of a user (USR-10): up to 10 extensions or public numbers."""


@alt_number.command("add")
@click.argument("number", metavar="NUMBER_OR_EXT")
@enterprise_option
@click.option("--ring", type=click.IntRange(1, 3), default=None,
              help="1 normal, 2 or 3 distinctive (default: 2 and 3 for the 2nd and 3rd).")
@pass_app
def alt_add(app: Pbx, number: str, enterprise: str | None, ring: int | None) -> None:
    """Add an alternate extension of the plan or public number that reaches the user."""
    extension = _extension()
    view, added = user_services.add_alternate(app, enterprise, extension, number, ring)
    chosen = next(a.ring for a in view.alternates if a.number == added)
    how = f"ring {chosen}" + (f": {DISTINCTIVE_RINGS[chosen]}" if chosen in DISTINCTIVE_RINGS
                              else ", normal")
    click.echo(f"alternate number {added} of {extension} added ({how})")


@alt_number.command("remove")
@click.argument("number", metavar="NUMBER_OR_EXT")
@enterprise_option
@pass_app
def alt_remove(app: Pbx, number: str, enterprise: str | None) -> None:
    """Remove an alternate number."""
    extension = _extension()
    removed = user_services.remove_alternate(app, enterprise, extension, number)
    click.echo(f"alternate number {removed} of {extension} removed")


@user.command("priority-alert")
@click.argument("extension")
@enterprise_option
@click.option("--add", "add", metavar="PATTERN", default=None,
              help="Callers matching PATTERN ring distinctively (digits, X, *, anonymous).")
@click.option("--schedule", default=None, help="Only while this schedule is open.")
@click.option("--remove", "remove", metavar="PATTERN", default=None,
              help="Remove the rule for PATTERN.")
@pass_app
def priority_alert(
    app: Pbx, extension: str, enterprise: str | None, add: str | None,
    schedule: str | None, remove: str | None,
) -> None:
    """Priority alert (USR-18): a distinctive ring for chosen callers."""
    if (add is None) == (remove is None):
        raise click.UsageError("give one of --add PATTERN or --remove PATTERN")
    if remove is not None:
        if schedule is not None:
            raise click.UsageError("--schedule applies to --add only")
        user_services.remove_priority_alert(app, enterprise, extension, remove)
        click.echo(f"priority alert {remove} removed from {extension}")
        return
    assert add is not None
    user_services.add_priority_alert(app, enterprise, extension, add, schedule)
    when = f" while {schedule} is open" if schedule else ""
    click.echo(f"priority alert {add} added to {extension}{when}")


@user.group("device")
@click.argument("extension")
def device(extension: str) -> None:
    """Shared call appearances (USR-21): up to 10 extra SIP devices ringing as the user."""


@device.command("add")
@click.argument("name")
@enterprise_option
@click.option("--password", required=True, help="SIP password of the device (stored hashed).")
@pass_app
def device_add(app: Pbx, name: str, enterprise: str | None, password: str) -> None:
    """Add a device; it registers as SIP user EXT-NAME with its own password."""
    extension = _extension()
    username = user_services.add_device(app, enterprise, extension, name, password)
    domain = app.enterprise(enterprise).domain
    click.echo(f"device {name} of {extension} added: registers as {username}@{domain}")


@device.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def device_remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a device (it can no longer register or call)."""
    extension = _extension()
    username = user_services.remove_device(app, enterprise, extension, name)
    click.echo(f"device {name} of {extension} removed ({username} no longer registers)")


COMMANDS: list[click.Command] = []  # registered on the ``user`` group above
