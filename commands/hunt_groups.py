"""``pbx hunt-group``: one extension / number ringing several users by a policy (CORE-2)."""

from __future__ import annotations

from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from esl_controller.domain.hunt_groups import DEFAULT_MEMBER_TIMEOUT, POLICIES
from esl_controller.domain.numbers import national_format
from esl_controller.hunt_service import HuntGroups
from projections.hunt_groups_fold import HuntGroupView

STATEFUL_SHOWN = ("circular", "uniform")  # show prints the next call's order


def _shown(destination: str) -> str:
    return national_format(destination) if destination.startswith("+") else destination


def _as_dict(groups: HuntGroups, group: HuntGroupView, with_states: bool = False
             ) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": group.name,
        "extension": group.extension,
        "numbers": list(group.numbers),
        "policy": group.policy,
        "member_timeout": group.member_timeout,
        "no_answer_after": group.total_timeout,
        "forwarding": dict(group.forwarding),
        "members": [
            {"extension": m.extension, **({"weight": m.weight}
                                          if group.policy == "weighted" else {})}
            for m in group.members
        ],
        "id": str(group.id),
    }
    if with_states:
        from projections import blf as blf_projection

        lines = blf_projection.read_line_states(groups.app, group.enterprise_id)
        states = {s.extension: s for s in groups.states(
            group, lambda _ent, ext: lines.get(ext) == "busy")}
        for member in data["members"]:
            state = states[member["extension"]]
            member["name"] = state.user.name if state.user else None
            member["state"] = {"do not disturb": "DND"}.get(state.state, state.state)
        if group.policy in STATEFUL_SHOWN:
            order = groups.next_members(group)
            data["next"] = next((e for e in order if states[e].state == "available"), None)
            data["next_order"] = order
    return data


def _split_members(text: str) -> list[str]:
    return [m for m in (part.strip() for part in text.split(",")) if m]


@click.group("hunt-group")
def hunt_group() -> None:
    """Hunt groups: one extension or number rings several users (policies regular, circular,
    uniform, simultaneous, weighted). Members sign out with *35 and in with *36 + the group's
    extension."""


@hunt_group.command("add")
@click.argument("name")
@enterprise_option
@click.option("--extension", required=True, help="The group's extension (the user plan).")
@click.option("--number", "numbers_", multiple=True, metavar="NUMBER",
              help="A public number of the group (repeatable).")
@click.option("--policy", required=True, metavar="|".join(POLICIES),
              help="How the members are hunted.")
@click.option("--members", required=True, metavar="EXT[,EXT...]",
              help="Members in hunting order; EXT:WEIGHT for a weighted group.")
@click.option("--member-timeout", type=int, default=DEFAULT_MEMBER_TIMEOUT, show_default=True,
              metavar="S", help="Seconds a member rings before the next one.")
@click.option("--no-answer", metavar="DEST", help="Where the call goes when nobody answers.")
@click.option("--after", type=int, metavar="S",
              help="The group's no-answer time: the whole hunt ends after S seconds.")
@click.option("--busy", metavar="DEST", help="Where the call goes when every member is busy.")
@click.option("--not-reachable", metavar="DEST",
              help="Where the call goes when no member can be reached.")
@json_option
@pass_app
def add(app: Pbx, name: str, enterprise: str | None, extension: str,
        numbers_: tuple[str, ...], policy: str, members: str, member_timeout: int,
        no_answer: str | None, after: int | None, busy: str | None,
        not_reachable: str | None, as_json: bool) -> None:
    """Add a hunt group. DEST: an extension, vm:EXT or a telephone number."""
    groups = HuntGroups(app)
    group = groups.add(enterprise, name, extension, policy, _split_members(members), numbers_,
                       member_timeout, no_answer, after, busy, not_reachable)
    if as_json:
        emit_json(_as_dict(groups, group))
        return
    numbers = "".join(f", number {national_format(n)}" for n in group.numbers)
    click.echo(f"hunt group {group.name} added: extension {group.extension}{numbers}, "
               f"{group.policy}, members {', '.join(group.member_extensions())}")


@hunt_group.command("set")
@click.argument("name")
@enterprise_option
@click.option("--policy", metavar="|".join(POLICIES), help="How the members are hunted.")
@click.option("--member-timeout", type=int, metavar="S",
              help="Seconds a member rings before the next one.")
@click.option("--after", type=int, metavar="S", help="The whole hunt's bound (0: none).")
@click.option("--no-answer", metavar="DEST", help="When nobody answers (none: no forwarding).")
@click.option("--busy", metavar="DEST", help="When every member is busy (none: no forwarding).")
@click.option("--not-reachable", metavar="DEST",
              help="When no member can be reached (none: no forwarding).")
@pass_app
def set_(app: Pbx, name: str, enterprise: str | None, policy: str | None,
         member_timeout: int | None, after: int | None, no_answer: str | None,
         busy: str | None, not_reachable: str | None) -> None:
    """Change a hunt group's hunting in place (only what is given); members stay."""
    changes: dict[str, Any] = {}
    if policy is not None:
        changes["policy"] = policy
    if member_timeout is not None:
        changes["member_timeout"] = member_timeout
    if after is not None:
        changes["after"] = after or None
    for key, value in (("no_answer", no_answer), ("busy", busy),
                       ("not_reachable", not_reachable)):
        if value is not None:
            changes[key] = None if value.strip().lower() == "none" else value
    group = HuntGroups(app).set(enterprise, name, changes)
    forwards = ", ".join(f"{kind} to {dest}" for kind, dest in group.forwarding) or "none"
    bound = f", whole hunt {group.total_timeout} s" if group.total_timeout else ""
    click.echo(f"hunt group {group.name} changed: {group.policy}, {group.member_timeout} s "
               f"per member{bound}; forwarding {forwards}")


@hunt_group.command("add-member")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@click.option("--weight", type=int, help="Weight of the member (weighted groups only).")
@pass_app
def add_member(app: Pbx, name: str, extension: str, enterprise: str | None,
               weight: int | None) -> None:
    """Add a member at the end of the hunting order."""
    group = HuntGroups(app).add_member(enterprise, name, extension, weight)
    click.echo(f"{extension.strip()} added to hunt group {group.name}: members "
               f"{', '.join(group.member_extensions())}")


@hunt_group.command("remove-member")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@pass_app
def remove_member(app: Pbx, name: str, extension: str, enterprise: str | None) -> None:
    """Remove a member."""
    group = HuntGroups(app).remove_member(enterprise, name, extension)
    click.echo(f"{extension.strip()} removed from hunt group {group.name}: members "
               f"{', '.join(group.member_extensions())}")


@hunt_group.command("sign-out")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@pass_app
def sign_out(app: Pbx, name: str, extension: str, enterprise: str | None) -> None:
    """Sign a member out: the group's calls skip them until they sign in (also *35)."""
    group = HuntGroups(app).sign(enterprise, name, extension, out=True)
    click.echo(f"{extension.strip()} signed out of hunt group {group.name}")


@hunt_group.command("sign-in")
@click.argument("name")
@click.argument("extension")
@enterprise_option
@pass_app
def sign_in(app: Pbx, name: str, extension: str, enterprise: str | None) -> None:
    """Sign a member in again (also *36)."""
    group = HuntGroups(app).sign(enterprise, name, extension, out=False)
    click.echo(f"{extension.strip()} signed in to hunt group {group.name}")


@hunt_group.command("show")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """A group's settings and its members' state (available, DND, signed out, busy)."""
    groups = HuntGroups(app)
    data = _as_dict(groups, groups.group(enterprise, name), with_states=True)
    if as_json:
        emit_json(data)
        return
    numbers = ", ".join(national_format(n) for n in data["numbers"]) or "-"
    click.echo(f"hunt group {data['name']}: extension {data['extension']}, numbers {numbers}")
    after = f", the whole hunt at most {data['no_answer_after']} s" if data[
        "no_answer_after"] else ""
    click.echo(f"policy {data['policy']}, each member rings {data['member_timeout']} s{after}")
    for kind in ("no-answer", "busy", "not-reachable"):
        if kind in data["forwarding"]:
            click.echo(f"forward {kind}: {_shown(data['forwarding'][kind])}")
    weighted = data["policy"] == "weighted"
    table([(m["extension"], m["name"] or "-", m["state"], *([m["weight"]] if weighted else []))
           for m in data["members"]], ["ext", "name", "state", *(["weight"] if weighted else [])])
    if "next" in data:
        click.echo(f"next call: {data['next'] or 'nobody available'} "
                   f"(order {', '.join(data['next_order'])})")


@hunt_group.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """The enterprise's hunt groups."""
    groups = HuntGroups(app)
    rows = [_as_dict(groups, g) for g in groups.groups(enterprise)]
    if as_json:
        emit_json(rows)
        return
    table([(r["name"], r["extension"],
            ", ".join(national_format(n) for n in r["numbers"]) or "-", r["policy"],
            ", ".join(m["extension"] for m in r["members"])) for r in rows],
          ["name", "ext", "numbers", "policy", "members"])


@hunt_group.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a hunt group: its extension and numbers are free again."""
    group = HuntGroups(app).remove(enterprise, name)
    click.echo(f"hunt group {group.name} removed (extension {group.extension} is free again)")


COMMANDS = [hunt_group]
