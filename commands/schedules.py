"""``pbx schedule``: named opening hours, closed on a country's public holidays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import schedules as use_cases
from esl_controller.application import Pbx
from esl_controller.domain.schedules import describe, is_open
from esl_controller.errors import ValidationError
from projections.directory import ScheduleView

HOURS_HELP = (
    "Opening hours, e.g. 'mon-thu 08:30-12:00,13:00-17:30, fri 08:30-16:00; sat 10:00-14:00' "
    "(days: mon..sun, ranges, daily, weekdays, weekend; 'sun closed'; "
    "'2026-12-24..2026-12-31 closed')."
)
HOLIDAYS_HELP = "Closed on the public holidays of this country (e.g. NL), or 'none'."


def _as_dict(found: ScheduleView, enterprise: str, open_now: bool) -> dict[str, Any]:
    return {
        "name": found.name,
        "enterprise": enterprise,
        "hours": found.hours,
        "holidays": found.holidays,
        "open_now": open_now,
        "description": describe(found.hours),
        "id": str(found.id),
    }


def _open_now(found: ScheduleView, timezone: str) -> bool:
    return is_open(found.hours, found.holidays, timezone, datetime.now(UTC))


@click.group("schedule")
def schedule() -> None:
    """Schedules: opening hours of an enterprise."""


@schedule.command("add")
@click.argument("name")
@click.option("--hours", required=True, help=HOURS_HELP)
@click.option("--holidays", default="NL", show_default=True, help=HOLIDAYS_HELP)
@enterprise_option
@json_option
@pass_app
def add(
    app: Pbx, name: str, hours: str, holidays: str, enterprise: str | None, as_json: bool
) -> None:
    """Add a schedule."""
    found = use_cases.add_schedule(app, enterprise, name, hours, holidays)
    _report(app, found, "added", as_json)


@schedule.command("change")
@click.argument("name")
@click.option("--hours", default=None, help=HOURS_HELP)
@click.option("--holidays", default=None, help=HOLIDAYS_HELP)
@enterprise_option
@json_option
@pass_app
def change(
    app: Pbx,
    name: str,
    hours: str | None,
    holidays: str | None,
    enterprise: str | None,
    as_json: bool,
) -> None:
    """Change a schedule's hours and/or holiday country."""
    if hours is None and holidays is None:
        raise ValidationError("nothing to change: give --hours and/or --holidays")
    found = use_cases.change_schedule(
        app, enterprise, name, hours, use_cases.UNCHANGED if holidays is None else holidays
    )
    _report(app, found, "changed", as_json)


def _report(app: Pbx, found: ScheduleView, verb: str, as_json: bool) -> None:
    ent = app.directory().enterprises[found.enterprise_id]
    if as_json:
        emit_json(_as_dict(found, ent.name, _open_now(found, ent.timezone)))
    else:
        holidays = f", closed on {found.holidays} holidays" if found.holidays else ""
        click.echo(f"schedule {found.name!r} {verb} in {ent.name}: {describe(found.hours)}{holidays}")


@schedule.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the schedules, and whether each is open now (enterprise time zone)."""
    ent = app.enterprise(enterprise)
    found = use_cases.list_schedules(app, ent.name)
    rows = [_as_dict(s, ent.name, _open_now(s, ent.timezone)) for s in found]
    if as_json:
        emit_json(rows)
        return
    table(
        [(r["name"], r["hours"], r["holidays"], "yes" if r["open_now"] else "no") for r in rows],
        ["name", "hours", "holidays", "open now"],
    )


@schedule.command("show")
@click.argument("name")
@click.option("--at", "at", default=None, metavar="ISO-TIMESTAMP",
              help="The moment to decide for (default now); without an offset it is read "
                   "in the enterprise's time zone.")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, name: str, at: str | None, enterprise: str | None, as_json: bool) -> None:
    """Show a schedule and whether it is open at a moment, in words."""
    moment = datetime.now(UTC) if at is None else _parse_moment(at)
    found, decision = use_cases.schedule_decision(app, enterprise, name, moment)
    ent = app.directory().enterprises[found.enterprise_id]
    data = _as_dict(found, ent.name, _open_now(found, ent.timezone))
    data |= {"at": decision.local.isoformat(), "open": decision.open, "reason": decision.reason}
    if as_json:
        emit_json(data)
        return
    for key in ("name", "enterprise", "hours", "description", "holidays", "at", "reason"):
        value = data[key]
        click.echo(f"{key + ':':<13}{'-' if value is None else value}")


def _parse_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"bad --at {text!r}: use an ISO timestamp, e.g. 2026-03-29T08:30 or "
            "2026-03-29T06:30:00Z"
        ) from None


@schedule.command("close")
@click.argument("name")
@click.argument("day", metavar="DATE")
@click.option("--until", default=None, metavar="DATE",
              help="The last closed day (default: DATE only), YYYY-MM-DD.")
@enterprise_option
@json_option
@pass_app
def close(app: Pbx, name: str, day: str, until: str | None, enterprise: str | None,
          as_json: bool) -> None:
    """Close on extra days (a company outing): DATE [through --until DATE]."""
    found, closure = use_cases.close_days(app, enterprise, name, day, until)
    if as_json:
        ent = app.directory().enterprises[found.enterprise_id]
        emit_json(_as_dict(found, ent.name, _open_now(found, ent.timezone)))
        return
    click.echo(f"schedule {found.name!r} closed {closure.describe()}")


@schedule.command("reopen")
@click.argument("name")
@click.argument("day", metavar="DATE")
@enterprise_option
@pass_app
def reopen(app: Pbx, name: str, day: str, enterprise: str | None) -> None:
    """Drop the extra closure (see 'close') that covers DATE."""
    found = use_cases.reopen_day(app, enterprise, name, day)
    click.echo(f"schedule {found.name!r}: {describe(found.hours)}")


@schedule.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a schedule; its name can be used again."""
    found = use_cases.remove_schedule(app, enterprise, name)
    click.echo(f"schedule {found.name!r} removed")


COMMANDS = [schedule]
