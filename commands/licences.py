"""``pbx licence``: what an enterprise has licensed (OPT-6)."""

from __future__ import annotations

import click

from commands.common import json_option, pass_app
from commands.output import emit_json, table
from esl_controller import licences
from esl_controller.application import Pbx


@click.group("licence")
def licence() -> None:
    """Package limits: IVR packages, hunt groups, toolboxes, department voicemail ..."""


@licence.command("set")
@click.argument("enterprise")
@click.option("--ivr-packages", "ivr_packages", type=int, default=None, metavar="N",
              help="IVR packages: each brings 1 multi-level menu, 5 hunt groups, 5 toolboxes.")
@click.option("--hunt-groups", "hunt_groups", type=int, default=None, metavar="N",
              help="Hunt groups of the base exchange (besides the packages' 5 each).")
@click.option("--menus", type=int, default=None, metavar="N",
              help="Multi-level IVR menus besides the packages' 1 each.")
@click.option("--toolboxes", type=int, default=None, metavar="N",
              help="Forwarding toolboxes besides the packages' 5 each.")
@click.option("--group-voicemail", "group_voicemail", type=int, default=None, metavar="N",
              help="Department voicemail boxes (besides the business voicemail).")
@click.option("--fax", type=int, default=None, metavar="N", help="Fax-to-e-mail numbers.")
@click.option("--click-to-call", "click_to_call", type=int, default=None, metavar="N",
              help="Click-to-call links.")
@pass_app
def set_(app: Pbx, enterprise: str, ivr_packages: int | None, hunt_groups: int | None,
         menus: int | None, toolboxes: int | None, group_voicemail: int | None,
         fax: int | None, click_to_call: int | None) -> None:
    """Record what ENTERPRISE has licensed; from then on it is enforced."""
    allowed = licences.set_licence(app, enterprise, ivr_packages, {
        "hunt-group": hunt_groups, "menu": menus, "toolbox": toolboxes,
        "group-voicemail": group_voicemail, "fax": fax, "click-to-call": click_to_call})
    shown = ", ".join(f"{n} {licences.KINDS[k]}" for k, n in allowed.items())
    click.echo(f"licence of {app.enterprise(enterprise).name}: {shown}")


@licence.command("show")
@click.argument("enterprise")
@json_option
@pass_app
def show(app: Pbx, enterprise: str, as_json: bool) -> None:
    """What ENTERPRISE has licensed and uses."""
    packages, rows = licences.licence_rows(app, enterprise)
    if as_json:
        emit_json({"ivr_packages": packages, "limits": rows})
        return
    name = app.enterprise(enterprise).name
    click.echo(f"{name}: " + ("no licence recorded: not metered" if packages is None
                              else f"{packages} IVR package{'' if packages == 1 else 's'}"))
    table([(r["what"], "-" if r["licensed"] is None else r["licensed"], r["used"])
           for r in rows], ["licensed", "count", "in use"])


COMMANDS = [licence]
