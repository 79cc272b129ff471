"""ESL frame parser (FreeSWITCH -> client), replacing greenswitch's.

A frame is a header block ended by a blank line, then exactly ``Content-Length`` bytes of body
when that header is present. ``text/event-plain`` bodies hold a serialized event whose header
values are URL-encoded: we split lines first and decode each value afterwards (never the other
way round, which would let ``%0A`` in a value forge headers). An inner ``Content-Length`` ends
the event's headers; what follows the blank line is the event body.

The reader never spins: EOF in the middle of a frame raises :class:`ProtocolError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote

MAX_BODY = 16 * 1024 * 1024
MAX_HEADER_BLOCK = 1024 * 1024
_CHUNK = 65536

__all__ = ["MAX_BODY", "MAX_HEADER_BLOCK", "Frame", "FrameReader", "ProtocolError", "url_decode"]


class ProtocolError(Exception):
    """The byte stream is not valid ESL; the connection it came from must be dropped."""


def url_decode(value: str) -> str:
    """Decode one FreeSWITCH-encoded header value (invalid UTF-8 is replaced, not fatal)."""
    if "%" not in value:
        return value
    return unquote(value, errors="replace")


def _parse_event_plain(body: bytes) -> tuple[dict[str, str], str | None]:
    text = body.decode("latin-1")  # lossless; encoded header values are pure ASCII
    end = text.find("\n\n")
    head = text if end < 0 else text[:end]
    rest = "" if end < 0 else text[end + 2 :]
    headers: dict[str, str] = {}
    event_body: str | None = None
    lines = head.split("\n")
    for index, line in enumerate(lines):
        name, sep, value = line.partition(":")
        if not sep:
            continue  # tolerate junk inside an event body; only frame headers are strict
        value = value.lstrip(" ").rstrip("\r")
        if name == "Content-Length":
            # Inner Content-Length ends the headers; the body runs to the end of the frame.
            trailing = "\n".join(lines[index + 1 :])
            raw = (trailing + "\n\n" + rest) if trailing else rest
            length = int(value) if value.isdigit() else len(raw)
            event_body = raw[:length].encode("latin-1").decode("utf-8", errors="replace")
            break
        if name not in headers:
            headers[name] = url_decode(value)
    return headers, event_body


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "ARRAY::" + "|:".join(str(item) for item in value)
    return str(value)


def _parse_event_json(body: bytes) -> tuple[dict[str, str], str | None]:
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ProtocolError(f"invalid text/event-json body: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("text/event-json body is not an object")
    event_body = data.pop("_body", None)
    data.pop("Content-Length", None)
    headers = {str(key): _json_value(value) for key, value in data.items()}
    return headers, None if event_body is None else _json_value(event_body)


@dataclass(eq=True)
class Frame:
    """One frame: outer headers as sent (not URL-decoded) and the raw body."""

    headers: dict[str, str]
    body: bytes = b""
    _parsed: tuple[dict[str, str], str | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        """``Reply-Text`` of a command/reply (FreeSWITCH does not encode it, except for
        the ``connect`` reply, see :attr:`decoded_headers`)."""
        return self.headers.get("Reply-Text", "")

    @cached_property
    def decoded_headers(self) -> dict[str, str]:
        """Outer headers with values URL-decoded (the ``connect`` reply's CHANNEL_DATA)."""
        return {name: url_decode(value) for name, value in self.headers.items()}

    def _event(self) -> tuple[dict[str, str], str | None]:
        if self._parsed is None:
            content_type = self.content_type
            if content_type == "text/event-plain":
                self._parsed = _parse_event_plain(self.body)
            elif content_type == "text/event-json":
                self._parsed = _parse_event_json(self.body)
            else:
                self._parsed = ({}, None)
        return self._parsed

    @property
    def is_event(self) -> bool:
        return self.content_type in ("text/event-plain", "text/event-json")

    @property
    def event(self) -> dict[str, str]:
        """The event's decoded headers (empty for frames that are not events)."""
        return self._event()[0]

    @property
    def event_body(self) -> str | None:
        """The event's own body (BACKGROUND_JOB result, DETECTED_SPEECH ...), if any."""
        return self._event()[1]

    @property
    def text(self) -> str:
        """The body as text (api/response output, disconnect notice message)."""
        return self.body.decode("utf-8", errors="replace")


def _reader_function(source: Any) -> Callable[[int], bytes]:
    if callable(source):
        return source  # type: ignore[no-any-return]
    for name in ("read1", "recv", "read"):
        function = getattr(source, name, None)
        if function is not None:
            return function  # type: ignore[no-any-return]
    raise TypeError(f"cannot read from {source!r}")


def _parse_header_block(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\n"):
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"header line without ':': {line[:80]!r}")
        if name not in headers:
            headers[name] = value.lstrip(" ").rstrip("\r")
    return headers


class FrameReader:
    """Reads frames from a socket, a buffered file, or a ``read(n) -> bytes`` callable.

    The source must return some bytes (at most ``n``) and ``b""`` only at EOF, like
    ``socket.recv`` or ``BufferedReader.read1``.
    """

    def __init__(
        self,
        source: Any,
        max_body: int = MAX_BODY,
        max_header_block: int = MAX_HEADER_BLOCK,
    ) -> None:
        self._read = _reader_function(source)
        self._max_body = max_body
        self._max_header = max_header_block
        self._buf = bytearray()
        self._pos = 0

    def _fill(self) -> bool:
        chunk = self._read(_CHUNK)
        if not chunk:
            return False
        if self._pos > _CHUNK:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += chunk
        return True

    def read(self) -> Frame | None:
        """The next frame; ``None`` on EOF at a frame boundary."""
        buf = self._buf
        # Skip blank lines between frames (FreeSWITCH does not send them; be lenient).
        while True:
            while self._pos < len(buf) and buf[self._pos] in (0x0A, 0x0D):
                self._pos += 1
            if self._pos < len(buf):
                break
            if not self._fill():
                return None
            buf = self._buf
        search_from = self._pos
        while True:
            end = buf.find(b"\n\n", search_from)
            if end >= 0:
                break
            if len(buf) - self._pos > self._max_header:
                raise ProtocolError(f"header block longer than {self._max_header} bytes")
            search_from = max(self._pos, len(buf) - 1)
            start = self._pos
            if not self._fill():
                raise ProtocolError("connection closed in the middle of a frame header")
            search_from -= start - self._pos  # _fill may have compacted the buffer
            buf = self._buf
        if end - self._pos > self._max_header:
            raise ProtocolError(f"header block longer than {self._max_header} bytes")
        headers = _parse_header_block(bytes(buf[self._pos : end]))
        self._pos = end + 2
        length_text = headers.get("Content-Length")
        if length_text is None:
            return Frame(headers)
        length_text = length_text.strip()
        if not length_text.isdigit() or not length_text.isascii():
            raise ProtocolError(f"bad Content-Length {length_text[:40]!r}")
        length = int(length_text)
        if length > self._max_body:
            raise ProtocolError(f"Content-Length {length} exceeds {self._max_body}")
        while len(buf) - self._pos < length:
            start = self._pos
            if not self._fill():
                raise ProtocolError(
                    f"connection closed in the middle of a body ({len(buf) - start}/{length})"
                )
            buf = self._buf
        body = bytes(buf[self._pos : self._pos + length])
        self._pos += length
        return Frame(headers, body)

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame
