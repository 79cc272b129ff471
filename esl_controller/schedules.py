"""Schedule use cases: add, change, remove, list, look up, decide.

Each validates first and writes nothing on bad input. Schedules are read by folding the
schedule events of the application's log (``ScheduleCreated`` / ``Changed`` / ``Removed`` /
``Reinstated``), so this module does not depend on the directory projection knowing them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from esl_controller.application import Pbx
from esl_controller.domain.schedules import (
    DATES_RE,
    Closure,
    Decision,
    Schedule,
    decide,
    parse_closures,
    parse_hours,
    supported_country,
    zone,
)
from esl_controller.errors import NotFoundError, ValidationError
from projections.directory import ScheduleView

SCHEDULE_NAME_RE = re.compile(r"[\w -]{1,40}")  # letters, digits, space, '-', '_'
UNCHANGED: Any = object()  # ``change_schedule``: keep the current value


def add_schedule(
    app: Pbx, enterprise: str | None, name: str, hours: str, holidays: str | None = "NL"
) -> ScheduleView:
    """A new named schedule; a removed name may be used again."""
    ent = app.enterprise(enterprise)
    name = _valid_name(name)
    hours = _valid_hours(hours)
    holidays = _valid_country(holidays)
    existing = _fold(app, ent.id).get(Schedule.create_id(ent.id, name))
    if existing is not None:
        raise ValidationError(f"schedule {existing.name!r} already exists in {ent.name!r}")
    schedule_id = Schedule.create_id(ent.id, name)
    schedule: Schedule
    try:
        schedule = app.repository.get(schedule_id)
        schedule.reinstate(name, hours, holidays)
    except AggregateNotFoundError:
        schedule = Schedule(ent.id, name, hours, holidays)
    app.save(schedule)
    return ScheduleView(schedule_id, ent.id, name, hours, holidays)


def change_schedule(
    app: Pbx,
    enterprise: str | None,
    name: str,
    hours: str | None = None,
    holidays: str | None = UNCHANGED,
) -> ScheduleView:
    """New hours and/or holiday country: ``hours=None`` and ``holidays=UNCHANGED`` keep the
    current value; ``holidays=None`` (or ``"none"``) means no holidays."""
    found = get_schedule(app, enterprise, name)
    new_hours = found.hours if hours is None else _valid_hours(hours)
    new_holidays = found.holidays if holidays is UNCHANGED else _valid_country(holidays)
    if (new_hours, new_holidays) == (found.hours, found.holidays):
        raise ValidationError(f"schedule {found.name!r} already has these hours and holidays")
    schedule: Schedule = app.repository.get(found.id)
    schedule.change(new_hours, new_holidays)
    app.save(schedule)
    return ScheduleView(found.id, found.enterprise_id, found.name, new_hours, new_holidays)


def close_days(
    app: Pbx, enterprise: str | None, name: str, first: str, until: str | None = None
) -> tuple[ScheduleView, Closure]:
    """Extra closed days (a company outing, a bridge day): ``first`` through ``until``
    (ISO dates), added to the hours as ``FIRST..UNTIL closed``."""
    found = get_schedule(app, enterprise, name)
    text = first.strip() if until is None else f"{first.strip()}..{until.strip()}"
    if not DATES_RE.fullmatch(text):
        raise ValidationError(f"bad date {text!r}: use YYYY-MM-DD (and --until YYYY-MM-DD)")
    closure = parse_closures(f"{text} closed")[0]
    if closure in parse_closures(found.hours):
        raise ValidationError(f"schedule {found.name!r} is already closed {closure.describe()}")
    changed = change_schedule(app, enterprise, found.name,
                              f"{found.hours}; {closure.describe()} closed")
    return changed, closure


def reopen_day(app: Pbx, enterprise: str | None, name: str, day: str) -> ScheduleView:
    """Drop the extra closures (``pbx schedule close``) that cover ``day``."""
    found = get_schedule(app, enterprise, name)
    try:
        wanted = date.fromisoformat(day.strip())
    except ValueError:
        raise ValidationError(f"bad date {day.strip()!r}: use YYYY-MM-DD") from None
    kept = []
    for clause in (c.strip() for c in found.hours.split(";")):
        closures = parse_closures(clause) if DATES_RE.match(clause) else ()
        if not (closures and any(c.contains(wanted) for c in closures)):
            kept.append(clause)
    if len(kept) == len(found.hours.split(";")):
        raise ValidationError(f"schedule {found.name!r} has no extra closure on {wanted}")
    return change_schedule(app, enterprise, found.name, "; ".join(c for c in kept if c))


def remove_schedule(app: Pbx, enterprise: str | None, name: str) -> ScheduleView:
    found = get_schedule(app, enterprise, name)
    schedule: Schedule = app.repository.get(found.id)
    schedule.remove()
    app.save(schedule)
    return found


def list_schedules(app: Pbx, enterprise: str | None) -> list[ScheduleView]:
    """The enterprise's schedules, by name."""
    ent = app.enterprise(enterprise)
    return sorted(_fold(app, ent.id).values(), key=lambda s: s.name.lower())


def get_schedule(app: Pbx, enterprise: str | None, name: str) -> ScheduleView:
    ent = app.enterprise(enterprise)
    found = _fold(app, ent.id).get(Schedule.create_id(ent.id, name.strip()))
    if found is None:
        raise NotFoundError(f"no schedule named {name.strip()!r} in {ent.name!r}")
    return found


def schedule_decision(
    app: Pbx, enterprise: str | None, name: str, at: datetime
) -> tuple[ScheduleView, Decision]:
    """Is the schedule open at ``at``? A naive ``at`` is read in the enterprise's time zone."""
    ent = app.enterprise(enterprise)
    found = get_schedule(app, ent.name, name)
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone(ent.timezone))
    return found, decide(found.hours, found.holidays, ent.timezone, at)


# -- validation and reading ---------------------------------------------------------------


def _valid_name(name: str) -> str:
    name = name.strip()
    if not SCHEDULE_NAME_RE.fullmatch(name):
        raise ValidationError(
            f"invalid schedule name {name!r}: 1 to 40 letters, digits, spaces, '-' or '_'"
        )
    return name


def _valid_hours(hours: str) -> str:
    hours = " ".join(hours.split())
    parse_hours(hours)  # raises ScheduleError naming the bad part
    return hours


def _valid_country(country: str | None) -> str | None:
    if country is None or country.strip().lower() in ("", "none"):
        return None
    code = country.strip().upper()
    if not supported_country(code):
        raise ValidationError(f"unknown holiday country: {country!r} (use e.g. NL, or none)")
    return code


def _fold(app: Pbx, enterprise_id: UUID) -> dict[UUID, ScheduleView]:
    """The live schedules of one enterprise, from the directory read model."""
    return {
        sid: view
        for sid, view in app.directory().schedules.items()
        if view.enterprise_id == enterprise_id
    }
