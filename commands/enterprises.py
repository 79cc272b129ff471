"""``pbx enterprise``: customer companies, their SIP domains and numbers."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller.application import Pbx
from projections.directory import EnterpriseView


def _as_dict(ent: EnterpriseView) -> dict[str, object]:
    return {
        "name": ent.name,
        "domain": ent.domain,
        "timezone": ent.timezone,
        "country": ent.country,
        "extensions": f"{ent.extension_low}-{ent.extension_high}",
        "numbers": list(ent.numbers),
        "id": str(ent.id),
    }


@click.group("enterprise")
def enterprise() -> None:
    """Customer companies."""


@enterprise.command("add")
@click.argument("name")
@click.option("--domain", required=True, help="SIP domain of the enterprise's phones.")
@click.option("--timezone", default="Europe/Amsterdam", show_default=True)
@click.option("--country", default="NL", show_default=True, help="ISO country of its numbers.")
@click.option("--extensions", default="100-999", show_default=True, help="Extension plan.")
@json_option
@pass_app
def add(
    app: Pbx, name: str, domain: str, timezone: str, country: str, extensions: str, as_json: bool
) -> None:
    """Create an enterprise."""
    ent = app.create_enterprise(name, domain, timezone, country, extensions)
    if as_json:
        emit_json(_as_dict(ent))
    else:
        click.echo(f"enterprise {ent.name} created (domain {ent.domain}, {ent.timezone})")


@enterprise.command("list")
@json_option
@pass_app
def list_(app: Pbx, as_json: bool) -> None:
    """List enterprises."""
    found = sorted(app.directory().enterprises.values(), key=lambda e: e.name.lower())
    if as_json:
        emit_json([_as_dict(e) for e in found])
        return
    directory = app.directory()
    table(
        [
            (e.name, e.domain, e.timezone, len(directory.users_of(e.id)), " ".join(e.numbers))
            for e in found
        ],
        ["name", "domain", "timezone", "users", "numbers"],
    )


@enterprise.command("add-number")
@click.argument("number")
@enterprise_option
@json_option
@pass_app
def add_number(app: Pbx, number: str, enterprise: str | None, as_json: bool) -> None:
    """Give the enterprise a public number (any Dutch or E.164 form)."""
    e164 = app.assign_number(enterprise, number)
    if as_json:
        emit_json({"number": e164})
    else:
        click.echo(f"number {e164} assigned to {app.enterprise(enterprise).name}")


COMMANDS = [enterprise]
