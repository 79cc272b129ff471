"""``record`` and ``play_and_get_digits`` on the simulated channel.

The caller's DTMF digits are the ones the CallSpec schedules (``dtmf=[(t, digit)]``, seconds
after connect, scaled); each is consumed once, by whichever app is collecting when (or after)
it arrives. ``record`` writes a real WAV file (8 kHz, 16-bit, mono, a 440 Hz tone) as long
as the caller talks: until the time limit, a ``#``/``*``, or the caller hanging up.
"""

from __future__ import annotations

import math
import struct
import time
import uuid
import wave
import weakref
from typing import TYPE_CHECKING

from .events import event_frame  # the event app (REC-1: the called party's codes)

if TYPE_CHECKING:
    from .events import Leg
    from .session import OutboundSession

__all__ = ["play_and_get_digits", "record", "rxfax"]

RATE = 8000
TONE_HZ = 440
RECORD_TERMINATORS = "#*"
POLL = 0.002  # how often a waiting app looks for a newly arrived digit (wall clock)
_consumed: weakref.WeakKeyDictionary[OutboundSession, int] = weakref.WeakKeyDictionary()


def _arrivals(sess: OutboundSession) -> list[tuple[float, str]]:
    """(perf_counter time, digit) of the scheduled digits not consumed yet, in order."""
    start = sess.call.connected_at or time.perf_counter()
    schedule = sorted(sess.spec.dtmf, key=lambda item: item[0])
    taken = _consumed.get(sess, 0)
    return [(start + sess.scaled(at), digit) for at, digit in schedule[taken:]]


def _next_digit(sess: OutboundSession, deadline: float) -> str | None:
    """Wait until a digit arrives (consume it) or ``deadline``/hangup (None)."""
    while True:
        pending = _arrivals(sess)
        now = time.perf_counter()
        if pending and pending[0][0] <= now:
            _consumed[sess] = _consumed.get(sess, 0) + 1
            return pending[0][1]
        if now >= deadline:
            return None
        until = min(deadline, pending[0][0]) if pending else deadline
        if sess.hangup_evt.wait(max(POLL, until - now)):
            return None


def record(sess: OutboundSession, arg: str) -> None:
    """``record PATH [LIMIT [THRESH [HITS]]]``: sets record_seconds / record_ms / samples."""
    parts = arg.split()
    path = parts[0] if parts else ""
    limit = float(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 3600.0
    began = time.perf_counter()
    deadline = began + sess.scaled(limit)
    if sess.spec.hangup_into_recording is not None:
        sess.spawn_later(sess.spec.hangup_into_recording, sess.hangup, "NORMAL_CLEARING",
                         "caller")
    talk = sess.spec.talk_into_recording
    if talk is not None:  # speaks, then #: timed from this recording's start
        deadline = min(deadline, began + sess.scaled(talk))
        sess.hangup_evt.wait(max(0.0, deadline - time.perf_counter()))
    while talk is None:
        digit = _next_digit(sess, deadline)
        if digit is None or digit in RECORD_TERMINATORS:
            break
    elapsed = time.perf_counter() - began
    seconds = min(limit, elapsed / sess.scale if sess.scale > 0 else limit)
    samples = int(seconds * RATE)
    try:
        _write_wav(path, samples)
    except OSError:
        samples = 0
    sess.chan.variables.update({
        "record_samples": str(samples),
        "record_ms": str(samples * 1000 // RATE),
        "record_seconds": str(samples // RATE),
    })


def _write_wav(path: str, samples: int) -> None:
    frame = [struct.pack("<h", int(8000 * math.sin(2 * math.pi * TONE_HZ * i / RATE)))
             for i in range(RATE // TONE_HZ * 10)]
    period = b"".join(frame)
    per = len(frame)
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        whole, rest = divmod(samples, per)
        out.writeframes(period * whole + period[: rest * 2])


def play_and_get_digits(sess: OutboundSession, arg: str) -> str:
    """``min max tries timeout terminators prompt invalid var regex digit_timeout``."""
    parts = arg.split()
    if len(parts) < 8:
        return "_none_"
    low, high, tries, timeout_ms = (int(p) for p in parts[:4])
    terminators = "" if parts[4] == "none" else parts[4]
    var = parts[7]
    digit_timeout = float(parts[9]) / 1000 if len(parts) > 9 else timeout_ms / 1000
    sess.chan.variables.pop(var, None)
    for _ in range(max(1, tries)):
        if sess.hangup_evt.wait(sess.scaled(0.05)):  # the prompt
            return "_none_"
        collected = ""
        deadline = time.perf_counter() + sess.scaled(timeout_ms / 1000)
        while len(collected) < high:
            digit = _next_digit(sess, deadline)
            if digit is None:
                break
            if digit in terminators:
                break
            collected += digit
            deadline = time.perf_counter() + sess.scaled(digit_timeout)
        if low <= len(collected) <= high:
            sess.chan.variables[var] = collected
            return "FILE PLAYED"
        if sess.hangup_evt.is_set():
            return "_none_"
    return "FILE PLAYED"


# -- rxfax (mod_spandsp, OPT-3) ---------------------------------------------------------------
FAX_PAGE_SECONDS = 10.0  # simulated seconds one page takes (scaled)
FAX_T0_SECONDS = 60.0  # T.30's T0: no fax machine answered within this
FAX_SENDER_HANGUP_SECONDS = 1.0  # the sending machine hangs up after its last page
FAX_WIDTH, FAX_LINES = 1728, 1143  # an A4 page at standard resolution (204 x 98 dpi)


def rxfax(sess: OutboundSession, arg: str) -> str:
    """``rxfax PATH``: the caller's machine sends ``CallSpec.fax_pages`` pages (a human
    caller: none) into a REAL multi-page TIFF (CCITT group 4, 204 x 98 dpi) and the channel
    gets the variables mod_spandsp's phase E handler sets. ``fax_fail_after`` breaks the
    line after that many pages: ``fax_success`` 0, code 49, the pages so far in the file."""
    path = arg.strip()
    pages, fail_after = sess.spec.fax_pages, sess.spec.fax_fail_after
    received = 0
    if pages <= 0:
        timed_out = not sess.hangup_evt.wait(sess.scaled(FAX_T0_SECONDS))
        code, text = ((2, "Timed out waiting for initial communication") if timed_out
                      else (49, "The call dropped prematurely"))
    else:
        for _ in range(pages):
            if fail_after is not None and received >= fail_after:
                sess.hangup("NORMAL_CLEARING", "caller")  # the line breaks
                break
            if sess.hangup_evt.wait(sess.scaled(FAX_PAGE_SECONDS)):
                break
            received += 1
        code, text = (0, "OK") if received == pages else (49, "The call dropped prematurely")
        if received == pages:
            sess.spawn_later(FAX_SENDER_HANGUP_SECONDS, sess.hangup, "NORMAL_CLEARING", "caller")
    if received:
        _write_tiff(path, received, sess.spec.caller)
    sess.chan.variables.update({
        "fax_success": "1" if code == 0 else "0",
        "fax_result_code": str(code),
        "fax_result_text": text,
        "fax_ecm_used": "on" if received else "off",
        "fax_local_station_id": "SpanDSP Fax Ident",
        "fax_remote_station_id": sess.spec.caller if received else "",
        "fax_document_transferred_pages": str(received),
        "fax_document_total_pages": str(received),
        "fax_image_resolution": "8031x3850" if received else "0x0",  # pixels per metre
        "fax_image_size": str(received * FAX_WIDTH * FAX_LINES // 8),
        "fax_bad_rows": "0",
        "fax_transfer_rate": "14400",
        "fax_filename": path,
    })
    return "_none_"


def _write_tiff(path: str, pages: int, sender: str) -> None:
    from PIL import Image, ImageDraw

    images = []
    for number in range(1, pages + 1):
        page = Image.new("1", (FAX_WIDTH, FAX_LINES), 1)
        draw = ImageDraw.Draw(page)
        draw.rectangle((40, 40, FAX_WIDTH - 40, FAX_LINES - 40), outline=0, width=3)
        draw.text((120, 120), f"fax from {sender}: page {number} of {pages}", fill=0)
        images.append(page)
    try:
        images[0].save(path, save_all=True, append_images=images[1:], compression="group4",
                       dpi=(204, 98))
    except OSError:
        pass  # an unwritable path: FreeSWITCH would leave no file either


# -- record_session / uuid_record (call recording, REC-1) -------------------------------------
class SessionRecording:
    """One media bug recording the channel (both legs mixed) into a WAV file.

    Real time is kept: the file is as long as the recording ran in simulated seconds
    (wall clock / time_scale), capped at its limit; masked stretches are silence, the
    rest the talking tone. The file is written when the recording stops: ``stop``,
    the limit, or the hang-up (FreeSWITCH closes media bugs when the channel hangs up).
    """

    def __init__(self, path: str, began: float, limit: float | None) -> None:
        self.path = path
        self.began = began
        self.limit = limit
        self.masks: list[list[float | None]] = []  # [from, to] in perf_counter time
        self.stopped = False

    def mask(self, now: float) -> None:
        if not self.masks or self.masks[-1][1] is not None:
            self.masks.append([now, None])

    def unmask(self, now: float) -> None:
        if self.masks and self.masks[-1][1] is None:
            self.masks[-1][1] = now

    def stop(self, sess: OutboundSession) -> None:
        if self.stopped:
            return
        self.stopped = True
        now = time.perf_counter()
        scale = sess.scale if sess.scale > 0 else 1.0
        total = (now - self.began) / scale
        if self.limit is not None:
            total = min(total, self.limit)
        end = self.began + total * scale
        segments: list[tuple[float, bool]] = []  # (seconds, tone?)
        at = self.began
        for start, stop in self.masks:
            start = min(max(start or at, at), end)
            stop = min(stop if stop is not None else end, end)
            if start > at:
                segments.append(((start - at) / scale, True))
            if stop > start:
                segments.append(((stop - start) / scale, False))
            at = max(at, stop)
        if end > at:
            segments.append(((end - at) / scale, True))
        try:
            _write_segments(self.path, segments)
        except OSError:
            return  # an unwritable path: FreeSWITCH would leave no file either
        sess.call.recordings.append(self.path)
        sess.emit("RECORD_STOP", trail=[("Record-File-Path", self.path)])


def _write_segments(path: str, segments: list[tuple[float, bool]]) -> None:
    frame = [struct.pack("<h", int(8000 * math.sin(2 * math.pi * TONE_HZ * i / RATE)))
             for i in range(RATE // TONE_HZ * 10)]
    period = b"".join(frame)
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for seconds, tone in segments:
            samples = int(round(seconds * RATE))
            if tone:
                whole, rest = divmod(samples, len(frame))
                out.writeframes(period * whole + period[: rest * 2])
            else:
                out.writeframes(b"\x00\x00" * samples)


_session_records: weakref.WeakKeyDictionary[OutboundSession, dict[str, SessionRecording]] = (
    weakref.WeakKeyDictionary())


def start_session_record(sess: OutboundSession, path: str, limit: float | None) -> bool:
    """``record_session PATH`` / ``uuid_record UUID start PATH [LIMIT]``."""
    if not path or sess.chan.hangup_cause is not None:
        return False
    records = _session_records.setdefault(sess, {})
    if path in records and not records[path].stopped:
        return False
    record = SessionRecording(path, time.perf_counter(), limit)
    records[path] = record
    sess.emit("RECORD_START", trail=[("Record-File-Path", path)])
    if limit is not None:
        sess.spawn_later(limit, record.stop, sess)
    return True


def session_record(sess: OutboundSession, verb: str, path: str) -> bool:
    """``uuid_record UUID stop|mask|unmask PATH`` (stop ``all`` too)."""
    records = _session_records.get(sess, {})
    if verb == "stop" and path == "all":
        for each in records.values():
            each.stop(sess)
        return True
    record = records.get(path)
    if record is None or record.stopped:
        return False
    now = time.perf_counter()
    if verb == "mask":
        record.mask(now)
    elif verb == "unmask":
        record.unmask(now)
    elif verb == "stop":
        record.stop(sess)
    else:
        return False
    return True


def stop_session_records(sess: OutboundSession) -> None:
    """The channel hangs up: every recording on it is closed."""
    for record in _session_records.get(sess, {}).values():
        record.stop(sess)


# -- bind_meta_app and the event app: the called party's in-call keys (REC-1) ----------------
META_TIMEOUT_SECONDS = 5.0  # meta_on_dtmf: a key more than 5 s after the meta key passes on


class MetaBindings:
    """``switch_ivr_bind_dtmf_meta_session`` on this channel, for keys heard on the B-leg
    (listen-leg ``b``: DTMF the bridged peer sends towards this channel)."""

    def __init__(self, meta: str) -> None:
        self.meta = meta
        self.keys: dict[str, tuple[str, str]] = {}  # key -> (respond-on flags, app[::args])
        self.meta_on = False
        self.last_digit = 0.0


_meta_bindings: weakref.WeakKeyDictionary[OutboundSession, MetaBindings] = (
    weakref.WeakKeyDictionary())


def bind_meta_app(sess: OutboundSession, arg: str) -> None:
    """``bind_meta_app KEY LISTEN_TO FLAGS APPLICATION[::PARAMETERS]`` (mod_dptools): KEY
    0-9 after the meta key (``*``, or the channel's ``bind_meta_key``). Only listen-leg
    ``b`` is simulated (the caller's own keys stay plain DTMF events here); a usage error
    changes nothing, as FreeSWITCH only logs it."""
    parts = (arg or "").split(" ", 3)
    if len(parts) != 4 or len(parts[0]) != 1 or not parts[0].isdigit():
        return
    key, listen, flags, app = parts
    if "b" not in listen:
        return
    meta = (sess.chan.variables.get("bind_meta_key") or "*")[0]
    bindings = _meta_bindings.setdefault(sess, MetaBindings(meta if meta in "0123456789*#"
                                                            else "*"))
    bindings.keys[key] = (flags, app.strip())


def unbind_meta_app(sess: OutboundSession, arg: str) -> None:
    """``unbind_meta_app [KEY]``: that key, or every binding of the channel."""
    bindings = _meta_bindings.get(sess)
    if bindings is None:
        return
    if (arg or "").strip():
        bindings.keys.pop(arg.strip(), None)
    else:
        del _meta_bindings[sess]


def called_party_dtmf(sess: OutboundSession, leg: Leg, digit: str) -> None:
    """The bridged called party presses ``digit``. FreeSWITCH sends it to this channel,
    whose send-DTMF hook (``meta_on_dtmf``) looks for the meta key and a bound KEY: then it
    runs the bound app (``switch_ivr_broadcast``) and the caller does not hear the keys.
    Nothing bound: the keys go on to the caller's phone and no event reaches this socket
    (the B-leg's own DTMF event carries the B-leg's Unique-ID, which ``myevents`` drops)."""
    chan = sess.chan
    if chan.other is not leg or chan.hangup_cause is not None:
        return
    bindings = _meta_bindings.get(sess)
    if bindings is None or not bindings.keys:
        return
    now = time.perf_counter()
    if bindings.meta_on and now - bindings.last_digit > sess.scaled(META_TIMEOUT_SECONDS):
        bindings.meta_on = False
        return  # too late: the key passes on to the caller
    bindings.last_digit = now
    if digit == bindings.meta:
        bindings.meta_on = not bindings.meta_on  # the meta key twice: one passes on
        return
    if not bindings.meta_on:
        return
    bindings.meta_on = False
    bound = bindings.keys.get(digit)
    if bound is None:
        return  # "Ignoring meta digit not mapped": swallowed all the same
    flags, app = bound
    if "1" in flags:
        del bindings.keys[digit]
    # Heard on the B-leg: o and a run the app on this channel, s and b on the B-leg (whose
    # events this socket never sees). Inline (i) or queued, it runs here at once.
    if "o" not in flags and ("s" in flags or "b" in flags):
        return
    from .apps import run_app  # apps imports this module

    name, _, args = app.partition("::")
    run_app(sess, name, args, str(uuid.uuid4()))


def fire_event(sess: OutboundSession, arg: str) -> None:
    """``event HEADER=VALUE[,HEADER=VALUE...]`` (mod_dptools ``event``): fires a
    CHANNEL_APPLICATION event, or the one ``Event-Name`` names (``CUSTOM`` with an
    ``Event-Subclass``), with these headers and the channel's data (its Unique-ID). A
    CUSTOM event reaches the socket only if its subclass was subscribed
    (``event plain CUSTOM SUBCLASS``) or ``event plain ALL``."""
    name, subclass = "CHANNEL_APPLICATION", ""
    pairs: list[tuple[str, str]] = []
    for item in (arg or "").split(","):
        header, sep, value = item.partition("=")
        header, value = header.strip(), value.strip()
        if not sep or not header:
            continue
        if header.lower() == "event-name":
            name = value.upper()
            continue
        if header.lower() == "event-subclass":
            subclass = value
        pairs.append((header, value))
    if name != "CUSTOM":
        sess.emit(name, lead=pairs)
        return
    if sess.closed or not (sess.all_events or (subclass and subclass.upper() in sess.subscribed)):
        return
    sess.call.events.append(name)
    sess.send(event_frame(sess.chan, name, lead=pairs))
