"""``pbx user``: employees' lines."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import user_services
from esl_controller.application import Pbx
from esl_controller.domain.users import FORWARD_KINDS, IDENTITIES
from projections.directory import UserView


def _as_dict(user: UserView, enterprise: str) -> dict[str, object]:
    return {
        "extension": user.extension,
        "name": user.name,
        "enterprise": enterprise,
        "number": user.number,
        "email": user.email,
        "sip_password": "set" if user.has_password else None,
        "pin": "set" if user.has_pin else None,
        "no_answer_seconds": user.no_answer_seconds,
        "forwarding": {
            r.kind: r.destination
            + (f" after {r.after_seconds} s" if r.after_seconds else "")
            + (f" when {r.schedule} is open" if r.schedule else "")
            + (f" for callers {r.from_pattern}" if r.from_pattern else "")
            for r in user.forwarding
        },
        "do_not_disturb": user.dnd,
        "anonymous_rejection": user.anonymous_rejection,
        "identity": user.identity,
        "mobile": user.mobile,
        "intercept": user.intercept,
        "call_waiting": user.call_waiting,
        "mobility": f"on, ring {user.ring}" if user.mobility else False,
        "screening": [
            f"{r.kind} {r.pattern}" + (f" while {r.schedule} is open" if r.schedule else "")
            for r in user.screening
        ],
        "speed_dial": {f"#{slot}": number for slot, number in user.speed_dials},
        # ringing extras (USR-10, USR-18, USR-21, USR-9)
        "alternate_numbers": [
            a.number + (f" (ring {a.ring})" if a.ring != 1 else "") for a in user.alternates
        ],
        "priority_alert": [
            r.pattern + (f" while {r.schedule} is open" if r.schedule else "")
            for r in user.priority_alerts
        ],
        "devices": [d.username(user.extension) for d in user.devices],
        "desk_schedule": user.desk_schedule,
        "mobile_schedule": user.mobile_schedule,
        "privacy": user.privacy,  # USR-19: out of the phone book, BLF and pickup by others
        "id": str(user.id),
    }


@click.group("user")
def user() -> None:
    """Users (extensions) of an enterprise."""


@user.command("add")
@click.argument("extension")
@enterprise_option
@click.option("--name", required=True, help="Display name.")
@click.option("--number", default=None, help="Public number (E.164 or national).")
@click.option("--email", default=None)
@click.option("--password", default=None, help="SIP password (stored hashed).")
@click.option("--pin", default=None, help="Voice portal PIN, 4-8 digits (stored hashed).")
@click.option("--no-answer", "no_answer", default=20, show_default=True, type=int,
              help="Seconds to ring before the call counts as not answered.")
@json_option
@pass_app
def add(
    app: Pbx,
    extension: str,
    enterprise: str | None,
    name: str,
    number: str | None,
    email: str | None,
    password: str | None,
    pin: str | None,
    no_answer: int,
    as_json: bool,
) -> None:
    """Add a user with an extension."""
    found = app.add_user(enterprise, extension, name, number, email, password, pin, no_answer)
    ent = app.enterprises_name(found.enterprise_id)
    if as_json:
        emit_json(_as_dict(found, ent))
    else:
        extra = f", number {found.number}" if found.number else ""
        click.echo(f"user {found.extension} ({found.name}) added to {ent}{extra}")


@user.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the users of an enterprise."""
    ent = app.enterprise(enterprise)
    users = app.directory().users_of(ent.id)
    if as_json:
        emit_json([_as_dict(u, ent.name) for u in users])
        return
    table(
        [(u.extension, u.name, u.number, u.email) for u in users],
        ["ext", "name", "number", "email"],
    )


@user.command("show")
@click.argument("extension")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, extension: str, enterprise: str | None, as_json: bool) -> None:
    """Show one user."""
    found = app.user(enterprise, extension)
    data = _as_dict(found, app.enterprises_name(found.enterprise_id))
    from commands.recordings import recording_of  # call recording (REC-1, REC-2)

    data = {**{k: v for k, v in data.items() if k != "id"}, "recording": recording_of(app, found),
            "id": data["id"]}
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} -> {v}" for k, v in value.items()) or None
        elif isinstance(value, list):
            value = "; ".join(value) or None
        elif isinstance(value, bool):
            value = "on" if value else "off"
        click.echo(f"{key + ':':<21}{'-' if value is None else value}")


@user.command("remove")
@click.argument("extension")
@enterprise_option
@pass_app
def remove(app: Pbx, extension: str, enterprise: str | None) -> None:
    """Remove a user; the extension can be given out again."""
    found = app.remove_user(enterprise, extension)
    click.echo(f"user {found.extension} ({found.name}) removed")


ON_OFF = click.Choice(["on", "off"])


@user.command("forward")
@click.argument("extension")
@enterprise_option
@click.option("--always", "always", metavar="DEST", help="Forward every call.")
@click.option("--busy", metavar="DEST", help="Forward when busy (or on DND).")
@click.option("--no-answer", "no_answer", metavar="DEST", help="Forward when not answered.")
@click.option("--not-reachable", "not_reachable", metavar="DEST",
              help="Forward when no device is registered.")
@click.option("--selective", metavar="DEST", help="Forward while --schedule is open.")
@click.option("--after", type=int, default=None, help="Seconds before no-answer forwarding.")
@click.option("--schedule", default=None, help="Schedule for selective forwarding.")
@click.option("--from", "from_pattern", default=None,
              help="Only callers matching this (e.g. +3120*, 06XXXXXXXX, anonymous).")
@click.option("--off", "off", type=click.Choice(list(FORWARD_KINDS)), default=None,
              help="Switch this kind of forwarding off.")
@pass_app
def forward(
    app: Pbx, extension: str, enterprise: str | None, always: str | None, busy: str | None,
    no_answer: str | None, not_reachable: str | None, selective: str | None,
    after: int | None, schedule: str | None, from_pattern: str | None, off: str | None,
) -> None:
    """Set or cancel call forwarding (destination: an extension or a number)."""
    chosen = [(kind, dest) for kind, dest in (
        ("always", always), ("busy", busy), ("no-answer", no_answer),
        ("not-reachable", not_reachable), ("selective", selective)) if dest is not None]
    if off is not None:
        if chosen:
            raise click.UsageError("--off cannot be combined with a destination")
        changed = user_services.forward_off(app, enterprise, extension, off)
        click.echo(f"{off} forwarding of {extension} {'off' if changed else 'was not on'}")
        return
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --always, --busy, --no-answer, --not-reachable, --selective, "
            "or --off KIND")
    kind, destination = chosen[0]
    found = user_services.forward(app, enterprise, extension, kind, destination, after,
                                  schedule, from_pattern)
    rule = found.forward(kind)
    assert rule is not None
    click.echo(f"{kind} forwarding of {extension} to {rule.destination} on")


@user.command("dnd")
@click.argument("extension")
@click.argument("state", type=ON_OFF)
@enterprise_option
@pass_app
def dnd(app: Pbx, extension: str, state: str, enterprise: str | None) -> None:
    """Do not disturb: callers are treated as if the user were busy."""
    user_services.set_dnd(app, enterprise, extension, state == "on")
    click.echo(f"do not disturb for {extension} {state}")


@user.command("set")
@click.argument("extension")
@enterprise_option
@click.option("--mobile", default=None, help="Mobile number ('none' to clear).")
@click.option("--identity", type=click.Choice(list(IDENTITIES)), default=None,
              help="Number presented on external calls.")
@click.option("--anonymous-rejection", "anonymous_rejection", type=ON_OFF, default=None,
              help="Reject callers who withhold their number (never colleagues).")
@click.option("--intercept", default=None,
              help="Intercept all incoming calls: 'announcement', a destination, or 'off'.")
@click.option("--call-waiting", "call_waiting", type=ON_OFF, default=None,
              help="Off: a second call gets busy while the user is on a call.")
@click.option("--mobility", type=ON_OFF, default=None,
              help="Ring the mobile with the desk phone; the mobile may dial extensions.")
@click.option("--ring", type=click.Choice(["desk", "mobile", "both"]), default=None,
              help="With mobility: which phones ring.")
@click.option("--desk-schedule", "desk_schedule", metavar="NAME|none", default=None,
              help="Desk phones and shared devices ring only while NAME is open (USR-9).")
@click.option("--mobile-schedule", "mobile_schedule", metavar="NAME|none", default=None,
              help="With mobility: the mobile rings only while NAME is open (USR-9).")
@click.option("--privacy", type=ON_OFF, default=None,
              help="On: out of the phone book, no busy lamp or pickup for others (USR-19).")
@pass_app
def set_(
    app: Pbx, extension: str, enterprise: str | None, mobile: str | None,
    identity: str | None, anonymous_rejection: str | None, intercept: str | None,
    call_waiting: str | None, mobility: str | None, ring: str | None,
    desk_schedule: str | None = None, mobile_schedule: str | None = None,
    privacy: str | None = None,
) -> None:
    """Change a user's call services."""
    legs = {k: None if v == "none" else v
            for k, v in (("desk", desk_schedule), ("mobile", mobile_schedule)) if v is not None}
    if legs:  # per-number schedules (USR-9): checked before anything is written
        user_services.set_leg_schedules(app, enterprise, extension, legs, check_only=True)
    if privacy is not None and all(v is None for v in (  # privacy (USR-19), maybe with legs
            mobile, identity, anonymous_rejection, intercept, call_waiting, mobility, ring)):
        if legs:
            user_services.set_leg_schedules(app, enterprise, extension, legs)
        user_services.set_privacy(app, enterprise, extension, privacy == "on")
        click.echo(f"user {extension} updated")
        return
    if all(v is None for v in (mobile, identity, anonymous_rejection, intercept, call_waiting,
                               mobility, ring)):
        if legs:
            user_services.set_leg_schedules(app, enterprise, extension, legs)
            click.echo(f"user {extension} updated")
            return
        raise click.UsageError("nothing to set: see 'pbx user set --help'")
    changes: dict[str, object] = {}
    if mobile is not None:
        changes["mobile"] = None if mobile == "none" else mobile
    if intercept is not None:
        changes["intercept"] = None if intercept == "off" else intercept
    user_services.update(
        app, enterprise, extension, identity=identity,
        anonymous_rejection=None if anonymous_rejection is None else anonymous_rejection == "on",
        call_waiting=None if call_waiting is None else call_waiting == "on",
        mobility=None if mobility is None else mobility == "on", ring=ring,
        **changes,  # type: ignore[arg-type]
    )
    if legs:
        user_services.set_leg_schedules(app, enterprise, extension, legs)
    if privacy is not None:  # USR-19, after every other change was accepted
        user_services.set_privacy(app, enterprise, extension, privacy == "on")
    click.echo(f"user {extension} updated")


@user.command("screen")
@click.argument("extension")
@enterprise_option
@click.option("--reject", "reject", metavar="PATTERN", help="Reject callers matching PATTERN.")
@click.option("--dont-reject", "dont_reject", metavar="PATTERN",
              help="Never reject callers matching PATTERN (checked first).")
@click.option("--accept", "accept", metavar="PATTERN",
              help="Selective acceptance: only callers matching an accept rule get through.")
@click.option("--schedule", default=None, help="The rule applies while this schedule is open.")
@click.option("--remove", "remove", metavar="KIND:PATTERN", default=None,
              help="Remove a rule, e.g. reject:+3190*.")
@pass_app
def screen(
    app: Pbx, extension: str, enterprise: str | None, reject: str | None,
    dont_reject: str | None, accept: str | None, schedule: str | None, remove: str | None,
) -> None:
    """Selective call rejection and acceptance (patterns: digits with X/* or 'anonymous')."""
    chosen = [(k, p) for k, p in (("reject", reject), ("dont-reject", dont_reject),
                                  ("accept", accept)) if p is not None]
    if remove is not None:
        kind, sep, pattern = remove.partition(":")
        if chosen or not sep:
            raise click.UsageError("use --remove KIND:PATTERN on its own")
        user_services.remove_screening(app, enterprise, extension, kind, pattern)
        click.echo(f"{kind} rule {pattern} of {extension} removed")
        return
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --reject, --dont-reject, --accept, --remove")
    kind, pattern = chosen[0]
    user_services.add_screening(app, enterprise, extension, kind, pattern, schedule)
    click.echo(f"{kind} rule {pattern} added to {extension}")


COMMANDS = [user]
