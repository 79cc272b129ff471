"""What happened when the switch carried out an action; sent back into the script."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from esl_controller.routing.causes import HangupCause


@dataclass(frozen=True, slots=True)
class Done:
    """The action completed (answered, played ...)."""


class RingResult(enum.Enum):
    ANSWERED = "answered"  # bridged; the outcome arrives when the conversation ended
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    NOT_REACHABLE = "not-reachable"  # no registered device
    REJECTED = "rejected"
    FAILED = "failed"
    # the controller stopped the ring itself (a Ring with ``watch``: call centers, the
    # offered agent turned unavailable while their phone rang)
    WITHDRAWN = "withdrawn"


_RING_RESULTS = {
    HangupCause.USER_BUSY: RingResult.BUSY,
    HangupCause.NO_ANSWER: RingResult.NO_ANSWER,
    HangupCause.NO_USER_RESPONSE: RingResult.NO_ANSWER,
    HangupCause.ALLOTTED_TIMEOUT: RingResult.NO_ANSWER,
    HangupCause.RECOVERY_ON_TIMER_EXPIRE: RingResult.NO_ANSWER,
    HangupCause.USER_NOT_REGISTERED: RingResult.NOT_REACHABLE,
    HangupCause.SUBSCRIBER_ABSENT: RingResult.NOT_REACHABLE,
    HangupCause.CALL_REJECTED: RingResult.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Rang:
    """Result of a Ring: who answered, or why nobody did."""

    result: RingResult
    cause: HangupCause
    answered_by: str | None = None

    @classmethod
    def failed_with(cls, cause: HangupCause) -> Rang:
        return cls(_RING_RESULTS.get(cause, RingResult.FAILED), cause)


@dataclass(frozen=True, slots=True)
class Recorded:
    """Result of a Record: the file and how many seconds of audio it holds (0: nothing)."""

    path: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Digits:
    """Result of CollectDigits: the digits entered ("" when none before the timeout)."""

    value: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a service answered to a Command: ok or not, and a value (e.g. a count)."""

    ok: bool
    value: str = ""


@dataclass(frozen=True, slots=True)
class Executed:
    """Result of an Execute: FreeSWITCH's Application-Response, and whether the channel
    was bridged to another party while the application ran (e.g. intercept connected)."""

    response: str
    bridged: bool


@dataclass(frozen=True, slots=True)
class FaxReceived:
    """Result of a ReceiveFax: FreeSWITCH's ``fax_success`` (``ok``), the pages received
    (``fax_document_transferred_pages``), ``fax_result_code`` / ``fax_result_text``
    (``reason``) and the sender's station id (``fax_remote_station_id``)."""

    path: str
    pages: int
    ok: bool
    reason: str
    code: str = ""
    remote_station: str = ""


Outcome = Done | Rang | Recorded | Digits | CommandResult | Executed | FaxReceived
