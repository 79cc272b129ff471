"""``pbx user notify``: call notify rules (USR-17), an e-mail when a matching call arrives."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from commands.users import user
from esl_controller import user_services
from esl_controller.application import Pbx
from projections.directory import UserView


def _rows(view: UserView) -> list[dict[str, str | None]]:
    return [{"pattern": r.pattern, "schedule": r.schedule, "email": r.email or view.email}
            for r in view.notify]


@user.command("notify")
@click.argument("extension")
@enterprise_option
@click.option("--add", "add", metavar="PATTERN", default=None,
              help="E-mail when a caller matching PATTERN calls (+3120*, 06XXXXXXXX, "
                   "anonymous, * for everyone).")
@click.option("--schedule", default=None, help="With --add: only while this schedule is open.")
@click.option("--email", default=None, help="With --add: send here (default: the user's).")
@click.option("--remove", "remove", metavar="PATTERN", default=None, help="Remove a rule.")
@json_option
@pass_app
def notify(app: Pbx, extension: str, enterprise: str | None, add: str | None,
           schedule: str | None, email: str | None, remove: str | None, as_json: bool) -> None:
    """Call notify: list, add or remove the rules that e-mail about incoming calls."""
    if add is not None and remove is not None:
        raise click.UsageError("give --add or --remove, not both")
    if add is None and (schedule is not None or email is not None):
        raise click.UsageError("--schedule and --email go with --add")
    if add is not None:
        view = user_services.add_notify(app, enterprise, extension, add, schedule, email)
        rule = next(r for r in view.notify if r.pattern == add)
        when = f" while {rule.schedule} is open" if rule.schedule else ""
        click.echo(f"calls to {extension} from {add}{when} e-mailed to "
                   f"{rule.email or view.email}")
        return
    if remove is not None:
        user_services.remove_notify(app, enterprise, extension, remove)
        click.echo(f"notify rule {remove} of {extension} removed")
        return
    rows = _rows(app.user(enterprise, extension))
    if as_json:
        emit_json(rows)
        return
    table([tuple(r.values()) for r in rows], ["pattern", "schedule", "email"])


COMMANDS: list[click.Command] = []  # `notify` joins the `user` group, registered already
