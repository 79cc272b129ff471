"""Enterprise: a customer company with its SIP domain, time zone, country and numbers."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

NAMESPACE = UUID("6f1c2a52-3d55-4b7e-9a0e-1e0f1c0a7b01")


class Enterprise(Aggregate):
    """A customer company. Identified by its name (``uuid5``)."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE, "enterprise:" + name.strip().lower())

    @event("EnterpriseCreated")
    def __init__(
        self,
        name: str,
        domain: str,
        timezone: str,
        country: str,
        extension_low: int,
        extension_high: int,
    ) -> None:
        self.name = name
        self.domain = domain
        self.timezone = timezone
        self.country = country
        self.extension_low = extension_low
        self.extension_high = extension_high
        self.numbers: list[str] = []

    @event("NumberAssigned")
    def assign_number(self, number: str) -> None:
        self.numbers.append(number)

    @event("NumberReleased")
    def release_number(self, number: str) -> None:
        self.numbers.remove(number)
