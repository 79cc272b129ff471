"""``pbx user recording`` (REC-1, REC-2) and ``pbx recordings list|purge``."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from commands.users import user
from esl_controller.application import Pbx
from esl_controller.domain.recordings import MODES, RETENTION_CLASSES, month_of
from esl_controller.errors import ValidationError
from esl_controller.recordings import RecordingService, RecordingSummary
from projections.directory import UserView


def recording_of(app: Pbx, view: UserView) -> str:
    """``pbx user show``'s line: mode, retention, and this month's minutes under a cap."""
    directory = app.directory()
    mode, retention = RecordingService.policy_of(directory, view)
    cap = RETENTION_CLASSES[retention][1]
    text = f"{mode}, keep {retention}"
    if cap is not None:
        used = directory.recorded_seconds(view.id, month_of(datetime.now(UTC))) / 60
        text += f", {used:.1f} of {cap} minutes this month"
    return text


@user.command("recording")
@click.argument("extension")
@enterprise_option
@click.option("--mode", type=click.Choice(MODES), default=None,
              help="always, always-pause (*2 pause, *3 resume), on-demand (*1 keeps), "
                   "on-demand-start (*1 starts, *2/*3 pause/resume, *4 stops), never.")
@click.option("--retention", type=click.Choice(list(RETENTION_CLASSES)), default=None,
              help="Days kept (90d, 365d) or 7 years with 1000 / 3500 minutes a month.")
@pass_app
def recording(app: Pbx, extension: str, enterprise: str | None, mode: str | None,
              retention: str | None) -> None:
    """Call recording of a user: mode and retention class."""
    view, mode, retention = RecordingService(app).set_policy(enterprise, extension, mode,
                                                             retention)
    click.echo(f"recording of {view.extension}: {mode}, keep {retention}")


@click.group("recordings")
def recordings() -> None:
    """Call recordings: list them, purge those past their retention."""


def _rows(items: list[RecordingSummary], app: Pbx) -> list[dict[str, object]]:
    return [{
        "id": str(r.id), "call": r.call_id, "enterprise": app.enterprises_name(r.enterprise_id),
        "user": r.extension, "other_party": r.other_party, "direction": r.direction,
        "mode": r.mode, "retention": r.retention,
        "started": r.started_at.astimezone(UTC).isoformat(timespec="seconds"),
        "seconds": r.seconds, "stopped": r.stop_reason,
        "kept": None if r.kept is None else ("yes" if r.kept else "no"),
        "audio": "purged (" + r.purged + ")" if r.purged else r.path,
    } for r in items]


@recordings.command("list")
@click.option("--user", "extension", default=None, help="Only this user's recordings.")
@json_option
@pass_app
def list_recordings(app: Pbx, extension: str | None, as_json: bool) -> None:
    """Every recording, oldest first, with its audio file or why it was purged."""
    items = [r for r in RecordingService(app).recordings()
             if extension is None or r.extension == extension]
    rows = _rows(items, app)
    if as_json:
        emit_json(rows)
        return
    table([(r["started"], r["user"], r["other_party"], r["direction"], r["mode"],
            r["seconds"], r["stopped"], r["kept"], r["retention"], r["audio"]) for r in rows],
          ["started", "user", "other party", "direction", "mode", "seconds", "stopped", "kept",
           "retention", "audio"])


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"invalid --now {text!r}: use an ISO time such as "
                              "2026-11-26T09:00:00+01:00") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@recordings.command("purge")
@click.option("--now", default=None, help="Purge as if it were this ISO time (default: now).")
@pass_app
def purge(app: Pbx, now: str | None) -> None:
    """Delete the audio of recordings past their retention (the evidence stays)."""
    when = _parse_now(now)
    done = RecordingService(app).purge(when)
    for r in done:
        click.echo(f"purged {r.extension} {r.started_at.astimezone(UTC):%Y-%m-%d %H:%M} "
                   f"({r.retention}): {r.path}")
    click.echo(f"{len(done)} recording{'s' if len(done) != 1 else ''} purged")


COMMANDS: list[click.Command] = [recordings]  # `recording` joins the `user` group
