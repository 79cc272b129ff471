"""The Directory's fold of calling plans, departments, call capacity, click-to-call links and
licences (GRP-1, GRP-2, OPT-5, OPT-6): what routing and the use cases read about them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from esl_controller.domain.calling_plan import DEFAULT_PLAN, OutgoingPlan
from projections.targets import TargetIndex

EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.calling_plan:CallingPlan": (
        "CallingPlanCreated",
        "CallingPlanOutgoingSet",
        "CallingPlanOutgoingCleared",
        "CallingPlanIncomingSet",
    ),
    "esl_controller.domain.calling_plan:Department": (
        "DepartmentCreated",
        "DepartmentMembersSet",
        "DepartmentRemoved",
        "DepartmentReinstated",
    ),
    "esl_controller.domain.capacity:CapacityLimit": ("CapacityLimitCreated", "CapacityLimitSet"),
    "esl_controller.domain.capacity:CapacityRefusal": ("CapacityCallRefused",),
    "esl_controller.domain.click_to_call:ClickToCallLink": (
        "ClickToCallLinkAdded",
        "ClickToCallLinkRevoked",
    ),
    "esl_controller.domain.click_to_call:ClickToCallAttempt": ("ClickToCallAttempted",),
    "esl_controller.domain.licences:Licence": ("LicenceCreated", "LicenceSet"),
}


@dataclass(frozen=True, slots=True)
class PlanView:
    """The plans set at one scope; None: not set there (inherited)."""

    enterprise_id: UUID
    scope: str  # enterprise, department, user
    key: str  # the enterprise's id, the department's id or the user's extension
    allowed: frozenset[str] | None = None
    with_pin: frozenset[str] = frozenset()
    incoming: str | None = None


@dataclass(frozen=True, slots=True)
class DepartmentView:
    id: UUID
    enterprise_id: UUID
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CapacityView:
    """A pool's limit and how many calls it refused so far."""

    enterprise_id: UUID
    kind: str  # enterprise, department
    pool_id: UUID
    limit: int | None = None
    refused: int = 0


@dataclass(frozen=True, slots=True)
class ClickToCallView:
    id: UUID
    enterprise_id: UUID
    extension: str
    token_hash: str
    label: str
    expires: datetime | None
    created: datetime
    revoked: bool = False
    attempts: int = 0
    dialled: int = 0


@dataclass(frozen=True, slots=True)
class LicenceView:
    enterprise_id: UUID
    ivr_packages: int
    counts: tuple[tuple[str, int], ...]


class PlansFold(TargetIndex):
    """Calling plans, departments, capacity pools, click-to-call links and licences."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: dict[UUID, PlanView] = {}
        self._plan_at: dict[tuple[UUID, str, str], UUID] = {}
        self.departments: dict[UUID, DepartmentView] = {}
        self._removed_departments: dict[UUID, UUID] = {}
        self._department_of: dict[tuple[UUID, str], UUID] = {}
        self.capacity: dict[UUID, CapacityView] = {}  # limit aggregate id -> view
        self._capacity_at: dict[tuple[str, UUID], UUID] = {}
        self.click_links: dict[UUID, ClickToCallView] = {}
        self._click_by_hash: dict[str, UUID] = {}
        self.licences: dict[UUID, LicenceView] = {}  # enterprise id -> licence
        self._licence_owner: dict[UUID, UUID] = {}  # licence id -> enterprise id

    # -- calling plans -------------------------------------------------------------------
    def _on_CallingPlanCreated(self, pid: UUID, e: Any) -> None:
        self.plans[pid] = PlanView(e.enterprise_id, e.scope, e.key)
        self._plan_at[(e.enterprise_id, e.scope, e.key.lower())] = pid

    def _on_CallingPlanOutgoingSet(self, pid: UUID, e: Any) -> None:
        self.plans[pid] = replace(self.plans[pid], allowed=frozenset(e.allowed),
                                  with_pin=frozenset(e.with_pin))

    def _on_CallingPlanOutgoingCleared(self, pid: UUID, e: Any) -> None:
        self.plans[pid] = replace(self.plans[pid], allowed=None, with_pin=frozenset())

    def _on_CallingPlanIncomingSet(self, pid: UUID, e: Any) -> None:
        self.plans[pid] = replace(self.plans[pid], incoming=e.mode)

    def plan_at(self, enterprise_id: UUID, scope: str, key: str) -> PlanView | None:
        pid = self._plan_at.get((enterprise_id, scope, key.lower()))
        return None if pid is None else self.plans[pid]

    def _plan_chain(self, enterprise_id: UUID, extension: str | None
                    ) -> list[tuple[PlanView | None, str]]:
        """The scopes that may hold a user's plan, most specific first, each with its name."""
        chain: list[tuple[PlanView | None, str]] = []
        if extension is not None:
            chain.append((self.plan_at(enterprise_id, "user", extension),
                          f"the plan of user {extension}"))
            department = self.department_of(enterprise_id, extension)
            if department is not None:
                chain.append((self.plan_at(enterprise_id, "department", str(department.id)),
                              f"the plan of department {department.name}"))
        chain.append((self.plan_at(enterprise_id, "enterprise", str(enterprise_id)),
                      "the enterprise's plan"))
        return chain

    def calling_plan_for(self, enterprise_id: UUID, extension: str | None = None
                         ) -> OutgoingPlan:
        """The outgoing plan that applies to a user (or, without one, to the enterprise)."""
        for view, source in self._plan_chain(enterprise_id, extension):
            if view is not None and view.allowed is not None:
                return OutgoingPlan(view.allowed, view.with_pin, source)
        return DEFAULT_PLAN

    def incoming_plan_for(self, enterprise_id: UUID, extension: str | None = None
                          ) -> tuple[str, str]:
        """(mode, where it is set) of the incoming plan of a user or the enterprise."""
        for view, source in self._plan_chain(enterprise_id, extension):
            if view is not None and view.incoming is not None:
                return view.incoming, source
        return "all", "the default plan"

    # -- departments ---------------------------------------------------------------------
    def _on_DepartmentCreated(self, did: UUID, e: Any) -> None:
        self._put_department(DepartmentView(did, e.enterprise_id, e.name, tuple(e.members)))

    def _on_DepartmentReinstated(self, did: UUID, e: Any) -> None:
        enterprise_id = self._removed_departments.pop(did, None)
        if enterprise_id is not None:
            self._put_department(DepartmentView(did, enterprise_id, e.name, tuple(e.members)))

    def _on_DepartmentMembersSet(self, did: UUID, e: Any) -> None:
        old = self.departments.get(did)
        if old is not None:
            self._put_department(replace(old, members=tuple(e.members)))

    def _on_DepartmentRemoved(self, did: UUID, e: Any) -> None:
        old = self.departments.pop(did, None)
        if old is not None:
            self._removed_departments[did] = old.enterprise_id
            for member in old.members:
                self._department_of.pop((old.enterprise_id, member), None)

    def _put_department(self, view: DepartmentView) -> None:
        old = self.departments.get(view.id)
        for member in old.members if old else ():
            self._department_of.pop((view.enterprise_id, member), None)
        self.departments[view.id] = view
        for member in view.members:
            self._department_of[(view.enterprise_id, member)] = view.id

    def department_of(self, enterprise_id: UUID, extension: str) -> DepartmentView | None:
        did = self._department_of.get((enterprise_id, extension))
        return None if did is None else self.departments.get(did)

    def department_named(self, enterprise_id: UUID, name: str) -> DepartmentView | None:
        wanted = name.strip().lower()
        return next((d for d in self.departments.values()
                     if d.enterprise_id == enterprise_id and d.name.lower() == wanted), None)

    def departments_of(self, enterprise_id: UUID) -> list[DepartmentView]:
        return sorted((d for d in self.departments.values() if d.enterprise_id == enterprise_id),
                      key=lambda d: d.name.lower())

    # -- call capacity -------------------------------------------------------------------
    def _on_CapacityLimitCreated(self, lid: UUID, e: Any) -> None:
        self.capacity[lid] = CapacityView(e.enterprise_id, e.kind, e.pool_id)
        self._capacity_at[(e.kind, e.pool_id)] = lid

    def _on_CapacityLimitSet(self, lid: UUID, e: Any) -> None:
        self.capacity[lid] = replace(self.capacity[lid], limit=e.limit)

    def _on_CapacityCallRefused(self, rid: UUID, e: Any) -> None:
        lid = self._capacity_at.get((e.kind, e.pool_id))
        if lid is not None:
            view = self.capacity[lid]
            self.capacity[lid] = replace(view, refused=view.refused + 1)

    def capacity_of(self, kind: str, pool_id: UUID) -> CapacityView | None:
        lid = self._capacity_at.get((kind, pool_id))
        return None if lid is None else self.capacity[lid]

    # -- click-to-call -------------------------------------------------------------------
    def _on_ClickToCallLinkAdded(self, lid: UUID, e: Any) -> None:
        self.click_links[lid] = ClickToCallView(lid, e.enterprise_id, e.extension, e.token_hash,
                                                e.label, e.expires, e.created)
        self._click_by_hash[e.token_hash] = lid

    def _on_ClickToCallLinkRevoked(self, lid: UUID, e: Any) -> None:
        old = self.click_links.get(lid)
        if old is not None:
            self.click_links[lid] = replace(old, revoked=True)

    def _on_ClickToCallAttempted(self, aid: UUID, e: Any) -> None:
        old = self.click_links.get(e.link_id) if e.link_id else None
        if old is not None:
            self.click_links[old.id] = replace(old, attempts=old.attempts + 1,
                                               dialled=old.dialled + (e.outcome == "dialled"))

    def click_link(self, token_digest: str) -> ClickToCallView | None:
        lid = self._click_by_hash.get(token_digest)
        return None if lid is None else self.click_links.get(lid)

    def click_links_of(self, enterprise_id: UUID) -> list[ClickToCallView]:
        return sorted((c for c in self.click_links.values() if c.enterprise_id == enterprise_id),
                      key=lambda c: (c.created, c.label))

    # -- licences ------------------------------------------------------------------------
    def _on_LicenceCreated(self, lid: UUID, e: Any) -> None:
        self.licences[e.enterprise_id] = LicenceView(e.enterprise_id, 0, ())
        self._licence_owner[lid] = e.enterprise_id

    def _on_LicenceSet(self, lid: UUID, e: Any) -> None:
        enterprise_id = self._licence_owner[lid]
        self.licences[enterprise_id] = replace(
            self.licences[enterprise_id], ivr_packages=e.ivr_packages,
            counts=tuple(sorted(e.counts.items())))

    def licence_of(self, enterprise_id: UUID) -> LicenceView | None:
        return self.licences.get(enterprise_id)

    def _fold_state(self) -> dict[str, Any]:
        return {
            **super()._fold_state(),
            "calling_plans": dict(sorted(self.plans.items())),
            "departments": dict(sorted(self.departments.items())),
            "capacity": dict(sorted(self.capacity.items())),
            "click_to_call": dict(sorted(self.click_links.items())),
            "licences": dict(sorted(self.licences.items())),
        }

