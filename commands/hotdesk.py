"""``pbx hotdesk``: shared phones users log in on with ``*31`` (USR-8)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.domain.hotdesk import DEFAULT_AUTO_LOGOUT, LOGOUT_REASONS
from esl_controller.hotdesk import HotDeskService
from projections.directory import HotDeskView


def _local(at: datetime | None, timezone: str) -> str | None:
    return None if at is None else f"{at.astimezone(zoneinfo.ZoneInfo(timezone)):%Y-%m-%d %H:%M}"


def _as_dict(service: HotDeskService, phone: HotDeskView) -> dict[str, object]:
    directory = service.app.directory()
    ent = directory.enterprises[phone.enterprise_id]
    user = directory.users.get(phone.user_id) if phone.user_id else None
    return {
        "name": phone.name,
        "sip_account": f"{phone.name}@{ent.domain}",
        "logged_in": None if phone.extension is None else (
            f"{phone.extension} ({user.name})" if user else phone.extension),
        "since": _local(phone.since, ent.timezone),
        "logout_at": _local(service.logout_at(phone), ent.timezone),
        "auto_logout": f"{phone.auto_logout} {ent.timezone}",
        "id": str(phone.id),
    }


@click.group("hotdesk")
def hotdesk() -> None:
    """Hot-desk phones: users log in with *31, extension and PIN; *32 logs out."""


@hotdesk.command("add")
@click.argument("name")
@enterprise_option
@click.option("--password", required=True, help="SIP password of the phone (stored hashed).")
@click.option("--auto-logout", "auto_logout", default=DEFAULT_AUTO_LOGOUT, show_default=True,
              metavar="HH:MM", help="Log the user out at this time of day (enterprise time).")
@json_option
@pass_app
def add(app: Pbx, name: str, enterprise: str | None, password: str, auto_logout: str,
        as_json: bool) -> None:
    """Add a hot-desk phone: a SIP account of its own, NAME@DOMAIN."""
    service = HotDeskService(app)
    phone = service.add(enterprise, name, password, auto_logout)
    data = _as_dict(service, phone)
    if as_json:
        emit_json(data)
        return
    ent = app.enterprises_name(phone.enterprise_id)
    click.echo(f"hot-desk phone {phone.name} added to {ent} (SIP account "
               f"{data['sip_account']}, automatic logout at {data['auto_logout']})")


@hotdesk.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Hot-desk phones and who is logged in where."""
    service = HotDeskService(app)
    rows = [_as_dict(service, p) for p in service.phones(enterprise)]
    if as_json:
        emit_json(rows)
        return
    table([(r["name"], r["logged_in"], r["since"], r["logout_at"], r["auto_logout"])
           for r in rows], ["phone", "logged in", "since", "logout at", "auto logout"])


@hotdesk.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a hot-desk phone (whoever is logged in on it is logged out)."""
    phone = HotDeskService(app).remove(enterprise, name)
    who = f"; {phone.extension} logged out" if phone.extension else ""
    click.echo(f"hot-desk phone {phone.name} removed{who}")


@hotdesk.command("logout-expired")
@pass_app
def logout_expired(app: Pbx) -> None:
    """Log out now every login whose phone's automatic logout time has passed."""
    ended = HotDeskService(app).logout_expired()
    for logout in ended:
        click.echo(f"{logout.extension} logged out of {logout.phone}: "
                   f"{LOGOUT_REASONS[logout.reason]}")
    click.echo(f"{len(ended)} hot-desk login(s) ended")


COMMANDS = [hotdesk]
