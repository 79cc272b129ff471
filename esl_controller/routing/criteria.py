"""Criteria shared by selective services: is a schedule open now, does the caller match."""

from __future__ import annotations

import re

from esl_controller.domain.schedules import is_open
from esl_controller.routing.incoming import IncomingCall


def schedule_open(call: IncomingCall, name: str | None) -> bool | None:
    """True/False for a known schedule at the call's time; None if it cannot be decided."""
    if name is None:
        return True
    schedule = call.directory.schedule(call.enterprise.id, name) if call.directory else None
    if schedule is None or call.now is None:
        return None
    return is_open(schedule.hours, schedule.holidays, call.enterprise.timezone, call.now)


def caller_matches(call: IncomingCall, pattern: str) -> bool:
    """``anonymous``, or digits where X/. is one digit and * any rest (e.g. ``+3120*``)."""
    if pattern == "anonymous":
        return call.anonymous
    regex = "".join(
        "\\d" if ch in "X." else ".*" if ch == "*" else re.escape(ch) for ch in pattern
    )
    return bool(re.fullmatch(regex, call.ctx.caller_number.strip()))
