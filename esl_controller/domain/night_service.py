"""Night service (CORE-3, "nachtschakeling"): outside business hours, or when switched on by
hand, calls to a user or a target (hunt group, menu, call center ...) go to another
destination.

``NightService`` is the configuration of one user or target, identified by (enterprise,
user-or-target id) through ``uuid5``. Its ``mode``:

- ``on``: every call goes to the night destination (manual);
- ``off``: never (manual);
- ``auto``: while the named schedule is closed.

Validation happens in the use cases (esl_controller/night_service.py); the decorated event
methods only assign state.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

MODES = ("on", "off", "auto")


class NightService(Aggregate):
    """The night service of one user or target of an enterprise."""

    @staticmethod
    def create_id(enterprise_id: UUID, owner_id: UUID) -> UUID:
        return uuid5(enterprise_id, f"night-service:{owner_id}")

    @event("NightServiceConfigured")
    def __init__(
        self,
        enterprise_id: UUID,
        owner_id: UUID,
        owner_kind: str,
        mode: str,
        destination: str | None,
        schedule: str | None,
    ) -> None:
        self.enterprise_id = enterprise_id
        self.owner_id = owner_id
        self.owner_kind = owner_kind  # "user" or a target kind ("hunt-group", "menu" ...)
        self.mode = mode
        self.destination = destination
        self.schedule = schedule

    @event("NightServiceSet")
    def set(self, mode: str, destination: str | None, schedule: str | None) -> None:
        self.mode = mode
        self.destination = destination
        self.schedule = schedule
