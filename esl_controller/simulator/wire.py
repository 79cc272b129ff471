"""Low-level ESL wire helpers: FreeSWITCH URL encoding and a generic frame reader.

The encoder mirrors ``switch_url_encode_opt(..., double_encode=FALSE)`` from
``src/switch_utils.c``; the reader mirrors libesl's ``esl_recv_event``: split a header block
into lines, split each at the first ``:``, and read ``Content-Length`` bytes of body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote_to_bytes

__all__ = [
    "Command",
    "CommandReader",
    "Frame",
    "FrameReader",
    "parse_event_body",
    "parse_headers",
    "url_decode",
    "url_encode",
]

# Bytes FreeSWITCH encodes: < 0x20, > 0x7e and the "urlunsafe" set; a '%' is kept as-is when
# followed by two upper-case hex digits (double_encode = FALSE).
_UNSAFE = re.compile(rb'%(?![0-9A-F]{2})|[\x00-\x1f\x7f-\xff \r\n#&+:;<=>?@\[\\\]^`{|}"]')


def _pct(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group(0)[0]


@lru_cache(maxsize=16384)
def url_encode(value: str | bytes) -> str:
    """Encode one header value exactly as FreeSWITCH does when serializing an event.

    Memoized: the same values (uuids, channel names, constants) recur in every event of a call.
    """
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return _UNSAFE.sub(_pct, raw).decode("ascii")


def url_decode(value: str) -> str:
    """Decode a %XX-encoded header value (bytes that are not UTF-8 become U+FFFD)."""
    if "%" not in value:
        return value
    return unquote_to_bytes(value).decode("utf-8", "replace")


def parse_headers(block: bytes) -> list[tuple[str, str]]:
    """Split a header block (without the blank line) into ``(name, raw value)`` pairs."""
    headers: list[tuple[str, str]] = []
    for line in block.decode("utf-8", "replace").split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.lstrip(" ")))
    return headers


@dataclass
class Frame:
    """One FreeSWITCH->client frame: outer header block plus optional body."""

    headers: list[tuple[str, str]]
    body: bytes = b""
    raw: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of header ``name`` (raw, not URL-decoded)."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    @property
    def content_type(self) -> str | None:
        """The frame's Content-Type header (header blocks like the connect reply have one too)."""
        return self.get("Content-Type")

    def event(self) -> tuple[list[tuple[str, str]], bytes]:
        """Parse a ``text/event-plain`` body into decoded headers and inner body."""
        return parse_event_body(self.body)


def parse_event_body(body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """Parse a serialized plain event: URL-decoded headers and the inner body (if any)."""
    end = body.find(b"\n\n")
    block, rest = (body, b"") if end < 0 else (body[:end], body[end + 2 :])
    headers = [(name, url_decode(value)) for name, value in parse_headers(block)]
    inner = b""
    for name, value in headers:
        if name == "Content-Length":
            inner = rest[: int(value)]
    return headers, inner


@dataclass
class FrameReader:
    """Incremental parser for the FreeSWITCH->client byte stream."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return every complete frame now available."""
        self.buffer.extend(data)
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> Frame | None:
        buf = self.buffer
        while buf[:1] in (b"\n", b"\r"):  # leading blank lines are skipped
            del buf[:1]
        end = buf.find(b"\n\n")
        if end < 0:
            return None
        headers = parse_headers(bytes(buf[:end]))
        length = 0
        for name, value in headers:
            if name == "Content-Length":
                length = int(value)
        total = end + 2 + length
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        body = raw[end + 2 :]
        del buf[:total]
        return Frame(headers=headers, body=body, raw=raw)


@dataclass
class Command:
    """One client->FreeSWITCH packet: command line, headers and optional body."""

    line: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class CommandReader:
    """Incremental parser for client->FreeSWITCH packets (``read_packet`` semantics)."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Command]:
        """Add received bytes and return every complete command."""
        self.buffer.extend(data.replace(b"\r", b""))
        commands: list[Command] = []
        while True:
            buf = self.buffer
            while buf[:1] == b"\n":
                del buf[:1]
            end = buf.find(b"\n\n")
            if end < 0:
                return commands
            lines = bytes(buf[:end]).decode("utf-8", "replace").split("\n")
            headers = dict(parse_headers("\n".join(lines[1:]).encode()))
            length = int(headers.get("Content-Length", headers.get("content-length", "0")) or 0)
            total = end + 2 + length
            if len(buf) < total:
                return commands
            body = bytes(buf[end + 2 : total])
            del buf[:total]
            commands.append(Command(line=lines[0].strip(), headers=headers, body=body))
