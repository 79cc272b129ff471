"""The hot-desk service (USR-8): shared phones, logins by extension + PIN, automatic logout.

Administration (``pbx hotdesk add/list/remove/logout-expired``) and the ``hotdesk`` service
of the call sessions: routing scripts ask it through ``Command("hotdesk", NAME, args)`` and
:meth:`HotDeskService.handle` answers each with a ``CommandResult``. The phone a command
comes from is the authenticated SIP account of the call (``ctx.auth_user``), never an
argument. PINs are checked against the user's scrypt hash and never logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

import gevent
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from esl_controller.application import Pbx
from esl_controller.domain.hotdesk import (
    DEFAULT_AUTO_LOGOUT,
    LOCK_MINUTES,
    MAX_PIN_FAILURES,
    NAME_RE,
    HotDesk,
    HotDeskAccess,
    next_logout,
    parse_hhmm,
)
from esl_controller.domain.secrets import hash_secret, sip_a1_hash, verify_secret
from esl_controller.domain.users import User
from esl_controller.errors import ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from projections.directory import Directory, EnterpriseView, HotDeskView

log = logging.getLogger(__name__)

SAVE_RETRIES = 3
MAX_SLEEP_SECONDS = 60.0  # the automatic logout looks again at least this often
CommandHandler = Callable[[Command, CallContext], CommandResult]


@dataclass(frozen=True, slots=True)
class Logout:
    """One login ended by :meth:`HotDeskService.logout_expired`."""

    phone: str
    extension: str
    reason: str


class HotDeskService:
    """The stateful side of hot desking: the ``hotdesk`` service of the call sessions."""

    def __init__(self, app: Pbx, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.app = app
        self.clock = clock
        self._handlers: dict[str, Callable[[Command, CallContext], CommandResult]] = {
            "login": self._login, "logout": self._logout,
        }

    # -- administration ------------------------------------------------------------------
    def add(self, enterprise: str | None, name: str, password: str,
            auto_logout: str = DEFAULT_AUTO_LOGOUT) -> HotDeskView:
        ent = self.app.enterprise(enterprise)
        name = name.strip()
        if not NAME_RE.match(name):
            raise ValidationError(
                f"invalid hot-desk phone name {name!r}: a lower-case letter, then 1 to 31 "
                "lower-case letters, digits or '-'")
        if len(password) < 8:
            raise ValidationError("a SIP password needs at least 8 characters")
        if parse_hhmm(auto_logout) is None:
            raise ValidationError(f"invalid --auto-logout {auto_logout!r}: use HH:MM (24 h)")
        auto_logout = auto_logout.strip()
        if self.app.directory().hotdesk(ent.id, name) is not None:
            raise ValidationError(f"hot-desk phone {name} already exists in {ent.name!r}")
        secrets = (hash_secret(password, os.urandom(16)), sip_a1_hash(name, ent.domain, password))
        phone_id = HotDesk.create_id(ent.id, name)
        try:
            phone: HotDesk = self.app.repository.get(phone_id)
            phone.reinstate(*secrets, auto_logout)
        except AggregateNotFoundError:
            phone = HotDesk(ent.id, name, *secrets, auto_logout)
        self.app.save(phone)
        return self.phone(enterprise, name)

    def remove(self, enterprise: str | None, name: str) -> HotDeskView:
        found = self.phone(enterprise, name)
        phone: HotDesk = self.app.repository.get(found.id)
        if phone.user_id is not None and phone.extension is not None:
            phone.log_out(phone.user_id, phone.extension, "removed", self.clock())
        phone.remove()
        self.app.save(phone)
        return found

    def phone(self, enterprise: str | None, name: str) -> HotDeskView:
        ent = self.app.enterprise(enterprise)
        found = self.app.directory().hotdesk(ent.id, name.strip())
        if found is None:
            raise ValidationError(f"no hot-desk phone {name.strip()!r} in {ent.name!r}")
        return found

    def phones(self, enterprise: str | None) -> list[HotDeskView]:
        return self.app.directory().hotdesks_of(self.app.enterprise(enterprise).id)

    def logout_at(self, phone: HotDeskView) -> datetime | None:
        """When the user logged in on ``phone`` will be logged out automatically."""
        if phone.since is None:
            return None
        timezone = self.app.directory().enterprises[phone.enterprise_id].timezone
        return next_logout(phone.since, phone.auto_logout, timezone)

    # -- automatic logout ----------------------------------------------------------------
    def logout_expired(self, now: datetime | None = None) -> list[Logout]:
        """End every login whose phone's logout time has passed (or whose user is gone)."""
        now = now or self.clock()
        directory = self.app.directory()
        ended: list[Logout] = []
        for desk in list(directory.hotdesks.values()):
            if desk.user_id is None or desk.extension is None:
                continue
            if desk.user_id not in directory.users:
                reason = "user-removed"
            elif (due := self.logout_at(desk)) is not None and due <= now:
                reason = "auto"
            else:
                continue
            if self._save_retrying(partial(self._end, desk, reason, now)):
                ended.append(Logout(desk.name, desk.extension, reason))
                log.info("hot desk: %s logged out of %s (%s)", desk.extension, desk.name, reason)
        return ended

    def _end(self, desk: HotDeskView, reason: str, now: datetime) -> bool:
        phone: HotDesk = self.app.repository.get(desk.id)
        if phone.removed or phone.user_id is None or phone.extension is None:
            return False  # someone else ended it meanwhile
        if phone.user_id != desk.user_id:
            return False
        phone.log_out(phone.user_id, phone.extension, reason, now)
        self.app.save(phone)
        return True

    def next_due(self) -> datetime | None:
        """The earliest automatic logout of the logins there are now."""
        dues = [due for desk in self.app.directory().hotdesks.values()
                if (due := self.logout_at(desk)) is not None]
        return min(dues, default=None)

    def run_auto_logout(self, max_sleep: float = MAX_SLEEP_SECONDS) -> None:
        """Loop forever (a greenlet of the controller): log out when a phone's time comes.

        Sleeps until the next logout is due, but looks again at least every ``max_sleep``
        seconds for logins made meanwhile."""
        while True:
            wait = max_sleep
            try:
                self.logout_expired()
                due = self.next_due()
                if due is not None:
                    wait = min(max_sleep, max(0.0, (due - self.clock()).total_seconds()))
            except Exception:  # boundary: the automatic logout keeps running after a hiccup
                log.exception("hot desk automatic logout failed")
            gevent.sleep(max(wait, 0.05))

    # -- commands from call scripts ------------------------------------------------------
    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        handler = self._handlers.get(command.name)
        if handler is None:
            return CommandResult(False, f"unknown command {command.name!r}")
        for attempt in range(SAVE_RETRIES):
            try:
                return handler(command, ctx)
            except RecordConflictError:  # a concurrent change of the same phone or user
                log.info("hot desk %s: conflict, retry %d", command.name, attempt + 1)
        return CommandResult(False, "busy: try again")

    def _where(self, ctx: CallContext) -> tuple[Directory, EnterpriseView | None]:
        directory = self.app.directory()
        return directory, directory.enterprise_for_domain(ctx.domain or "")

    def _login(self, command: Command, ctx: CallContext) -> CommandResult:
        directory, ent = self._where(ctx)
        desk = directory.hotdesk(ent.id, ctx.auth_user or "") if ent else None
        if ent is None or desk is None:
            return CommandResult(False, "not a hot-desk phone")
        view = directory.user(ent.id, command.arg("extension"))
        if view is None:
            log.info("call %s: hot-desk login on %s for unknown extension", ctx.call_id,
                     desk.name)
            return CommandResult(False, "wrong")  # the same answer as a wrong PIN
        user: User = self.app.repository.get(view.id)
        if not user.pin_hash:
            return CommandResult(False, "no-pin")
        now = self.clock()
        access = self._access(view.id)
        if access.is_locked(now):
            return CommandResult(False, "locked")
        pin = command.arg("pin")
        if not (pin and verify_secret(pin, user.pin_hash)):
            return self._wrong_pin(access, desk.name, view.extension, now)
        # Recorded on every login: two logins of one user at once then conflict on this
        # aggregate, and the retry sees the other login (one hot-desk phone per user).
        access.accept_pin(desk.name, now)
        to_save: list[HotDesk | HotDeskAccess] = [access]
        phone: HotDesk = self.app.repository.get(desk.id)
        moved_from = [name for name in directory.hotdesk_devices_of(view.id) if name != desk.name]
        if phone.user_id == view.id and not moved_from:
            self.app.save(*to_save)
            return CommandResult(True, "already")
        if phone.user_id is not None and phone.extension is not None:
            phone.log_out(phone.user_id, phone.extension, "replaced", now)
        for name in moved_from:
            other: HotDesk = self.app.repository.get(HotDesk.create_id(ent.id, name))
            if other.user_id == view.id:
                other.log_out(view.id, view.extension, "moved", now)
                to_save.append(other)
        phone.log_in(view.id, view.extension, now)
        self.app.save(phone, *to_save)
        log.info("call %s: %s logged in on hot-desk phone %s", ctx.call_id, view.extension,
                 desk.name)
        return CommandResult(True, "moved=" + ",".join(moved_from) if moved_from else "")

    def _wrong_pin(self, access: HotDeskAccess, phone: str, extension: str, now: datetime
                   ) -> CommandResult:
        access.fail_pin(phone, now)
        if access.failures >= MAX_PIN_FAILURES:
            access.lock(now + timedelta(minutes=LOCK_MINUTES))
            self.app.save(access)
            log.warning("hot desk: login of %s locked after %d wrong PINs", extension,
                        MAX_PIN_FAILURES)
            return CommandResult(False, "locked")
        self.app.save(access)
        log.info("hot desk: wrong PIN for %s on %s", extension, phone)
        return CommandResult(False, f"wrong;tries_left={MAX_PIN_FAILURES - access.failures}")

    def _access(self, user_id: UUID) -> HotDeskAccess:
        try:
            found: HotDeskAccess = self.app.repository.get(HotDeskAccess.create_id(user_id))
        except AggregateNotFoundError:
            found = HotDeskAccess(user_id)
        return found

    def _logout(self, command: Command, ctx: CallContext) -> CommandResult:
        """From a hot-desk phone: whoever is logged in on it. From a user's own phone: that
        user, from every hot-desk phone."""
        directory, ent = self._where(ctx)
        if ent is None or not ctx.auth_user:
            return CommandResult(False, "not a phone of this exchange")
        desk = directory.hotdesk(ent.id, ctx.auth_user)
        names: tuple[str, ...] = ()
        if desk is not None:
            names = (desk.name,) if desk.user_id else ()
        else:
            view = directory.user(ent.id, ctx.auth_user)
            names = directory.hotdesk_devices_of(view.id) if view else ()
        ended: list[str] = []
        now = self.clock()
        for name in names:
            phone: HotDesk = self.app.repository.get(HotDesk.create_id(ent.id, name))
            if phone.user_id is not None and phone.extension is not None:
                extension = phone.extension
                phone.log_out(phone.user_id, extension, "user", now)
                self.app.save(phone)
                ended.append(f"{extension}@{name}")
                log.info("call %s: %s logged out of hot-desk phone %s", ctx.call_id,
                         extension, name)
        if not ended:
            return CommandResult(False, "nobody logged in")
        return CommandResult(True, ",".join(ended))

    def _save_retrying(self, attempt: Callable[[], bool]) -> bool:
        for _ in range(SAVE_RETRIES):
            try:
                return attempt()
            except RecordConflictError:
                continue
        return False

    # -- the logged-in user's own services -----------------------------------------------
    def as_logged_in_user(self, handler: CommandHandler,
                          directory: Callable[[], Directory] | None = None) -> CommandHandler:
        """Wrap another service (``settings`` ...) so that a command from a hot-desk phone acts
        for the user logged in on it, as if dialled on the user's own phone. ``directory``:
        the read model routing used for the call (default: this service's, caught up)."""

        def handle(command: Command, ctx: CallContext) -> CommandResult:
            found = directory() if directory is not None else self.app.directory()
            ent = found.enterprise_for_domain(ctx.domain or "")
            desk = found.hotdesk(ent.id, ctx.auth_user or "") if ent else None
            if desk is not None and desk.extension is not None:
                ctx = replace(ctx, auth_user=desk.extension)
            return handler(command, ctx)

        return handle
