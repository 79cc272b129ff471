"""``pbx audit reroute``: recorded calls that today's configuration would send elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from commands.common import json_option, pass_app
from commands.output import emit_json
from esl_controller.application import Pbx
from esl_controller.audit_refusals import refusals_recorded
from esl_controller.errors import ValidationError

try:  # the ``audit`` group of the audit commands (state ...), when it is there
    from commands.audit import audit as _audit_group  # type: ignore[import-not-found,unused-ignore]

    _OWN_GROUP = False
except ImportError:

    @click.group("audit")
    def _audit_group() -> None:
        """Audit the event log and the routing decisions it recorded."""

    _OWN_GROUP = True


def parse_date(text: str, option: str) -> datetime:
    """``2026-11-26``, ``2026-11-26T10:42`` or with an offset; without one: UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"{option}: not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@_audit_group.command("reroute")
@click.option("--since", required=True, help="First day (or moment) of the calls to re-run.")
@click.option("--until", default=None, help="End (exclusive); default: now.")
@json_option
@pass_app
@refusals_recorded("audit reroute")
def reroute(app: Pbx, since: str, until: str | None, as_json: bool) -> None:
    """Re-run recorded calls against today's configuration and code; list those that would
    now go elsewhere."""
    from esl_controller.reroute import reroute as run_reroute

    start = parse_date(since, "--since")
    end = parse_date(until, "--until") if until is not None else None
    if end is not None and end <= start:
        raise ValidationError(f"--until {until} is not after --since {since}")
    report = run_reroute(app, start, end)
    if as_json:
        emit_json({"checked": report.checked,
                   "differences": [d.as_dict() for d in report.differences]})
        return
    click.echo(f"{report.checked} call(s) re-run, {len(report.differences)} would now go "
               "elsewhere")
    for d in report.differences:
        click.echo(f"{d.offered_at:%Y-%m-%d %H:%M:%S} {d.call_id} {d.caller} -> "
                   f"{d.destination}: {d.line()}")


COMMANDS = [_audit_group] if _OWN_GROUP else []
