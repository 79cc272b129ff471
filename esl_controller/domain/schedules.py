"""Schedules: weekly opening hours, closed on the public holidays of one country.

Pure: parsing and date maths only (time zones through ``zoneinfo``, holidays through the
``holidays`` library, both computed, no I/O). The ``Schedule`` aggregate records what an
operator configured; routing reads the hours text and calls ``is_open`` with a ``now``.

Hours grammar (case-insensitive), clauses separated by ``;`` (or by ``,`` when a new set of
days follows, as in ``mon-thu 08:30-17:30, fri 08:30-16:00``)::

    clause := DAYS (TIMES | "closed")
    DAYS   := DAY[,DAY...]   DAY := mon..sun | mon-fri (a range, may wrap: fri-mon)
                             | daily | weekdays | weekend   (full names also accepted)
    TIMES  := HH:MM-HH:MM[,HH:MM-HH:MM...]   (24:00 only as an end; end after start)
    closure := DATE[..DATE] "closed"          (extra closed days, e.g. a company outing:
                                               2026-06-12 closed; 2026-12-24..2026-12-31 closed)

Clauses apply in order: times add to the named days, ``closed`` clears them, so
``daily 08:00-18:00; sun closed`` is shut on Sundays. Overlapping times are allowed.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid5

import holidays as holiday_calendars
from eventsourcing.domain import Aggregate, event

from esl_controller.errors import ValidationError

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_INDEX: dict[str, int] = {
    **{name[:3]: i for i, name in enumerate(DAY_NAMES)},
    **{name: i for i, name in enumerate(DAY_NAMES)},
}
DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekend": (5, 6),
}
DAY_SECONDS = 24 * 3600
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_RANGE_RE = re.compile(r"\s*(\S+?)\s*-\s*(\S+)\s*")
DATES_RE = re.compile(r"\d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})?")
MAX_CLOSURE_DAYS = 366


class ScheduleError(ValidationError):
    """Hours, a time zone or a moment that a schedule cannot work with."""


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """Open on ``day`` (0 = Monday) from ``start`` up to, not including, ``end``
    (seconds after local midnight; ``end`` may be 86400 for 24:00)."""

    day: int
    start: int
    end: int

    def contains(self, day: int, second: int) -> bool:
        return self.day == day and self.start <= second < self.end

    def describe(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


# -- parsing ----------------------------------------------------------------------------


def parse_hours(text: str) -> tuple[Interval, ...]:
    """``"mon-thu 08:30-17:30, fri 08:30-16:00; sat 10:00-14:00"`` -> sorted intervals.

    Clauses are separated by ``;`` or by ``,`` before a new set of days; within a clause
    ``,`` separates days (``mon,wed``) and time ranges (``08:30-12:00,13:00-17:30``).
    Raises ``ScheduleError`` naming the part that does not parse.
    """
    return _parse(text)[0]


def parse_closures(text: str) -> tuple[Closure, ...]:
    """The extra closed days of the hours text (``2026-12-24..2026-12-31 closed``), sorted."""
    return _parse(text)[1]


@dataclass(frozen=True, slots=True, order=True)
class Closure:
    """Closed all day from ``first`` through ``last`` (local dates), e.g. a company outing."""

    first: date
    last: date

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    def describe(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> tuple[tuple[Interval, ...], tuple[Closure, ...]]:
    clauses = [c.strip() for c in text.strip().lower().split(";")]
    if not any(clauses):
        raise ScheduleError("empty hours: give e.g. 'mon-fri 08:30-17:30'")
    week: dict[int, set[tuple[int, int]]] = {d: set() for d in range(7)}
    closures: set[Closure] = set()
    for clause in clauses:
        if not clause:
            continue  # a trailing or doubled ';'
        _parse_clause(clause, week, closures)
    intervals = tuple(
        Interval(day, start, end) for day in range(7) for start, end in sorted(week[day])
    )
    return intervals, tuple(sorted(closures))


def _parse_clause(
    clause: str, week: dict[int, set[tuple[int, int]]], closures: set[Closure]
) -> None:
    """One ``;`` clause: items separated by ``,``, each days (+ times), more times, or a
    closure."""
    pending: list[str] = []  # day items waiting for their times: "mon" of "mon,wed 09:00-.."
    days: tuple[int, ...] | None = None  # the days the following times belong to
    for item in (part.strip() for part in clause.split(",")):
        first, _, rest = item.partition(" ")
        rest = rest.strip()
        if DATES_RE.fullmatch(first):
            if rest != "closed":
                raise ScheduleError(f"bad closure {item!r}: use e.g. '2026-06-12 closed'")
            closures.add(_parse_closure(first))
            continue
        found = _days_or_none(first) if item else None
        if found is None:
            if pending:
                raise ScheduleError(
                    f"no times for {','.join(pending)!r}: give e.g. '08:30-17:30' or 'closed'")
            if days is None:
                _parse_days(first)  # raises, naming the day that does not parse
                raise ScheduleError(f"bad clause {item!r}: start with days, e.g. 'mon-fri'")
            span = _parse_span(item)
            for day in days:
                week[day].add(span)
            continue
        if not rest:
            pending.append(first)
            continue
        days = tuple(dict.fromkeys([*(d for p in pending for d in _parse_days(p)), *found]))
        pending = []
        if rest == "closed":
            for day in days:
                week[day].clear()
            continue
        span = _parse_span(rest)
        for day in days:
            week[day].add(span)
    if pending:
        raise ScheduleError(
            f"no times for {','.join(pending)!r}: give e.g. '08:30-17:30' or 'closed'")


def _parse_closure(text: str) -> Closure:
    first_text, _, last_text = text.partition("..")
    try:
        first = date.fromisoformat(first_text)
        last = date.fromisoformat(last_text) if last_text else first
    except ValueError:
        raise ScheduleError(f"bad date in {text!r}: use YYYY-MM-DD") from None
    if last < first:
        raise ScheduleError(f"bad closure {text!r}: the last day is before the first")
    if (last - first).days >= MAX_CLOSURE_DAYS:
        raise ScheduleError(f"bad closure {text!r}: at most {MAX_CLOSURE_DAYS} days")
    return Closure(first, last)


def _days_or_none(text: str) -> tuple[int, ...] | None:
    try:
        return _parse_days(text)
    except ScheduleError:
        return None


def _parse_days(text: str) -> tuple[int, ...]:
    found: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if item in DAY_GROUPS:
            found += DAY_GROUPS[item]
        elif item in DAY_INDEX:
            found.append(DAY_INDEX[item])
        elif "-" in item:
            first, _, last = item.partition("-")
            if first not in DAY_INDEX or last not in DAY_INDEX:
                raise ScheduleError(f"bad day range {item!r}: use e.g. 'mon-fri'")
            day, stop = DAY_INDEX[first], DAY_INDEX[last]
            found.append(day)
            while day != stop:  # a range may wrap around the week: fri-mon
                day = (day + 1) % 7
                found.append(day)
        else:
            raise ScheduleError(
                f"bad day {item!r}: use mon..sun, a range like mon-fri, daily, weekdays or weekend"
            )
    return tuple(dict.fromkeys(found))


def _parse_span(text: str) -> tuple[int, int]:
    match = _RANGE_RE.fullmatch(text)
    if not match:
        raise ScheduleError(f"bad time range {text.strip()!r}: use HH:MM-HH:MM")
    start, end = _parse_time(match[1]), _parse_time(match[2])
    if start == DAY_SECONDS:
        raise ScheduleError(f"bad time range {text.strip()!r}: 24:00 can only end a range")
    if end <= start:
        raise ScheduleError(f"bad time range {text.strip()!r}: the end is not after the start")
    return start, end


def _parse_time(text: str) -> int:
    match = _TIME_RE.fullmatch(text)
    if not match:
        raise ScheduleError(f"bad time {text!r}: use HH:MM")
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) == (24, 0):
        return DAY_SECONDS
    if hour > 23 or minute > 59:
        raise ScheduleError(f"bad time {text!r}: hours 00-23 (or 24:00), minutes 00-59")
    return hour * 3600 + minute * 60


# -- deciding ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a schedule is open at a moment, and why, in words."""

    open: bool
    local: datetime
    reason: str


def decide(hours: str, holidays_country: str | None, timezone: str, at: datetime) -> Decision:
    """Open or closed at the aware instant ``at``, seen in ``timezone``, with the reason."""
    intervals, closures = _parse(hours)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ScheduleError(f"a moment needs a UTC offset or time zone: {at.isoformat()!r}")
    local = at.astimezone(zone(timezone))
    when = f"{DAY_NAMES[local.weekday()].capitalize()} {local:%Y-%m-%d %H:%M} {timezone}"
    if holidays_country is not None:
        name = holiday_name(holidays_country, local.date())
        if name is not None:
            return Decision(False, local, f"closed: {when} is {name}, a holiday in {holidays_country}")
    closure = next((c for c in closures if c.contains(local.date())), None)
    if closure is not None:
        return Decision(False, local, f"closed: {when} is an extra closed day ({closure.describe()})")
    day = local.weekday()
    second = local.hour * 3600 + local.minute * 60 + local.second
    for interval in intervals:
        if interval.contains(day, second):
            return Decision(True, local, f"open: {when} is within {interval.describe()}")
    today = [i.describe() for i in intervals if i.day == day]
    if not today:
        return Decision(False, local, f"closed: {when}; closed on {DAY_NAMES[day].capitalize()}s")
    return Decision(False, local, f"closed: {when} is outside {', '.join(today)}")


def is_open(hours: str, holidays_country: str | None, timezone: str, at: datetime) -> bool:
    """True when ``at`` (aware) falls within ``hours`` in ``timezone`` and is no public
    holiday of ``holidays_country`` (None: no holidays)."""
    return decide(hours, holidays_country, timezone, at).open


def zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone: {timezone!r}") from None


def holiday_name(country: str, day: date) -> str | None:
    """The public holiday of ``country`` on ``day``, or None."""
    return _calendar(country.upper(), day.year).get(day)


def supported_country(country: str) -> bool:
    return country.upper() in holiday_calendars.list_supported_countries()


@functools.lru_cache(maxsize=256)
def _calendar(country: str, year: int) -> dict[date, str]:
    try:
        found = holiday_calendars.country_holidays(country, years=year)
    except NotImplementedError:
        raise ScheduleError(f"unknown holiday country: {country!r}") from None
    return {day: str(name) for day, name in found.items()}


# -- words ------------------------------------------------------------------------------


def describe(hours: str) -> str:
    """Plain words: ``"Monday to Friday 08:30-17:30; Saturday and Sunday closed"``."""
    intervals, closures = _parse(hours)
    extra = "".join(f"; closed {c.describe()}" for c in closures)
    per_day = [_merged([(i.start, i.end) for i in intervals if i.day == d]) for d in range(7)]
    if all(spans == [(0, DAY_SECONDS)] for spans in per_day):
        return "open all day, every day" + extra
    runs: list[tuple[int, int, list[tuple[int, int]]]] = []
    for day, spans in enumerate(per_day):
        if runs and runs[-1][2] == spans:
            runs[-1] = (runs[-1][0], day, spans)
        else:
            runs.append((day, day, spans))
    parts = []
    for first, last, spans in runs:
        days = _day_run(first, last)
        if not spans:
            parts.append(f"{days} closed")
        elif spans == [(0, DAY_SECONDS)]:
            parts.append(f"{days} all day")
        else:
            parts.append(f"{days} " + " and ".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans))
    return "; ".join(parts) + extra


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _day_run(first: int, last: int) -> str:
    a, b = DAY_NAMES[first].capitalize(), DAY_NAMES[last].capitalize()
    if first == last:
        return a
    if first == 0 and last == 6:
        return "Every day"
    return f"{a} and {b}" if last == first + 1 else f"{a} to {b}"


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


# -- aggregate --------------------------------------------------------------------------


class Schedule(Aggregate):
    """Named opening hours of one enterprise, identified by (enterprise, name) (``uuid5``)."""

    @staticmethod
    def create_id(enterprise_id: UUID, name: str) -> UUID:
        return uuid5(enterprise_id, "schedule:" + name.lower())

    @event("ScheduleCreated")
    def __init__(
        self, enterprise_id: UUID, name: str, hours: str, holidays: str | None
    ) -> None:
        self.enterprise_id = enterprise_id
        self.name = name
        self.hours = hours
        self.holidays = holidays
        self.removed = False

    @event("ScheduleChanged")
    def change(self, hours: str, holidays: str | None) -> None:
        self.hours = hours
        self.holidays = holidays

    @event("ScheduleRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("ScheduleReinstated")
    def reinstate(self, name: str, hours: str, holidays: str | None) -> None:
        """The name is used again after the schedule was removed."""
        self.name = name
        self.hours = hours
        self.holidays = holidays
        self.removed = False
