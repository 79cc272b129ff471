"""Schedules: parsing hours, deciding open/closed (holidays, time zones, DST), the use cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_controller import schedules as use_cases
from esl_controller.application import Pbx
from esl_controller.domain.schedules import (
    Interval,
    Schedule,
    ScheduleError,
    decide,
    describe,
    is_open,
    parse_hours,
)
from esl_controller.errors import NotFoundError, ValidationError

AMS = "Europe/Amsterdam"
OFFICE = "mon-fri 08:30-12:00,13:00-17:30; sat 10:00-14:00"
H = 3600


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


def ams(*args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(AMS))  # type: ignore[arg-type, misc]


# -- parsing ------------------------------------------------------------------------------


def test_parse_a_simple_week() -> None:
    assert parse_hours("mon-fri 08:30-17:30") == tuple(
        Interval(d, 8 * H + 1800, 17 * H + 1800) for d in range(5)
    )


def test_parse_split_days_and_saturday() -> None:
    got = parse_hours(OFFICE)
    assert Interval(0, 8 * H + 1800, 12 * H) in got
    assert Interval(4, 13 * H, 17 * H + 1800) in got
    assert Interval(5, 10 * H, 14 * H) in got
    assert len(got) == 11
    assert not [i for i in got if i.day == 6]


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("daily 00:00-24:00", range(7)),
        ("weekdays 09:00-10:00", range(5)),
        ("weekend 09:00-10:00", (5, 6)),
        ("MON,Wed,friday 09:00-10:00", (0, 2, 4)),
        ("fri-mon 09:00-10:00", (4, 5, 6, 0)),
        ("sun 09:00-10:00; sun closed", ()),
        ("daily 08:00-18:00; sun closed", range(6)),
        ("mon 09:00-12:00; mon 10:00-13:00", (0, 0)),  # overlapping is fine
        ("sat 9:00 - 12:00 , 13:00-14:00;", (5, 5)),
    ],
)
def test_parse_day_forms(spec: str, days: range | tuple[int, ...]) -> None:
    assert sorted(i.day for i in parse_hours(spec)) == sorted(days)


def test_a_full_day_reaches_midnight() -> None:
    assert parse_hours("daily 00:00-24:00")[0] == Interval(0, 0, 24 * H)


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("", "empty"),
        ("  ;  ", "empty"),
        ("mon-fry 08:00-09:00", "'mon-fry'"),
        ("funday 08:00-09:00", "'funday'"),
        ("mon 8h-9h", "'8h'"),
        ("mon 08:00-25:00", "'25:00'"),
        ("mon 08:60-09:00", "'08:60'"),
        ("mon 17:00-09:00", "end is not after the start"),
        ("mon 09:00-09:00", "end is not after the start"),
        ("mon 24:00-24:00", "24:00"),
        ("mon", "no times"),
        ("mon 08:00", "'08:00'"),
        ("mon 08:00-09:00,", "''"),
    ],
)
def test_bad_specs_name_what_does_not_parse(spec: str, names: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_hours(spec)
    message = str(err.value)
    assert names in message
    assert "\n" not in message
    assert isinstance(err.value, ValidationError)


def test_describe_in_words() -> None:
    assert describe(OFFICE) == (
        "Monday to Friday 08:30-12:00 and 13:00-17:30; Saturday 10:00-14:00; Sunday closed"
    )
    assert describe("daily 00:00-24:00") == "open all day, every day"
    assert describe("sat,sun 10:00-12:00,11:00-13:00") == (
        "Monday to Friday closed; Saturday and Sunday 10:00-13:00"
    )
    assert describe("sun closed") == "Every day closed"


# -- deciding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (ams(2026, 6, 1, 8, 29, 59), False),  # Monday, a second before opening
        (ams(2026, 6, 1, 8, 30), True),
        (ams(2026, 6, 1, 12, 0), False),  # lunch: the end is not included
        (ams(2026, 6, 1, 13, 0), True),
        (ams(2026, 6, 5, 17, 29, 59), True),  # Friday
        (ams(2026, 6, 5, 17, 30), False),
        (ams(2026, 6, 6, 11, 0), True),  # Saturday
        (ams(2026, 6, 6, 15, 0), False),
        (ams(2026, 6, 7, 11, 0), False),  # Sunday
    ],
)
def test_is_open_on_weekdays_weekend_and_edges(local: datetime, expected: bool) -> None:
    assert is_open(OFFICE, "NL", AMS, local) is expected
    assert is_open(OFFICE, "NL", AMS, local.astimezone(UTC)) is expected  # same instant


def test_the_enterprise_time_zone_decides_not_utc() -> None:
    # 07:00 UTC on a summer Monday is 09:00 in Amsterdam but 03:00 in New York
    at = utc(2026, 6, 1, 7, 0)
    assert is_open("mon-fri 08:30-17:30", None, AMS, at)
    assert not is_open("mon-fri 08:30-17:30", None, "America/New_York", at)


@pytest.mark.parametrize(
    ("local", "holiday"),
    [
        (ams(2026, 12, 25, 10, 0), "Christmas Day"),  # a Friday
        (ams(2026, 4, 27, 10, 0), "King's Day"),  # a Monday
    ],
)
def test_public_holidays_close_the_schedule(local: datetime, holiday: str) -> None:
    assert not is_open(OFFICE, "NL", AMS, local)
    assert is_open(OFFICE, None, AMS, local)  # no holidays: an ordinary weekday
    assert is_open(OFFICE, "BE", AMS, local) is (local.month == 4)  # BE: no King's Day
    decision = decide(OFFICE, "NL", AMS, local)
    assert holiday in decision.reason and decision.reason.startswith("closed:")


def test_a_holiday_is_the_local_date_not_the_utc_date() -> None:
    # 23:30 UTC on 24 December is 00:30 on Christmas Day in Amsterdam
    assert not is_open("daily 00:00-24:00", "NL", AMS, utc(2026, 12, 24, 23, 30))
    assert is_open("daily 00:00-24:00", "NL", "UTC", utc(2026, 12, 24, 23, 30))


SUNDAY_MORNING = "sun 08:30-17:30"


def test_dst_spring_forward_last_sunday_of_march() -> None:
    # 2026-03-29: at 01:00 UTC, 02:00 CET becomes 03:00 CEST
    assert is_open(SUNDAY_MORNING, "NL", AMS, ams(2026, 3, 29, 8, 30))
    assert is_open(SUNDAY_MORNING, None, AMS, utc(2026, 3, 29, 6, 30))  # 08:30 CEST
    assert not is_open(SUNDAY_MORNING, None, AMS, utc(2026, 3, 29, 6, 29))  # 08:29 CEST
    early = "sun 03:00-04:00"
    assert not is_open(early, None, AMS, utc(2026, 3, 29, 0, 59, 59))  # 01:59:59 CET
    assert is_open(early, None, AMS, utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    assert decide(early, None, AMS, utc(2026, 3, 29, 1, 0)).local.hour == 3


def test_dst_fall_back_last_sunday_of_october() -> None:
    # 2026-10-25: at 01:00 UTC, 03:00 CEST becomes 02:00 CET; 02:xx happens twice
    assert is_open(SUNDAY_MORNING, "NL", AMS, ams(2026, 10, 25, 8, 30))
    assert is_open(SUNDAY_MORNING, None, AMS, utc(2026, 10, 25, 7, 30))  # 08:30 CET
    assert not is_open(SUNDAY_MORNING, None, AMS, utc(2026, 10, 25, 7, 29))  # 08:29 CET
    night = "sun 02:00-02:30"
    assert is_open(night, None, AMS, utc(2026, 10, 25, 0, 15))  # 02:15 CEST
    assert not is_open(night, None, AMS, utc(2026, 10, 25, 0, 45))  # 02:45 CEST
    assert not is_open(night, None, AMS, utc(2026, 10, 25, 0, 59, 59))  # 02:59:59 CEST
    assert is_open(night, None, AMS, utc(2026, 10, 25, 1, 0))  # 02:00 CET, again
    assert not is_open(night, None, AMS, utc(2026, 10, 25, 1, 45))  # 02:45 CET


def test_naive_moments_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ScheduleError, match="UTC offset"):
        is_open(OFFICE, None, AMS, datetime(2026, 6, 1, 9, 0))
    with pytest.raises(ScheduleError, match="unknown time zone"):
        is_open(OFFICE, None, "Mars/Olympus", utc(2026, 6, 1, 9, 0))


# -- properties ---------------------------------------------------------------------------

DAY_TOKENS = st.sampled_from(
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "fri-mon", "daily",
     "weekdays", "weekend", "sat,sun", "monday"]
)


@st.composite
def spans(draw: st.DrawFn) -> str:
    start = draw(st.integers(0, 24 * 60 - 1))
    end = draw(st.integers(start + 1, 24 * 60))
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


@st.composite
def clauses(draw: st.DrawFn) -> str:
    days = draw(DAY_TOKENS)
    if draw(st.booleans()) and draw(st.booleans()):
        return f"{days} closed"
    return f"{days} " + ",".join(draw(st.lists(spans(), min_size=1, max_size=3)))


SPECS = st.lists(clauses(), min_size=1, max_size=4).map("; ".join)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
)
ZONES = st.sampled_from([AMS, "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])


@settings(max_examples=200, deadline=None)
@given(SPECS, INSTANTS, ZONES, st.sampled_from([None, "NL", "US"]))
def test_any_parseable_spec_decides_deterministically(
    spec: str, at: datetime, zone: str, country: str | None
) -> None:
    parse_hours(spec)
    first = is_open(spec, country, zone, at)
    assert is_open(spec, country, zone, at) is first
    assert is_open(spec, country, zone, at.astimezone(timezone(timedelta(hours=5)))) is first
    assert describe(spec)


@settings(max_examples=200, deadline=None)
@given(INSTANTS, ZONES)
def test_daily_all_day_without_holidays_is_always_open(at: datetime, zone: str) -> None:
    assert is_open("daily 00:00-24:00", None, zone, at)


# -- aggregate ----------------------------------------------------------------------------


def test_schedule_aggregate_events_and_natural_key() -> None:
    enterprise_id = uuid4()
    schedule = Schedule(enterprise_id, "Office", OFFICE, "NL")
    assert schedule.id == Schedule.create_id(enterprise_id, "office")
    schedule.change("daily 00:00-24:00", None)
    schedule.remove()
    events = schedule.collect_events()
    assert [type(e).__name__ for e in events] == [
        "ScheduleCreated", "ScheduleChanged", "ScheduleRemoved"
    ]
    created, changed, _ = events
    assert (created.enterprise_id, created.name, created.hours, created.holidays) == (  # type: ignore[attr-defined]
        enterprise_id, "Office", OFFICE, "NL"
    )
    assert (changed.hours, changed.holidays) == ("daily 00:00-24:00", None)  # type: ignore[attr-defined]
    assert schedule.removed


# -- use cases ----------------------------------------------------------------------------


@pytest.fixture
def pbx(tmp_path: Path) -> Pbx:
    app = Pbx(f"sqlite:///{tmp_path}/var/pbx.sqlite")
    app.create_enterprise("Acme", "acme.example")
    app.create_enterprise("Globex", "globex.example", timezone="America/New_York", country="US")
    return app


def test_add_list_change_remove(pbx: Pbx) -> None:
    added = use_cases.add_schedule(pbx, "Acme", "Office", "mon-fri  08:30-17:30")
    assert (added.name, added.hours, added.holidays) == ("Office", "mon-fri 08:30-17:30", "NL")
    use_cases.add_schedule(pbx, "Acme", "all-day_2", "daily 00:00-24:00", holidays="none")
    use_cases.add_schedule(pbx, "Globex", "Office", "mon-fri 09:00-17:00", holidays="us")
    assert [(s.name, s.holidays) for s in use_cases.list_schedules(pbx, "Acme")] == [
        ("all-day_2", None), ("Office", "NL")
    ]
    assert use_cases.list_schedules(pbx, "Globex")[0].holidays == "US"

    changed = use_cases.change_schedule(pbx, "Acme", "office", holidays=None)
    assert (changed.hours, changed.holidays) == ("mon-fri 08:30-17:30", None)
    changed = use_cases.change_schedule(pbx, "Acme", "Office", hours="sat 10:00-12:00")
    assert (changed.hours, changed.holidays) == ("sat 10:00-12:00", None)

    use_cases.remove_schedule(pbx, "Acme", "OFFICE")
    assert [s.name for s in use_cases.list_schedules(pbx, "Acme")] == ["all-day_2"]
    with pytest.raises(NotFoundError):
        use_cases.get_schedule(pbx, "Acme", "Office")
    again = use_cases.add_schedule(pbx, "Acme", "office", "sun closed")  # the name is free again
    assert use_cases.get_schedule(pbx, "Acme", "Office") == again
    assert again.name == "office" and again.holidays == "NL"


def test_decision_reads_the_enterprise_time_zone(pbx: Pbx) -> None:
    use_cases.add_schedule(pbx, "Globex", "Office", "mon-fri 09:00-17:00", holidays="US")
    _, naive = use_cases.schedule_decision(pbx, "Globex", "Office", datetime(2026, 6, 1, 9, 0))
    assert naive.open and naive.local.utcoffset() == timedelta(hours=-4)
    _, july4 = use_cases.schedule_decision(pbx, "Globex", "Office", utc(2026, 7, 3, 15, 0))
    assert not july4.open  # Independence Day observed on Friday 3 July 2026


@pytest.mark.parametrize(
    ("enterprise", "name", "hours", "holidays", "message"),
    [
        ("Nope", "Office", "mon 09:00-10:00", "NL", "unknown enterprise"),
        (None, "Office", "mon 09:00-10:00", "NL", "several enterprises"),
        ("Acme", "", "mon 09:00-10:00", "NL", "invalid schedule name"),
        ("Acme", "x" * 41, "mon 09:00-10:00", "NL", "invalid schedule name"),
        ("Acme", "a/b", "mon 09:00-10:00", "NL", "invalid schedule name"),
        ("Acme", "Office", "mon 17:00-09:00", "NL", "end is not after the start"),
        ("Acme", "Office", "mon 09:00-10:00", "XX", "unknown holiday country"),
        ("Acme", "existing", "mon 09:00-10:00", "NL", "already exists"),
        ("Acme", "EXISTING", "mon 09:00-10:00", "NL", "already exists"),
    ],
)
def test_bad_input_writes_nothing(
    pbx: Pbx, enterprise: str | None, name: str, hours: str, holidays: str, message: str
) -> None:
    use_cases.add_schedule(pbx, "Acme", "Existing", "daily 00:00-24:00")
    before = pbx.last_position()
    with pytest.raises(ValidationError, match=message):
        use_cases.add_schedule(pbx, enterprise, name, hours, holidays)
    assert pbx.last_position() == before


def test_bad_changes_write_nothing(pbx: Pbx) -> None:
    use_cases.add_schedule(pbx, "Acme", "Office", "daily 00:00-24:00")
    before = pbx.last_position()
    with pytest.raises(ScheduleError):
        use_cases.change_schedule(pbx, "Acme", "Office", hours="daily 9-5")
    with pytest.raises(ValidationError, match="unknown holiday country"):
        use_cases.change_schedule(pbx, "Acme", "Office", holidays="Narnia")
    with pytest.raises(ValidationError, match="already has"):
        use_cases.change_schedule(pbx, "Acme", "Office", hours="daily 00:00-24:00")
    with pytest.raises(NotFoundError):
        use_cases.change_schedule(pbx, "Acme", "Home", hours="daily 00:00-24:00")
    with pytest.raises(NotFoundError):
        use_cases.remove_schedule(pbx, "Globex", "Office")
    assert pbx.last_position() == before
