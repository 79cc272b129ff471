"""``pbx toolbox``: forwarding toolboxes (doorschakeltoolbox) for menus, hunt groups and
call centers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import night_service as use_cases
from esl_controller.application import Pbx
from esl_controller.errors import ValidationError
from esl_controller.routing.night import describe_destination
from projections.night_fold import ToolboxRule, ToolboxView

F = TypeVar("F", bound=Callable[..., Any])
DEST = "Destination: an extension, vm:EXT or a number the calling plan allows; 'off' clears."
RULE_OPTIONS = (
    ("--night", "night", "While --schedule is closed (when the target has no night service)."),
    ("--always", "always", "Every call."),
    ("--selective", "selective", "While --schedule is open, callers matching --from."),
    ("--busy", "busy", "When the target is busy."),
    ("--no-answer", "no_answer", "When the target does not answer within --after seconds."),
    ("--not-reachable", "not_reachable", "When the target cannot be reached (no phone up)."),
)


def rule_options(func: F) -> F:
    for flag, dest, words in reversed(RULE_OPTIONS):
        func = click.option(flag, dest, default=None, metavar="DEST", help=f"{words} {DEST}")(func)
    func = click.option("--after", type=int, default=None, metavar="S",
                        help="No-answer rule: seconds of ringing first (5-120, default 20).")(func)
    func = click.option("--schedule", default=None, metavar="NAME",
                        help="Schedule of the night or selective rule.")(func)
    func = click.option("--from", "from_pattern", default=None, metavar="PATTERN",
                        help="Selective rule: callers matching (digits, X, *, anonymous).")(func)
    func = click.option("--reject-anonymous", type=click.Choice(["on", "off"]), default=None,
                        help="Refuse callers without a number.")(func)
    return func


def _changes(rules: dict[str, str | None], after: int | None, schedule: str | None,
             from_pattern: str | None) -> tuple[use_cases.RuleChange, ...]:
    given = {dest: value for dest, value in rules.items() if value is not None}
    scheduled = [k for k in ("night", "selective") if k in given]
    if schedule is not None and len(scheduled) != 1:
        raise ValidationError("--schedule goes with one of --night or --selective")
    if after is not None and "no_answer" not in given:
        raise ValidationError("--after goes with --no-answer")
    if from_pattern is not None and "selective" not in given:
        raise ValidationError("--from goes with --selective")
    return tuple(
        use_cases.RuleChange(
            dest.replace("_", "-"), value,
            after if dest == "no_answer" else None,
            schedule if dest in scheduled else None,
            from_pattern if dest == "selective" else None,
        )
        for dest, value in given.items()
    )


def _rule_words(rule: ToolboxRule) -> str:
    to = describe_destination(rule.destination)
    if rule.kind == "night":
        return f"to {to} while schedule {rule.schedule!r} is closed"
    if rule.kind == "selective":
        who = f", callers matching {rule.from_pattern}" if rule.from_pattern else ""
        return f"to {to} while schedule {rule.schedule!r} is open{who}"
    if rule.kind == "no-answer":
        return f"to {to} after {rule.after_seconds} s"
    return f"to {to}"


def _as_dict(app: Pbx, box: ToolboxView) -> dict[str, Any]:
    directory = app.directory()
    served = [directory.targets.get(t) for t in box.attached]
    return {
        "name": box.name,
        "reject_anonymous": box.reject_anonymous,
        "rules": {r.kind: {"to": r.destination, "after": r.after_seconds,
                           "schedule": r.schedule, "from": r.from_pattern} for r in box.rules},
        "attached": [t.label() for t in served if t is not None],
        "id": str(box.id),
    }


@click.group("toolbox")
def toolbox() -> None:
    """Forwarding toolboxes: reusable forwarding rules for menus, hunt groups and call
    centers."""


@toolbox.command("add")
@click.argument("name")
@rule_options
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, after: int | None, schedule: str | None,
        from_pattern: str | None, reject_anonymous: str | None, enterprise: str | None,
        as_json: bool, **rules: str | None) -> None:
    """Add a toolbox, optionally with its rules."""
    box = use_cases.add_toolbox(app, enterprise, name,
                                _changes(rules, after, schedule, from_pattern),
                                None if reject_anonymous is None else reject_anonymous == "on")
    _report(app, box, "added", as_json)


@toolbox.command("set")
@click.argument("name")
@rule_options
@enterprise_option
@json_option
@pass_app
def set_(app: Pbx, name: str, after: int | None, schedule: str | None,
         from_pattern: str | None, reject_anonymous: str | None, enterprise: str | None,
         as_json: bool, **rules: str | None) -> None:
    """Set (or with 'off' clear) rules of a toolbox."""
    box = use_cases.change_toolbox(app, enterprise, name,
                                   _changes(rules, after, schedule, from_pattern),
                                   None if reject_anonymous is None else reject_anonymous == "on")
    _report(app, box, "changed", as_json)


def _report(app: Pbx, box: ToolboxView, verb: str, as_json: bool) -> None:
    if as_json:
        emit_json(_as_dict(app, box))
        return
    kinds = ", ".join(r.kind for r in box.rules) or "no rules"
    anonymous = ", rejects anonymous callers" if box.reject_anonymous else ""
    click.echo(f"toolbox {box.name!r} {verb}: {kinds}{anonymous}")


@toolbox.command("attach")
@click.argument("name")
@click.argument("target")
@enterprise_option
@pass_app
def attach(app: Pbx, name: str, target: str, enterprise: str | None) -> None:
    """Attach the toolbox to a target (extension or name of a menu, hunt group ...)."""
    box, owner = use_cases.attach_toolbox(app, enterprise, name, target)
    click.echo(f"toolbox {box.name!r} attached to {owner.label}")


@toolbox.command("detach")
@click.argument("name")
@click.argument("target")
@enterprise_option
@pass_app
def detach(app: Pbx, name: str, target: str, enterprise: str | None) -> None:
    """Detach the toolbox from a target."""
    box, owner = use_cases.detach_toolbox(app, enterprise, name, target)
    click.echo(f"toolbox {box.name!r} detached from {owner.label}")


@toolbox.command("show")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """Show a toolbox's rules and the targets it serves."""
    box = use_cases.get_toolbox(app, enterprise, name)
    data = _as_dict(app, box)
    if as_json:
        emit_json(data)
        return
    click.echo(f"{'name:':<18}{box.name}")
    click.echo(f"{'reject anonymous:':<18}{'on' if box.reject_anonymous else 'off'}")
    for kind in ("night", "always", "selective", "busy", "no-answer", "not-reachable"):
        rule = box.rule(kind)
        click.echo(f"{kind + ':':<18}{_rule_words(rule) if rule else '-'}")
    click.echo(f"{'attached to:':<18}{', '.join(data['attached']) or '-'}")


@toolbox.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the toolboxes."""
    boxes = use_cases.list_toolboxes(app, enterprise)
    rows = [_as_dict(app, b) for b in boxes]
    if as_json:
        emit_json(rows)
        return
    table([(r["name"], ", ".join(r["rules"]), "on" if r["reject_anonymous"] else "off",
            ", ".join(r["attached"])) for r in rows],
          ["name", "rules", "reject anonymous", "attached to"])


@toolbox.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a toolbox; the targets it served lose it."""
    box = use_cases.remove_toolbox(app, enterprise, name)
    click.echo(f"toolbox {box.name!r} removed")


COMMANDS = [toolbox]
