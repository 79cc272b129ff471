"""CHANNEL_DATA -> CallContext, from the real connect replies."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from esl_controller.esl.headers import BadChannelDataError, parse_channel_data
from esl_controller.esl.protocol import FrameReader
from esl_controller.routing.context import Origin

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl-captures"


def channel_data(path: Path) -> dict[str, str]:
    frame = FrameReader(io.BytesIO(path.read_bytes())).read()
    assert frame is not None
    return frame.decoded_headers


@pytest.fixture
def phone_call() -> dict[str, str]:
    """User 1001 registered on the directory calls from a phone (2015 capture)."""
    return channel_data(CAPTURES / "outbound-connect-reply.txt")


def test_authenticated_phone_call_is_internal(phone_call: dict[str, str]) -> None:
    ctx = parse_channel_data(phone_call)
    assert ctx.call_id == phone_call["Unique-ID"]
    assert ctx.channel == "sofia/internal/1001@172.16.50.134"
    assert ctx.caller_number == "1001"
    assert ctx.destination == phone_call["Caller-Destination-Number"]
    assert ctx.origin is Origin.INTERNAL
    assert ctx.auth_user == "1001"
    assert ctx.domain == "dan-win8-dev.home"
    assert ctx.context == "default"
    assert ctx.privacy is False
    assert ctx.diverted_from is None


def test_live_sipp_call_without_directory_auth_is_external() -> None:
    data = channel_data(CAPTURES / "freeswitch-1.10.12" / "outbound-sipp-transcript.txt.raw")
    ctx = parse_channel_data(data)
    assert ctx.origin is Origin.EXTERNAL
    assert ctx.auth_user is None
    assert ctx.domain == "127.0.0.1"


def test_public_context_is_external_even_with_user_name(phone_call: dict[str, str]) -> None:
    ctx = parse_channel_data({**phone_call, "Caller-Context": "public"})
    assert ctx.origin is Origin.EXTERNAL
    assert ctx.auth_user is None
    assert ctx.context == "public"


@pytest.mark.parametrize(
    ("diversion", "number"),
    [
        ("<sip:2001@pbx.example.com>;reason=unconditional", "2001"),
        ("<sip:+4930123@gw.example;user=phone>;reason=no-answer;counter=1", "+4930123"),
        ("<tel:+4930999>;reason=busy", "+4930999"),
        ("garbage", None),
    ],
)
def test_diversion_number(phone_call: dict[str, str], diversion: str, number: str | None) -> None:
    ctx = parse_channel_data({**phone_call, "variable_sip_h_Diversion": diversion})
    assert ctx.diverted_from == number


@pytest.mark.parametrize(
    "extra",
    [
        {"Caller-Privacy-Hide-Number": "true"},
        {"variable_sip_Privacy": "id"},
        {"variable_sip_Privacy": "header;id"},
    ],
)
def test_privacy(phone_call: dict[str, str], extra: dict[str, str]) -> None:
    assert parse_channel_data({**phone_call, **extra}).privacy is True


@pytest.mark.parametrize("missing", ["Unique-ID", "Caller-Destination-Number"])
def test_missing_essentials_raise(phone_call: dict[str, str], missing: str) -> None:
    data = {k: v for k, v in phone_call.items() if k != missing}
    with pytest.raises(BadChannelDataError):
        parse_channel_data(data)
    with pytest.raises(ValueError):
        parse_channel_data(data)
