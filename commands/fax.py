"""``pbx fax``: fax to e-mail (OPT-3): fax numbers whose faxes arrive by e-mail as PDF."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json, table
from esl_controller import fax as use_cases
from esl_controller.application import Pbx
from esl_controller.domain.numbers import national_format
from projections.fax_fold import FaxLineView


@click.group("fax")
def fax() -> None:
    """Fax to e-mail: each fax received on a fax number is mailed as a PDF."""


@fax.command("add")
@click.argument("name")
@click.option("--number", required=True, help="The public fax number.")
@click.option("--extension", default=None, help="An extension that reaches it too.")
@click.option("--email", required=True, help="Where each fax is mailed (PDF attached).")
@click.option("--email2", default=None, help="A second address each fax is mailed to.")
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, name: str, number: str, extension: str | None, email: str,
        email2: str | None, enterprise: str | None, as_json: bool) -> None:
    """Add a fax line."""
    found = use_cases.add_fax_line(app, enterprise, name, number, email, email2, extension)
    if as_json:
        emit_json(found.as_dict())
        return
    click.echo(f"fax line {found.name} added: {_summary(found)}")


@fax.command("change")
@click.argument("name")
@click.option("--email", default=None, help="New address.")
@click.option("--email2", default=None, help="New second address, or 'none'.")
@enterprise_option
@pass_app
def change(app: Pbx, name: str, email: str | None, email2: str | None,
           enterprise: str | None) -> None:
    """Change where a fax line's faxes are mailed."""
    if email is None and email2 is None:
        raise click.UsageError("nothing to change: give --email and/or --email2")
    second: str | None | object = use_cases.UNCHANGED
    if email2 is not None:
        second = None if email2.lower() == "none" else email2
    found = use_cases.change_fax_line(app, enterprise, name, email, second)
    click.echo(f"fax line {found.name}: {_summary(found)}")


@fax.command("remove")
@click.argument("name")
@enterprise_option
@pass_app
def remove(app: Pbx, name: str, enterprise: str | None) -> None:
    """Remove a fax line: its number and extension are free again."""
    found = use_cases.remove_fax_line(app, enterprise, name)
    click.echo(f"fax line {found.name} removed")


@fax.command("list")
@enterprise_option
@json_option
@pass_app
def list_(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """List the fax lines."""
    found = use_cases.fax_lines(app, enterprise)
    if as_json:
        emit_json([f.as_dict() for f in found])
        return
    table([(f.name, ", ".join(national_format(n) for n in f.numbers), f.extension, f.email,
            f.email2) for f in found], ["name", "number", "extension", "email", "email2"])


@fax.command("received")
@click.argument("name")
@enterprise_option
@json_option
@pass_app
def received(app: Pbx, name: str, enterprise: str | None, as_json: bool) -> None:
    """The faxes a line received: pages, and whether they were mailed."""
    line = use_cases.fax_line(app, enterprise, name)
    rows = [{"when": f.at.isoformat(timespec="seconds"), "from": f.caller or "anonymous",
             "pages": f.pages, "status": f.status,
             "detail": f.failure or (", ".join(f.mailed_to) if f.mailed_to else ""),
             "id": str(f.id)} for f in use_cases.received_faxes(app, line.id)]
    if as_json:
        emit_json(rows)
        return
    table([(r["when"], r["from"], r["pages"], r["status"], r["detail"]) for r in rows],
          ["when", "from", "pages", "status", "detail"])


@fax.command("purge")
@click.option("--older-than", "days", type=int, required=True, metavar="DAYS",
              help="Delete the files of faxes received more than DAYS days ago.")
@pass_app
def purge(app: Pbx, days: int) -> None:
    """Retention: delete received faxes' TIFF and PDF files past DAYS (FaxPurged each; who
    sent them, when and how many pages stay in the log)."""
    purged = use_cases.purge_faxes(app, days)
    click.echo(f"purged {len(purged)} fax(es) received more than {days} day(s) ago: "
               "files deleted, FaxPurged recorded")


def _summary(found: FaxLineView) -> str:
    reach = ", ".join([f"number {national_format(n)}" for n in found.numbers]
                      + ([f"extension {found.extension}"] if found.extension else []))
    to = found.email + (f" and {found.email2}" if found.email2 else "")
    return f"{reach}; faxes mailed as PDF to {to}"


COMMANDS = [fax]
