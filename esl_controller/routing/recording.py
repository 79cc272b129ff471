"""Call recording decisions (REC-1, REC-2), pure: no clocks, no stores, no sockets.

The call session asks :func:`at_bridge` what to do for each party of a bridged call and
:func:`on_code` what an in-call code means; it carries the answer out over ESL
(``uuid_record`` start / mask / unmask) and records the events.

In-call codes are DTMF the recorded user presses on their phone: ``*1`` keep (on demand)
or start (on demand with user start), ``*2`` pause, ``*3`` resume, ``*4`` stop (on demand
with user start). A code that does not fit the mode is ignored (and traced).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from esl_controller.domain.recordings import MODES, RETENTION_CLASSES

__all__ = ["CODES", "Start", "RecorderState", "at_bridge", "cap_seconds", "on_code",
           "feed_digit"]

CODES = {"1": "keep-or-start", "2": "pause", "3": "resume", "4": "stop"}
CODE_PREFIX = "*"
PAUSABLE = ("always-pause", "on-demand-start")


@dataclass(frozen=True, slots=True)
class Start:
    """What happens for one party when the call is bridged."""

    record_now: bool  # start the recording at the bridge
    keep_unless_told: bool | None  # True: kept; False: discarded unless *1; None: n/a
    limit_seconds: int | None  # monthly cap: stop after this many seconds (None: no cap)
    refused_by_cap: bool  # the cap is reached already: nothing is recorded
    why: str


@dataclass(frozen=True, slots=True)
class RecorderState:
    """One party's recording during a call."""

    mode: str
    started: bool = False
    paused: bool = False
    stopped: bool = False
    kept: bool = False


def cap_seconds(retention: str, used_seconds: float) -> int | None:
    """Seconds left this month under the retention class's cap (None: no cap)."""
    minutes = RETENTION_CLASSES[retention][1]
    if minutes is None:
        return None
    return max(0, int(minutes * 60 - used_seconds))


def at_bridge(mode: str, retention: str, used_seconds: float) -> Start | None:
    """The decision for a party with ``mode`` when the call is bridged (None: not recorded)."""
    if mode not in MODES:
        raise ValueError(f"unknown recording mode {mode!r}")
    if mode == "never":
        return None
    left = cap_seconds(retention, used_seconds)
    minutes = RETENTION_CLASSES[retention][1]
    if left is not None and left <= 0:
        return Start(False, None, 0, True,
                     f"monthly cap of {minutes} minutes reached: not recorded")
    cap = "" if left is None else f"; {left} s left this month under the {minutes}-minute cap"
    if mode == "on-demand-start":
        return Start(False, True, left, False, f"on demand with user start: waits for *1{cap}")
    if mode == "on-demand":
        return Start(True, False, left, False,
                     f"on demand: recorded from the answer, kept only if *1 is pressed{cap}")
    pause = " (pause *2, resume *3)" if mode == "always-pause" else ""
    return Start(True, True, left, False, f"{mode}: recorded from the answer{pause}{cap}")


def on_code(state: RecorderState, code: str) -> tuple[RecorderState, str | None, str]:
    """Apply code digit ``code`` (after ``*``): the new state, the effect ("start",
    "keep", "pause", "resume", "stop" or None) and plain words for the trace."""
    meaning = CODES.get(code)
    mode = state.mode
    if state.stopped or meaning is None or mode == "never":
        return state, None, f"*{code} ignored: nothing to do in mode {mode}"
    if meaning == "keep-or-start":
        if mode == "on-demand" and state.started and not state.kept:
            return replace(state, kept=True), "keep", "*1: this recording is kept"
        if mode == "on-demand-start" and not state.started:
            return replace(state, started=True, kept=True), "start", "*1: recording starts"
        return state, None, f"*1 ignored in mode {mode}"
    if meaning == "pause":
        if mode in PAUSABLE and state.started and not state.paused:
            return replace(state, paused=True), "pause", "*2: recording paused (silence)"
        return state, None, f"*2 ignored in mode {mode}"
    if meaning == "resume":
        if mode in PAUSABLE and state.started and state.paused:
            return replace(state, paused=False), "resume", "*3: recording resumed"
        return state, None, f"*3 ignored in mode {mode}"
    if mode == "on-demand-start" and state.started:
        return replace(state, stopped=True, paused=False), "stop", "*4: recording stopped"
    return state, None, f"*4 ignored in mode {mode}"


def feed_digit(pending: bool, digit: str) -> tuple[bool, str | None]:
    """DTMF arrives one digit at a time: ``*`` opens a code, the next digit is the code.
    Returns (a ``*`` is pending, the completed code digit or None)."""
    if digit == CODE_PREFIX:
        return True, None
    if pending:
        return False, digit
    return False, None
