"""The eventsourcing Application: every configuration change and call step is an event here.

Use-case methods validate first (against the directory read model), then create or change
aggregates and save them: nothing is written when validation fails.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from typing import Any, cast
from uuid import UUID

import gevent.lock
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import Notification

from esl_controller.domain import numbers
from esl_controller.domain.calls import Call
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.secrets import hash_secret, sip_a1_hash
from esl_controller.domain.users import DEFAULT_NO_ANSWER_SECONDS, User
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.store import application_env, resolve_url
from projections.directory import TOPICS as DIRECTORY_TOPICS
from projections.directory import Directory, EnterpriseView, UserView

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_RE = re.compile(r"^[\w][\w .&'-]{0,63}$")
PIN_RE = re.compile(r"^\d{4,8}$")
READ_BATCH = 1000
_CATCH_UP = gevent.lock.RLock()  # greenlets folding into a directory take turns


class Pbx(Application[UUID]):
    """The exchange's one event log (table ``pbx_events``)."""

    name = "pbx"

    def __init__(self, db_url: str | None = None, env: dict[str, str] | None = None) -> None:
        url = resolve_url(db_url)
        self.db_url = url
        merged = application_env(url)
        merged.update(env or {})
        super().__init__(env=merged)
        self._directory: Directory | None = None

    # -- reading the log -----------------------------------------------------------------
    def notifications(
        self,
        after: int = 0,
        limit: int = READ_BATCH,
        topics: Sequence[str] = (),
        stop: int | None = None,
    ) -> Sequence[Notification]:
        return self.recorder.select_notifications(
            start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
        )

    def events_after(
        self, after: int = 0, topics: Sequence[str] = (), stop: int | None = None
    ) -> Iterator[tuple[int, DomainEvent]]:
        """(notification id, event) for every event after ``after`` (up to ``stop``)."""
        while True:
            batch = self.notifications(after, READ_BATCH, topics, stop)
            if not batch:
                return
            for n in batch:
                yield n.id, cast(DomainEvent, self.mapper.to_domain_event(n))
            after = batch[-1].id
            if stop is not None and after >= stop:
                return  # the last one asked for: no query to learn that nothing follows

    def last_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def directory(self) -> Directory:
        """The directory read model, brought up to date with the log."""
        if self._directory is None:
            self._directory = Directory()
        self.catch_up(self._directory)
        return self._directory

    def catch_up(self, directory: Directory) -> int:
        """Fold configuration events after ``directory.position``; returns how many.

        The position advances to the end of the log read, not just to the last
        configuration event, so the next look does not scan the calls' events again.
        """
        with _CATCH_UP:  # one fold at a time: the follower and services (hunt) both call it
            top = self.last_position()
            if top <= directory.position:
                return 0
            count = 0
            for _position, event in self.events_after(directory.position, DIRECTORY_TOPICS,
                                                      top):
                directory.apply(event)
                count += 1
            directory.position = top
            return count

    # -- enterprises ---------------------------------------------------------------------
    def enterprise(self, name: str | None) -> EnterpriseView:
        """The enterprise called ``name``; with None, the only one there is."""
        directory = self.directory()
        if name is None:
            found = list(directory.enterprises.values())
            if len(found) == 1:
                return found[0]
            if not found:
                raise NotFoundError("no enterprise exists yet: add one with 'pbx enterprise add'")
            raise ValidationError("several enterprises exist: name one with -e/--enterprise")
        ent = directory.enterprise_named(name)
        if ent is None:
            raise NotFoundError(f"unknown enterprise: {name!r}")
        return ent

    def create_enterprise(
        self,
        name: str,
        domain: str,
        timezone: str = "Europe/Amsterdam",
        country: str = "NL",
        extensions: str = "100-999",
    ) -> EnterpriseView:
        name = name.strip()
        domain = domain.strip().lower()
        if not NAME_RE.match(name):
            raise ValidationError(f"invalid enterprise name: {name!r}")
        if not DOMAIN_RE.match(domain):
            raise ValidationError(f"invalid SIP domain: {domain!r}")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone: {timezone!r}") from None
        country = country.upper()
        if not re.fullmatch(r"[A-Z]{2}", country) or not numbers.is_known_region(country):
            raise ValidationError(f"unknown country code: {country!r}")
        low, high = parse_extension_plan(extensions)
        directory = self.directory()
        if directory.enterprise_named(name) is not None:
            raise ValidationError(f"enterprise already exists: {name!r}")
        if directory.enterprise_for_domain(domain) is not None:
            raise ValidationError(f"SIP domain already in use: {domain!r}")
        enterprise = Enterprise(name, domain, timezone, country, low, high)
        self.save(enterprise)
        return self.enterprise(name)

    def assign_number(self, enterprise_name: str | None, raw_number: str) -> str:
        ent = self.enterprise(enterprise_name)
        number = numbers.normalise(raw_number, ent.country)
        owner = self.directory().enterprise_with_number(number)
        if owner is not None:
            raise ValidationError(f"number {number} already belongs to {owner.name!r}")
        enterprise: Enterprise = self.repository.get(ent.id)
        enterprise.assign_number(number)
        self.save(enterprise)
        return number

    def enterprises_name(self, enterprise_id: UUID) -> str:
        return self.directory().enterprises[enterprise_id].name

    # -- users ---------------------------------------------------------------------------
    def user(self, enterprise_name: str | None, extension: str) -> UserView:
        ent = self.enterprise(enterprise_name)
        found = self.directory().user(ent.id, extension)
        if found is None:
            raise NotFoundError(f"no user with extension {extension} in {ent.name!r}")
        return found

    def add_user(
        self,
        enterprise_name: str | None,
        extension: str,
        name: str,
        number: str | None = None,
        email: str | None = None,
        password: str | None = None,
        pin: str | None = None,
        no_answer_seconds: int = DEFAULT_NO_ANSWER_SECONDS,
    ) -> UserView:
        ent = self.enterprise(enterprise_name)
        extension = self.check_extension_free(ent, extension)
        name = name.strip()
        if not name or len(name) > 80:
            raise ValidationError("a user needs a name of 1 to 80 characters")
        e164 = None
        if number is not None:
            e164 = self.check_number_free(ent, number)
        if email is not None and not EMAIL_RE.match(email):
            raise ValidationError(f"invalid e-mail address: {email!r}")
        if password is not None and len(password) < 8:
            raise ValidationError("a SIP password needs at least 8 characters")
        if pin is not None and not PIN_RE.match(pin):
            raise ValidationError("a PIN is 4 to 8 digits")
        if not 5 <= no_answer_seconds <= 120:
            raise ValidationError("the no-answer time is 5 to 120 seconds")
        secrets = (
            hash_secret(password, os.urandom(16)) if password else None,
            sip_a1_hash(extension, ent.domain, password) if password else None,
            hash_secret(pin, os.urandom(16)) if pin else None,
        )
        to_save: list[Any] = []
        if e164 is not None and e164 not in ent.numbers:
            enterprise: Enterprise = self.repository.get(ent.id)
            enterprise.assign_number(e164)
            to_save.append(enterprise)
        user_id = User.create_id(ent.id, extension)
        try:
            user: User = self.repository.get(user_id)
            user.reinstate(name, e164, email, *secrets, no_answer_seconds)
        except AggregateNotFoundError:
            user = User(ent.id, extension, name, e164, email, *secrets, no_answer_seconds)
        to_save.append(user)
        self.save(*to_save)
        return self.user(ent.name, extension)

    # -- the one namespace of extensions and numbers ----------------------------------------
    def check_extension_free(self, ent: EnterpriseView, extension: str) -> str:
        """``extension`` (stripped) if it may be given to a new user or target of ``ent``:
        in the plan, no emergency number, and held by no user, alternate or target."""
        extension = extension.strip()
        if not ent.in_plan(extension):
            raise ValidationError(
                f"extension {extension!r} is outside the plan of {ent.name!r} "
                f"({ent.extension_low}-{ent.extension_high})"
            )
        if extension in numbers.EMERGENCY_NUMBERS:
            raise ValidationError(f"extension {extension} is an emergency number")
        directory = self.directory()
        if directory.user(ent.id, extension) is not None:
            raise ValidationError(f"extension {extension} already exists in {ent.name!r}")
        if directory.alternate(ent.id, extension) is not None:
            raise ValidationError(f"extension {extension} is another user's alternate number")
        target = directory.target(ent.id, extension)
        if target is not None:
            raise ValidationError(f"extension {extension} is taken by {target.label()}")
        return extension

    def check_number_free(self, ent: EnterpriseView, number: str) -> str:
        """``number`` in E.164 if no user, target or other enterprise holds it."""
        directory = self.directory()
        e164 = numbers.normalise(number, ent.country)
        if directory.user_with_number(e164) is not None:
            raise ValidationError(f"number {e164} already belongs to another user")
        target = directory.target_with_number(e164)
        if target is not None:
            raise ValidationError(f"number {e164} already belongs to {target.label()}")
        owner = directory.enterprise_with_number(e164)
        if owner is not None and owner.id != ent.id:
            raise ValidationError(f"number {e164} already belongs to {owner.name!r}")
        return e164

    def remove_user(self, enterprise_name: str | None, extension: str) -> UserView:
        found = self.user(enterprise_name, extension)
        user: User = self.repository.get(found.id)
        user.remove()
        self.save(user)
        self.directory()
        return found

    # -- calls ---------------------------------------------------------------------------
    def call(self, call_id: str) -> Call:
        try:
            key = Call.create_id(call_id)
        except ValueError:
            raise ValidationError(f"not a call id: {call_id!r}") from None
        try:
            call: Call = self.repository.get(key)
        except AggregateNotFoundError:
            raise NotFoundError(f"no call with id {call_id}") from None
        from esl_controller.personal import opened_aggregate  # privacy (issue 6)

        return opened_aggregate(self, call)  # outsiders' numbers opened for readers


def parse_extension_plan(text: str) -> tuple[int, int]:
    """``100-999`` -> (100, 999); extensions are 2 to 6 digits."""
    match = re.fullmatch(r"\s*(\d{2,6})\s*-\s*(\d{2,6})\s*", text)
    if not match:
        raise ValidationError(f"invalid extension plan {text!r}: use LOW-HIGH, e.g. 100-999")
    low, high = int(match[1]), int(match[2])
    if low > high:
        raise ValidationError(f"invalid extension plan {text!r}: LOW is above HIGH")
    return low, high
