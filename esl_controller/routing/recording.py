"""Call recording decisions (REC-1, REC-2), pure: no clocks, no stores, no sockets.

The call session asks :func:`at_bridge` what to do for each party of a bridged call and
:func:`on_code` what an in-call code means; it carries the answer out over ESL
(``uuid_record`` start / mask / unmask) and records the events.

In-call codes are DTMF the recorded user presses on their phone: ``*1`` keep (on demand)
or start (on demand with user start), ``*2`` pause, ``*3`` resume, ``*4`` stop (on demand
with user start). A code that does not fit the mode is ignored (and traced).

Each party has its own recorder state and its own codes. The caller's keys are DTMF events
of the A-leg (the channel of the controller's outbound socket, :func:`feed_digit`). The
called party's keys are DTMF on the B-leg, which ``myevents`` never delivers (the socket is
locked to the A-leg's Unique-ID). FreeSWITCH's way to hear them is ``bind_meta_app`` on the
A-leg with listen-leg ``b`` (mod_dptools; ``switch_ivr_bind_dtmf_meta_session``): while
bridged, the B-leg's DTMF passes through the A-leg's send-DTMF hook, where the meta key
``*`` followed by KEY runs the bound application instead of passing the keys on (the
caller does not hear them). :func:`meta_app_arg` binds KEY to the ``event`` application
with flags ``ai``: executed on the A-leg (``a``, so the event carries the A-leg's
Unique-ID and passes the ``myevents`` lock), inline (``i``: at once, without holding the
B-leg while a queued app runs). The ``event`` app fires a CUSTOM event of subclass
:data:`CALLED_CODE_SUBCLASS` with the code and the party; the session subscribes to it
(``event plain CUSTOM pbx::incall``) and :func:`code_of_event` reads it back. Only the
codes the possible called parties' modes use are bound (:func:`codes_to_bind`): a key
nobody needs stays an ordinary DTMF the caller hears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from esl_controller.domain.recordings import MODES, RETENTION_CLASSES

__all__ = ["CODES", "Start", "RecorderState", "at_bridge", "cap_seconds", "on_code",
           "feed_digit", "CALLED_CODE_SUBCLASS", "codes_of", "codes_to_bind", "meta_app_arg",
           "code_of_event"]

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


# -- the called party's codes: bind_meta_app on the A-leg, a CUSTOM event back ---------------
CALLED_CODE_SUBCLASS = "pbx::incall"
CALLED_PARTY = "bleg"
MODE_CODES = {  # the code digits each mode gives a meaning (on_code)
    "always": (),
    "always-pause": ("2", "3"),
    "on-demand": ("1",),
    "on-demand-start": ("1", "2", "3", "4"),
    "never": (),
}


def codes_of(mode: str) -> tuple[str, ...]:
    """The code digits a user recorded in ``mode`` can use (``*`` + digit)."""
    if mode not in MODE_CODES:
        raise ValueError(f"unknown recording mode {mode!r}")
    return MODE_CODES[mode]


def codes_to_bind(modes: Iterable[str], bound: Iterable[str] = ()) -> tuple[str, ...]:
    """The code digits to bind on the A-leg before ringing called parties whose modes are
    ``modes``, leaving out those ``bound`` already (a binding lasts as long as the leg)."""
    wanted = {code for mode in modes for code in codes_of(mode)}
    return tuple(sorted(wanted - set(bound)))


def meta_app_arg(code: str) -> str:
    """The ``bind_meta_app`` argument for code digit ``code`` heard on the B-leg:
    ``KEY b ai event::Event-Name=CUSTOM,Event-Subclass=pbx::incall,...``."""
    if code not in CODES:
        raise ValueError(f"no in-call code *{code}")
    return (f"{code} b ai event::Event-Name=CUSTOM,Event-Subclass={CALLED_CODE_SUBCLASS},"
            f"Pbx-Code={code},Pbx-Party={CALLED_PARTY}")


def code_of_event(headers: Mapping[str, str]) -> str | None:
    """The called party's code digit in an event the bound meta app fired (None: another
    event, or a code that is not one)."""
    if headers.get("Event-Subclass") != CALLED_CODE_SUBCLASS:
        return None
    if headers.get("Pbx-Party") != CALLED_PARTY:
        return None
    code = headers.get("Pbx-Code", "")
    return code if code in CODES else None
