"""The directory: enterprises and users as routing and FreeSWITCH see them.

An in-memory fold over configuration events (``apply``), kept current by following the
notification log. Routing reads it on every call; the HTTP endpoint renders it as the XML
FreeSWITCH's mod_xml_curl asks for. Rebuilding it from zero gives the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent

from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.hotdesk import HotDesk
from esl_controller.domain.users import User
from projections.assistants_fold import EVENTS as ASSISTANT_EVENTS  # manager/assistant
from projections.assistants_fold import AssistantsFold
from projections.call_centers_fold import EVENTS as CALL_CENTER_EVENTS  # queues, agents
from projections.call_centers_fold import CallCentersFold
from projections.call_services_fold import EVENTS as CALL_SERVICE_EVENTS  # pickup, park ...
from projections.call_services_fold import CallServicesFold
from projections.fax_fold import EVENTS as FAX_EVENTS  # fax to e-mail
from projections.fax_fold import FaxFold
from projections.group_voicemail_fold import EVENTS as GROUP_VOICEMAIL_EVENTS  # group vm
from projections.group_voicemail_fold import GroupVoicemailFold
from projections.hunt_groups_fold import EVENTS as HUNT_GROUP_EVENTS  # hunt groups
from projections.hunt_groups_fold import HuntGroupsFold
from projections.menus_fold import EVENTS as MENU_EVENTS  # IVR menus
from projections.menus_fold import MenuFold
from projections.night_fold import EVENTS as NIGHT_EVENTS  # night service, toolboxes
from projections.night_fold import NightFold
from projections.plans_fold import EVENTS as PLANS_EVENTS  # calling plans, capacity ...
from projections.plans_fold import PlansFold
from projections.recording_fold import EVENTS as RECORDING_EVENTS  # call recording
from projections.recording_fold import RecordingFold
from projections.targets import TargetIndex
from projections.virtual_fold import EVENTS as VIRTUAL_EVENTS
from projections.virtual_fold import VirtualFold

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
        "NotifyRuleAdded",
        "NotifyRuleRemoved",
        "AlternateNumberAdded",
        "AlternateNumberRemoved",
        "PriorityAlertAdded",
        "PriorityAlertRemoved",
        "DeviceAdded",
        "DeviceRemoved",
        "LegSchedulesChanged",
        "SpeedDialSet",
        "SpeedDialRemoved",
        "PrivacyChanged",
    ),
    "esl_controller.domain.hotdesk:HotDesk": (  # hot desking (USR-8)
        "HotDeskAdded",
        "HotDeskReinstated",
        "HotDeskRemoved",
        "HotDeskLoggedIn",
        "HotDeskLoggedOut",
    ),
    "esl_controller.domain.schedules:Schedule": (
        "ScheduleCreated",
        "ScheduleChanged",
        "ScheduleRemoved",
        "ScheduleReinstated",
    ),
}
# The feature folds (projections/*_fold.py mixins of Directory) each declare their events in
# a module constant EVENTS; merge them here (one line per fold):
_FOLD_EVENTS: tuple[dict[str, tuple[str, ...]], ...] = (
    VIRTUAL_EVENTS,
    CALL_CENTER_EVENTS,
    HUNT_GROUP_EVENTS,
    GROUP_VOICEMAIL_EVENTS,
    FAX_EVENTS,
    NIGHT_EVENTS,
    MENU_EVENTS,
    CALL_SERVICE_EVENTS,
    PLANS_EVENTS,
    RECORDING_EVENTS,
    ASSISTANT_EVENTS,
)
for _fold_events in _FOLD_EVENTS:
    CONFIG_EVENTS.update(_fold_events)
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
class NotifyRule:
    """Call notify (USR-17): e-mail ``email`` (None: the user's) for matching callers."""

    pattern: str
    schedule: str | None = None
    email: str | None = None


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
class AlternateNumber:
    """An alternate number (USR-10): an extension of the plan or an E.164 number."""

    number: str
    ring: int = 1  # 1 normal, 2 and 3 distinctive (Bellcore-dr2 / -dr3)


@dataclass(frozen=True, slots=True)
class PriorityAlertRule:
    """Priority alert (USR-18): callers matching ``pattern`` ring distinctively."""

    pattern: str
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A shared call appearance (USR-21): SIP account ``EXT-NAME`` of a user."""

    name: str
    sip_a1_hash: str

    def username(self, extension: str) -> str:
        return f"{extension}-{self.name}"


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
    speed_dials: tuple[tuple[str, str], ...] = ()  # (slot, number), USR-12
    notify: tuple[NotifyRule, ...] = ()  # call notify rules (USR-17)
    # ringing extras: alternate numbers, priority alert, shared devices, leg schedules
    alternates: tuple[AlternateNumber, ...] = ()
    priority_alerts: tuple[PriorityAlertRule, ...] = ()
    devices: tuple[DeviceView, ...] = ()
    desk_schedule: str | None = None
    mobile_schedule: str | None = None
    privacy: bool = False  # USR-19: hidden from the phone book, BLF and pickup by others

    def forward(self, kind: str) -> ForwardRule | None:
        return next((r for r in self.forwarding if r.kind == kind), None)


@dataclass(frozen=True, slots=True)
class HotDeskView:
    """A hot-desk phone (USR-8): its SIP account and who is logged in on it since when."""

    id: UUID
    enterprise_id: UUID
    name: str
    sip_a1_hash: str
    auto_logout: str  # HH:MM in the enterprise's time zone
    user_id: UUID | None = None
    extension: str | None = None
    since: datetime | None = None


# Feature folds (projections/*_fold.py, each a TargetIndex subclass) go before TargetIndex.
class Directory(VirtualFold, CallCentersFold, HuntGroupsFold, GroupVoicemailFold, FaxFold, NightFold, MenuFold, CallServicesFold, PlansFold, AssistantsFold, RecordingFold, TargetIndex):
    """Enterprises, users and every other call target, indexed the ways routing looks
    them up."""

    def __init__(self) -> None:
        super().__init__()
        self.enterprises: dict[UUID, EnterpriseView] = {}
        self.users: dict[UUID, UserView] = {}
        self.schedules: dict[UUID, ScheduleView] = {}
        self._removed_schedules: dict[UUID, UUID] = {}
        self.position = 0
        self.versions: dict[UUID, int] = {}  # aggregate id -> last folded version (audit)
        self._identity: dict[UUID, tuple[UUID, str]] = {}  # user id -> (enterprise, ext)
        self._by_ext: dict[tuple[UUID, str], UUID] = {}
        self._by_user_number: dict[str, UUID] = {}
        self._by_enterprise_number: dict[str, UUID] = {}
        self._by_domain: dict[str, UUID] = {}
        self._by_name: dict[str, UUID] = {}
        self._by_mobile: dict[str, UUID] = {}  # mobility users' mobile numbers
        self._by_alternate: dict[tuple[UUID | None, str], UUID] = {}  # (ent, ext) / (None, e164)
        self._by_device: dict[tuple[UUID, str], UUID] = {}  # (enterprise, EXT-NAME) -> user
        self.hotdesks: dict[UUID, HotDeskView] = {}  # hot-desk phones (USR-8)
        self._hotdesk_identity: dict[UUID, tuple[UUID, str]] = {}  # id -> (enterprise, name)

    # -- fold --------------------------------------------------------------------------
    def apply(self, event: DomainEvent) -> None:
        """Fold one configuration event into the directory (other events are ignored)."""
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is not None:
            handler(event.originator_id, event)
        # audit (issue 6): each configuration aggregate's version as folded, so a call
        # records which versions its routing decision read (pbx calls explain)
        self.versions[event.originator_id] = event.originator_version

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

    # -- call notify (USR-17) ------------------------------------------------------------
    def _on_NotifyRuleAdded(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            rule = NotifyRule(e.pattern, e.schedule, e.email)
            kept = tuple(r for r in user.notify if r.pattern != e.pattern)
            self.users[uid] = replace(user, notify=(*kept, rule))

    def _on_NotifyRuleRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(r for r in user.notify if r.pattern != e.pattern)
            self.users[uid] = replace(user, notify=kept)

    def _on_MobilityChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, mobility=e.on, ring=e.ring)
        user = self.users.get(uid)
        if user is not None and user.mobile:
            if e.on:
                self._by_mobile[user.mobile] = uid
            else:
                self._by_mobile.pop(user.mobile, None)

    # -- speed dial (USR-12) -------------------------------------------------------------
    def _on_SpeedDialSet(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple((s, n) for s, n in user.speed_dials if s != e.slot)
            dials = tuple(sorted((*kept, (e.slot, e.number)), key=lambda d: (len(d[0]), d[0])))
            self.users[uid] = replace(user, speed_dials=dials)

    def _on_SpeedDialRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple((s, n) for s, n in user.speed_dials if s != e.slot)
            self.users[uid] = replace(user, speed_dials=kept)

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
        self._drop_ringing_extras(user)
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
        """The user whose business number or alternate number (USR-10) this is."""
        uid = self._by_user_number.get(e164) or self._by_alternate.get((None, e164))
        return None if uid is None else self.users.get(uid)

    def enterprise_with_number(self, e164: str) -> EnterpriseView | None:
        """The enterprise owning ``e164``, as a user's number or an enterprise number."""
        user = self.user_with_number(e164)
        if user is not None:
            return self.enterprises[user.enterprise_id]
        eid = self._by_enterprise_number.get(e164)
        return None if eid is None else self.enterprises[eid]

    # -- ringing extras (USR-9 schedules, USR-10, USR-18, USR-21) --------------------------
    @staticmethod
    def _alternate_key(user: UserView, number: str) -> tuple[UUID | None, str]:
        """E.164 alternates are unique exchange-wide, extensions within the enterprise."""
        return (None, number) if number.startswith("+") else (user.enterprise_id, number)

    def _on_AlternateNumberAdded(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(a for a in user.alternates if a.number != e.number)
            self.users[uid] = replace(user, alternates=(*kept, AlternateNumber(e.number, e.ring)))
            self._by_alternate[self._alternate_key(user, e.number)] = uid

    def _on_AlternateNumberRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(a for a in user.alternates if a.number != e.number)
            self.users[uid] = replace(user, alternates=kept)
            self._by_alternate.pop(self._alternate_key(user, e.number), None)

    def _on_PriorityAlertAdded(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(r for r in user.priority_alerts if r.pattern != e.pattern)
            rule = PriorityAlertRule(e.pattern, e.schedule)
            self.users[uid] = replace(user, priority_alerts=(*kept, rule))

    def _on_PriorityAlertRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(r for r in user.priority_alerts if r.pattern != e.pattern)
            self.users[uid] = replace(user, priority_alerts=kept)

    def _on_DeviceAdded(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(d for d in user.devices if d.name != e.name)
            self.users[uid] = replace(user, devices=(*kept, DeviceView(e.name, e.sip_a1_hash)))
            self._by_device[(user.enterprise_id, f"{user.extension}-{e.name}")] = uid

    def _on_DeviceRemoved(self, uid: UUID, e: Any) -> None:
        user = self.users.get(uid)
        if user is not None:
            kept = tuple(d for d in user.devices if d.name != e.name)
            self.users[uid] = replace(user, devices=kept)
            self._by_device.pop((user.enterprise_id, f"{user.extension}-{e.name}"), None)

    def _on_LegSchedulesChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, desk_schedule=e.desk_schedule, mobile_schedule=e.mobile_schedule)

    def _drop_ringing_extras(self, user: UserView) -> None:
        """A removed user's alternates and devices stop reaching anyone."""
        for alternate in user.alternates:
            self._by_alternate.pop(self._alternate_key(user, alternate.number), None)
        for device in user.devices:
            self._by_device.pop((user.enterprise_id, device.username(user.extension)), None)

    def alternate(self, enterprise_id: UUID, dialled: str) -> tuple[UserView, int] | None:
        """The user reached by alternate extension or E.164 number ``dialled`` and its
        place (1-based) among the user's alternates; None if it is no alternate."""
        key: tuple[UUID | None, str] = (
            (None, dialled) if dialled.startswith("+") else (enterprise_id, dialled)
        )
        uid = self._by_alternate.get(key)
        user = None if uid is None else self.users.get(uid)
        if user is None:
            return None
        place = next(
            (i for i, a in enumerate(user.alternates, 1) if a.number == dialled), None
        )
        return None if place is None else (user, place)

    def device_owner(
        self, enterprise_id: UUID, username: str
    ) -> tuple[UserView, DeviceView] | None:
        """The user and device behind SIP account ``EXT-NAME`` (shared call appearance)."""
        uid = self._by_device.get((enterprise_id, username))
        user = None if uid is None else self.users.get(uid)
        if user is None:
            return None
        device = next((d for d in user.devices if d.username(user.extension) == username), None)
        return None if device is None else (user, device)

    def state(self) -> dict[str, Any]:
        """A comparable plain form (for rebuild-equals-live checks)."""
        return {
            "enterprises": dict(sorted(self.enterprises.items())),
            "users": dict(sorted(self.users.items())),
            "schedules": dict(sorted(self.schedules.items())),
            "hotdesks": dict(sorted(self.hotdesks.items())),
            **self._fold_state(),
        }

    # -- hot desking (USR-8) and privacy (USR-19) ------------------------------------------
    def _on_PrivacyChanged(self, uid: UUID, e: Any) -> None:
        self._change_user(uid, privacy=e.on)

    def phone_book(self, enterprise_id: UUID) -> list[UserView]:
        """The users of an enterprise colleagues and phones may look up: not the private."""
        return [u for u in self.users_of(enterprise_id) if not u.privacy]

    def _on_HotDeskAdded(self, hid: UUID, e: Any) -> None:
        self._hotdesk_identity[hid] = (e.enterprise_id, e.name)
        self.hotdesks[hid] = HotDeskView(hid, e.enterprise_id, e.name, e.sip_a1_hash,
                                         e.auto_logout)

    def _on_HotDeskReinstated(self, hid: UUID, e: Any) -> None:
        enterprise_id, name = self._hotdesk_identity[hid]
        self.hotdesks[hid] = HotDeskView(hid, enterprise_id, name, e.sip_a1_hash, e.auto_logout)

    def _on_HotDeskRemoved(self, hid: UUID, e: Any) -> None:
        self.hotdesks.pop(hid, None)

    def _on_HotDeskLoggedIn(self, hid: UUID, e: Any) -> None:
        old = self.hotdesks.get(hid)
        if old is not None:
            self.hotdesks[hid] = replace(old, user_id=e.user_id, extension=e.extension,
                                         since=e.at)

    def _on_HotDeskLoggedOut(self, hid: UUID, e: Any) -> None:
        old = self.hotdesks.get(hid)
        if old is not None:
            self.hotdesks[hid] = replace(old, user_id=None, extension=None, since=None)

    def hotdesk(self, enterprise_id: UUID, name: str) -> HotDeskView | None:
        """The hot-desk phone whose SIP account is ``name``."""
        return self.hotdesks.get(HotDesk.create_id(enterprise_id, name))

    def hotdesks_of(self, enterprise_id: UUID) -> list[HotDeskView]:
        return sorted((h for h in self.hotdesks.values() if h.enterprise_id == enterprise_id),
                      key=lambda h: h.name)

    def hotdesk_devices_of(self, user_id: UUID) -> tuple[str, ...]:
        """The SIP accounts of the hot-desk phones ``user_id`` is logged in on."""
        return tuple(sorted(h.name for h in self.hotdesks.values() if h.user_id == user_id))

    def hotdesk_account(self, enterprise_id: UUID, name: str) -> UserView | None:
        """A hot-desk phone as a directory entry for FreeSWITCH: its own SIP account,
        showing the name and number of whoever is logged in on it."""
        desk = self.hotdesk(enterprise_id, name)
        if desk is None:
            return None
        user = self.users.get(desk.user_id) if desk.user_id else None
        return UserView(
            id=desk.id, enterprise_id=enterprise_id, extension=desk.name,
            name=user.name if user else f"Hot desk {desk.name}",
            number=user.number if user else None, email=None, sip_a1_hash=desk.sip_a1_hash,
            has_password=True, has_pin=False, no_answer_seconds=0,
        )
