"""The directory: enterprises and users as routing and FreeSWITCH see them.

An in-memory fold over configuration events (``apply``), kept current by following the
notification log. Routing reads it on every call; the HTTP endpoint renders it as the XML
FreeSWITCH's mod_xml_curl asks for. Rebuilding it from zero gives the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent

from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.users import User

CONFIG_EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.enterprises:Enterprise": (
        "EnterpriseCreated",
        "NumberAssigned",
        "NumberReleased",
    ),
    "esl_controller.domain.users:User": (
        "UserCreated",
        "UserReinstated",
        "UserRemoved",
        "ForwardingEnabled",
        "ForwardingDisabled",
        "DoNotDisturbChanged",
        "AnonymousRejectionChanged",
        "IdentityChanged",
        "MobileChanged",
        "InterceptChanged",
        "CallWaitingChanged",
        "ScreeningRuleAdded",
        "ScreeningRuleRemoved",
        "MobilityChanged",
    ),
    "esl_controller.domain.schedules:Schedule": (
        "ScheduleCreated",
        "ScheduleChanged",
        "ScheduleRemoved",
        "ScheduleReinstated",
    ),
}
TOPICS: tuple[str, ...] = tuple(
    f"{aggregate}.{name}" for aggregate, names in CONFIG_EVENTS.items() for name in names
)
assert f"{Enterprise.__module__}:{Enterprise.__qualname__}" in CONFIG_EVENTS
assert f"{User.__module__}:{User.__qualname__}" in CONFIG_EVENTS


@dataclass(frozen=True, slots=True)
class EnterpriseView:
    id: UUID
    name: str
    domain: str
    timezone: str
    country: str
    extension_low: int
    extension_high: int
    numbers: tuple[str, ...] = ()

    def in_plan(self, extension: str) -> bool:
        """ASCII digits without a leading zero, between the plan's bounds."""
        if not (extension.isascii() and extension.isdigit()) or extension.startswith("0"):
            return False
        return self.extension_low <= int(extension) <= self.extension_high


@dataclass(frozen=True, slots=True)
class ForwardRule:
    """One forwarding service of a user (always, busy, no-answer, not-reachable, selective)."""

    kind: str
    destination: str
    after_seconds: int | None = None
    schedule: str | None = None
    from_pattern: str | None = None


@dataclass(frozen=True, slots=True)
class ScreeningRule:
    """Selective rejection ("reject", "dont-reject") or acceptance ("accept") of callers."""

    kind: str
    pattern: str
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleView:
    id: UUID
    enterprise_id: UUID
    name: str
    hours: str
    holidays: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hours": self.hours,
            "holidays": self.holidays,
            "id": str(self.id),
        }


@dataclass(frozen=True, slots=True)
class UserView:
    id: UUID
    enterprise_id: UUID
    extension: str
    name: str
    number: str | None
    email: str | None
    sip_a1_hash: str | None
    has_password: bool
    has_pin: bool
    no_answer_seconds: int
    forwarding: tuple[ForwardRule, ...] = ()
    dnd: bool = False
    anonymous_rejection: bool = False
    identity: str = "business"
    mobile: str | None = None
    intercept: str | None = None
    call_waiting: bool = True
    screening: tuple[ScreeningRule, ...] = ()
    mobility: bool = False
    ring: str = "both"  # with mobility: both, desk or mobile

    def forward(self, kind: str) -> ForwardRule | None:
        return next((r for r in self.forwarding if r.kind == kind), None)


class Directory:
    """Enterprises and users, indexed the ways routing looks them up."""

    def __init__(self) -> None:
        self.enterprises: dict[UUID, EnterpriseView] = {}
        self.users: dict[UUID, UserView] = {}
        self.schedules: dict[UUID, ScheduleView] = {}
        self._removed_schedules: dict[UUID, UUID] = {}
        self.position = 0
        self._identity: dict[UUID, tuple[UUID, str]] = {}  # user id -> (enterprise, ext)
        self._by_ext: dict[tuple[UUID, str], UUID] = {}
        self._by_user_number: dict[str, UUID] = {}
        self._by_enterprise_number: dict[str, UUID] = {}
        self._by_domain: dict[str, UUID] = {}
        self._by_name: dict[str, UUID] = {}
        self._by_mobile: dict[str, UUID] = {}  # mobility users' mobile numbers

    # -- fold --------------------------------------------------------------------------
    def apply(self, event: DomainEvent) -> None:
        """Fold one configuration event into the directory (other events are ignored)."""
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is not None:
            handler(event.originator_id, event)

    def _on_EnterpriseCreated(self, eid: UUID, e: Any) -> None:
        view = EnterpriseView(
            eid, e.name, e.domain, e.timezone, e.country, e.extension_low, e.extension_high
        )
        self.enterprises[eid] = view
        self._by_domain[view.domain.lower()] = eid
        self._by_name[view.name.lower()] = eid

    def _on_NumberAssigned(self, eid: UUID, e: Any) -> None:
        ent = self.enterprises[eid]
        self.enterprises[eid] = replace(ent, numbers=(*ent.numbers, e.number))
        self._by_enterprise_number[e.number] = eid

    def _on_NumberReleased(self, eid: UUID, e: Any) -> None:
        ent = self.enterprises[eid]
        self.enterprises[eid] = replace(ent, numbers=tuple(n for n in ent.numbers if n != e.number))
        self._by_enterprise_number.pop(e.number, None)

    def _on_UserCreated(self, uid: UUID, e: Any) -> None:
        self._identity[uid] = (e.enterprise_id, e.extension)
        self._put_user(uid, e)

    def _on_UserReinstated(self, uid: UUID, e: Any) -> None:
        self._put_user(uid, e)

    def _put_user(self, uid: UUID, e: Any) -> None:
        enterprise_id, extension = self._identity[uid]
        user = UserView(
            id=uid,
            enterprise_id=enterprise_id,
            extension=extension,
            name=e.name,
            number=e.number,
            email=e.email,
            sip_a1_hash=e.sip_a1_hash,
            has_password=e.sip_password_hash is not None,
            has_pin=e.pin_hash is not None,
            no_answer_seconds=e.no_answer_seconds,
        )
        self.users[uid] = user
        self._by_ext[(enterprise_id, extension)] = uid
        if user.number:
            self._by_user_number[user.number] = uid

    def _change_user(self, uid: UUID, **changes: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            self.users[uid] = replace(user, **changes)

    def _on_ForwardingEnabled(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is None:
            return
        rule = ForwardRule(e.kind, e.destination, e.after_seconds, e.schedule, e.from_pattern)
        kept = tuple(r for r in user.forwarding if r.kind != e.kind)
        self.users[uid] = replace(user, forwarding=(*kept, rule))

    def _on_ForwardingDisabled(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(r for r in user.forwarding if r.kind != e.kind)
            self.users[uid] = replace(user, forwarding=kept)

    def _on_DoNotDisturbChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, dnd=e.on)

    def _on_AnonymousRejectionChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, anonymous_rejection=e.on)

    def _on_IdentityChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, identity=e.identity)

    def _on_MobileChanged(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None and user.mobile:
            self._by_mobile.pop(user.mobile, None)
        self._change_user(uid, mobile=e.mobile)
        if user is not None and user.mobility and e.mobile:
            self._by_mobile[e.mobile] = uid

    def _on_InterceptChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, intercept=e.destination)

    def _on_MobilityChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, mobility=e.on, ring=e.ring)
        user = self.users.get(uid)
        if user is not None and user.mobile:
            if e.on:
                self._by_mobile[user.mobile] = uid
            else:
                self._by_mobile.pop(user.mobile, None)

    def _on_CallWaitingChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, call_waiting=e.on)

    def _on_ScreeningRuleAdded(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            rule = ScreeningRule(e.kind, e.pattern, e.schedule)
            self.users[uid] = replace(user, screening=(*user.screening, rule))

    def _on_ScreeningRuleRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(
                r for r in user.screening if (r.kind, r.pattern) != (e.kind, e.pattern)
            )
            self.users[uid] = replace(user, screening=kept)

    def _on_ScheduleCreated(self, sid: UUID, e: Any) -> None:
        self.schedules[sid] = ScheduleView(sid, e.enterprise_id, e.name, e.hours, e.holidays)

    def _on_ScheduleChanged(self, sid: UUID, e: Any) -> None:
        old = self.schedules.get(sid)
        if old is not None:
            self.schedules[sid] = replace(old, hours=e.hours, holidays=e.holidays)

    def _on_ScheduleRemoved(self, sid: UUID, e: Any) -> None:
        removed = self.schedules.pop(sid, None)
        if removed is not None:
            self._removed_schedules[sid] = removed.enterprise_id

    def _on_ScheduleReinstated(self, sid: UUID, e: Any) -> None:
        enterprise_id = self._removed_schedules.pop(sid, None)
        if enterprise_id is not None:
            self.schedules[sid] = ScheduleView(sid, enterprise_id, e.name, e.hours, e.holidays)

    def schedule(self, enterprise_id: UUID, name: str) -> ScheduleView | None:
        wanted = name.strip().lower()
        return next(
            (
                s
                for s in self.schedules.values()
                if s.enterprise_id == enterprise_id and s.name.lower() == wanted
            ),
            None,
        )

    def _on_UserRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.pop(uid)
        if user.mobile:
            self._by_mobile.pop(user.mobile, None)
        self._by_ext.pop((user.enterprise_id, user.extension), None)
        if user.number:
            self._by_user_number.pop(user.number, None)

    # -- lookups -------------------------------------------------------------------------
    def enterprise_named(self, name: str) -> EnterpriseView | None:
        eid = self._by_name.get(name.strip().lower())
        return None if eid is None else self.enterprises[eid]

    def enterprise_for_domain(self, domain: str) -> EnterpriseView | None:
        eid = self._by_domain.get(domain.strip().lower())
        return None if eid is None else self.enterprises[eid]

    def user(self, enterprise_id: UUID, extension: str) -> UserView | None:
        uid = self._by_ext.get((enterprise_id, extension))
        return None if uid is None else self.users[uid]

    def users_of(self, enterprise_id: UUID) -> list[UserView]:
        found = [u for u in self.users.values() if u.enterprise_id == enterprise_id]
        return sorted(found, key=lambda u: (len(u.extension), u.extension))

    def user_with_mobile(self, e164: str) -> UserView | None:
        """The user with mobility on whose mobile number this is."""
        uid = self._by_mobile.get(e164)
        return None if uid is None else self.users.get(uid)

    def user_with_number(self, e164: str) -> UserView | None:
        uid = self._by_user_number.get(e164)
        return None if uid is None else self.users[uid]

    def enterprise_with_number(self, e164: str) -> EnterpriseView | None:
        """The enterprise owning ``e164``, as a user's number or an enterprise number."""
        user = self.user_with_number(e164)
        if user is not None:
            return self.enterprises[user.enterprise_id]
        eid = self._by_enterprise_number.get(e164)
        return None if eid is None else self.enterprises[eid]

    def state(self) -> dict[str, Any]:
        """A comparable plain form (for rebuild-equals-live checks)."""
        return {
            "enterprises": dict(sorted(self.enterprises.items())),
            "users": dict(sorted(self.users.items())),
            "schedules": dict(sorted(self.schedules.items())),
        }
