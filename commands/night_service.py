"""``pbx night-service``: send a user's or a target's calls elsewhere, by hand or by schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import night_service as use_cases
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.routing.night import describe_destination
from projections.night_fold import NightServiceView


def _words(view: NightServiceView) -> str:
    to = describe_destination(view.destination) if view.destination else "-"
    if view.mode == "on":
        return f"on: every call goes to {to}"
    if view.mode == "auto":
        return f"automatic: calls go to {to} while schedule {view.schedule!r} is closed"
    return "off"


def _as_dict(owner: use_cases.Owner, view: NightServiceView | None) -> dict[str, Any]:
    return {
        "target": owner.label,
        "kind": owner.kind,
        "mode": view.mode if view else None,
        "to": view.destination if view else None,
        "schedule": view.schedule if view else None,
    }


@click.command("night-service")
@click.argument("target")
@click.argument("mode", required=False,
                type=click.Choice(["on", "off", "auto"], case_sensitive=False))
@click.option("--to", "to", default=None, metavar="DEST",
              help="Night destination: an extension (user, hunt group, menu ...), vm:EXT "
                   "(a voicemail box) or a number the calling plan allows.")
@click.option("--schedule", default=None, metavar="NAME",
              help="With auto: the night service applies while this schedule is closed.")
@click.option("--at", "at", default=None, metavar="ISO-TIMESTAMP",
              help="Without MODE: tell whether calls are diverted at this moment (default now).")
@enterprise_option
@json_option
@pass_app
def night_service(
    app: Pbx,
    target: str,
    mode: str | None,
    to: str | None,
    schedule: str | None,
    at: str | None,
    enterprise: str | None,
    as_json: bool,
) -> None:
    """Night service of TARGET (a user's extension, or a hunt group's, menu's ... extension
    or name): on (every call to the night destination), off, or auto (while the schedule
    is closed). Without MODE: show it."""
    if mode is None:
        if to is not None or schedule is not None:
            raise ValidationError("--to and --schedule need a MODE: on, off or auto")
        _show(app, enterprise, target, at, as_json)
        return
    if at is not None:
        raise ValidationError("--at only goes with showing (no MODE)")
    owner, view = use_cases.set_night_service(app, enterprise, target, mode, to, schedule)
    if as_json:
        emit_json(_as_dict(owner, view))
        return
    click.echo(f"night service of {owner.label} {_words(view)}")


def _show(app: Pbx, enterprise: str | None, target: str, at: str | None, as_json: bool) -> None:
    moment = datetime.now(UTC) if at is None else _moment(app, enterprise, at)
    owner, view, decision = use_cases.night_service_status(app, enterprise, target, moment)
    data = _as_dict(owner, view) | {
        "diverting": decision.active if decision else False,
        "reason": decision.reason if decision else "has no night service",
    }
    if as_json:
        emit_json(data)
        return
    click.echo(f"{'target:':<11}{owner.label}")
    click.echo(f"{'setting:':<11}{_words(view) if view else 'none'}")
    click.echo(f"{'now:':<11}night service {data['reason']}")


def _moment(app: Pbx, enterprise: str | None, text: str) -> datetime:
    from esl_controller.domain.schedules import zone

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"bad --at {text!r}: use an ISO timestamp, e.g. 2026-03-29T08:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(app.enterprise(enterprise).timezone))
    return moment


@click.command("night-services")
@enterprise_option
@json_option
@pass_app
def night_services(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the night services of the enterprise's users and targets."""
    found = use_cases.list_night_services(app, enterprise)
    if as_json:
        emit_json([{"target": who, "mode": v.mode, "to": v.destination,
                    "schedule": v.schedule} for who, v in found])
        return
    table([(who, v.owner_kind, v.mode, v.destination, v.schedule) for who, v in found],
          ["target", "kind", "mode", "to", "schedule"])


COMMANDS = [night_service, night_services]
