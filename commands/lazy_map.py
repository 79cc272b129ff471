"""Which command modules make up each top-level ``pbx`` command (see ``main.LazyGroup``).

Generated: ``python -m commands.lazy_map`` rewrites :data:`LAZY` below from a full
registration; ``python -m commands.lazy_map --check`` exits 1 when it is out of date (a
unit test runs it). A command missing here still works: ``pbx`` then loads every module.
"""

from __future__ import annotations

import sys
from pathlib import Path

# -- generated: begin
LAZY: dict[str, tuple[str, ...]] = {
    'agent': ('call_centers',),
    'assistant': ('assistants',),
    'audit': ('audit_reroute', 'audit',),
    'barge-in-exempt': ('pickup',),
    'barge-in-tone': ('pickup',),
    'blf': ('blf',),
    'calling-plan': ('calling_plans',),
    'calls': ('calls', 'privacy',),
    'capacity': ('capacity',),
    'click-to-call': ('click_to_call',),
    'conference': ('conference',),
    'department': ('calling_plans',),
    'directory': ('phonebook',),
    'enterprise': ('enterprises',),
    'events': ('events',),
    'fax': ('fax',),
    'group-voicemail': ('group_voicemail',),
    'hotdesk': ('hotdesk',),
    'hunt-group': ('hunt_groups',),
    'instant-group': ('conference',),
    'intercept-group': ('intercept_group',),
    'licence': ('licences',),
    'menu': ('menus',),
    'moh': ('moh',),
    'night-service': ('night_service',),
    'night-services': ('night_service',),
    'park': ('park',),
    'pickup-group': ('pickup',),
    'privacy': ('privacy',),
    'projections': ('projections_cmd',),
    'queue': ('call_centers', 'queue_supervisor',),
    'receptionist': ('receptionist',),
    'recording-team': ('recording_index',),
    'recordings': ('recording_index',),
    'ringback': ('moh',),
    'schedule': ('schedules',),
    'self': ('self_service',),
    'serve': ('serve',),
    'simulate': ('simulate',),
    'toolbox': ('toolboxes',),
    'user': ('users', 'callback', 'user_calls', 'user_lines', 'user_notify', 'recording_index',),
    'virtual-extension': ('virtual_extensions',),
    'voicemail': ('voicemail',),
    'webhook': ('webhooks',),
}
# -- generated: end


def compute() -> dict[str, tuple[str, ...]]:
    """Register every module, watching which click groups each import adds to or creates."""
    import gc

    import click

    from commands import main

    def shapes() -> dict[int, frozenset[str]]:
        return {id(o): frozenset(o.commands) for o in gc.get_objects()
                if isinstance(o, click.Group)}

    contributors: dict[int, set[str]] = {}
    added_by: dict[str, str] = {}
    for name in main.MODULES:
        before, top = shapes(), set(main.cli.commands)
        main._attach(name)
        for group, subcommands in shapes().items():
            if before.get(group) != subcommands:
                contributors.setdefault(group, set()).add(name)
        for command in set(main.cli.commands) - top:
            added_by[command] = name
    lazy: dict[str, tuple[str, ...]] = {}
    for command_name, command in sorted(main.cli.commands.items()):
        modules = {added_by[command_name]}
        stack: list[click.Command] = [command]
        while stack:
            current = stack.pop()
            if isinstance(current, click.Group):
                modules |= contributors.get(id(current), set())
                stack.extend(current.commands.values())
        lazy[command_name] = tuple(sorted(modules, key=main.MODULES.index))
    return lazy


def render(lazy: dict[str, tuple[str, ...]]) -> str:
    lines = ["LAZY: dict[str, tuple[str, ...]] = {"]
    for command, modules in lazy.items():
        lines.append(f"    {command!r}: ({', '.join(repr(m) for m in modules)},),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    path = Path(__file__)
    text = path.read_text()
    head, rest = text.split("# -- generated: begin\n", 1)
    _old, tail = rest.split("# -- generated: end\n", 1)
    fresh = render(compute())
    if "--check" in argv:
        if _old != fresh:
            print("commands/lazy_map.py is out of date: run python -m commands.lazy_map",
                  file=sys.stderr)
            return 1
        return 0
    path.write_text(f"{head}# -- generated: begin\n{fresh}# -- generated: end\n{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
