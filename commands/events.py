"""``pbx events``: the one log every change and call step is written to."""

from __future__ import annotations

from typing import Any

import click

from commands.common import json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx

HIDDEN = ("hash",)  # never print secrets' hashes
SKIPPED = {"originator_id", "originator_version", "originator_topic", "timestamp"}


def _fields(event: Any, brief: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in vars(event).items():
        if key in SKIPPED or any(h in key for h in HIDDEN):
            continue
        if brief and key == "steps":
            value = f"{len(value)} decision(s)"
        elif brief and key == "at":
            continue
        out[key] = value
    return out


@click.group("events")
def events() -> None:
    """The event log."""


@events.command("list")
@click.option("--after", default=0, show_default=True, type=click.IntRange(min=0),
              help="Only events after this position.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@json_option
@pass_app
def list_(app: Pbx, after: int, limit: int, as_json: bool) -> None:
    """Events in log order, with their position."""
    rows = []
    for position, event in app.events_after(after):
        rows.append((position, event))
        if len(rows) >= limit:
            break
    if as_json:
        emit_json(
            [
                {
                    "position": pos,
                    "type": type(ev).__name__,
                    "aggregate": str(ev.originator_id),
                    "version": ev.originator_version,
                    "timestamp": ev.timestamp.isoformat(),
                    "data": _fields(ev),
                }
                for pos, ev in rows
            ]
        )
        return
    table(
        [
            (
                pos,
                ev.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                type(ev).__name__,
                str(ev.originator_id)[:8],
                " ".join(
                    f"{k}={v}" for k, v in _fields(ev, brief=True).items()
                    if v not in (None, [], "")
                )[
                    :90
                ],
            )
            for pos, ev in rows
        ],
        ["pos", "time (utc)", "event", "aggregate", "data"],
    )


COMMANDS = [events]
