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
import wave
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    while True:
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
