"""Recording index use cases (REC-3): teams, search, labels, favourites and share links.

Who may hear what is decided in one place, :func:`~esl_controller.domain.recording_teams.
may_listen`; every use case here asks it before reading or changing anything, and a refusal
is recorded as a ``RecordingAccessRefused`` event (then reported as one line).

Share links: ``share`` makes a 256-bit token (``secrets.token_urlsafe``), stores only its
SHA-256 in a ``RecordingShare`` and prints ``BASE/play/TOKEN``. :func:`play_wsgi` serves
``GET /play/TOKEN`` on the controller's HTTP server: on EVERY request the share must exist,
be neither revoked nor expired, its recording neither discarded nor purged, its audio on
disk, and its maker still allowed to hear it; the audio goes out inline
(``Content-Disposition: inline``, never an attachment), with byte ranges for players that
seek. Each request is one event, ``RecordingShareOpened`` or ``RecordingShareRefused`` with
the reason; the token itself is never logged or stored.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy.engine import Connection

from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.recording_notes import (
    TOKEN_PREFIX,
    RecordingAccessRefusal,
    RecordingNote,
    RecordingShare,
    RecordingShareOpening,
    RecordingShareRefusal,
    token_hash,
)
from esl_controller.domain.recording_teams import (
    ROLES,
    RecordingOwner,
    RecordingTeam,
    TeamAccess,
    granting_team,
    may_listen,
)
from esl_controller.domain.recordings import Recording
from esl_controller.errors import NotFoundError, ValidationError
from projections import recording_index as index
from projections.directory import EnterpriseView, UserView
from projections.recording_index import IndexedRecording, Query, RecordingIndexProjection
from projections.tracking import Follower, TrackingConflictError

log = logging.getLogger(__name__)

TEAM_NAME_RE = re.compile(r"^[\w][\w .&'-]{0,63}$")
LABEL_RE = re.compile(r"^[\w][\w .&'/-]{0,39}$")
TOKEN_RE = re.compile(r"^" + TOKEN_PREFIX + r"[A-Za-z0-9_-]{43}$")
EXPIRES_RE = re.compile(r"^(\d{1,4})([dh])$")
DEFAULT_EXPIRES = "7d"
MAX_SHARE = timedelta(days=365)
DEFAULT_BASE_URL = "http://127.0.0.1:8085"
CHUNK = 64 * 1024


class AccessRefusedError(ValidationError):
    """The asking user may not hear what they asked for (the attempt is an event)."""


# -- reading the index ------------------------------------------------------------------------
class IndexReader:
    """The recording index brought up to date with the log (the CLI folds what it needs:
    the index has no side effects, so catching up from another process is harmless)."""

    def __init__(self, app: Pbx) -> None:
        self.follower = Follower(app, RecordingIndexProjection())
        for _attempt in range(20):
            try:
                self.follower.catch_up()
                break
            except TrackingConflictError:  # the worker moved it meanwhile: fine, look again
                continue

    def __enter__(self) -> Connection:
        self._conn = self.follower.engine.connect()
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._conn.close()
        self.follower.close()


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _refuse(app: Pbx, ent: EnterpriseView, extension: str, action: str, subject: str,
            reason: str, message: str, now: datetime | None = None) -> AccessRefusedError:
    app.save(RecordingAccessRefusal(ent.id, extension, action, subject, reason, _now(now)))
    log.info("recording access refused: %s %s %s (%s)", extension, action, subject, reason)
    return AccessRefusedError(message)


# -- teams ------------------------------------------------------------------------------------
def _team(app: Pbx, ent: EnterpriseView, name: str) -> RecordingTeam:
    try:
        team: RecordingTeam = app.repository.get(RecordingTeam.create_id(ent.id, name.strip()))
    except AggregateNotFoundError:
        raise NotFoundError(f"no recording team {name.strip()!r} in {ent.name!r}") from None
    return team


def add_team(app: Pbx, enterprise: str | None, name: str) -> RecordingTeam:
    ent = app.enterprise(enterprise)
    name = name.strip()
    if not TEAM_NAME_RE.match(name):
        raise ValidationError(f"invalid team name {name!r}: 1 to 64 letters, digits, . & ' -")
    team_id = RecordingTeam.create_id(ent.id, name)
    try:
        app.repository.get(team_id)
    except AggregateNotFoundError:
        team = RecordingTeam(ent.id, name)
        app.save(team)
        return team
    raise ValidationError(f"recording team {name!r} already exists in {ent.name!r}")


def set_member(app: Pbx, enterprise: str | None, name: str, extension: str,
               role: str) -> tuple[RecordingTeam, UserView]:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}: use {', '.join(ROLES)}")
    ent = app.enterprise(enterprise)
    team = _team(app, ent, name)
    user = app.user(ent.name, extension.strip())
    listener, contributor = role in ("listener", "both"), role in ("contributor", "both")
    if team.members.get(user.id, (None, None, None))[1:] == (listener, contributor):
        return team, user  # already so: nothing to record
    team.set_member(user.id, user.extension, listener, contributor)
    app.save(team)
    return team, user


def remove_member(app: Pbx, enterprise: str | None, name: str,
                  extension: str) -> tuple[RecordingTeam, UserView]:
    ent = app.enterprise(enterprise)
    team = _team(app, ent, name)
    user = app.user(ent.name, extension.strip())
    if user.id not in team.members:
        raise ValidationError(f"{user.extension} is not a member of recording team {team.name!r}")
    team.remove_member(user.id)
    app.save(team)
    return team, user


def team(app: Pbx, enterprise: str | None, name: str) -> RecordingTeam:
    return _team(app, app.enterprise(enterprise), name)


def teams(app: Pbx, enterprise: str | None) -> list[TeamAccess]:
    ent = app.enterprise(enterprise)
    with IndexReader(app) as conn:
        return index.teams(conn, ent.id)


# -- dates and filters ------------------------------------------------------------------------
def parse_moment(text: str, option: str, zone: ZoneInfo, end: bool) -> datetime:
    """``YYYY-MM-DD`` (the whole day: its start, or with ``end`` the next day's start) or
    ``YYYY-MM-DDTHH:MM[:SS]`` in the enterprise's time zone (or with an offset), as UTC."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), zone).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"invalid {option} {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_range(date_from: str | None, date_to: str | None,
                zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    since = parse_moment(date_from, "--from", zone, end=False) if date_from else None
    until = parse_moment(date_to, "--to", zone, end=True) if date_to else None
    if since is not None and until is not None and since >= until:
        raise ValidationError(f"--from {date_from} is after --to {date_to}: reversed range")
    return since, until


def number_forms(text: str, country: str) -> tuple[str, ...]:
    """The forms a searched number may have in the index: as typed, E.164, and its digits
    without leading zeros (matched as the end of the stored number)."""
    raw = text.strip()
    if not raw or not re.fullmatch(r"[+\d][\d ()-]*", raw):
        raise ValidationError(f"invalid --number {text!r}: digits, an extension or +E.164")
    forms = [raw.replace(" ", "")]
    e164 = numbers.try_normalise(raw, country)
    if e164 is not None:
        forms.append(e164)
    digits = re.sub(r"\D", "", raw).lstrip("0")
    if len(digits) >= 6:
        forms.append(digits)
    return tuple(dict.fromkeys(forms))


# -- search -----------------------------------------------------------------------------------
def audible_owners(user: UserView, team_list: Iterable[TeamAccess]) -> set[UUID]:
    """Whose recordings ``user`` may hear: their own and their listener teams' contributors
    (exactly the owners for which :func:`may_listen` says yes)."""
    team_list = list(team_list)
    owners = {user.id}
    for t in team_list:
        if user.id in t.listeners:
            owners |= t.contributors
    return {o for o in owners if may_listen(user.id, RecordingOwner(user.enterprise_id, o),
                                            team_list)}


def search(app: Pbx, enterprise: str | None, as_ext: str, user: str | None = None,
           team_name: str | None = None, number: str | None = None,
           date_from: str | None = None, date_to: str | None = None,
           min_seconds: float | None = None, max_seconds: float | None = None,
           label: str | None = None, favourites: bool = False,
           limit: int = 100) -> list[IndexedRecording]:
    """What ``as_ext`` may hear, filtered. Asking for someone they may not hear is refused
    (and recorded); bad filters are refused before anything is read."""
    ent = app.enterprise(enterprise)
    asker = app.user(ent.name, as_ext.strip())
    try:
        since, until = parse_range(date_from, date_to, ZoneInfo(ent.timezone))
    except ValidationError as exc:
        log.info("recording search by %s refused: %s", asker.extension, exc)
        raise
    if min_seconds is not None and min_seconds < 0:
        raise ValidationError("--min-seconds cannot be negative")
    if min_seconds is not None and max_seconds is not None and min_seconds > max_seconds:
        raise ValidationError(f"--min-seconds {min_seconds:g} is above --max-seconds "
                              f"{max_seconds:g}: reversed range")
    forms = number_forms(number, ent.country) if number is not None else ()
    if number is not None:  # privacy: an outsider's number is sealed, found by person hash
        forms += personal.search_forms(app, number, ent.country)
    if label is not None:
        label = _check_label(label)
    owner = app.user(ent.name, user.strip()) if user is not None else None
    with IndexReader(app) as conn:
        team_list = index.teams(conn, ent.id)
        owners = audible_owners(asker, team_list)
        if owner is not None and owner.id not in owners:
            raise _refuse(app, ent, asker.extension, "search", f"user {owner.extension}",
                          "not-a-listener",
                          f"{asker.extension} may not hear the recordings of {owner.extension}:"
                          " no recording team makes them a listener of that user")
        if team_name is not None:
            chosen = [t for t in team_list if t.name.casefold() == team_name.strip().casefold()]
            if not chosen:
                raise NotFoundError(f"no recording team {team_name.strip()!r} in {ent.name!r}")
            t = chosen[0]
            if asker.id in t.listeners:
                owners &= set(t.contributors)
            elif asker.id in t.contributors:
                owners = {asker.id}
            else:
                raise _refuse(app, ent, asker.extension, "search", f"team {t.name}",
                              "not-in-team",
                              f"{asker.extension} is not a member of recording team {t.name!r}")
        found = index.search(conn, asker.id, Query(
            owners={str(o) for o in owners},
            user_id=None if owner is None else str(owner.id), numbers=forms, since=since,
            until=until, min_seconds=min_seconds, max_seconds=max_seconds, label=label,
            favourites=favourites, limit=limit))
    # Belt and braces: the one access rule, checked on each row read.
    return [personal.opened(app, r) for r in found if may_listen(
        asker.id, RecordingOwner(UUID(r.enterprise_id), UUID(r.user_id)), team_list)]


# -- one recording ----------------------------------------------------------------------------
def _check_label(label: str) -> str:
    label = label.strip()
    if not LABEL_RE.match(label):
        raise ValidationError(f"invalid label {label!r}: 1 to 40 letters, digits, . & ' / -")
    return label


@dataclass(frozen=True)
class Heard:
    """A recording the asker may hear, and the team that lets them (None: their own)."""

    asker: UserView
    recording: Recording
    team: TeamAccess | None


def _recording_for(app: Pbx, ent: EnterpriseView, as_ext: str, ref: str, action: str,
                   now: datetime | None = None) -> Heard:
    asker = app.user(ent.name, as_ext.strip())
    ref = ref.strip().lower()
    if not re.fullmatch(r"[0-9a-f-]{4,36}", ref):
        raise ValidationError(f"invalid recording id {ref!r}: use the id search shows")
    with IndexReader(app) as conn:
        ids = index.recordings_with_prefix(conn, ent.id, ref)
        team_list = index.teams(conn, ent.id)
    if not ids:
        raise NotFoundError(f"no recording {ref} in {ent.name!r}")
    if len(ids) > 1:
        raise ValidationError(f"recording id {ref} is ambiguous: give more characters")
    recording: Recording = app.repository.get(UUID(ids[0]))
    owner = RecordingOwner(recording.enterprise_id, recording.user_id)
    if not may_listen(asker.id, owner, team_list):
        raise _refuse(app, ent, asker.extension, action, f"recording {ids[0]}",
                      "not-a-listener",
                      f"{asker.extension} may not hear recording {ref} of {recording.extension}",
                      now)
    return Heard(asker, recording, granting_team(asker.id, owner, team_list))


def _note(app: Pbx, heard: Heard) -> RecordingNote:
    note_id = RecordingNote.create_id(heard.recording.id, heard.asker.id)
    try:
        note: RecordingNote = app.repository.get(note_id)
    except AggregateNotFoundError:
        note = RecordingNote(heard.recording.id, heard.asker.id, heard.asker.extension)
    return note


def label(app: Pbx, enterprise: str | None, as_ext: str, ref: str, text: str,
          remove: bool = False, now: datetime | None = None) -> RecordingNote:
    """Add (or with ``remove`` take off) one of ``as_ext``'s own labels on a recording."""
    ent = app.enterprise(enterprise)
    text = _check_label(text)
    heard = _recording_for(app, ent, as_ext, ref, "unlabel" if remove else "label", now)
    note = _note(app, heard)
    if remove:
        if text not in note.labels:
            raise ValidationError(f"recording {ref} has no label {text!r} of yours")
        note.unlabel(text, _now(now))
    elif text not in note.labels:
        note.label(text, _now(now))
    app.save(note)
    return note


def favourite(app: Pbx, enterprise: str | None, as_ext: str, ref: str, remove: bool = False,
              now: datetime | None = None) -> RecordingNote:
    ent = app.enterprise(enterprise)
    heard = _recording_for(app, ent, as_ext, ref, "unfavourite" if remove else "favourite",
                           now)
    note = _note(app, heard)
    if remove and note.favourite:
        note.unmark_favourite(_now(now))
    elif not remove and not note.favourite:
        note.mark_favourite(_now(now))
    app.save(note)
    return note


# -- sharing ----------------------------------------------------------------------------------
def parse_expires(text: str) -> timedelta:
    found = EXPIRES_RE.match(text.strip())
    if found is None:
        raise ValidationError(f"invalid --expires {text!r}: use e.g. 7d or 12h")
    amount, unit = int(found.group(1)), found.group(2)
    span = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    if span <= timedelta(0) or span > MAX_SHARE:
        raise ValidationError(f"--expires {text} is out of range: 1h to 365d")
    return span


def share(app: Pbx, enterprise: str | None, as_ext: str, ref: str,
          expires: str = DEFAULT_EXPIRES, now: datetime | None = None
          ) -> tuple[str, RecordingShare]:
    """A new playback link: (the token, shown this once; the share)."""
    ent = app.enterprise(enterprise)
    span = parse_expires(expires)
    heard = _recording_for(app, ent, as_ext, ref, "share", now)
    rec = heard.recording
    if rec.purged:
        raise ValidationError(f"recording {ref} was purged: its audio is gone")
    if rec.kept is False:
        raise ValidationError(f"recording {ref} was discarded")
    at = _now(now)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = token_hash(token)
    team_id = None if heard.team is None else RecordingTeam.create_id(ent.id, heard.team.name)
    link = RecordingShare(rec.id, ent.id, heard.asker.id, heard.asker.extension, team_id,
                          digest, at + span, at)
    app.save(link)
    return token, link


def unshare(app: Pbx, enterprise: str | None, as_ext: str, ref: str,
            now: datetime | None = None) -> RecordingShare:
    """Revoke a share (by the id ``share`` printed): its link stops working at once. The
    sharer or the recording's owner may."""
    ent = app.enterprise(enterprise)
    asker = app.user(ent.name, as_ext.strip())
    ref = ref.strip().lower()
    if not re.fullmatch(r"[0-9a-f-]{4,36}", ref):
        raise ValidationError(f"invalid share id {ref!r}: use the id share printed")
    with IndexReader(app) as conn:
        rows = index.shares_with_prefix(conn, ent.id, ref)
    if not rows:
        raise NotFoundError(f"no share {ref} in {ent.name!r}")
    if len(rows) > 1:
        raise ValidationError(f"share id {ref} is ambiguous: give more characters")
    link: RecordingShare = app.repository.get(UUID(rows[0].share_id))
    recording: Recording = app.repository.get(link.recording_id)
    if asker.id not in (link.by_user_id, recording.user_id):
        raise _refuse(app, ent, asker.extension, "unshare", f"share {link.id}", "not-sharer",
                      f"{asker.extension} neither made share {ref} nor owns its recording", now)
    if link.revoked:
        raise ValidationError(f"share {ref} is already revoked")
    link.revoke(asker.extension, _now(now))
    app.save(link)
    return link


def link_of(token: str, base_url: str) -> str:
    return base_url.rstrip("/") + "/play/" + token


# -- playback over HTTP -----------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    status: str
    message: str
    reason: str


REFUSALS = {
    "unknown-token": Refusal("403 Forbidden", "this link is not valid", "unknown-token"),
    "revoked": Refusal("410 Gone", "this link was revoked", "revoked"),
    "expired": Refusal("410 Gone", "this link has expired", "expired"),
    "purged": Refusal("410 Gone", "this recording was deleted", "purged"),
    "discarded": Refusal("410 Gone", "this recording was discarded", "discarded"),
    "no-audio": Refusal("410 Gone", "the audio of this recording is not available", "no-audio"),
    "access-withdrawn": Refusal("403 Forbidden", "the maker of this link may no longer hear "
                                "this recording", "access-withdrawn"),
    "recording": Refusal("409 Conflict", "this recording is still in progress", "recording"),
}


@dataclass(frozen=True)
class Granted:
    share: RecordingShare
    path: Path
    size: int


def check_share(app: Pbx, token: str, now: datetime) -> Granted | Refusal:
    """Everything a play request must pass, in order; nothing is written here."""
    if not TOKEN_RE.match(token):
        return REFUSALS["unknown-token"]
    try:
        link: RecordingShare = app.repository.get(RecordingShare.create_id(token_hash(token)))
    except AggregateNotFoundError:
        return REFUSALS["unknown-token"]
    if not secrets.compare_digest(link.token_hash, token_hash(token)):
        return REFUSALS["unknown-token"]
    if link.revoked:
        return REFUSALS["revoked"]
    if now >= link.expires:
        return REFUSALS["expired"]
    recording: Recording = app.repository.get(link.recording_id)
    if recording.purged:
        return REFUSALS["purged"]
    if recording.kept is False:
        return REFUSALS["discarded"]
    if recording.stopped_at is None:
        return REFUSALS["recording"]
    if link.team_id is not None:
        try:
            granting: RecordingTeam = app.repository.get(link.team_id)
            still = may_listen(link.by_user_id,
                               RecordingOwner(recording.enterprise_id, recording.user_id),
                               [granting.access()])
        except AggregateNotFoundError:
            still = False
        if not still:
            return REFUSALS["access-withdrawn"]
    path = Path(recording.path)
    try:
        size = path.stat().st_size if path.is_file() else -1
    except OSError:
        size = -1
    if size < 0:
        return REFUSALS["no-audio"]
    return Granted(link, path, size)


class UnsatisfiableRangeError(ValueError):
    """The asked byte range lies outside the file."""


def parse_byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``Range: bytes=A-B`` -> (first, last) inclusive; None: no (usable) range, serve it
    all; UnsatisfiableRangeError: outside the file."""
    found = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if found is None or (not found.group(1) and not found.group(2)):
        return None
    first_text, last_text = found.groups()
    if not first_text:  # the last N bytes
        length = int(last_text)
        if length == 0:
            raise UnsatisfiableRangeError(header)
        return max(size - length, 0), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise UnsatisfiableRangeError(header)
    return first, min(last, size - 1)


def _stream(path: Path, first: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as audio:
        audio.seek(first)
        left = length
        while left > 0:
            chunk = audio.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def play_wsgi(app: Pbx, environ: dict[str, Any], start_response: Callable[..., Any],
              now: datetime | None = None) -> Iterable[bytes]:
    """``GET /play/TOKEN``: the recording inline, or a one-line refusal; one event each."""
    path = environ.get("PATH_INFO", "")
    token = path[len("/play/"):] if path.startswith("/play/") else ""
    remote = str(environ.get("REMOTE_ADDR", ""))
    if environ.get("REQUEST_METHOD", "GET") != "GET":
        return _text(start_response, "405 Method Not Allowed", "use GET")
    at = _now(now)
    outcome = check_share(app, token, at)
    if isinstance(outcome, Refusal):
        share_id = recording_id = None
        if outcome.reason != "unknown-token":
            link: RecordingShare = app.repository.get(RecordingShare.create_id(token_hash(token)))
            share_id, recording_id = link.id, link.recording_id
        app.save(RecordingShareRefusal(share_id, recording_id, outcome.reason, remote, at))
        log.info("recording share refused (%s) for %s", outcome.reason, remote or "?")
        return _text(start_response, outcome.status, outcome.message)
    try:
        wanted = parse_byte_range(environ.get("HTTP_RANGE", ""), outcome.size)
    except UnsatisfiableRangeError:
        app.save(RecordingShareRefusal(outcome.share.id, outcome.share.recording_id,
                                       "bad-range", remote, at))
        start_response("416 Range Not Satisfiable", [
            ("Content-Range", f"bytes */{outcome.size}"), ("Content-Length", "0")])
        return [b""]
    first, last = (0, outcome.size - 1) if wanted is None else wanted
    length = last - first + 1 if outcome.size else 0
    app.save(RecordingShareOpening(outcome.share.id, outcome.share.recording_id, remote,
                                   "" if wanted is None else f"{first}-{last}", at))
    headers = [
        ("Content-Type", "audio/wav"),
        ("Content-Disposition", "inline"),
        ("Content-Length", str(length)),
        ("Accept-Ranges", "bytes"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]
    if wanted is None:
        start_response("200 OK", headers)
    else:
        headers.append(("Content-Range", f"bytes {first}-{last}/{outcome.size}"))
        start_response("206 Partial Content", headers)
    return _stream(outcome.path, first, length)


def _text(start_response: Callable[..., Any], status: str, message: str) -> list[bytes]:
    body = (message + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    return [body]


def base_url_default() -> str:
    return os.environ.get("PBX_PUBLIC_URL", DEFAULT_BASE_URL)
