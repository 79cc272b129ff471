"""Voicemail (USR-7): leaving a message, and the portal where the owner listens to them.

Pure scripts, like every feature: they never read files or clocks. The voicemail service
(``esl_controller.voicemail``) is asked through ``Command("voicemail", ...)``; it answers
with a ``CommandResult`` whose value is ``key=value;key=value`` text.
"""

from __future__ import annotations

from collections.abc import Generator

from esl_controller.routing.actions import (
    Action,
    Answer,
    CollectDigits,
    Command,
    Hangup,
    Playback,
    Record,
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext
from esl_controller.routing.incoming import IncomingCall
from esl_controller.routing.outcomes import CommandResult, Digits, Outcome, Recorded
from esl_controller.routing.script import Script
from esl_controller.routing.trace import Trace
from projections.directory import EnterpriseView, UserView

SERVICE = "voicemail"
MAX_MESSAGE_SECONDS = 300
SILENCE_SECONDS = 5
PIN_TRIES = 3
# FreeSWITCH's stock sounds (relative to sound_prefix) and built-in tone streams.
BEEP = "tone_stream://%(500,0,1000)"
GREETING_UNAVAILABLE = "voicemail/vm-not_available.wav"
GREETING_BUSY = "voicemail/vm-person.wav"
MAILBOX_FULL = "voicemail/vm-mailbox_full.wav"
ENTER_PIN = "voicemail/vm-enter_pass.wav"
WRONG_PIN = "voicemail/vm-fail_auth.wav"
LOCKED = "voicemail/vm-abort.wav"
NO_MAILBOX = "voicemail/vm-no_mailbox.wav"
MAIN_MENU = "voicemail/vm-main_menu.wav"
MESSAGE_MENU = "voicemail/vm-message_menu.wav"
NO_MORE_MESSAGES = "voicemail/vm-no_more_messages.wav"
ENTER_EXTENSION = "voicemail/vm-enter_id.wav"
DONE = "voicemail/vm-goodbye.wav"
SAVED = "voicemail/vm-saved.wav"
DELETED = "voicemail/vm-deleted.wav"
FORWARDED = "voicemail/vm-forwarded.wav"
RECORD_GREETING = "voicemail/vm-record_greeting.wav"

ServiceScript = Generator[Action, Outcome, bool]


def parse_value(value: str) -> dict[str, str]:
    """``a=1;b=x`` -> {"a": "1", "b": "x"}."""
    pairs = (part.partition("=") for part in value.split(";") if part)
    return {key: val for key, _, val in pairs}


def _ask(name: str, args: tuple[tuple[str, str], ...]) -> Generator[Action, Outcome, CommandResult]:
    outcome = yield Command(SERVICE, name, args)
    return outcome if isinstance(outcome, CommandResult) else CommandResult(False, "no answer")


def _box(enterprise_id: str, extension: str) -> tuple[tuple[str, str], ...]:
    return (("enterprise", enterprise_id), ("extension", extension))


def leave_message(call: IncomingCall, reason: str) -> ServiceScript:
    """The caller hears the greeting and leaves a message; False when there is no box.

    ``reason`` is "busy", "no-answer" or "not-reachable" (which greeting plays).
    """
    ext = call.user.extension
    box = _box(str(call.enterprise.id), ext)
    status = yield from _ask("status", (*box, ("reason", reason)))
    if not status.ok:
        call.trace.add("voicemail", "no mailbox", f"{ext} has no voicemail box")
        return False
    info = parse_value(status.value)
    greeting = info.get("greeting") or (GREETING_BUSY if reason == "busy" else GREETING_UNAVAILABLE)
    kind = "personal" if info.get("greeting") else "standard"
    yield from take_message(
        box, info, ext, call.trace, call.presented_number, call.presented_name, greeting,
        (f"{reason} greeting", f"{ext} is {reason.replace('-', ' ')}: caller hears the {kind} "
                               "greeting"))
    return True


def take_message(
    box: tuple[tuple[str, str], ...], info: dict[str, str], owner: str, trace: Trace,
    caller: str, caller_name: str, greeting: str, greeting_step: tuple[str, str],
) -> Generator[Action, Outcome, None]:
    """Answer, play ``greeting`` and a beep, record, deposit, hang up: the part a user's box
    and a group box (routing/group_voicemail.py) share. ``info`` is the box's status;
    ``owner`` names the box in the trace."""
    seconds_left = int(info.get("seconds_left", "0") or 0)
    yield Answer()
    if seconds_left < 1:
        trace.add("voicemail", "mailbox full",
                  f"the voicemail box of {owner} is full: the caller hears so, nothing recorded")
        yield Playback(MAILBOX_FULL)
        yield Hangup(HangupCause.NORMAL_CLEARING)
        return
    trace.add("voicemail", *greeting_step)
    yield Playback(greeting)
    yield Playback(BEEP)
    limit = min(MAX_MESSAGE_SECONDS, seconds_left)
    path = info.get("record_to", "")
    recorded = yield Record(path, limit, SILENCE_SECONDS)
    seconds = recorded.seconds if isinstance(recorded, Recorded) else 0.0
    if seconds <= 0:
        trace.add("voicemail", "nothing recorded", "the caller left no message")
    else:
        deposit = yield from _ask("deposit", (
            *box, ("path", path), ("seconds", f"{seconds:.3f}"),
            ("caller", caller), ("caller_name", caller_name),
        ))
        if deposit.ok:
            trace.classification.outcome = "voicemail"
            trace.add("voicemail", "message left",
                      f"a message of {seconds:.0f} s was left for {owner} (at most {limit} s)")
        else:
            trace.add("voicemail", "message not kept",
                      f"the message for {owner} was not kept: {deposit.value}")
    yield Hangup(HangupCause.NORMAL_CLEARING)


def _digits(prompt: str, low: int, high: int, timeout: int = 5, terminators: str = "",
            tries: int = 1) -> Generator[Action, Outcome, str]:
    outcome = yield CollectDigits(prompt, low, high, timeout, terminators, tries)
    return outcome.value if isinstance(outcome, Digits) else ""


def portal(ctx: CallContext, enterprise: EnterpriseView, user: UserView, trace: Trace) -> Script:
    """The owner's voicemail portal: PIN, then messages and greetings."""
    box = _box(str(enterprise.id), user.extension)
    yield Answer()
    status = yield from _ask("status", (*box, ("reason", "portal")))
    info = parse_value(status.value)
    if not status.ok or info.get("locked") == "1":
        why = "no voicemail box" if not status.ok else "locked after wrong PINs"
        trace.add("voicemail portal", "refused", f"{user.extension} has {why}")
        yield Playback(NO_MAILBOX if not status.ok else LOCKED)
        yield Hangup(HangupCause.NORMAL_CLEARING)
        return
    if not (yield from _login(box, user.extension, trace)):
        yield Hangup(HangupCause.NORMAL_CLEARING)
        return
    folder = info.get("folder", "")
    while True:
        choice = yield from _digits(MAIN_MENU, 1, 1, tries=3)
        if choice == "1":
            yield from _messages(box, trace)
        elif choice in ("5", "6") and folder:
            kind = "unavailable" if choice == "5" else "busy"
            yield from _greeting(box, folder, kind, trace)
        else:
            break
    trace.add("voicemail portal", "done", f"{user.extension} left the voicemail portal")
    yield Playback(DONE)
    yield Hangup(HangupCause.NORMAL_CLEARING)


def _login(box: tuple[tuple[str, str], ...], ext: str, trace: Trace) -> ServiceScript:
    for attempt in range(1, PIN_TRIES + 1):
        pin = yield from _digits(ENTER_PIN, 4, 8, timeout=10, terminators="#")
        checked = yield from _ask("check_pin", (*box, ("pin", pin)))
        if checked.ok:
            trace.add("voicemail portal", "PIN accepted", f"{ext} logged in to voicemail")
            return True
        if checked.value == "locked" or attempt == PIN_TRIES:
            trace.add("voicemail portal", "locked",
                      f"wrong PIN for {ext} {attempt} times: the box is locked for a while")
            yield Playback(LOCKED)
            return False
        trace.add("voicemail portal", "wrong PIN", f"wrong PIN for {ext} (try {attempt})")
        yield Playback(WRONG_PIN)
    return False  # pragma: no cover


def _messages(box: tuple[tuple[str, str], ...], trace: Trace) -> Generator[Action, Outcome, None]:
    listing = yield from _ask("list", box)
    entries = [e.split("|") for e in listing.value.split(",") if e] if listing.ok else []
    for entry in entries:
        message_id, path = entry[0], entry[-1]
        while True:
            yield Playback(path)
            choice = yield from _digits(MESSAGE_MENU, 1, 1)
            if choice == "1":
                continue
            if choice in ("2", "7"):
                name = "save" if choice == "2" else "delete"
                yield from _ask(name, (*box, ("message", message_id)))
                trace.add("voicemail portal", f"message {name}d", f"message {message_id} {name}d")
                yield Playback(SAVED if choice == "2" else DELETED)
            elif choice == "8":
                to = yield from _digits(ENTER_EXTENSION, 2, 6, timeout=10, terminators="#")
                sent = yield from _ask("forward", (*box, ("message", message_id), ("to", to)))
                result = "forwarded" if sent.ok else f"not forwarded ({sent.value})"
                trace.add("voicemail portal", "forward", f"message {message_id} to {to}: {result}")
                yield Playback(FORWARDED if sent.ok else WRONG_PIN)
            break
    yield Playback(NO_MORE_MESSAGES)


def _greeting(box: tuple[tuple[str, str], ...], folder: str, kind: str, trace: Trace
              ) -> Generator[Action, Outcome, None]:
    yield Playback(RECORD_GREETING)
    yield Playback(BEEP)
    path = f"{folder}/greeting-{kind}.wav"
    recorded = yield Record(path, 60, SILENCE_SECONDS)
    seconds = recorded.seconds if isinstance(recorded, Recorded) else 0.0
    if seconds > 0:
        yield from _ask("greeting", (*box, ("kind", kind), ("path", path),
                                     ("seconds", f"{seconds:.3f}")))
        trace.add("voicemail portal", f"{kind} greeting", f"new {kind} greeting recorded")
