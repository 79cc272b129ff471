"""User: an employee's line (extension, name, public number, secrets stored hashed)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

DEFAULT_NO_ANSWER_SECONDS = 20
FORWARD_KINDS = ("always", "busy", "no-answer", "not-reachable", "selective")
IDENTITIES = ("business", "mobile", "anonymous")
SCREENING_KINDS = ("reject", "dont-reject", "accept")
RING_MODES = ("both", "desk", "mobile")


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
        self._reset_services()

    def _reset_services(self) -> None:
        self.forwarding: dict[str, dict[str, Any]] = {}
        self.dnd = False
        self.anonymous_rejection = False
        self.identity = "business"
        self.mobile: str | None = None
        self.intercept: str | None = None
        self.call_waiting = True
        self.mobility = False
        self.ring = "both"
        self.screening: list[dict[str, Any]] = []

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
        self._reset_services()

    @event("UserRemoved")
    def remove(self) -> None:
        self.removed = True
        self.number = None

    # -- user services (USR-2 ... USR-15) ------------------------------------------------
    @event("ForwardingEnabled")
    def enable_forwarding(
        self,
        kind: str,
        destination: str,
        after_seconds: int | None,
        schedule: str | None,
        from_pattern: str | None,
    ) -> None:
        self.forwarding[kind] = {
            "destination": destination,
            "after_seconds": after_seconds,
            "schedule": schedule,
            "from_pattern": from_pattern,
        }

    @event("ForwardingDisabled")
    def disable_forwarding(self, kind: str) -> None:
        self.forwarding.pop(kind, None)

    @event("DoNotDisturbChanged")
    def set_dnd(self, on: bool) -> None:
        self.dnd = on

    @event("AnonymousRejectionChanged")
    def set_anonymous_rejection(self, on: bool) -> None:
        self.anonymous_rejection = on

    @event("IdentityChanged")
    def set_identity(self, identity: str) -> None:
        self.identity = identity

    @event("MobileChanged")
    def set_mobile(self, mobile: str | None) -> None:
        self.mobile = mobile

    @event("InterceptChanged")
    def set_intercept(self, destination: str | None) -> None:
        """``announcement``, a destination, or None (off)."""
        self.intercept = destination

    @event("CallWaitingChanged")
    def set_call_waiting(self, on: bool) -> None:
        self.call_waiting = on

    @event("ScreeningRuleAdded")
    def add_screening_rule(self, kind: str, pattern: str, schedule: str | None) -> None:
        """Selective rejection ("reject", "dont-reject") or acceptance ("accept")."""
        self.screening.append({"kind": kind, "pattern": pattern, "schedule": schedule})

    @event("ScreeningRuleRemoved")
    def remove_screening_rule(self, kind: str, pattern: str) -> None:
        self.screening = [
            r for r in self.screening if (r["kind"], r["pattern"]) != (kind, pattern)
        ]

    @event("MobilityChanged")
    def set_mobility(self, on: bool, ring: str) -> None:
        """Mobility (USR-9): the mobile rings with the desk phone ("both"), or alone."""
        self.mobility = on
        self.ring = ring
