"""``pbx park``: numbered park slots (USR-14). Transfer a call to a slot to park it; dial
the slot from any phone to retrieve it; the parker is rung again after the recall time."""

from __future__ import annotations

import click

from commands.common import enterprise_option, json_option, pass_app
from commands.output import emit_json
from esl_controller.application import Pbx
from esl_controller.call_services import CallServices
from esl_controller.domain.call_services import DEFAULT_PARK_RECALL
from projections.call_services_fold import ParkLotView


def _as_dict(lot: ParkLotView) -> dict[str, object]:
    return {"slots": f"{lot.low}-{lot.high}", "recall_seconds": lot.recall_seconds,
            "id": str(lot.id)}


@click.group("park")
def park() -> None:
    """Call park slots: transfer a call to a slot, dial the slot to retrieve it."""


@park.command("add")
@click.option("--slots", required=True, metavar="LOW-HIGH",
              help="The slots' extensions, e.g. 700-709 (replaces the enterprise's slots).")
@click.option("--recall", "recall", type=int, default=DEFAULT_PARK_RECALL, show_default=True,
              metavar="S", help="Seconds before an unretrieved call rings the parker again.")
@enterprise_option
@json_option
@pass_app
def add(app: Pbx, slots: str, recall: int, enterprise: str | None, as_json: bool) -> None:
    """Give the enterprise park slots (or change them)."""
    lot = CallServices(app).set_park_slots(enterprise, slots, recall)
    if as_json:
        emit_json(_as_dict(lot))
        return
    click.echo(f"park slots {lot.low}-{lot.high}: recall to the parker after "
               f"{lot.recall_seconds} s")


@park.command("show")
@enterprise_option
@json_option
@pass_app
def show(app: Pbx, enterprise: str | None, as_json: bool) -> None:
    """The enterprise's park slots."""
    lot = CallServices(app).park_lot(enterprise)
    if as_json:
        emit_json(_as_dict(lot))
        return
    click.echo(f"park slots {lot.low}-{lot.high} ({lot.high - lot.low + 1} slots), recall "
               f"after {lot.recall_seconds} s")


@park.command("remove")
@enterprise_option
@pass_app
def remove(app: Pbx, enterprise: str | None) -> None:
    """Remove the enterprise's park slots."""
    lot = CallServices(app).remove_park_slots(enterprise)
    click.echo(f"park slots {lot.low}-{lot.high} removed")


COMMANDS = [park]
