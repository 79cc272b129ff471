"""``pbx self EXT --pin PIN ...``: what a user may change for themselves (USR-24).

Every subcommand first checks the PIN (three wrong in a row lock it for 15 minutes), then
calls the same use case as the operator's ``pbx user`` commands. Operator-only settings
(intercept, extension, number, calling plan, mobile number) have no option here.
"""

from __future__ import annotations

from pathlib import Path

import click

from commands.common import enterprise_option, json_option
from commands.main import Context
from commands.output import emit_json
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.users import IDENTITIES, RING_MODES
from esl_controller.self_service import SELF_FORWARD_KINDS, SelfService, settings_of
from esl_controller.voicemail import VoicemailService

ON_OFF = click.Choice(["on", "off"])


class _SelfGroup(click.Group):
    """``pbx self EXT --pin PIN SUBCOMMAND``: options may follow the extension.

    Click stops reading a group's options at its first argument; the tokens before the
    subcommand are put in order (options first) so that ``EXT --pin PIN`` works as written.
    """

    TAKES_VALUE = ("--pin", "-e", "--enterprise")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        cut = next((i for i, a in enumerate(args) if a in self.commands), len(args))
        options: list[str] = []
        positional: list[str] = []
        i = 0
        while i < cut:
            token = args[i]
            if token.startswith("-"):
                takes = token in self.TAKES_VALUE and i + 1 < cut
                options += args[i:i + 2] if takes else [token]
                i += 2 if takes else 1
            else:
                positional.append(token)
                i += 1
        return super().parse_args(ctx, [*options, *positional, *args[cut:]])


@click.group("self", cls=_SelfGroup)
@click.argument("extension")
@enterprise_option
@click.option("--pin", envvar="PBX_PIN", prompt="PIN", hide_input=True,
              help="The user's PIN (or PBX_PIN; asked for, unechoed, when not given).")
@click.pass_context
def self_(ctx: click.Context, extension: str, enterprise: str | None, pin: str) -> None:
    """Self-service: a user changes their own settings, behind their PIN."""
    ctx.meta["self_service"] = (extension, enterprise, pin)


def _unlock(ctx: click.Context) -> tuple[Pbx, str, str | None]:
    """Check the PIN of this invocation; (app, extension, enterprise) when it is right."""
    extension, enterprise, pin = ctx.meta["self_service"]
    obj = ctx.find_object(Context)
    assert obj is not None
    SelfService(obj.app).unlock(enterprise, extension, pin)
    return obj.app, extension, enterprise


@self_.command("show")
@json_option
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Show the settings the user may change."""
    app, extension, enterprise = _unlock(ctx)
    settings = settings_of(app.user(enterprise, extension))
    if as_json:
        emit_json(settings)
        return
    for key, value in settings.items():
        if isinstance(value, dict):
            value = ", ".join(f"{kind} to {dest}" for kind, dest in value.items()) or "none"
        click.echo(f"{key}: {value}")


@self_.command("forward")
@click.argument("kind", type=click.Choice(list(SELF_FORWARD_KINDS)))
@click.argument("destination", metavar="DEST|off")
@click.option("--after", type=int, default=None, help="Seconds before no-answer forwarding.")
@click.pass_context
def forward(ctx: click.Context, kind: str, destination: str, after: int | None) -> None:
    """Forward calls (always, busy, no-answer, not-reachable) to DEST, or 'off'."""
    app, extension, enterprise = _unlock(ctx)
    if destination == "off":
        if after is not None:
            raise click.UsageError("--after applies when forwarding is switched on")
        changed = user_services.forward_off(app, enterprise, extension, kind)
        click.echo(f"{kind} forwarding of {extension} {'off' if changed else 'was not on'}")
        return
    found = user_services.forward(app, enterprise, extension, kind, destination, after)
    rule = found.forward(kind)
    assert rule is not None
    click.echo(f"{kind} forwarding of {extension} to {rule.destination} on")


@self_.command("dnd")
@click.argument("state", type=ON_OFF)
@click.pass_context
def dnd(ctx: click.Context, state: str) -> None:
    """Do not disturb on or off."""
    app, extension, enterprise = _unlock(ctx)
    user_services.set_dnd(app, enterprise, extension, state == "on")
    click.echo(f"do not disturb for {extension} {state}")


@self_.command("set")
@click.option("--identity", type=click.Choice(list(IDENTITIES)), default=None,
              help="Number presented on external calls.")
@click.option("--mobility", type=ON_OFF, default=None, help="Ring the mobile with the desk.")
@click.option("--ring", type=click.Choice(list(RING_MODES)), default=None,
              help="With mobility: which phones ring.")
@click.option("--call-waiting", "call_waiting", type=ON_OFF, default=None)
@click.option("--anonymous-rejection", "anonymous_rejection", type=ON_OFF, default=None,
              help="Reject callers who withhold their number.")
@click.pass_context
def set_(ctx: click.Context, identity: str | None, mobility: str | None, ring: str | None,
         call_waiting: str | None, anonymous_rejection: str | None) -> None:
    """Identity, mobility and ring mode, call waiting, anonymous rejection."""
    if all(v is None for v in (identity, mobility, ring, call_waiting, anonymous_rejection)):
        raise click.UsageError("nothing to change: give at least one option")
    app, extension, enterprise = _unlock(ctx)

    def flag(value: str | None) -> bool | None:
        return None if value is None else value == "on"

    user_services.update(app, enterprise, extension, identity=identity,
                         anonymous_rejection=flag(anonymous_rejection),
                         call_waiting=flag(call_waiting), mobility=flag(mobility), ring=ring)
    click.echo(f"user {extension} updated")


@self_.command("voicemail")
@click.option("--email-audio/--no-email-audio", default=None,
              help="E-mail each message with the audio attached.")
@click.option("--keep/--email-only", default=None,
              help="Keep e-mailed messages in the box, or remove them once mailed.")
@click.pass_context
def voicemail(ctx: click.Context, email_audio: bool | None, keep: bool | None) -> None:
    """The voicemail e-mail option of the user's box."""
    if email_audio is None and keep is None:
        raise click.UsageError("nothing to change: give --email-audio/--no-email-audio or "
                               "--keep/--email-only")
    app, extension, enterprise = _unlock(ctx)
    box = VoicemailService(app, Path("var/voicemail")).change_delivery(
        enterprise, extension, email_audio, keep)
    mail = f"messages e-mailed to {box.email}" if box.email_audio else "messages not e-mailed"
    click.echo(f"voicemail of {extension}: {mail}{'' if box.keep else ' only (not kept)'}")


COMMANDS = [self_]
