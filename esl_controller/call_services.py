"""Configuring the call services (issue 4 item 5): pickup groups, park slots, conference
rooms, music on hold, ringback and barge-in exemption. Validate first, then record events:
nothing is written on bad input.
"""

from __future__ import annotations

import os
import re
import wave
from pathlib import Path

from eventsourcing.application import AggregateNotFoundError

from esl_controller.application import Pbx, parse_extension_plan
from esl_controller.domain.call_services import (
    DEFAULT_PARK_RECALL,
    MAX_CONFERENCE_MEMBERS,
    CallServiceChoices,
    ConferenceRoom,
    InstantGroup,
    InterceptGroup,
    ParkLot,
    PickupGroup,
)
from esl_controller.domain.numbers import try_normalise
from esl_controller.domain.secrets import hash_secret
from esl_controller.errors import NotFoundError, ValidationError
from projections.call_services_fold import (
    ChoicesView,
    ConferenceRoomView,
    InstantGroupView,
    InterceptGroupView,
    ParkLotView,
    PickupGroupView,
    slot_id,
)
from projections.directory import EnterpriseView

GROUP_NAME_RE = re.compile(r"^[\w][\w .&'-]{0,63}$")
PIN_RE = re.compile(r"^\d{4,8}$")
MAX_SLOTS = 100
RECALL_RANGE = (10, 3600)
STREAM_RE = re.compile(r"^(local_stream://[\w.-]{1,64}|tone_stream://[%(),;.=\w -]{1,200}"
                       r"|silence_stream://-?\d{1,6})$")
TONE_RE = re.compile(r"^%\(\d+,\d+(,\d+(\.\d+)?){1,3}\)$")  # ringback tone: %(on,off,f1[,f2])
WAV_RATES = (8000, 16000, 32000, 48000)


class CallServices:
    def __init__(self, app: Pbx) -> None:
        self.app = app

    def _enterprise(self, name: str | None) -> EnterpriseView:
        return self.app.enterprise(name)

    def _members(self, ent: EnterpriseView, members: list[str]) -> tuple[str, ...]:
        directory = self.app.directory()
        cleaned = tuple(dict.fromkeys(m.strip() for m in members if m.strip()))
        if not cleaned:
            raise ValidationError("name at least one member extension")
        unknown = [m for m in cleaned if directory.user(ent.id, m) is None]
        if unknown:
            raise ValidationError(f"unknown member extension(s) in {ent.name!r}: "
                                  f"{', '.join(unknown)}")
        return cleaned

    # -- pickup groups (USR-13) ------------------------------------------------------------
    def add_pickup_group(self, enterprise: str | None, name: str,
                         members: list[str]) -> PickupGroupView:
        ent = self._enterprise(enterprise)
        name = name.strip()
        if not GROUP_NAME_RE.match(name):
            raise ValidationError(f"invalid pickup group name: {name!r}")
        cleaned = self._members(ent, members)
        directory = self.app.directory()
        gid = PickupGroup.create_id(ent.id, name)
        if gid in directory.pickup_groups:
            raise ValidationError(f"pickup group {name!r} already exists")
        for member in cleaned:
            other = directory.pickup_group_of(ent.id, member)
            if other is not None:
                raise ValidationError(f"{member} is already in pickup group {other.name!r}")
        try:
            group: PickupGroup = self.app.repository.get(gid)
            group.reinstate(name, cleaned)
        except AggregateNotFoundError:
            group = PickupGroup(ent.id, name, cleaned)
        self.app.save(group)
        return self.app.directory().pickup_groups[gid]

    def pickup_group(self, enterprise: str | None, name: str) -> PickupGroupView:
        ent = self._enterprise(enterprise)
        found = self.app.directory().pickup_groups.get(PickupGroup.create_id(ent.id, name))
        if found is None:
            raise NotFoundError(f"no pickup group {name!r} in {ent.name!r}")
        return found

    def remove_pickup_group(self, enterprise: str | None, name: str) -> PickupGroupView:
        found = self.pickup_group(enterprise, name)
        group: PickupGroup = self.app.repository.get(found.id)
        group.remove()
        self.app.save(group)
        return found

    def pickup_groups(self, enterprise: str | None) -> list[PickupGroupView]:
        return self.app.directory().pickup_groups_of(self._enterprise(enterprise).id)

    # -- park slots (USR-14) ---------------------------------------------------------------
    def set_park_slots(self, enterprise: str | None, slots: str,
                       recall_seconds: int = DEFAULT_PARK_RECALL) -> ParkLotView:
        ent = self._enterprise(enterprise)
        try:
            low, high = parse_extension_plan(slots)
        except ValidationError:
            raise ValidationError(f"invalid park slots {slots!r}: use LOW-HIGH, e.g. 700-709"
                                  ) from None
        if high - low + 1 > MAX_SLOTS:
            raise ValidationError(f"at most {MAX_SLOTS} park slots")
        if not RECALL_RANGE[0] <= recall_seconds <= RECALL_RANGE[1]:
            raise ValidationError(f"the recall time is {RECALL_RANGE[0]} to {RECALL_RANGE[1]} "
                                  "seconds")
        lid = ParkLot.create_id(ent.id)
        directory = self.app.directory()
        existing = directory.park_lots.get(lid)
        for number in range(low, high + 1):
            slot = str(number)
            target = directory.target(ent.id, slot)
            if target is not None and existing is not None and target.id == slot_id(lid, slot):
                continue  # already one of the lot's slots
            self.app.check_extension_free(ent, slot)
        try:
            lot: ParkLot = self.app.repository.get(lid)
            lot.change(low, high, recall_seconds)
        except AggregateNotFoundError:
            lot = ParkLot(ent.id, low, high, recall_seconds)
        self.app.save(lot)
        return self.app.directory().park_lots[lid]

    def park_lot(self, enterprise: str | None) -> ParkLotView:
        ent = self._enterprise(enterprise)
        found = self.app.directory().park_lot(ent.id)
        if found is None:
            raise NotFoundError(f"{ent.name!r} has no park slots: add them with 'pbx park add'")
        return found

    def remove_park_slots(self, enterprise: str | None) -> ParkLotView:
        found = self.park_lot(enterprise)
        lot: ParkLot = self.app.repository.get(found.id)
        lot.remove()
        self.app.save(lot)
        return found

    # -- conference rooms (USR-11) ---------------------------------------------------------
    def add_conference(self, enterprise: str | None, name: str, extension: str,
                       pin: str | None = None,
                       max_members: int = MAX_CONFERENCE_MEMBERS) -> ConferenceRoomView:
        ent = self._enterprise(enterprise)
        name = name.strip()
        if not GROUP_NAME_RE.match(name):
            raise ValidationError(f"invalid conference room name: {name!r}")
        if not 2 <= max_members <= MAX_CONFERENCE_MEMBERS:
            raise ValidationError(f"a conference room holds 2 to {MAX_CONFERENCE_MEMBERS} "
                                  "callers (the user plus up to 15 others)")
        if pin is not None and not PIN_RE.match(pin):
            raise ValidationError("a conference PIN is 4 to 8 digits")
        rid = ConferenceRoom.create_id(ent.id, name)
        if rid in self.app.directory().conference_rooms:
            raise ValidationError(f"conference room {name!r} already exists")
        extension = self.app.check_extension_free(ent, extension)
        pin_hash = hash_secret(pin, os.urandom(16)) if pin else None
        try:
            room: ConferenceRoom = self.app.repository.get(rid)
            room.reinstate(extension, pin_hash, max_members)
        except AggregateNotFoundError:
            room = ConferenceRoom(ent.id, name, extension, pin_hash, max_members)
        self.app.save(room)
        return self.app.directory().conference_rooms[rid]

    def conference(self, enterprise: str | None, name: str) -> ConferenceRoomView:
        ent = self._enterprise(enterprise)
        found = self.app.directory().conference_rooms.get(ConferenceRoom.create_id(ent.id, name))
        if found is None:
            raise NotFoundError(f"no conference room {name!r} in {ent.name!r}")
        return found

    def remove_conference(self, enterprise: str | None, name: str) -> ConferenceRoomView:
        found = self.conference(enterprise, name)
        room: ConferenceRoom = self.app.repository.get(found.id)
        room.remove()
        self.app.save(room)
        return found

    def conferences(self, enterprise: str | None) -> list[ConferenceRoomView]:
        return self.app.directory().conference_rooms_of(self._enterprise(enterprise).id)

    # -- instant groups ----------------------------------------------------------------------
    def add_instant_group(self, enterprise: str | None, name: str, extension: str,
                          members: list[str]) -> InstantGroupView:
        ent = self._enterprise(enterprise)
        name = name.strip()
        if not GROUP_NAME_RE.match(name):
            raise ValidationError(f"invalid instant group name: {name!r}")
        cleaned = self._members(ent, members)
        if len(cleaned) > MAX_CONFERENCE_MEMBERS - 1:
            raise ValidationError(f"an instant group calls at most {MAX_CONFERENCE_MEMBERS - 1} "
                                  "members (the conference holds 16 with the caller)")
        gid = InstantGroup.create_id(ent.id, name)
        if gid in self.app.directory().instant_groups:
            raise ValidationError(f"instant group {name!r} already exists")
        extension = self.app.check_extension_free(ent, extension)
        try:
            group: InstantGroup = self.app.repository.get(gid)
            group.reinstate(extension, cleaned)
        except AggregateNotFoundError:
            group = InstantGroup(ent.id, name, extension, cleaned)
        self.app.save(group)
        return self.app.directory().instant_groups[gid]

    def remove_instant_group(self, enterprise: str | None, name: str) -> InstantGroupView:
        ent = self._enterprise(enterprise)
        found = self.app.directory().instant_groups.get(InstantGroup.create_id(ent.id, name))
        if found is None:
            raise NotFoundError(f"no instant group {name!r} in {ent.name!r}")
        group: InstantGroup = self.app.repository.get(found.id)
        group.remove()
        self.app.save(group)
        return found

    def instant_groups(self, enterprise: str | None) -> list[InstantGroupView]:
        return self.app.directory().instant_groups_of(self._enterprise(enterprise).id)

    # -- intercept groups --------------------------------------------------------------------
    def add_intercept_group(self, enterprise: str | None, name: str, members: list[str],
                            destination: str) -> InterceptGroupView:
        """Intercept calls to ``members`` (users or targets; none: the whole enterprise)."""
        ent = self._enterprise(enterprise)
        name = name.strip()
        if not GROUP_NAME_RE.match(name):
            raise ValidationError(f"invalid intercept group name: {name!r}")
        directory = self.app.directory()
        cleaned = tuple(dict.fromkeys(m.strip() for m in members if m.strip()))
        unknown = [m for m in cleaned if directory.user(ent.id, m) is None
                   and directory.target(ent.id, m) is None]
        if unknown:
            raise ValidationError(f"unknown member extension(s) in {ent.name!r}: "
                                  f"{', '.join(unknown)}")
        destination = destination.strip()
        internal = destination.removeprefix("vm:")
        if destination == "announcement":
            pass
        elif destination.startswith("vm:"):
            if directory.user(ent.id, internal) is None:
                raise ValidationError(f"{destination}: no user {internal} to take messages")
        elif directory.user(ent.id, destination) or directory.target(ent.id, destination):
            if not cleaned or destination in cleaned:
                raise ValidationError(f"{destination} is intercepted itself: calls would loop")
        elif try_normalise(destination, ent.country) is None:
            raise ValidationError(f"{destination!r} is no extension, vm:EXT, number or "
                                  "'announcement'")
        gid = InterceptGroup.create_id(ent.id, name)
        if gid in directory.intercept_groups:
            raise ValidationError(f"intercept group {name!r} already exists")
        try:
            group: InterceptGroup = self.app.repository.get(gid)
            group.reinstate(name, cleaned, destination)
        except AggregateNotFoundError:
            group = InterceptGroup(ent.id, name, cleaned, destination)
        self.app.save(group)
        return self.app.directory().intercept_groups[gid]

    def intercept_group(self, enterprise: str | None, name: str) -> InterceptGroupView:
        ent = self._enterprise(enterprise)
        found = self.app.directory().intercept_groups.get(InterceptGroup.create_id(ent.id, name))
        if found is None:
            raise NotFoundError(f"no intercept group {name!r} in {ent.name!r}")
        return found

    def switch_intercept_group(self, enterprise: str | None, name: str,
                               on: bool) -> InterceptGroupView:
        found = self.intercept_group(enterprise, name)
        group: InterceptGroup = self.app.repository.get(found.id)
        group.switch(on)
        self.app.save(group)
        return self.app.directory().intercept_groups[found.id]

    def remove_intercept_group(self, enterprise: str | None, name: str) -> InterceptGroupView:
        found = self.intercept_group(enterprise, name)
        group: InterceptGroup = self.app.repository.get(found.id)
        group.remove()
        self.app.save(group)
        return found

    def intercept_groups(self, enterprise: str | None) -> list[InterceptGroupView]:
        return self.app.directory().intercept_groups_of(self._enterprise(enterprise).id)

    # -- music on hold, ringback, barge-in exemption ---------------------------------------
    def _choices(self, ent: EnterpriseView, extension: str | None,
                 groups: bool = False) -> CallServiceChoices:
        directory = self.app.directory()
        if extension is not None and directory.user(ent.id, extension) is None:
            target = directory.target(ent.id, extension) if groups else None
            if target is None:
                what = "user or group" if groups else "user"
                raise NotFoundError(f"no {what} with extension {extension} in {ent.name!r}")
        cid = CallServiceChoices.create_id(ent.id, extension)
        try:
            found: CallServiceChoices = self.app.repository.get(cid)
            return found
        except AggregateNotFoundError:
            return CallServiceChoices(ent.id, extension)

    def set_hold_music(self, enterprise: str | None, extension: str | None,
                       media: str | None) -> ChoicesView:
        ent = self._enterprise(enterprise)
        checked = None if media is None else check_media(media)
        choices = self._choices(ent, extension, groups=True)
        choices.choose_hold_music(checked)
        self.app.save(choices)
        return self._view(ent, extension)

    def set_ringback(self, enterprise: str | None, extension: str | None,
                     media: str | None) -> ChoicesView:
        ent = self._enterprise(enterprise)
        checked = None if media is None else check_media(media, tones=True)
        choices = self._choices(ent, extension, groups=True)
        choices.choose_ringback(checked)
        self.app.save(choices)
        return self._view(ent, extension)

    def set_barge_in_exempt(self, enterprise: str | None, extension: str,
                            on: bool) -> ChoicesView:
        ent = self._enterprise(enterprise)
        choices = self._choices(ent, extension)
        choices.set_barge_in_exempt(on)
        self.app.save(choices)
        return self._view(ent, extension)

    def set_barge_in_tone(self, enterprise: str | None, on: bool) -> ChoicesView:
        ent = self._enterprise(enterprise)
        choices = self._choices(ent, None)
        choices.set_barge_in_tone(on)
        self.app.save(choices)
        return self._view(ent, None)

    def _view(self, ent: EnterpriseView, extension: str | None) -> ChoicesView:
        found = self.app.directory().choices_of(ent.id, extension)
        assert found is not None
        return found

    def choices(self, enterprise: str | None) -> list[ChoicesView]:
        ent = self._enterprise(enterprise)
        found = [c for c in self.app.directory().choices.values() if c.enterprise_id == ent.id]
        return sorted(found, key=lambda c: (c.extension is not None, c.extension or ""))


def check_media(media: str, tones: bool = False) -> str:
    """A FreeSWITCH stream, a ringback tone (``%(2000,4000,440,480)``) or a WAV file that
    FreeSWITCH can play (PCM, mono or stereo, 16 bit, 8/16/32/48 kHz); absolute path."""
    media = media.strip()
    if STREAM_RE.match(media) or (tones and TONE_RE.match(media)):
        return media
    if "://" in media:
        raise ValidationError(f"unsupported stream {media!r}: use local_stream://NAME, "
                              "tone_stream://... or a .wav file")
    path = Path(media)
    if path.suffix.lower() != ".wav":
        raise ValidationError(f"{media!r} is no .wav file, local_stream:// or tone_stream://")
    if not path.is_file():
        raise ValidationError(f"no such audio file: {media}")
    try:
        with wave.open(str(path), "rb") as audio:
            channels, width, rate = (audio.getnchannels(), audio.getsampwidth(),
                                     audio.getframerate())
            frames = audio.getnframes()
    except (wave.Error, EOFError) as exc:
        raise ValidationError(f"{media} is not a valid WAV file: {exc}") from None
    if channels not in (1, 2) or width != 2 or rate not in WAV_RATES:
        raise ValidationError(f"{media}: use 16-bit PCM, mono or stereo, at 8, 16, 32 or 48 kHz "
                              f"(this is {width * 8}-bit, {channels} channel(s), {rate} Hz)")
    if frames == 0:
        raise ValidationError(f"{media} holds no audio")
    return str(path.resolve())
