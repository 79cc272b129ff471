"""Group voicemail use cases: business voicemail (CORE-4) and department voicemail (OPT-4).

A group box is a voicemail ``Mailbox`` keyed by a group owner id (``Mailbox.group_owner_id``)
rather than a user: the same capacity (60 minutes), retention (2 weeks), recording and
e-mail machinery as a user's box. It is e-mail only: each message goes to one address plus
an optional cc with the audio attached and leaves the box once mailed (kept while the mail
cannot be delivered). In greeting-only mode callers hear the greeting and are then
disconnected or forwarded; nothing is recorded.

Every function validates first and writes nothing on bad input.
"""

from __future__ import annotations

import hashlib
import shutil
import wave
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from esl_controller import licences  # package limits (OPT-6)
from esl_controller.application import EMAIL_RE, NAME_RE, Pbx
from esl_controller.domain import numbers
from esl_controller.domain.mailboxes import (
    DEFAULT_CAPACITY_SECONDS,
    DEFAULT_RETENTION_DAYS,
    Mailbox,
)
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.personal import opened_aggregate  # privacy
from projections.directory import Directory, EnterpriseView
from projections.group_voicemail_fold import GroupVoicemailView

DEFAULT_AUDIO_DIR = "var/audio"
MAX_GREETING_SECONDS = 600
UNCHANGED: Any = object()


def add_group_voicemail(
    app: Pbx, enterprise: str | None, name: str, extension: str, email: str,
    number: str | None = None, cc: str | None = None, greeting: Path | None = None,
    greeting_only: str | None = None, audio_dir: Path = Path(DEFAULT_AUDIO_DIR),
) -> GroupVoicemailView:
    """A new group box (a removed name may be used again; its old messages stay)."""
    ent = app.enterprise(enterprise)
    directory = app.directory()
    name = _valid_name(name)
    if directory.group_voicemail(ent.id, name) is not None:
        raise ValidationError(f"group voicemail {name!r} already exists in {ent.name!r}")
    licences.check_allowed(app, ent.name, "group-voicemail",  # package limits (OPT-6)
                           len(directory.targets_of(ent.id, "group-voicemail")))
    ext = app.check_extension_free(ent, extension)
    e164s = (app.check_number_free(ent, number),) if number is not None else ()
    email, cc = _valid_addresses(email, cc)
    mode = _valid_mode(directory, ent, greeting_only, ext)
    if mode is not None and greeting is None:
        raise ValidationError("greeting-only mode needs a greeting: give --greeting FILE.wav")
    data = _valid_wav(greeting) if greeting is not None else None
    owner = Mailbox.group_owner_id(ent.id, name)
    box: Mailbox
    try:
        box = app.repository.get(Mailbox.create_id(owner))
        box.reenable(email, True, DEFAULT_CAPACITY_SECONDS, DEFAULT_RETENTION_DAYS)
    except AggregateNotFoundError:
        box = Mailbox(owner, ent.id, ext, email, True)
    box.configure_group(ent.id, name, ext, e164s, email, cc, mode)
    if box.keep:
        box.set_delivery(False)  # e-mail only: mailed messages leave the box
    if greeting is not None and data is not None:
        box.record_greeting("unavailable", _store_greeting(greeting, data, audio_dir, box))
    elif box.greetings.get("unavailable"):
        box.record_greeting("unavailable", "")  # added again: not the removed box's greeting
    app.save(box)
    return _view(app, ent, name)


def change_group_voicemail(
    app: Pbx, enterprise: str | None, name: str, email: str | None = None,
    cc: str | None = UNCHANGED, greeting: Path | None = None,
    greeting_only: str | None = UNCHANGED, audio_dir: Path = Path(DEFAULT_AUDIO_DIR),
) -> GroupVoicemailView:
    """New addresses, greeting or mode (``cc``/``greeting_only`` None: none / messages)."""
    ent, found = _find(app, enterprise, name)
    new_email, new_cc = _valid_addresses(
        found.email if email is None else email, found.cc if cc is UNCHANGED else cc)
    mode = (found.greeting_only if greeting_only is UNCHANGED
            else _valid_mode(app.directory(), ent, greeting_only, found.extension))
    box: Mailbox = app.repository.get(found.id)
    data = _valid_wav(greeting) if greeting is not None else None
    if mode is not None and data is None and not box.greetings.get("unavailable"):
        raise ValidationError("greeting-only mode needs a greeting: give --greeting FILE.wav")
    if data is None and (new_email, new_cc, mode) == (found.email, found.cc,
                                                      found.greeting_only):
        raise ValidationError(f"group voicemail {found.name} already has these settings")
    if (new_email, new_cc, mode) != (found.email, found.cc, found.greeting_only):
        box.configure_group(ent.id, found.name, found.extension, found.numbers, new_email,
                            new_cc, mode)
    if greeting is not None and data is not None:
        box.record_greeting("unavailable", _store_greeting(greeting, data, audio_dir, box))
    app.save(box)
    return _view(app, ent, found.name)


def remove_group_voicemail(app: Pbx, enterprise: str | None, name: str) -> GroupVoicemailView:
    """Its extension and number are free again; messages not yet mailed stay until expiry."""
    _, found = _find(app, enterprise, name)
    box: Mailbox = app.repository.get(found.id)
    box.remove_group()
    app.save(box)
    return found


def list_group_voicemails(app: Pbx, enterprise: str | None) -> list[GroupVoicemailView]:
    return app.directory().group_voicemails_of(app.enterprise(enterprise).id)


def get_group_voicemail(app: Pbx, enterprise: str | None, name: str
                        ) -> tuple[GroupVoicemailView, Mailbox]:
    """The box as routing sees it, and the aggregate (greeting, messages not yet mailed;
    callers' sealed numbers opened)."""
    _, found = _find(app, enterprise, name)
    box: Mailbox = app.repository.get(found.id)
    return found, opened_aggregate(app, box)


# -- validation -------------------------------------------------------------------------------
def _find(app: Pbx, enterprise: str | None, name: str
          ) -> tuple[EnterpriseView, GroupVoicemailView]:
    ent = app.enterprise(enterprise)
    found = app.directory().group_voicemail(ent.id, name)
    if found is None:
        raise NotFoundError(f"no group voicemail {name.strip()!r} in {ent.name!r}")
    return ent, found


def _view(app: Pbx, ent: EnterpriseView, name: str) -> GroupVoicemailView:
    found = app.directory().group_voicemail(ent.id, name)
    assert found is not None
    return found


def _valid_name(name: str) -> str:
    name = name.strip()
    if not NAME_RE.match(name):
        raise ValidationError(f"invalid group voicemail name {name!r}: 1 to 64 letters, digits, "
                              "spaces or .&'-")
    return name


def _valid_addresses(email: str, cc: str | None) -> tuple[str, str | None]:
    email = email.strip()
    cc = cc.strip() if cc else None
    for address in (email, cc):
        if address is not None and not EMAIL_RE.match(address):
            raise ValidationError(f"invalid e-mail address: {address!r}")
    if cc is not None and cc.lower() == email.lower():
        raise ValidationError("the cc address is the same as the e-mail address")
    return email, cc


def _valid_mode(directory: Directory, ent: EnterpriseView, mode: str | None,
                own_extension: str) -> str | None:
    """None (messages), ``hangup`` or ``forward:DEST`` with a destination that exists."""
    if mode is None or mode.strip().lower() in ("", "off", "messages"):
        return None
    mode = mode.strip()
    if mode.lower() == "hangup":
        return "hangup"
    kind, _, dest = mode.partition(":")
    dest = dest.strip()
    if kind.lower() != "forward" or not dest:
        raise ValidationError(f"invalid greeting-only mode {mode!r}: use hangup or "
                              "forward:DEST")
    if dest == own_extension:
        raise ValidationError(f"greeting-only forward to {dest}: that is this box itself")
    return f"forward:{_valid_destination(directory, ent, dest)}"


def _valid_destination(directory: Directory, ent: EnterpriseView, dest: str) -> str:
    """What ``targets.reach`` understands: ``EXT`` (user or target), ``vm:EXT``, a number."""
    if dest.startswith("vm:"):
        if directory.user(ent.id, dest[3:]) is None:
            raise NotFoundError(f"forward to {dest}: no user with extension {dest[3:]!r}")
        return dest
    if directory.user(ent.id, dest) is not None or directory.target(ent.id, dest) is not None:
        return dest
    if ent.in_plan(dest):
        raise NotFoundError(f"forward to {dest}: no user or target has extension {dest!r} "
                            f"in {ent.name!r}")
    e164 = numbers.try_normalise(dest, ent.country)
    if e164 is None:
        raise ValidationError(f"forward to {dest!r}: no extension, vm:EXT or telephone number")
    return e164


def _valid_wav(path: Path) -> bytes:
    """The file's bytes, if it is a readable WAV file holding at most 10 minutes of audio."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        with wave.open(str(path), "rb") as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError) as exc:
        raise ValidationError(f"{path.name} is not a WAV file ({exc})") from None
    if frames == 0 or rate == 0:
        raise ValidationError(f"{path.name} holds no audio")
    if frames / rate > MAX_GREETING_SECONDS:
        raise ValidationError(f"{path.name} is {frames / rate:.0f} s long: a greeting may last "
                              f"at most {MAX_GREETING_SECONDS} s")
    return data


def _store_greeting(source: Path, data: bytes, audio_dir: Path, box: Mailbox) -> str:
    """Copy the greeting where FreeSWITCH plays it from; named by content, never overwritten."""
    folder = (audio_dir / "group-voicemail" / str(box.enterprise_id)).absolute()
    target = folder / f"{box.id}-{hashlib.sha256(data).hexdigest()[:16]}.wav"
    folder.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        partial = target.with_suffix(".part")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return str(target)
