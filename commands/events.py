"""``pbx events``: the one log every change and call step is written to."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

import click

from commands.common import json_option, pass_app
from commands.output import emit_json, table
from esl_controller import audit
from esl_controller.application import Pbx
from esl_controller.audit_refusals import refusals_recorded
from esl_controller.errors import ValidationError

HIDDEN = ("hash", "secret")  # never print secrets (sealed or not) or their hashes
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


# -- audit of the log (issue 6 item 4): the hash chain, its checkpoints, export -------------
@events.command("seal")
@click.option("--checkpoint-every", "every", default=audit.CHECKPOINT_EVERY, show_default=True,
              type=click.IntRange(1, 10_000_000), help="Write a checkpoint every N events.")
@pass_app
def seal(app: Pbx, every: int) -> None:
    """Add the chain links of every event not sealed yet (``pbx serve``'s worker does this
    continuously)."""
    sealed = audit.Sealer(app, checkpoint_every=every, batch=20000).seal()
    position, head, count = audit.Sealer(app).head()
    click.echo(f"sealed {sealed} new event(s); the chain covers {count} events up to "
               f"position {position}; head {head.hex()[:16]}")


@events.command("verify")
@click.option("--checkpoints", "checkpoint_file", type=click.File("r"), default=None,
              help="Also compare with checkpoints kept elsewhere (saved output of "
                   "'pbx events checkpoints').")
@json_option
@pass_app
@refusals_recorded("events verify")
def verify(app: Pbx, checkpoint_file: IO[str] | None, as_json: bool) -> None:
    """Recompute the hash chain over the log; name the first changed, inserted or deleted
    event (exit status 1), or print a summary (exit status 0)."""
    offsite = audit.parse_checkpoints(checkpoint_file) if checkpoint_file else None
    report = audit.verify(app, offsite)
    if as_json:
        emit_json({
            "intact": report.intact,
            "events": report.events,
            "sealed": report.sealed,
            "unsealed": report.unsealed,
            "last_sealed_position": report.last_sealed,
            "checkpoints_matched": report.checkpoints,
            "offsite_checkpoints_matched": report.offsite,
            "head": report.head.hex() if report.intact else None,
            "finding": None if report.finding is None else {
                "position": report.finding.position,
                "kind": report.finding.kind,
                "detail": report.finding.detail,
            },
        })
    elif report.finding is None:
        click.echo(report.summary())
    else:
        click.echo(f"verify failed: {report.finding.line()}", err=True)
    if report.finding is not None:
        raise click.exceptions.Exit(1)


@events.command("checkpoints")
@json_option
@pass_app
def checkpoints(app: Pbx, as_json: bool) -> None:
    """The chain's checkpoints (every 1000 events): keep a copy off-site, give it to
    'pbx events verify --checkpoints FILE' later."""
    found = audit.checkpoints(app)
    if as_json:
        emit_json([
            {"position": c.position, "events": c.events, "hash": c.hash,
             "sealed_at": c.sealed_at}
            for c in found
        ])
        return
    table([(c.position, c.events, c.hash, c.sealed_at) for c in found],
          ["position", "events", "hash", "sealed at"])


@events.command("export")
@click.option("--from", "start", required=True, help="First day or moment (UTC), e.g. 2026-11-01.")
@click.option("--to", "end", required=True,
              help="Last day (included whole) or moment (UTC), e.g. 2026-11-30.")
@click.option("--output", "output", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Write to FILE (default: standard output).")
@pass_app
@refusals_recorded("events export")
def export(app: Pbx, start: str, end: str, output: str | None) -> None:
    """Events stamped in a date range as JSON Lines (position, timestamp, topic,
    originator, version, data)."""
    first, last = audit.whole_days(start, end)
    if last < first:
        raise ValidationError(f"the range is reversed: --to {end} is before --from {start}")
    if output is None:
        out: IO[str] = sys.stdout
        audit.export(app, first, last, out)
        return
    target = Path(output)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            count = audit.export(app, first, last, out)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"exported {count} event(s) to {target}")


COMMANDS = [events]
