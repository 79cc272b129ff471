"""``pbx``: nouns as groups, verbs as subcommands. Bad input: one line, exit status 2."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

import commands  # noqa: F401  (gevent patching first)
from esl_controller.application import Pbx
from esl_controller.errors import PbxError


class Context:
    """Lazily opened store, shared by the subcommands of one invocation."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self._app: Pbx | None = None

    @property
    def app(self) -> Pbx:
        if self._app is None:
            self._app = Pbx(self.db)
        return self._app


@click.group()
@click.option(
    "--db",
    envvar="PBX_DB_URL",
    default=None,
    help="SQLAlchemy URL of the event store (default: sqlite:///var/pbx.sqlite).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level to stderr.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, verbose: bool) -> None:
    """Call controller for a hosted business telephone exchange behind FreeSWITCH."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(db)


def _register() -> None:
    from commands import (
        blf,
        callback,
        calls,
        enterprises,
        events,
        projections_cmd,
        schedules,
        self_service,
        serve,
        simulate,
        user_calls,
        user_lines,
        user_notify,
        users,
        voicemail,
    )

    for module in (
        enterprises, users, calls, events, blf, projections_cmd, schedules, serve, simulate,
        voicemail, callback, user_calls, user_lines,
        self_service, user_notify,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)
    from commands import hotdesk, phonebook  # hot desking (USR-8), phone book (USR-19)

    for command in (*hotdesk.COMMANDS, *phonebook.COMMANDS):
        cli.add_command(command)
    # calling plans, departments, call capacity, click-to-call, licences (issue 4, 6-8)
    from commands import calling_plans, capacity, click_to_call, licences

    for command in (*calling_plans.COMMANDS, *capacity.COMMANDS, *click_to_call.COMMANDS,
                    *licences.COMMANDS):
        cli.add_command(command)
    from commands import night_service, toolboxes  # night service (CORE-3), toolboxes (OPT-2)

    for command in (*night_service.COMMANDS, *toolboxes.COMMANDS):
        cli.add_command(command)
    from commands import menus  # IVR menus (OPT-1)

    for command in menus.COMMANDS:
        cli.add_command(command)
    from commands import virtual_extensions  # virtual on-net extensions (USR-22)

    for command in virtual_extensions.COMMANDS:
        cli.add_command(command)
    from commands import hunt_groups  # hunt groups (CORE-2)

    for command in hunt_groups.COMMANDS:
        cli.add_command(command)

    from commands import fax, group_voicemail  # fax to e-mail (OPT-3), group vm (CORE-4, OPT-4)

    for command in (*group_voicemail.COMMANDS, *fax.COMMANDS):
        cli.add_command(command)
    from commands import call_centers  # queues and agents (issue 5, CC-1..CC-4)

    for command in call_centers.COMMANDS:
        cli.add_command(command)
    # pickup, park, conference rooms, music on hold / ringback (issue 4 item 5)
    from commands import conference, intercept_group, moh, park, pickup

    for command in (*pickup.COMMANDS, *park.COMMANDS, *conference.COMMANDS, *moh.COMMANDS,
                    *intercept_group.COMMANDS):
        cli.add_command(command)
    # recording index, teams, share links (REC-3): joins `pbx recordings` of recordings.py
    from commands import recording_index

    for command in recording_index.COMMANDS:
        cli.add_command(command)
    # audit reroute (attaches to commands/audit.py's group when there), webhooks (issue 6)
    from commands import audit_reroute, webhooks

    for command in (*audit_reroute.COMMANDS, *webhooks.COMMANDS):
        cli.add_command(command)
    # audit of the event log: `pbx audit state` (issue 6 item 4; other audit commands add
    # themselves to commands.audit's `audit` group)
    from commands import audit

    for command in audit.COMMANDS:
        cli.add_command(command)
    # receptionist console (RCP-1), manager/assistant (MA-1) (issue 5 items 5, 6)
    from commands import assistants, receptionist

    for command in (*receptionist.COMMANDS, *assistants.COMMANDS):
        cli.add_command(command)
    from commands import recordings  # call recording (REC-1, REC-2)

    for command in recordings.COMMANDS:
        cli.add_command(command)
    # privacy erasure and call log retention (issue 6 item 5); `pbx calls purge`
    from commands import calls as calls_cmd
    from commands import privacy

    calls_cmd.calls.add_command(privacy.purge_calls)
    for command in privacy.COMMANDS:
        cli.add_command(command)


_register()


NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: every failure is one line on stderr; bad input exits 2."""
    try:
        return cli.main(args=argv, prog_name="pbx", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except NO_ARGS_IS_HELP as exc:  # bare `pbx` or `pbx user` (click >= 8.2): no help as an error
        path = exc.ctx.command_path if exc.ctx is not None else "pbx"
        click.echo(f"error: missing command: see '{path} --help'", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except PbxError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
