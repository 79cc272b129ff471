"""Telephone numbers: what users type becomes E.164; destinations fall into calling-plan classes."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from esl_controller.domain.numbers import (
    InvalidNumberError,
    NumberClass,
    classify,
    national_format,
    normalise,
    try_normalise,
)
from esl_controller.errors import ValidationError


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("020 1234567", "+31201234567"),
        ("020-1234567", "+31201234567"),
        ("0201234567", "+31201234567"),
        ("  020 123 45 67 ", "+31201234567"),
        ("+31 20 123 4567", "+31201234567"),
        ("+31201234567", "+31201234567"),
        ("0031201234567", "+31201234567"),
        ("0031 20 123 4567", "+31201234567"),
        ("06 12345678", "+31612345678"),
        ("06-12345678", "+31612345678"),
        ("+31 6 1234 5678", "+31612345678"),
    ],
)
def test_dutch_input_is_stored_in_e164(typed: str, e164: str) -> None:
    assert normalise(typed) == e164
    assert try_normalise(typed) == e164


def test_international_input_keeps_its_own_country() -> None:
    assert normalise("+44 20 7946 0958") == "+442079460958"
    assert normalise("0044 20 7946 0958") == "+442079460958"
    assert normalise("(212) 555-0100", country="US") == "+12125550100"


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "abc", "hello world", "12", "020 123", "+31 20 123 45678", "06 1234", "++31"],
)
def test_invalid_input_is_refused_as_a_validation_error(typed: str) -> None:
    with pytest.raises(InvalidNumberError) as raised:
        normalise(typed)
    assert isinstance(raised.value, ValidationError)
    assert repr(typed) in str(raised.value), "the message names what was typed"
    assert try_normalise(typed) is None


@pytest.mark.parametrize(
    ("typed", "klass"),
    [
        ("0900 1234567", NumberClass.PREMIUM),
        ("0906 1234567", NumberClass.PREMIUM),
        ("0909 1234567", NumberClass.PREMIUM),
        ("0800 1234", NumberClass.SERVICE),
        ("0800 1234567", NumberClass.SERVICE),
        ("06 12345678", NumberClass.MOBILE),
        ("020 1234567", NumberClass.NATIONAL),
        ("010 1234567", NumberClass.NATIONAL),
        ("+44 20 7946 0958", NumberClass.INTERNATIONAL),
        ("+1 212 555 0100", NumberClass.INTERNATIONAL),
        ("+32 2 555 12 12", NumberClass.INTERNATIONAL),
    ],
)
def test_classify_destinations_for_the_calling_plan(typed: str, klass: NumberClass) -> None:
    assert classify(normalise(typed)) is klass


def test_emergency_number_is_classified_as_emergency() -> None:
    assert classify("112") is NumberClass.EMERGENCY


def test_a_dutch_mobile_is_international_for_a_belgian_enterprise() -> None:
    assert classify("+31612345678", home_country="BE") is NumberClass.INTERNATIONAL


def test_national_format_is_readable_and_round_trips() -> None:
    shown = national_format("+31201234567")
    assert shown.replace(" ", "") == "0201234567"
    assert normalise(shown) == "+31201234567"


# Dutch prefixes with the number of digits that follow the leading 0 in total.
PREFIXES = ["010", "020", "030", "040", "070", "0111", "06", "0800", "0900", "0906", "0909", "085"]


@st.composite
def dutch_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(PREFIXES))
    rest = draw(st.text(alphabet="0123456789", min_size=4, max_size=9))
    separator = draw(st.sampled_from(["", " ", "-"]))
    international = draw(st.sampled_from(["", "+31", "0031"]))
    body = prefix + separator + rest
    return international + body[1:] if international else body


@given(dutch_numbers())
def test_normalise_is_idempotent_on_its_own_output(typed: str) -> None:
    e164 = try_normalise(typed)
    assume(e164 is not None)
    assert e164 is not None
    assert e164.startswith("+31")
    assert normalise(e164) == e164
    assert normalise(national_format(e164)) == e164
    assert classify(e164) is classify(normalise(e164))
