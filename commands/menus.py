"""``pbx menu``: IVR menus (OPT-1): greeting, keys, sub-menus, after-hours variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import menus as use_cases
from esl_controller.application import Pbx
from esl_controller.domain.menus import DEFAULT_RETRIES, DEFAULT_TIMEOUT, KeyAction
from esl_controller.routing.menu import DEFAULT_GREETING
from projections.menus_fold import MenuView

ACTIONS = "|".join(a.value for a in KeyAction)
AFTER_HOURS = click.option("--after-hours", is_flag=True,
                           help="The after-hours variant (used while the menu's schedule is "
                                "closed).")


@click.group("menu")
def menu() -> None:
    """IVR menus: a greeting, then one key picks where the call goes."""


@menu.command("add")
@click.argument("name")
@click.option("--extension", default=None, help="Extension that reaches the menu.")
@click.option("--number", default=None, help="Public number that reaches the menu.")
@click.option("--timeout", type=int, default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds the caller has to press a key after the greeting.")
@click.option("--retries", type=int, default=DEFAULT_RETRIES, show_default=True,
              help="Tries (no key / invalid key) before the operator or goodbye.")
@click.option("--operator", default=None,
              help="Where the operator key and the last failed try go (EXT, vm:EXT, number).")
@click.option("--schedule", default=None,
              help="Schedule whose closed hours select the after-hours variant.")
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, extension: str | None, number: str | None, timeout: int,
        retries: int, operator: str | None, schedule: str | None, enterprise: str | None,
        as_json: bool) -> None:
    """Add a menu (sub-menus need no extension)."""
    found = use_cases.add_menu(app, enterprise, name, extension, number,
                               use_cases.Settings(timeout, retries, operator, schedule))
    if as_json:
        emit_json(_summary(found))
        return
    click.echo(f"menu {found.name} added{_reach(found)}")


@menu.command("set")
@click.argument("name")
@click.option("--timeout", type=int, default=None, help="Seconds to press a key.")
@click.option("--retries", type=int, default=None, help="Tries before operator or goodbye.")
@click.option("--operator", default=None, help="Operator destination, or 'none'.")
@click.option("--schedule", default=None, help="Schedule name, or 'none'.")
@enterprise_option
@pass_app
def set_(app: Pbx, name: str, timeout: int | None, retries: int | None, operator: str | None,
         schedule: str | None, enterprise: str | None) -> None:
    """Change a menu's timeout, tries, operator or schedule."""
    if timeout is None and retries is None and operator is None and schedule is None:
        raise click.UsageError("nothing to change: give --timeout, --retries, --operator or "
                               "--schedule")
    found = use_cases.change_menu(
        app, enterprise, name, timeout, retries,
        use_cases.UNCHANGED if operator is None else operator,
        use_cases.UNCHANGED if schedule is None else schedule)
    click.echo(f"menu {found.name}: {_settings(found)}")


@menu.command("key")
@click.argument("name")
@click.argument("key")
@click.argument("action", metavar=f"{ACTIONS}")
@click.argument("destination", required=False)
@AFTER_HOURS
@enterprise_option
@pass_app
def key(app: Pbx, name: str, key: str, action: str, destination: str | None, after_hours: bool,
        enterprise: str | None) -> None:
    """Make KEY (0-9, *, #) of menu NAME do ACTION (menu NAME, user EXT, group EXT,
    voicemail EXT, number NUMBER, repeat, operator, destination DEST)."""
    set_key = use_cases.set_key(app, enterprise, name, key, action, destination, after_hours)
    hours = " after hours" if after_hours else ""
    click.echo(f"menu {name.strip()}: key {set_key.key}{hours} -> {set_key.describe()}")


@menu.command("remove-key")
@click.argument("name")
@click.argument("key")
@AFTER_HOURS
@enterprise_option
@pass_app
def remove_key(app: Pbx, name: str, key: str, after_hours: bool, enterprise: str | None) -> None:
    """Remove one key of a menu."""
    old = use_cases.remove_key(app, enterprise, name, key, after_hours)
    hours = " after hours" if after_hours else ""
    click.echo(f"menu {name.strip()}: key {old.key}{hours} removed (was {old.describe()})")


@menu.command("greeting")
@click.argument("name")
@click.argument("wav", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prompt", default=None,
              help="A stock FreeSWITCH prompt instead of a file, e.g. ivr/ivr-welcome.wav.")
@AFTER_HOURS
@click.option("--audio-dir", default=use_cases.DEFAULT_AUDIO_DIR, show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Audio folder shared with FreeSWITCH (greetings go to menus/ in it).")
@enterprise_option
@pass_app
def greeting(app: Pbx, name: str, wav: Path | None, prompt: str | None, after_hours: bool,
             audio_dir: Path, enterprise: str | None) -> None:
    """Set a menu's greeting: a WAV file (copied into the audio folder) or a stock prompt."""
    played = use_cases.set_greeting(app, enterprise, name, wav, prompt, after_hours, audio_dir)
    hours = "after-hours" if after_hours else "business-hours"
    click.echo(f"menu {name.strip()}: {hours} greeting {played}")


@menu.command("show")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """A menu and its sub-menus, as a tree."""
    tree = use_cases.tree(app, enterprise, name)
    if as_json:
        emit_json(tree)
        return
    for line in _tree_lines(tree, ""):
        click.echo(line)


@menu.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """The enterprise's menus."""
    found = use_cases.list_menus(app, enterprise)
    if as_json:
        emit_json([_summary(m) for m in found])
        return
    table([(m.name, m.extension, ", ".join(m.numbers), len(m.business.keys),
            len(m.after_hours.keys) if m.after_hours.configured else None, m.schedule,
            m.operator) for m in found],
          ["menu", "extension", "numbers", "keys", "after-hours keys", "schedule", "operator"])


@menu.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a menu (refused while another menu's key leads to it)."""
    found = use_cases.remove_menu(app, enterprise, name)
    click.echo(f"menu {found.name} removed")


def _reach(found: MenuView) -> str:
    ways = ([f"ext. {found.extension}"] if found.extension else []) + list(found.numbers)
    return f" ({', '.join(ways)})" if ways else " (a sub-menu: reached through keys)"


def _settings(found: MenuView) -> str:
    parts = [f"timeout {found.timeout} s", f"{found.retries} tries",
             f"operator {found.operator or 'none'}"]
    if found.schedule:
        parts.append(f"schedule {found.schedule}")
    return ", ".join(parts)


def _summary(found: MenuView) -> dict[str, Any]:
    return {"name": found.name, "extension": found.extension, "numbers": list(found.numbers),
            "timeout": found.timeout, "tries": found.retries, "operator": found.operator,
            "schedule": found.schedule, "keys": len(found.business.keys),
            "after_hours_keys": len(found.after_hours.keys), "id": str(found.id)}


def _tree_lines(node: dict[str, Any], indent: str) -> list[str]:
    ways = ([f"ext. {node['extension']}"] if node["extension"] else []) + node["numbers"]
    head = f"menu {node['name']}" + (f" ({', '.join(ways)})" if ways else "")
    settings = [f"timeout {node['timeout']} s", f"{node['tries']} tries",
                f"operator {node['operator'] or 'none'}"]
    if node["schedule"]:
        settings.append(f"schedule {node['schedule']}")
    lines = [f"{indent}{head}: {', '.join(settings)}"]
    for part, title in (("business", "business hours"), ("after_hours", "after hours")):
        if part not in node:
            continue
        variant = node[part]
        lines.append(f"{indent}  {title}: greeting {variant['greeting'] or DEFAULT_GREETING}"
                     + ("" if variant["greeting"] else " (stock)"))
        if not variant["keys"]:
            lines.append(f"{indent}    (no keys)")
        for entry in variant["keys"]:
            lines.append(f"{indent}    {entry['key']} -> {entry['label']}")
            if "menu" in entry:
                lines.extend(_tree_lines(entry["menu"], indent + "      "))
    return lines


COMMANDS = [menu]
