"""``pbx audit``: question the event log (the configuration as it was at a moment ...).

Other audit commands (``pbx audit reroute``) add themselves to the ``audit`` group here.
"""

from __future__ import annotations

from typing import Any

import click

from commands.common import json_option, pass_app
from commands.output import emit_json, table
from commands.users import _as_dict as user_as_dict
from esl_controller import audit as log_audit
from esl_controller.application import Pbx
from esl_controller.audit_refusals import refusals_recorded
from esl_controller.errors import NotFoundError, ValidationError
from projections.directory import Directory, EnterpriseView
from projections.hunt_groups_fold import HuntGroupView


@click.group("audit")
def audit() -> None:
    """Question the event log: configuration at a moment, re-run decisions."""


def _enterprise(directory: Directory, name: str | None, when: str) -> EnterpriseView:
    if name is None:
        found = list(directory.enterprises.values())
        if len(found) == 1:
            return found[0]
        if not found:
            raise NotFoundError(f"no enterprise existed at {when}")
        raise ValidationError("several enterprises existed then: name one with -e/--enterprise")
    ent = directory.enterprise_named(name)
    if ent is None:
        raise NotFoundError(f"no enterprise {name!r} at {when}")
    return ent


def _hunt_group(group: HuntGroupView) -> dict[str, Any]:
    return {
        "name": group.name,
        "extension": group.extension,
        "numbers": list(group.numbers),
        "policy": group.policy,
        "member_timeout": group.member_timeout,
        "no_answer_after": group.total_timeout,
        "forwarding": dict(group.forwarding),
        "members": [
            {"extension": m.extension, "weight": m.weight,
             "signed_out": m.extension in group.signed_out}
            for m in group.members
        ],
        "id": str(group.id),
    }


def _enterprise_state(directory: Directory, ent: EnterpriseView) -> dict[str, Any]:
    return {
        "name": ent.name,
        "domain": ent.domain,
        "timezone": ent.timezone,
        "country": ent.country,
        "extensions": f"{ent.extension_low}-{ent.extension_high}",
        "numbers": list(ent.numbers),
        "users": [
            {"extension": u.extension, "name": u.name, "number": u.number, "dnd": u.dnd,
             "forwarding": {r.kind: r.destination for r in u.forwarding}}
            for u in directory.users_of(ent.id)
        ],
        "targets": [
            {"kind": t.kind, "name": t.name, "extension": t.extension,
             "numbers": list(t.numbers)}
            for t in directory.targets_of(ent.id)
        ],
        "id": str(ent.id),
    }


def _print_fields(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} -> {v}" for k, v in value.items()) or None
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value) or None
        elif isinstance(value, bool):
            value = "on" if value else "off"
        click.echo(f"{key + ':':<21}{'-' if value is None else value}")


@audit.command("state")
@click.option("--at", "at", required=True,
              help="The moment (UTC unless an offset is given), e.g. 2026-11-26T14:05:00.")
@click.option("--user", "user", metavar="EXT", default=None, help="One user's configuration.")
@click.option("--hunt-group", "hunt_group", metavar="NAME", default=None,
              help="One hunt group's configuration.")
@click.option("-e", "--enterprise", default=None,
              help="The enterprise (optional when exactly one existed then).")
@json_option
@pass_app
@refusals_recorded("audit state")
def state(app: Pbx, at: str, user: str | None, hunt_group: str | None,
          enterprise: str | None, as_json: bool) -> None:
    """The configuration as it was at a moment, folded afresh from the log."""
    if user is not None and hunt_group is not None:
        raise click.UsageError("give --user or --hunt-group, not both")
    moment = log_audit.parse_moment(at)
    when = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    found = log_audit.directory_at(app, moment)
    directory = found.directory
    ent = _enterprise(directory, enterprise, when)
    subject: str
    data: dict[str, Any]
    if user is not None:
        view = directory.user(ent.id, user.strip())
        if view is None:
            raise NotFoundError(f"no user with extension {user} in {ent.name!r} at {when}")
        subject, data = f"user {view.extension}", dict(user_as_dict(view, ent.name))
    elif hunt_group is not None:
        group = directory.hunt_group_named(ent.id, hunt_group)
        if group is None:
            raise NotFoundError(f"no hunt group {hunt_group!r} in {ent.name!r} at {when}")
        subject, data = f"hunt group {group.name}", _hunt_group(group)
    else:
        subject, data = f"enterprise {ent.name}", _enterprise_state(directory, ent)
    last = found.last_at.strftime("%Y-%m-%d %H:%M:%S") if found.last_at else "-"
    if as_json:
        emit_json({"at": moment.isoformat(), "position": found.position,
                   "last_change": found.last_at, subject.split(" ", 1)[0].replace(
                       "hunt", "hunt_group"): data})
        return
    click.echo(f"{subject} as of {when} (log position {found.position}, "
               f"last change {last} UTC)")
    if hunt_group is not None:
        members = data.pop("members")
        _print_fields(data)
        table([(m["extension"], m["weight"], "signed out" if m["signed_out"] else "signed in")
               for m in members], ["member", "weight", "state"])
    elif user is None:
        users, targets = data.pop("users"), data.pop("targets")
        _print_fields(data)
        table([(u["extension"], u["name"], u["number"], "on" if u["dnd"] else "off",
                ", ".join(f"{k} -> {v}" for k, v in u["forwarding"].items()))
               for u in users], ["ext", "name", "number", "dnd", "forwarding"])
        if targets:
            table([(t["kind"], t["name"], t["extension"], ", ".join(t["numbers"]))
                   for t in targets], ["kind", "name", "ext", "numbers"])
    else:
        _print_fields(data)


COMMANDS = [audit]
