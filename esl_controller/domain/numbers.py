"""Telephone numbers: parse any user input to E.164 and classify destinations.

Numbers are stored in E.164 (``+31201234567``). Dutch input such as ``020 1234567``,
``06 12345678``, ``+31 20 ...`` and ``0031 20 ...`` is normalised with ``phonenumbers``.
"""

from __future__ import annotations

import enum
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

from esl_controller.errors import ValidationError

EMERGENCY_NUMBERS = frozenset({"112", "911", "999"})


class InvalidNumberError(ValidationError):
    """Input that is not a valid telephone number."""


class NumberClass(enum.Enum):
    """Destination classes that calling plans allow or block."""

    EMERGENCY = "emergency"
    NATIONAL = "national"
    MOBILE = "mobile"
    SERVICE = "service"
    PREMIUM = "premium"
    INTERNATIONAL = "international"


def _parse(raw: str, country: str) -> phonenumbers.PhoneNumber:
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, country.upper())
    except phonenumbers.NumberParseException:
        raise InvalidNumberError(f"not a telephone number: {raw!r}") from None
    return parsed


def normalise(raw: str, country: str = "NL") -> str:
    """Return ``raw`` in E.164, or raise InvalidNumberError."""
    parsed = _parse(raw, country)
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumberError(f"not a valid telephone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=8192)
def try_normalise(raw: str, country: str = "NL") -> str | None:
    """E.164 form of ``raw``, or None when it is no valid number (memoised: every call's
    routing asks this of the same few numbers, and phonenumbers parses slowly)."""
    try:
        return normalise(raw, country)
    except InvalidNumberError:
        return None


def classify(e164: str, home_country: str = "NL") -> NumberClass:
    """The calling-plan class of a destination in E.164."""
    if e164 in EMERGENCY_NUMBERS:
        return NumberClass.EMERGENCY
    parsed = _parse(e164, home_country)
    region = phonenumbers.region_code_for_number(parsed)
    if region != home_country.upper():
        return NumberClass.INTERNATIONAL
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.PREMIUM_RATE:
        return NumberClass.PREMIUM
    if kind in (PhoneNumberType.TOLL_FREE, PhoneNumberType.SHARED_COST, PhoneNumberType.UAN):
        return NumberClass.SERVICE
    if kind == PhoneNumberType.MOBILE:
        return NumberClass.MOBILE
    return NumberClass.NATIONAL


def national_format(e164: str) -> str:
    """A readable national form, e.g. ``020 123 4567``."""
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def is_known_region(country: str) -> bool:
    """True for an ISO country code phonenumbers knows."""
    return country.upper() in phonenumbers.SUPPORTED_REGIONS
