"""``pbx calling-plan`` and ``pbx department``: outgoing and incoming calling plans per
enterprise, department and user (GRP-1), and the departments they (and call capacity) use."""

from __future__ import annotations

from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import calling_plans as plans
from esl_controller.application import Pbx
from esl_controller.domain.calling_plan import INCOMING_MODES, PLAN_CLASSES, OutgoingPlan
from esl_controller.errors import ValidationError

CLASSES = ",".join(PLAN_CLASSES)
user_option = click.option("--user", "user", default=None, metavar="EXT",
                           help="The plan of this user.")
group_option = click.option("--group", "group", default=None, metavar="NAME",
                            help="The plan of this department.")


def _summary(plan: OutgoingPlan) -> str:
    verdicts = plan.describe()

    def named(verdict: str) -> str:
        return ", ".join(k for k, v in verdicts.items() if v == verdict) or "none"

    return (f"allowed: {named('allowed')}; with PIN: {named('pin')}; "
            f"blocked: {named('blocked')}")


def _as_dict(app: Pbx, where: plans.Scope) -> dict[str, Any]:
    plan = plans.effective(app, where)
    mode, source = app.directory().incoming_plan_for(where.enterprise.id, where.extension)
    if where.kind == "department":
        view = app.directory().plan_at(where.enterprise.id, "department", where.key)
        mode, source = ((view.incoming, f"the plan of {where.label}")
                        if view is not None and view.incoming else (mode, source))
    return {"scope": where.label, "outgoing": plan.describe(), "outgoing_from": plan.source,
            "incoming": mode, "incoming_from": source}


@click.group("calling-plan")
def calling_plan() -> None:
    """Outgoing and incoming calling plans (enterprise, department or user)."""


@calling_plan.command("set")
@enterprise_option
@user_option
@group_option
@click.option("--allow", default=None, metavar="CLASSES", help=f"Allow these ({CLASSES}).")
@click.option("--block", default=None, metavar="CLASSES", help="Block these.")
@click.option("--with-pin", "with_pin", default=None, metavar="CLASSES",
              help="Allow these only after the caller's PIN (enhanced plan).")
@click.option("--incoming", default=None,
              metavar="|".join((*INCOMING_MODES, "inherit")),
              help="Who may call: everyone, not anonymous, national numbers, colleagues only.")
@pass_app
def set_(app: Pbx, enterprise: str | None, user: str | None, group: str | None,
         allow: str | None, block: str | None, with_pin: str | None,
         incoming: str | None) -> None:
    """Change a calling plan, starting from the plan that applies there now.

    Without --user or --group: the enterprise's plan. Emergency numbers are always allowed.
    """
    where = plans.scope(app, enterprise, user, group)
    if allow is None and block is None and with_pin is None and incoming is None:
        raise ValidationError("name classes with --allow, --block or --with-pin, or --incoming")
    if incoming is not None:
        mode = incoming.strip().lower()
        if mode != "inherit" and mode not in INCOMING_MODES:
            raise ValidationError(f"unknown incoming plan {incoming!r}: use "
                                  f"{', '.join(INCOMING_MODES)} or inherit")
    if allow is not None or block is not None or with_pin is not None:
        plan = plans.set_outgoing(app, where, allow, block, with_pin)
        click.echo(f"outgoing calling plan of {where.label}: {_summary(plan)}")
    if incoming is not None:
        mode, source = plans.set_incoming(app, where, incoming)
        click.echo(f"incoming calling plan of {where.label}: {mode} ({source})")


@calling_plan.command("clear")
@enterprise_option
@user_option
@group_option
@pass_app
def clear(app: Pbx, enterprise: str | None, user: str | None, group: str | None) -> None:
    """Drop the outgoing plan set here: the department's, enterprise's or default applies."""
    where = plans.scope(app, enterprise, user, group)
    if not plans.clear_outgoing(app, where):
        raise ValidationError(f"{where.label} has no outgoing calling plan of its own")
    plan = plans.effective(app, where)
    click.echo(f"outgoing calling plan of {where.label} cleared: {plan.source} applies")


@calling_plan.command("show")
@enterprise_option
@user_option
@group_option
@json_option
@pass_app
def show(app: Pbx, enterprise: str | None, user: str | None, group: str | None,
         as_json: bool) -> None:
    """The plan that applies, class by class, and where it is set."""
    where = plans.scope(app, enterprise, user, group)
    data = _as_dict(app, where)
    if as_json:
        emit_json(data)
        return
    click.echo(f"calling plan of {where.label}")
    click.echo(f"outgoing ({data['outgoing_from']}):")
    table([(k, v) for k, v in data["outgoing"].items()] + [("emergency (112)", "allowed")],
          ["class", "calls"])
    click.echo(f"incoming ({data['incoming_from']}): {data['incoming']}")


@click.group("department")
def department() -> None:
    """Departments: groups of users with their own calling plan and call capacity."""


@department.command("add")
@click.argument("name")
@enterprise_option
@click.option("--members", required=True, metavar="EXT[,EXT...]",
              help="The users of the department (each in one department at most).")
@pass_app
def add(app: Pbx, name: str, enterprise: str | None, members: str) -> None:
    """Add a department."""
    found = plans.add_department(app, enterprise, name, members)
    click.echo(f"department {found.name} added: {', '.join(found.members)}")


@department.command("members")
@click.argument("name")
@enterprise_option
@click.option("--members", required=True, metavar="EXT[,EXT...]", help="The new member list.")
@pass_app
def members(app: Pbx, name: str, enterprise: str | None, members: str) -> None:
    """Replace a department's members."""
    found = plans.set_department_members(app, enterprise, name, members)
    click.echo(f"department {found.name}: {', '.join(found.members)}")


@department.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """Departments and their members."""
    ent = app.enterprise(enterprise)
    rows = [{"name": d.name, "members": list(d.members), "id": str(d.id)}
            for d in app.directory().departments_of(ent.id)]
    if as_json:
        emit_json(rows)
        return
    table([(r["name"], ",".join(r["members"])) for r in rows], ["department", "members"])


@department.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a department (its members keep their own plans)."""
    found = plans.remove_department(app, enterprise, name)
    click.echo(f"department {found.name} removed")


COMMANDS = [calling_plan, department]
