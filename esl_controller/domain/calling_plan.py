"""Calling plans (GRP-1): which destinations a user may call, and who may call a user.

Outgoing: every destination falls in one class (``internal``, ``local``, ``national``,
``mobile``, ``service``, ``premium``, ``international``); a plan allows some classes, allows
others only with the caller's PIN (the enhanced plan) and blocks the rest. The effective plan
of a user is the first one set of: the user's own, their department's, the enterprise's, the
default (which blocks premium and international: toll fraud is the classic PBX attack).
Emergency numbers are always allowed, whatever the plan says.

Incoming: one mode per user or enterprise (the user's own wins): ``all``, ``no-anonymous``,
``national`` (callers with a number of the enterprise's country) or ``internal`` (colleagues
only). Colleagues of the same enterprise are never refused.

``CallingPlan`` records the plans of one scope (the enterprise, a department or a user);
``Department`` is a named group of users of an enterprise (each user in at most one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID, uuid5

import phonenumbers
from eventsourcing.domain import Aggregate, event

from esl_controller.domain.numbers import NumberClass

PLAN_CLASSES = ("internal", "local", "national", "mobile", "service", "premium", "international")
DEFAULT_ALLOWED = frozenset({"internal", "local", "national", "mobile", "service"})
INCOMING_MODES = ("all", "no-anonymous", "national", "internal")
SCOPES = ("enterprise", "department", "user")
DEPARTMENT_NAME_RE = re.compile(r"^[\w][\w .&'-]{0,39}$")


@dataclass(frozen=True, slots=True)
class OutgoingPlan:
    """The classes a plan allows, those it allows only with the PIN, and where it is set."""

    allowed: frozenset[str] = DEFAULT_ALLOWED
    with_pin: frozenset[str] = frozenset()
    source: str = "the default plan"

    def verdict(self, klass: str) -> str:
        """``allowed``, ``pin`` (the enhanced plan asks the caller's PIN) or ``blocked``."""
        if klass == NumberClass.EMERGENCY.value or klass in self.allowed:
            return "allowed"
        return "pin" if klass in self.with_pin else "blocked"

    def describe(self) -> dict[str, str]:
        """Class -> allowed / pin / blocked, in the classes' order."""
        return {k: self.verdict(k) for k in PLAN_CLASSES}


DEFAULT_PLAN = OutgoingPlan()


def allows(klass: NumberClass | str, plan: OutgoingPlan | None = None) -> bool:
    """May a call go to a destination of ``klass`` without more ado under ``plan``
    (None: the default plan)? Emergency numbers always may."""
    name = klass.value if isinstance(klass, NumberClass) else klass
    return (plan or DEFAULT_PLAN).verdict(name) == "allowed"


def plan_class(klass: NumberClass, e164: str, home: str | None) -> str:
    """The plan class of a destination: ``local`` for a geographic number in the area code of
    ``home`` (the caller's own number, else the enterprise's), else the number's class."""
    if klass is not NumberClass.NATIONAL or home is None or not e164.startswith("+"):
        return str(klass.value)
    try:
        there, here = phonenumbers.parse(e164, None), phonenumbers.parse(home, None)
    except phonenumbers.NumberParseException:
        return str(klass.value)
    size = phonenumbers.length_of_geographical_area_code(there)
    if size == 0 or there.country_code != here.country_code:
        return str(klass.value)
    nsn_there = phonenumbers.national_significant_number(there)
    nsn_here = phonenumbers.national_significant_number(here)
    return "local" if nsn_there[:size] == nsn_here[:size] else str(klass.value)


def incoming_refusal(mode: str, colleague: bool, anonymous: bool, caller_region: str | None,
                     home_country: str) -> str | None:
    """Why the incoming plan ``mode`` refuses this caller, or None when it lets them in."""
    if colleague or mode == "all":
        return None
    if mode == "internal":
        return "only colleagues may call"
    if anonymous:
        return "callers who withhold their number are refused"
    if mode == "national" and caller_region != home_country.upper():
        return f"only callers with a number of {home_country.upper()} may call"
    return None


def parse_classes(text: str | None) -> frozenset[str]:
    """``national,mobile`` -> the classes; ValueError naming an unknown one."""
    if not text:
        return frozenset()
    found = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(found - set(PLAN_CLASSES))
    if unknown:
        raise ValueError(f"unknown calling plan class {unknown[0]!r}: use "
                         + ", ".join(PLAN_CLASSES))
    return frozenset(found)


class CallingPlan(Aggregate):
    """The outgoing and incoming plans of one scope: the enterprise, a department, a user."""

    @staticmethod
    def create_id(enterprise_id: UUID, scope: str, key: str) -> UUID:
        return uuid5(enterprise_id, f"calling-plan:{scope}:{key.lower()}")

    @event("CallingPlanCreated")
    def __init__(self, enterprise_id: UUID, scope: str, key: str) -> None:
        self.enterprise_id = enterprise_id
        self.scope = scope
        self.key = key
        self.allowed: list[str] | None = None
        self.with_pin: list[str] = []
        self.incoming: str | None = None

    @event("CallingPlanOutgoingSet")
    def set_outgoing(self, allowed: list[str], with_pin: list[str]) -> None:
        self.allowed = allowed
        self.with_pin = with_pin

    @event("CallingPlanOutgoingCleared")
    def clear_outgoing(self) -> None:
        self.allowed = None
        self.with_pin = []

    @event("CallingPlanIncomingSet")
    def set_incoming(self, mode: str | None) -> None:
        self.incoming = mode


class Department(Aggregate):
    """A named group of users: its own calling plan and call capacity (GRP-1, GRP-2)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "department:" + name.strip().lower())

    @event("DepartmentCreated")
    def __init__(self, enterprise_id: UUID, name: str, members: list[str]) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self.members = members
        self.removed = False

    @event("DepartmentMembersSet")
    def set_members(self, members: list[str]) -> None:
        self.members = members

    @event("DepartmentRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("DepartmentReinstated")
    def reinstate(self, name: str, members: list[str]) -> None:
        self.name = name
        self.members = members
        self.removed = False
