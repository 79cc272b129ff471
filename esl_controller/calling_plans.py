"""Use cases of calling plans, departments and call capacity (GRP-1, GRP-2), and the two
services calls talk to: ``calling-plan`` (checks a PIN for the enhanced plan) and
``capacity`` (gives a new call a place in its pools, or refuses and counts it).

Each use case validates first (nothing is written on bad input), then records events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from esl_controller.application import Pbx
from esl_controller.domain.calling_plan import (
    DEPARTMENT_NAME_RE,
    INCOMING_MODES,
    PLAN_CLASSES,
    CallingPlan,
    Department,
    OutgoingPlan,
    parse_classes,
)
from esl_controller.domain.capacity import MAX_LIMIT, CapacityLimit, CapacityRefusal
from esl_controller.domain.secrets import verify_secret
from esl_controller.domain.users import User
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.lines import ActiveLines
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from projections.directory import EnterpriseView
from projections.plans_fold import DepartmentView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a plan is set: the enterprise, a department or a user, and how to name it."""

    enterprise: EnterpriseView
    kind: str  # enterprise, department, user
    key: str  # the enterprise id, the department id, the user's extension
    label: str  # "enterprise Acme", "department Sales", "user 101"
    extension: str | None = None  # whose effective plan this scope sees (a user)
    department: DepartmentView | None = None


def scope(app: Pbx, enterprise: str | None, user: str | None = None,
          department: str | None = None) -> Scope:
    """The scope named on the command line (at most one of ``user`` and ``department``)."""
    if user is not None and department is not None:
        raise ValidationError("name either --user or --group, not both")
    ent = app.enterprise(enterprise)
    if user is not None:
        found = app.user(ent.name, user)
        return Scope(ent, "user", found.extension, f"user {found.extension}", found.extension)
    if department is not None:
        dept = find_department(app, ent, department)
        return Scope(ent, "department", str(dept.id), f"department {dept.name}",
                     department=dept)
    return Scope(ent, "enterprise", str(ent.id), f"enterprise {ent.name}")


def effective(app: Pbx, where: Scope) -> OutgoingPlan:
    """The outgoing plan that applies at ``where`` now (its own or inherited)."""
    directory = app.directory()
    if where.kind == "user":
        return directory.calling_plan_for(where.enterprise.id, where.extension)
    if where.kind == "department":
        view = directory.plan_at(where.enterprise.id, "department", where.key)
        if view is not None and view.allowed is not None:
            return OutgoingPlan(view.allowed, view.with_pin, f"the plan of {where.label}")
    return directory.calling_plan_for(where.enterprise.id)


def own_plan(app: Pbx, where: Scope) -> bool:
    view = app.directory().plan_at(where.enterprise.id, where.kind, where.key)
    return view is not None and view.allowed is not None


def _plan_aggregate(app: Pbx, where: Scope) -> CallingPlan:
    key = CallingPlan.create_id(where.enterprise.id, where.kind, where.key)
    try:
        found: CallingPlan = app.repository.get(key)
        return found
    except AggregateNotFoundError:
        return CallingPlan(where.enterprise.id, where.kind, where.key)


def set_outgoing(app: Pbx, where: Scope, allow: str | None = None, block: str | None = None,
                 with_pin: str | None = None) -> OutgoingPlan:
    """Change the plan at ``where``, starting from the plan that applies there now."""
    try:
        allowed, blocked, pin = parse_classes(allow), parse_classes(block), parse_classes(with_pin)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if not (allowed or blocked or pin):
        raise ValidationError("name classes with --allow, --block or --with-pin")
    twice = sorted((allowed & blocked) | (allowed & pin) | (blocked & pin))
    if twice:
        raise ValidationError(f"class {twice[0]!r} is named in two of --allow, --block and "
                              "--with-pin")
    now = effective(app, where)
    new_allowed = (now.allowed | allowed) - blocked - pin
    new_pin = (now.with_pin | pin) - allowed - blocked
    plan = _plan_aggregate(app, where)
    plan.set_outgoing(sorted(new_allowed, key=PLAN_CLASSES.index),
                      sorted(new_pin, key=PLAN_CLASSES.index))
    app.save(plan)
    return effective(app, where)


def clear_outgoing(app: Pbx, where: Scope) -> bool:
    """Back to the inherited plan; False when none was set at ``where`` (nothing written)."""
    if not own_plan(app, where):
        return False
    plan = _plan_aggregate(app, where)
    plan.clear_outgoing()
    app.save(plan)
    return True


def set_incoming(app: Pbx, where: Scope, mode: str) -> tuple[str, str]:
    """The incoming plan at ``where``: a mode, or ``inherit`` to drop it."""
    mode = mode.strip().lower()
    if mode != "inherit" and mode not in INCOMING_MODES:
        raise ValidationError(f"unknown incoming plan {mode!r}: use "
                              f"{', '.join(INCOMING_MODES)} or inherit")
    plan = _plan_aggregate(app, where)
    plan.set_incoming(None if mode == "inherit" else mode)
    app.save(plan)
    return app.directory().incoming_plan_for(where.enterprise.id, where.extension)


# -- departments -------------------------------------------------------------------------------
def find_department(app: Pbx, ent: EnterpriseView, name: str) -> DepartmentView:
    found = app.directory().department_named(ent.id, name)
    if found is None:
        raise NotFoundError(f"no department {name!r} in {ent.name!r}")
    return found


def _members(app: Pbx, ent: EnterpriseView, text: str, department: UUID | None) -> list[str]:
    members = [m.strip() for m in text.split(",") if m.strip()]
    if not members:
        raise ValidationError("a department needs at least one member (--members EXT[,EXT...])")
    directory = app.directory()
    for member in members:
        if directory.user(ent.id, member) is None:
            raise ValidationError(f"unknown member: no user with extension {member} in "
                                  f"{ent.name!r}")
        other = directory.department_of(ent.id, member)
        if other is not None and other.id != department:
            raise ValidationError(f"{member} is already a member of department {other.name}")
    if len(set(members)) != len(members):
        raise ValidationError("a member is named twice")
    return members


def add_department(app: Pbx, enterprise: str | None, name: str, members: str
                   ) -> DepartmentView:
    ent = app.enterprise(enterprise)
    name = name.strip()
    if not DEPARTMENT_NAME_RE.match(name):
        raise ValidationError(f"invalid department name: {name!r}")
    if app.directory().department_named(ent.id, name) is not None:
        raise ValidationError(f"department {name!r} already exists")
    listed = _members(app, ent, members, None)
    key = Department.create_id(ent.id, name)
    try:
        department: Department = app.repository.get(key)
        department.reinstate(name, listed)
    except AggregateNotFoundError:
        department = Department(ent.id, name, listed)
    app.save(department)
    return find_department(app, ent, name)


def set_department_members(app: Pbx, enterprise: str | None, name: str, members: str
                           ) -> DepartmentView:
    ent = app.enterprise(enterprise)
    found = find_department(app, ent, name)
    listed = _members(app, ent, members, found.id)
    department: Department = app.repository.get(found.id)
    department.set_members(listed)
    app.save(department)
    return find_department(app, ent, name)


def remove_department(app: Pbx, enterprise: str | None, name: str) -> DepartmentView:
    ent = app.enterprise(enterprise)
    found = find_department(app, ent, name)
    department: Department = app.repository.get(found.id)
    department.remove()
    app.save(department)
    return found


# -- call capacity (GRP-2) --------------------------------------------------------------------
def set_capacity(app: Pbx, enterprise: str | None, department: str | None,
                 limit: int | None) -> tuple[str, int | None]:
    """The simultaneous-call limit of the enterprise or a department (None: no limit)."""
    ent = app.enterprise(enterprise)
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise ValidationError(f"a capacity is 0 to {MAX_LIMIT} simultaneous calls")
    if department is not None:
        dept = find_department(app, ent, department)
        kind, pool_id, label = "department", dept.id, f"department {dept.name}"
    else:
        kind, pool_id, label = "enterprise", ent.id, f"enterprise {ent.name}"
    key = CapacityLimit.create_id(kind, pool_id)
    try:
        aggregate: CapacityLimit = app.repository.get(key)
    except AggregateNotFoundError:
        aggregate = CapacityLimit(ent.id, kind, pool_id)
    aggregate.set_limit(limit)
    app.save(aggregate)
    return label, limit


def capacity_rows(app: Pbx, enterprise: str | None) -> list[dict[str, Any]]:
    """Every pool of the enterprise with a limit or refusals: limit, calls now, refused."""
    ent = app.enterprise(enterprise)
    directory = app.directory()
    active = _active_calls(app, ent.id)
    rows: list[dict[str, Any]] = []
    pools: list[tuple[str, UUID, str, set[str] | None]] = [
        ("enterprise", ent.id, ent.name, None)]
    pools += [("department", d.id, d.name, set(d.members)) for d in directory.departments_of(
        ent.id)]
    for kind, pool_id, name, members in pools:
        view = directory.capacity_of(kind, pool_id)
        if view is None:
            continue
        now = sum(1 for parties in active
                  if members is None or parties & members)
        rows.append({"pool": kind, "name": name, "limit": view.limit, "calls": now,
                     "refused": view.refused})
    return rows


def _active_calls(app: Pbx, enterprise_id: UUID) -> list[set[str]]:
    """The calls in progress (from the call log projection): the users on each."""
    from sqlalchemy import select

    from projections.call_log import ACTIVE, CallLogProjection
    from projections.tracking import Follower

    follower = Follower(app, CallLogProjection())
    try:
        follower.catch_up()
        with follower.engine.connect() as conn:
            rows = conn.execute(select(ACTIVE).where(
                ACTIVE.c.enterprise_id == str(enterprise_id))).all()
    finally:
        follower.close()
    return [{p for p in (r.caller_user, r.target_user, r.answered_by) if p} for r in rows]


class CapacityService:
    """``admit``: a place for the call in every pool it names, all or none, or a refusal
    (recorded as ``CapacityCallRefused``) naming the full pool."""

    def __init__(self, lines: ActiveLines, save: Callable[[Any], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.lines = lines
        self.save = save
        self.clock = clock

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        if command.name != "admit":
            return CommandResult(False, f"unknown capacity command {command.name!r}")
        wanted: list[str] = []
        for name, value in command.args:
            if not name.startswith("pool."):
                continue
            key = name.removeprefix("pool.")
            limit_text, _, label = value.partition("|")
            limit = int(limit_text)
            in_use = self.lines.in_use(key)
            if in_use >= limit:
                self._refused(command.arg("enterprise"), key, limit, in_use, ctx)
                log.info("call %s refused: %s has %d of %d calls", ctx.call_id, label,
                         in_use, limit)
                return CommandResult(False, f"{label} has {in_use} of {limit} calls in "
                                            "progress")
            wanted.append(key)
        self.lines.occupy(ctx.call_id, *wanted)
        return CommandResult(True, "")

    def _refused(self, enterprise_id: str, key: str, limit: int, in_use: int,
                 ctx: CallContext) -> None:
        kind, _, pool_id = key.partition(":")
        refusal = CapacityRefusal(UUID(enterprise_id), kind, UUID(pool_id), ctx.call_id, limit,
                                  in_use, self.clock())
        self.save(refusal)


class PinService:
    """``check-pin``: the caller's PIN against their scrypt hash (the enhanced plan). After
    ``LOCK_AFTER`` wrong PINs within ``LOCK_SECONDS`` the user's PIN calls are ``locked``
    for that long (guessing a 4-digit PIN call after call does not pay)."""

    LOCK_AFTER = 6
    LOCK_SECONDS = 900.0

    def __init__(self, app: Pbx, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.app = app
        self.clock = clock
        self._failures: dict[tuple[str, str], list[datetime]] = {}

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        if command.name != "check-pin":
            return CommandResult(False, f"unknown calling-plan command {command.name!r}")
        try:
            user: User = self.app.repository.get(
                User.create_id(UUID(command.arg("enterprise")), command.arg("extension")))
        except (AggregateNotFoundError, ValueError):
            return CommandResult(False, "no such user")
        key = (command.arg("enterprise"), command.arg("extension"))
        now = self.clock()
        recent = [t for t in self._failures.get(key, [])
                  if (now - t).total_seconds() < self.LOCK_SECONDS]
        if len(recent) >= self.LOCK_AFTER:
            log.warning("call %s: calling plan PIN of %s locked", ctx.call_id, key[1])
            return CommandResult(False, "locked")
        pin = command.arg("pin")
        ok = bool(pin) and user.pin_hash is not None and verify_secret(pin, user.pin_hash)
        log.info("call %s: calling plan PIN of %s %s", ctx.call_id, key[1],
                 "accepted" if ok else "wrong")
        if ok:
            self._failures.pop(key, None)
        else:
            self._failures[key] = [*recent, now]
        return CommandResult(ok, "" if ok else "wrong PIN")
