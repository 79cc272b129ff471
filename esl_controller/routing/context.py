"""CallContext: the channel data of one call, parsed once at the ESL boundary."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Origin(enum.Enum):
    """Where the call came from."""

    INTERNAL = "internal"  # an authenticated user of one of our enterprises
    EXTERNAL = "external"  # the public network, through a SIP trunk / gateway


@dataclass(frozen=True, slots=True)
class CallContext:
    """Everything routing may know about a new call; frozen, built by esl.headers."""

    call_id: str
    channel: str
    caller_number: str
    caller_name: str
    destination: str
    origin: Origin
    domain: str | None = None
    auth_user: str | None = None
    context: str = "default"
    diverted_from: str | None = None
    privacy: bool = False
