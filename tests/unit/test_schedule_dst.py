"""Schedules across daylight-saving transitions, per-weekday hours and public holidays.

Europe/Amsterdam moves its clocks on the last Sunday of March (02:00 CET -> 03:00 CEST, at
01:00 UTC) and of October (03:00 CEST -> 02:00 CET, at 01:00 UTC). Opening hours are wall
clock times, so a schedule open 01:00-04:00 is open for two real hours on the March night,
four on the October night and three on any other.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esl_controller import schedules
from esl_controller.application import Pbx
from esl_controller.domain.schedules import (
    ScheduleError,
    decide,
    describe,
    holiday_name,
    is_open,
    parse_closures,
    parse_hours,
)
from esl_controller.errors import ValidationError

NIGHT = "daily 01:00-04:00"
AMS = "Europe/Amsterdam"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def open_minutes(hours: str, timezone: str, start: datetime, end: datetime) -> int:
    minutes = int((end - start) / timedelta(minutes=1))
    return sum(is_open(hours, None, timezone, start + timedelta(minutes=m))
               for m in range(minutes))


@pytest.mark.parametrize(
    ("at", "is_open_now", "local"),
    [
        (utc(2026, 3, 28, 23, 59), False, "00:59+01:00"),
        (utc(2026, 3, 29, 0, 0), True, "01:00+01:00"),
        (utc(2026, 3, 29, 0, 59), True, "01:59+01:00"),
        (utc(2026, 3, 29, 1, 0), True, "03:00+02:00"),  # 02:00-03:00 never happens
        (utc(2026, 3, 29, 1, 59), True, "03:59+02:00"),
        (utc(2026, 3, 29, 2, 0), False, "04:00+02:00"),
    ],
)
def test_spring_forward_night(at: datetime, is_open_now: bool, local: str) -> None:
    decision = decide(NIGHT, None, AMS, at)
    assert decision.open is is_open_now
    assert decision.local.isoformat(timespec="minutes").endswith(local)


@pytest.mark.parametrize(
    ("at", "is_open_now", "local"),
    [
        (utc(2026, 10, 24, 22, 59), False, "00:59+02:00"),
        (utc(2026, 10, 24, 23, 0), True, "01:00+02:00"),
        (utc(2026, 10, 25, 0, 30), True, "02:30+02:00"),  # the first 02:30 (CEST)
        (utc(2026, 10, 25, 1, 30), True, "02:30+01:00"),  # the second 02:30 (CET)
        (utc(2026, 10, 25, 2, 59), True, "03:59+01:00"),
        (utc(2026, 10, 25, 3, 0), False, "04:00+01:00"),
    ],
)
def test_fall_back_night(at: datetime, is_open_now: bool, local: str) -> None:
    decision = decide(NIGHT, None, AMS, at)
    assert decision.open is is_open_now
    assert decision.local.isoformat(timespec="minutes").endswith(local)


def test_open_time_over_the_transition_nights_in_real_minutes() -> None:
    march = open_minutes(NIGHT, AMS, utc(2026, 3, 28, 22), utc(2026, 3, 29, 4))
    october = open_minutes(NIGHT, AMS, utc(2026, 10, 24, 22), utc(2026, 10, 25, 4))
    ordinary = open_minutes(NIGHT, AMS, utc(2026, 5, 9, 22), utc(2026, 5, 10, 4))
    assert (march, october, ordinary) == (120, 240, 180)


def test_office_hours_follow_the_local_clock_the_day_after_each_transition() -> None:
    office = "mon-fri 08:30-17:30"
    assert is_open(office, None, AMS, utc(2026, 3, 27, 7, 30))  # Fri 08:30 CET
    assert not is_open(office, None, AMS, utc(2026, 3, 30, 6, 29))  # Mon 08:29 CEST
    assert is_open(office, None, AMS, utc(2026, 3, 30, 6, 30))  # Mon 08:30 CEST
    assert not is_open(office, None, AMS, utc(2026, 10, 26, 7, 29))  # Mon 08:29 CET
    assert is_open(office, None, AMS, utc(2026, 10, 26, 7, 30))


def test_another_enterprise_time_zone_has_its_own_transition_dates() -> None:
    # New York moves on the second Sunday of March: 08 March 2026, at 07:00 UTC
    assert decide(NIGHT, None, "America/New_York", utc(2026, 3, 8, 6, 30)).open  # 01:30 EST
    after = decide(NIGHT, None, "America/New_York", utc(2026, 3, 8, 7, 0))
    assert after.open and after.local.isoformat(timespec="minutes").endswith("03:00-04:00")
    assert not decide(NIGHT, None, "America/New_York", utc(2026, 3, 8, 8, 0)).open


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                    timezones=st.just(UTC)))
def test_a_schedule_open_all_day_is_open_at_every_instant(at: datetime) -> None:
    assert is_open("daily 00:00-24:00", None, AMS, at)
    assert not is_open("daily closed", None, AMS, at)


# -- per weekday -----------------------------------------------------------------------------
SHORT_FRIDAY = "mon-thu 08:30-17:30, fri 08:30-16:00"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 11, 26, 15, 30), True),  # Thursday 16:30
        (utc(2026, 11, 27, 14, 59), True),  # Friday 15:59
        (utc(2026, 11, 27, 15, 30), False),  # Friday 16:30
        (utc(2026, 11, 28, 10, 0), False),  # Saturday
    ],
)
def test_different_hours_per_weekday(at: datetime, expected: bool) -> None:
    assert is_open(SHORT_FRIDAY, None, AMS, at) is expected


def test_comma_separated_clauses_equal_semicolon_separated_ones() -> None:
    assert parse_hours(SHORT_FRIDAY) == parse_hours("mon-thu 08:30-17:30; fri 08:30-16:00")
    assert parse_hours("mon,wed 09:00-12:00, 13:00-17:00, fri 09:00-12:00") == parse_hours(
        "mon,wed 09:00-12:00,13:00-17:00; fri 09:00-12:00")


# -- holidays --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # New Year's Day
        date(2026, 4, 6),  # Easter Monday
        date(2026, 4, 27),  # King's Day (a Monday)
        date(2026, 5, 14),  # Ascension Day
        date(2026, 5, 25),  # Whit Monday
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2025, 4, 26),  # King's Day moves to the Saturday when the 27th is a Sunday
    ],
)
def test_dutch_public_holidays_close_an_office_schedule(day: date) -> None:
    assert holiday_name("NL", day) is not None
    noon = datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)
    decision = decide("daily 08:00-18:00", "NL", AMS, noon)
    assert not decision.open
    assert "a holiday in NL" in decision.reason
    assert decide("daily 08:00-18:00", None, AMS, noon).open  # without holidays: open


def test_an_ordinary_day_and_another_countrys_holiday_stay_open() -> None:
    assert decide("daily 08:00-18:00", "NL", AMS, utc(2026, 11, 23, 11)).open
    # 3 October is German Unity Day, not a Dutch holiday
    assert not decide("daily 08:00-18:00", "DE", AMS, utc(2026, 10, 3, 11)).open
    assert decide("daily 08:00-18:00", "NL", AMS, utc(2026, 10, 3, 11)).open


# -- extra closed days -----------------------------------------------------------------------
def test_extra_closed_days_close_an_otherwise_open_day() -> None:
    hours = "mon-fri 08:30-17:30; 2026-06-12 closed; 2026-12-28..2026-12-31 closed"
    outing = decide(hours, None, AMS, utc(2026, 6, 12, 9))  # Friday 11:00
    assert not outing.open
    assert "an extra closed day (2026-06-12)" in outing.reason
    assert decide(hours, None, AMS, utc(2026, 6, 11, 9)).open
    assert not decide(hours, None, AMS, utc(2026, 12, 30, 9)).open
    assert decide(hours, None, AMS, utc(2027, 1, 4, 9)).open
    assert describe(hours).endswith("; closed 2026-06-12; closed 2026-12-28..2026-12-31")
    assert [c.describe() for c in parse_closures(hours)] == ["2026-06-12",
                                                             "2026-12-28..2026-12-31"]


def test_a_closed_day_is_a_local_date_in_the_enterprise_time_zone() -> None:
    hours = "daily 00:00-24:00; 2026-06-12 closed"
    assert decide(hours, None, AMS, utc(2026, 6, 11, 21, 59)).open  # 23:59 on the 11th
    assert not decide(hours, None, AMS, utc(2026, 6, 11, 22, 0)).open  # 00:00 on the 12th
    assert decide(hours, None, AMS, utc(2026, 6, 12, 22, 0)).open  # 00:00 on the 13th


@pytest.mark.parametrize(
    ("hours", "names"),
    [
        ("mon 08:00-09:00; 2026-02-30 closed", "bad date"),
        ("mon 08:00-09:00; 2026-06-12..2026-06-01 closed", "before the first"),
        ("mon 08:00-09:00; 2026-06-12 08:00-09:00", "bad closure"),
        ("mon 08:00-09:00; 2026-01-01..2027-12-31 closed", "at most 366 days"),
    ],
)
def test_bad_closures_name_what_does_not_parse(hours: str, names: str) -> None:
    with pytest.raises(ScheduleError, match=names):
        parse_hours(hours)


def test_close_and_reopen_through_the_use_cases(tmp_path: Path) -> None:
    app = Pbx(f"sqlite:///{tmp_path}/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    schedules.add_schedule(app, None, "office", "mon-fri 08:30-17:30")
    found, closure = schedules.close_days(app, None, "office", "2026-06-12")
    assert found.hours == "mon-fri 08:30-17:30; 2026-06-12 closed"
    schedules.close_days(app, None, "office", "2026-12-28", until="2026-12-31")
    _, decision = schedules.schedule_decision(app, None, "office", datetime(2026, 12, 29, 10))
    assert not decision.open
    before = app.last_position()
    for args, message in [(("2026-06-12",), "already closed"),
                          (("12-06-2026",), "bad date"),
                          (("2026-06-12", "2026-06-10"), "before the first")]:
        with pytest.raises(ValidationError, match=message):
            schedules.close_days(app, None, "office", *args)
    with pytest.raises(ValidationError, match="no extra closure on 2026-07-01"):
        schedules.reopen_day(app, None, "office", "2026-07-01")
    assert app.last_position() == before
    reopened = schedules.reopen_day(app, None, "office", "2026-12-30")
    assert reopened.hours == "mon-fri 08:30-17:30; 2026-06-12 closed"
    _, decision = schedules.schedule_decision(app, None, "office", datetime(2026, 12, 29, 10))
    assert decision.open
