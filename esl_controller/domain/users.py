"""User: an employee's line (extension, name, public number, secrets stored hashed)."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

DEFAULT_NO_ANSWER_SECONDS = 20


class User(Aggregate):
    """One line of one enterprise, identified by (enterprise, extension)."""

    @staticmethod
    def create_id(enterprise_id: UUID, extension: str) -> UUID:
        return uuid5(enterprise_id, "user:" + extension)

    @event("UserCreated")
    def __init__(
        self,
        enterprise_id: UUID,
        extension: str,
        name: str,
        number: str | None,
        email: str | None,
        sip_password_hash: str | None,
        sip_a1_hash: str | None,
        pin_hash: str | None,
        no_answer_seconds: int,
    ) -> None:
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.removed = False
        self._assign(name, number, email, sip_password_hash, sip_a1_hash, pin_hash)
        self.no_answer_seconds = no_answer_seconds

    def _assign(
        self,
        name: str,
        number: str | None,
        email: str | None,
        sip_password_hash: str | None,
        sip_a1_hash: str | None,
        pin_hash: str | None,
    ) -> None:
        self.name = name
        self.number = number
        self.email = email
        self.sip_password_hash = sip_password_hash
        self.sip_a1_hash = sip_a1_hash
        self.pin_hash = pin_hash

    @event("UserReinstated")
    def reinstate(
        self,
        name: str,
        number: str | None,
        email: str | None,
        sip_password_hash: str | None,
        sip_a1_hash: str | None,
        pin_hash: str | None,
        no_answer_seconds: int,
    ) -> None:
        """The extension is given out again after it was removed."""
        self.removed = False
        self._assign(name, number, email, sip_password_hash, sip_a1_hash, pin_hash)
        self.no_answer_seconds = no_answer_seconds

    @event("UserRemoved")
    def remove(self) -> None:
        self.removed = True
        self.number = None
