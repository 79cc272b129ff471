"""User: an employee's line (extension, name, public number, secrets stored hashed)."""

from __future__ import annotations

from datetime import datetime
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
        self.privacy = False  # USR-19
        self._reset_ringing_extras()
        self.speed_dials: dict[str, str] = {}  # slot -> number (USR-12)
        self._reset_notify_and_self_service()

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

    # -- call notify / self-service (USR-17, USR-24) -----------------------------------
    def _reset_notify_and_self_service(self) -> None:
        self.notify_rules: list[dict[str, Any]] = []
        self.self_pin_failures = 0
        self.self_locked_until: datetime | None = None

    @event("NotifyRuleAdded")
    def add_notify_rule(self, pattern: str, schedule: str | None, email: str | None) -> None:
        """E-mail ``email`` (None: the user's own address) when a matching call arrives."""
        self.notify_rules.append({"pattern": pattern, "schedule": schedule, "email": email})

    @event("NotifyRuleRemoved")
    def remove_notify_rule(self, pattern: str) -> None:
        self.notify_rules = [r for r in self.notify_rules if r["pattern"] != pattern]

    @event("SelfServicePinFailed")
    def fail_self_service_pin(self, at: datetime) -> None:
        self.self_pin_failures += 1

    @event("SelfServicePinAccepted")
    def accept_self_service_pin(self, at: datetime) -> None:
        self.self_pin_failures = 0

    @event("SelfServiceLocked")
    def lock_self_service(self, until: datetime) -> None:
        self.self_locked_until = until
        self.self_pin_failures = 0

    def self_service_locked(self, now: datetime) -> bool:
        return self.self_locked_until is not None and now < self.self_locked_until

    # -- ringing extras (USR-9 schedules, USR-10, USR-18, USR-21) -------------------------
    def _reset_ringing_extras(self) -> None:
        self.alternates: list[dict[str, Any]] = []
        self.priority_alerts: list[dict[str, Any]] = []
        self.devices: list[dict[str, Any]] = []
        self.desk_schedule: str | None = None
        self.mobile_schedule: str | None = None

    @event("AlternateNumberAdded")
    def add_alternate_number(self, number: str, ring: int) -> None:
        """Alternate number (USR-10): an extension or E.164 number, with its ring (1-3)."""
        self.alternates.append({"number": number, "ring": ring})

    @event("AlternateNumberRemoved")
    def remove_alternate_number(self, number: str) -> None:
        self.alternates = [a for a in self.alternates if a["number"] != number]

    @event("PriorityAlertAdded")
    def add_priority_alert(self, pattern: str, schedule: str | None) -> None:
        """Priority alert (USR-18): callers matching ``pattern`` ring distinctively."""
        self.priority_alerts.append({"pattern": pattern, "schedule": schedule})

    @event("PriorityAlertRemoved")
    def remove_priority_alert(self, pattern: str) -> None:
        self.priority_alerts = [p for p in self.priority_alerts if p["pattern"] != pattern]

    @event("DeviceAdded")
    def add_device(self, name: str, sip_password_hash: str, sip_a1_hash: str) -> None:
        """Shared call appearance (USR-21): SIP account ``EXT-NAME`` ringing as this user."""
        self.devices.append(
            {"name": name, "sip_password_hash": sip_password_hash, "sip_a1_hash": sip_a1_hash}
        )

    @event("DeviceRemoved")
    def remove_device(self, name: str) -> None:
        self.devices = [d for d in self.devices if d["name"] != name]

    @event("LegSchedulesChanged")
    def set_leg_schedules(self, desk_schedule: str | None, mobile_schedule: str | None) -> None:
        """Per-number schedules (USR-9): when the desk devices and the mobile ring."""
        self.desk_schedule = desk_schedule
        self.mobile_schedule = mobile_schedule

    # -- speed dial (USR-12) --------------------------------------------------------------
    @event("SpeedDialSet")
    def set_speed_dial(self, slot: str, number: str) -> None:
        """Slot ``2``..``9`` (short list) or ``00``..``99`` (long list) dials ``number``."""
        dials = dict(getattr(self, "speed_dials", {}))
        dials[slot] = number
        self.speed_dials = dials

    @event("SpeedDialRemoved")
    def remove_speed_dial(self, slot: str) -> None:
        dials = dict(getattr(self, "speed_dials", {}))
        dials.pop(slot, None)
        self.speed_dials = dials

    # -- hot desking / privacy (USR-8, USR-19) ------------------------------------------
    # Hot-desk logins and their PIN attempts are events of esl_controller.domain.hotdesk;
    # the PIN they check is this user's ``pin_hash``.
    @event("PrivacyChanged")
    def set_privacy(self, on: bool) -> None:
        """Privacy (USR-19): hidden from the phone book, BLF and pickup by others."""
        self.privacy = on
