"""Raw CHANNEL_DATA headers -> CallContext. Raw ESL dicts stop here."""

from __future__ import annotations

import re

from esl_controller.esl.server import EslError
from esl_controller.routing.context import CallContext, Origin

__all__ = ["BadChannelDataError", "parse_channel_data", "diversion_number"]

_DIVERSION_URI = re.compile(r"(?:sips?|tel):([^@;>,\s]+)", re.IGNORECASE)
_PRIVACY_TOKENS = re.compile(r"[;,\s]+")


class BadChannelDataError(EslError, ValueError):
    """CHANNEL_DATA lacks what routing needs (Unique-ID, destination)."""


def _get(headers: dict[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return value if value and value != "_undef_" else None


def diversion_number(value: str | None) -> str | None:
    """The number of the first URI in a SIP Diversion header (``<sip:NUM@host>;reason=..``)."""
    if not value:
        return None
    match = _DIVERSION_URI.search(value)
    return match.group(1) if match else None


def _privacy(headers: dict[str, str]) -> bool:
    if (_get(headers, "Caller-Privacy-Hide-Number") or "").lower() == "true":
        return True
    privacy = (_get(headers, "variable_sip_Privacy") or "").lower()
    return "id" in _PRIVACY_TOKENS.split(privacy)


def parse_channel_data(headers: dict[str, str]) -> CallContext:
    """Build the frozen CallContext from decoded CHANNEL_DATA (``ControllerSession.connect``).

    A call is INTERNAL when FreeSWITCH authenticated it against the directory
    (``variable_user_name`` and ``variable_domain_name`` set) and it is not in the ``public``
    context; ``auth_user`` is only set for internal calls.
    """
    call_id = _get(headers, "Unique-ID")
    destination = _get(headers, "Caller-Destination-Number")
    if call_id is None:
        raise BadChannelDataError("channel data without Unique-ID")
    if destination is None:
        raise BadChannelDataError(f"call {call_id}: channel data without destination number")
    context = _get(headers, "Caller-Context") or "default"
    user = _get(headers, "variable_user_name")
    domain = _get(headers, "variable_domain_name")
    internal = user is not None and domain is not None and context != "public"
    if not internal:
        domain = (
            domain
            or _get(headers, "variable_sip_to_host")
            or _get(headers, "variable_sip_req_host")
        )
    return CallContext(
        call_id=call_id,
        channel=_get(headers, "Channel-Name") or "",
        caller_number=_get(headers, "Caller-Caller-ID-Number") or "",
        caller_name=_get(headers, "Caller-Caller-ID-Name") or "",
        destination=destination,
        origin=Origin.INTERNAL if internal else Origin.EXTERNAL,
        domain=domain,
        auth_user=user if internal else None,
        context=context,
        diverted_from=diversion_number(_get(headers, "variable_sip_h_Diversion")),
        privacy=_privacy(headers),
    )
