"""``pbx calls``: the call log and why each call went where it went."""

from __future__ import annotations

from typing import Any

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import personal
from esl_controller.application import Pbx


@click.group("calls")
def calls() -> None:
    """Call logs and routing explanations."""


@calls.command("list")
@enterprise_option
@click.option("--user", "extension", default=None, help="Only this user's call log.")
@click.option("--missed", is_flag=True, help="Only missed calls.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
@pass_app
def list_(
    app: Pbx, enterprise: str | None, extension: str | None, missed: bool, limit: int,
    as_json: bool,
) -> None:
    """Placed, received and missed calls per user (newest first)."""
    from projections import call_log

    ent = app.enterprise(enterprise)
    if extension is not None:
        app.user(ent.name, extension)
    entries = call_log.read_entries(
        app, ent.id, extension=extension, kind="missed" if missed else None, limit=limit
    )
    if as_json:
        emit_json([e.as_dict() for e in entries])
        return
    table(
        [
            (
                e.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                e.extension,
                e.kind,
                e.other_party,
                e.outcome,
                f"{e.talk:.0f}s" if e.answered else "",
                e.call_id,
            )
            for e in entries
        ],
        ["time (utc)", "user", "kind", "other party", "outcome", "talk", "call id"],
    )


def explain_call(app: Pbx, call_id: str) -> list[str]:
    """The story of one call in plain words, one line each."""
    call = app.call(call_id)
    lines: list[str] = []
    for event in app.events.get(call.id):
        kind = type(event).__name__
        at = event.timestamp.strftime("%H:%M:%S.%f")[:-3]
        data: Any = personal.opened_event(app, event)  # privacy: outsiders sealed (issue 6)
        if kind == "CallOffered":
            who = f"user {data.caller_user}" if data.caller_user else (data.caller or "anonymous")
            origin = "an internal phone" if data.direction == "internal" else "the public network"
            lines.append(
                f"Call {call_id} on {event.timestamp:%Y-%m-%d} at {at} UTC: "
                f"{who} dialled {data.destination} (from {origin}, channel {data.channel})"
            )
        elif kind in ("CallRouted", "CallRouteContinued"):
            if kind == "CallRouted":
                lines.append(f"Routed as a{'n' if data.kind[0] in 'aeiou' else ''} "
                             f"{data.kind} call:")
            for step in data.steps:
                lines.append(f"  - [{step['service']}: {step['rule']}] {step['detail']}")
        elif kind == "CallConfigurationNoted":  # audit (issue 6)
            from esl_controller.reroute import describe_configuration

            lines.append(f"Decided on the {describe_configuration(data.position, data.versions)}")
        elif kind == "CallAlerting":
            lines.append(f"{at} ringing {', '.join(data.targets)}")
        elif kind == "CallAnswered":
            lines.append(f"{at} answered by {data.by}")
        elif kind == "CallHeld":  # call control (USR-11)
            lines.append(f"{at} put on hold by {data.by}; the other party hears {data.music}")
        elif kind == "CallResumed":
            lines.append(f"{at} taken off hold by {data.by}")
        elif kind == "CallTransferred":
            lines.append(f"{at} {data.kind} transfer by {data.by}: now connected to {data.to}")
        elif kind == "CallNumberDialled":
            lines.append(f"{at} {data.how} stands for {data.number}")
        elif kind == "CallEnded":
            talk = f", talked {data.talk:.1f} s" if data.talk else ""
            lines.append(
                f"{at} ended: {data.outcome} ({data.cause}) after {data.duration:.1f} s{talk}"
            )
    return lines


@calls.command("explain")
@click.argument("call_id")
@json_option
@pass_app
def explain(app: Pbx, call_id: str, as_json: bool) -> None:
    """Why a call went where it went, step by step."""
    if as_json:
        call = app.call(call_id)
        emit_json(
            {
                "call_id": call_id,
                "caller": personal.open_(app, call.caller),  # privacy (issue 6): sealed
                "caller_user": call.caller_user,
                "destination": personal.open_(app, call.destination),
                "steps": personal.opened(app, call.steps),
                "alerted": personal.opened(app, call.alerted),
                "answered_by": personal.open_optional(app, call.answered_by),
                "outcome": call.outcome,
                "cause": call.cause,
                "configuration": {  # audit (issue 6): what the decision read
                    "position": getattr(call, "configuration_position", None),
                    "versions": getattr(call, "configuration_versions", []),
                },
            }
        )
        return
    for line in explain_call(app, call_id):
        click.echo(line)


COMMANDS = [calls]
