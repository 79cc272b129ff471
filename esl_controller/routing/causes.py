"""Hangup causes (Q.850 names as FreeSWITCH spells them)."""

from __future__ import annotations

import enum


class HangupCause(enum.Enum):
    NORMAL_CLEARING = "NORMAL_CLEARING"
    UNALLOCATED_NUMBER = "UNALLOCATED_NUMBER"
    NO_ROUTE_DESTINATION = "NO_ROUTE_DESTINATION"
    USER_BUSY = "USER_BUSY"
    NO_USER_RESPONSE = "NO_USER_RESPONSE"
    NO_ANSWER = "NO_ANSWER"
    SUBSCRIBER_ABSENT = "SUBSCRIBER_ABSENT"
    CALL_REJECTED = "CALL_REJECTED"
    DESTINATION_OUT_OF_ORDER = "DESTINATION_OUT_OF_ORDER"
    INVALID_NUMBER_FORMAT = "INVALID_NUMBER_FORMAT"
    NORMAL_TEMPORARY_FAILURE = "NORMAL_TEMPORARY_FAILURE"
    SWITCH_CONGESTION = "SWITCH_CONGESTION"
    OUTGOING_CALL_BARRED = "OUTGOING_CALL_BARRED"
    RECOVERY_ON_TIMER_EXPIRE = "RECOVERY_ON_TIMER_EXPIRE"
    ORIGINATOR_CANCEL = "ORIGINATOR_CANCEL"
    USER_NOT_REGISTERED = "USER_NOT_REGISTERED"
    ALLOTTED_TIMEOUT = "ALLOTTED_TIMEOUT"
    LOSE_RACE = "LOSE_RACE"
    MANDATORY_IE_MISSING = "MANDATORY_IE_MISSING"
    SYSTEM_SHUTDOWN = "SYSTEM_SHUTDOWN"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, text: str | None) -> HangupCause:
        """The cause named by ``text``; UNKNOWN for anything FreeSWITCH may add later."""
        if not text:
            return cls.UNKNOWN
        try:
            return cls(text.strip().upper())
        except ValueError:
            return cls.UNKNOWN
