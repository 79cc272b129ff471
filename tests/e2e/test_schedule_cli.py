"""End-to-end: ``pbx schedule`` as an operator runs it, one subprocess per command."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Pbx

OFFICE = "mon-fri 08:30-12:00,13:00-17:30; sat 10:00-14:00"


def test_add_list_show_change_remove(acme: Pbx) -> None:
    out = acme.ok("schedule", "add", "Office", "--hours", OFFICE)
    assert "Office" in out and "Monday to Friday 08:30-12:00 and 13:00-17:30" in out
    assert "NL" in out
    added = acme.json("schedule", "add", "Always", "--hours", "daily 00:00-24:00",
                      "--holidays", "none")
    assert (added["name"], added["holidays"], added["open_now"]) == ("Always", None, True)

    listed = acme.json("schedule", "list")
    assert [(s["name"], s["hours"], s["holidays"]) for s in listed] == [
        ("Always", "daily 00:00-24:00", None),
        ("Office", OFFICE, "NL"),
    ]
    text = acme.ok("schedule", "list")
    header, *rows = text.splitlines()
    assert header.split() == ["NAME", "HOURS", "HOLIDAYS", "OPEN", "NOW"]
    assert rows[0].split()[-1] == "yes" and rows[1].split()[-1] in ("yes", "no")

    # Christmas Day 2026 is a Friday: closed for the holiday, in words
    out = acme.ok("schedule", "show", "office", "--at", "2026-12-25T10:00")
    assert "closed" in out and "Christmas Day" in out and "Europe/Amsterdam" in out
    # after the clocks went forward (Sunday 29 March), 06:30 UTC is 08:30 CEST: open on
    # the Monday, and the Sunday itself is closed all day
    shown = acme.json("schedule", "show", "Office", "--at", "2026-03-30T06:30:00Z")
    assert shown["open"] is True and shown["at"] == "2026-03-30T08:30:00+02:00"
    shown = acme.json("schedule", "show", "Office", "--at", "2026-03-29T06:30:00+00:00")
    assert shown["open"] is False and "Sunday" in shown["reason"]

    changed = acme.json("schedule", "change", "Office", "--holidays", "none")
    assert (changed["hours"], changed["holidays"]) == (OFFICE, None)
    shown = acme.json("schedule", "show", "Office", "--at", "2026-12-25T10:00")
    assert shown["open"] is True

    assert "removed" in acme.ok("schedule", "remove", "Office")
    assert [s["name"] for s in acme.json("schedule", "list")] == ["Always"]

    types = [e["type"] for e in acme.events()]
    assert types.count("ScheduleCreated") == 2
    assert types.count("ScheduleChanged") == 1
    assert types.count("ScheduleRemoved") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("schedule", "add", "Office", "--hours", "mon-fry 08:00-17:00"),
        ("schedule", "add", "Office", "--hours", "mon 17:00-08:00"),
        ("schedule", "add", "Office", "--hours", "mon 08:00-17:00", "--holidays", "XX"),
        ("schedule", "add", "Off/ice", "--hours", "mon 08:00-17:00"),
        ("schedule", "add", "Office", "--hours", "mon 08:00-17:00", "-e", "Nope"),
        ("schedule", "add", "existing", "--hours", "mon 08:00-17:00"),
        ("schedule", "add", "Office"),
        ("schedule", "change", "Existing"),
        ("schedule", "change", "Existing", "--hours", "daily 8-5"),
        ("schedule", "change", "Nope", "--hours", "daily 08:00-17:00"),
        ("schedule", "show", "Existing", "--at", "tomorrow"),
        ("schedule", "show", "Nope"),
        ("schedule", "remove", "Nope"),
    ],
)
def test_bad_input_is_one_error_line_and_changes_nothing(acme: Pbx, args: tuple[str, ...]) -> None:
    acme.ok("schedule", "add", "Existing", "--hours", "daily 00:00-24:00")
    before = acme.events()
    line = acme.fails(*args)
    assert "Traceback" not in line
    assert acme.events() == before


def test_the_error_names_what_does_not_parse(acme: Pbx) -> None:
    line = acme.fails("schedule", "add", "Office", "--hours", "mon-fri 08:30-17:30; sat 10:00-1400")
    assert "'1400'" in line
    line = acme.fails("schedule", "add", "Office", "--hours", "mon-fry 08:30-17:30")
    assert "'mon-fry'" in line


def test_several_enterprises_need_a_name(acme: Pbx) -> None:
    acme.ok("enterprise", "add", "Beta", "--domain", "beta.example",
            "--timezone", "America/New_York", "--country", "US")
    acme.fails("schedule", "list")
    acme.ok("schedule", "add", "Office", "--hours", "mon-fri 09:00-17:00", "--holidays", "US",
            "-e", "Beta")
    assert acme.json("schedule", "list", "-e", "Acme") == []
    shown = acme.json("schedule", "show", "Office", "-e", "Beta", "--at", "2026-06-01T09:00")
    assert shown["open"] is True and shown["at"] == "2026-06-01T09:00:00-04:00"
