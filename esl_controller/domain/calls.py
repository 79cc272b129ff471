"""Call: one aggregate per FreeSWITCH call UUID, one event per step that matters."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Call(Aggregate):
    """The life of one call as the controller saw it.

    ``create_id`` is FreeSWITCH's ``Unique-ID`` of the A-leg, so the call's log and the
    switch's records share one key.
    """

    @staticmethod
    def create_id(call_uuid: str) -> UUID:
        return UUID(call_uuid)

    @event("CallOffered")
    def __init__(
        self,
        call_uuid: str,
        enterprise_id: UUID | None,
        caller: str,
        caller_user: str | None,
        destination: str,
        direction: str,
        channel: str,
        at: datetime,
    ) -> None:
        self.enterprise_id = enterprise_id
        self.caller = caller
        self.caller_user = caller_user
        self.destination = destination
        self.direction = direction
        self.channel = channel
        self.offered_at = at
        self.steps: list[dict[str, Any]] = []
        self.target_user: str | None = None
        self.alerted: list[str] = []
        self.answered_by: str | None = None
        self.answered_at: datetime | None = None
        self.ended = False
        self.cause: str | None = None
        self.outcome: str | None = None

    @event("CallRouted")
    def route(self, kind: str, target_user: str | None, steps: list[dict[str, Any]]) -> None:
        """The routing decision and the trace that explains it."""
        self.target_user = target_user
        self.steps.extend(steps)

    @event("CallRouteContinued")
    def continue_route(self, steps: list[dict[str, Any]]) -> None:
        """Further decisions taken after an outcome (busy, no answer ...)."""
        self.steps.extend(steps)

    @event("CallAlerting")
    def alert(self, targets: list[str], at: datetime) -> None:
        self.alerted = list(targets)

    @event("CallAnswered")
    def answer(self, by: str, at: datetime) -> None:
        self.answered_by = by
        self.answered_at = at

    @event("CallBridged")
    def bridge(self, to: str, at: datetime) -> None:
        self.bridged_to = to

    @event("CallEnded")
    def end(self, cause: str, outcome: str, at: datetime, duration: float, talk: float) -> None:
        self.ended = True
        self.cause = cause
        self.outcome = outcome

    # -- call control (USR-11, USR-12, USR-20) ----------------------------------------------
    @event("CallNumberDialled")
    def dial(self, number: str, how: str) -> None:
        """The number a feature code stood for (redial, call return, speed dial ...)."""
        self.dialled = number

    @event("CallerNumberWithheld")
    def withhold(self) -> None:
        """The caller withheld their number (CLIR): call return must not reveal it."""
        self.withheld = True

    @event("CallHeld")
    def hold(self, by: str, music: str, at: datetime) -> None:
        """A party put the call on hold (SIP re-INVITE); the other hears ``music``."""
        self.held = True

    @event("CallResumed")
    def resume(self, by: str, at: datetime) -> None:
        self.held = False

    @event("CallTransferred")
    def transfer(self, kind: str, by: str, to: str, at: datetime) -> None:
        """The call now talks to ``to`` (attended transfer bridged by the switch)."""
        self.transferred_to = to

    # -- audit: what the routing decision read (issue 6, explain and reroute) ---------------
    @event("CallConfigurationNoted")
    def note_configuration(
        self, position: int, versions: list[dict[str, Any]], context: dict[str, Any]
    ) -> None:
        """The directory position (last notification id folded) and the versions of the
        aggregates the decision read, with the call's full routing context, so that
        ``pbx calls explain`` names the configuration and ``pbx audit reroute`` can
        re-run the decision."""
        self.configuration_position = position
        self.configuration_versions = list(versions)
        self.routing_context = dict(context)
