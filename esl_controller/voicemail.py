"""The voicemail service (USR-7): mailboxes in the log, audio files on disk, mail and MWI.

Routing scripts talk to it through ``Command("voicemail", NAME, args)``; :meth:`handle`
answers each with a ``CommandResult``. Files live under ``storage/ENTERPRISE/EXT/``; the
log keeps their absolute paths. New messages are mailed (WAV attached) in a greenlet with
retries, and every change publishes FreeSWITCH's ``MESSAGE_WAITING`` (the phone's lamp).
"""

from __future__ import annotations

import logging
import os
import shutil
import smtplib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from uuid import UUID

import gevent
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.domain.enterprises import Enterprise
from esl_controller.domain.mailboxes import (
    GREETING_KINDS,
    LOCK_MINUTES,
    MAX_PIN_FAILURES,
    Mailbox,
)
from esl_controller.domain.secrets import verify_secret
from esl_controller.domain.users import User
from esl_controller.errors import ValidationError
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult

log = logging.getLogger(__name__)

MAILBOX_TOPIC = f"{Mailbox.__module__}:{Mailbox.__qualname__}.MailboxEnabled"
PURGE_INTERVAL_SECONDS = 300.0
SAVE_RETRIES = 3


class Publisher(Protocol):
    def publish(self, headers: dict[str, str]) -> None: ...


class Mailer:
    """Sends voicemail e-mails with the WAV attached over SMTP; retries with back-off."""

    def __init__(self, host: str, port: int, sender: str, retries: int = 4,
                 backoff: float = 0.5, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.sent = 0
        self.failures = 0

    def message(self, to: str, subject: str, text: str, wav: Path) -> EmailMessage:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, to, subject
        mail.set_content(text)
        mail.add_attachment(wav.read_bytes(), maintype="audio", subtype="x-wav",
                            filename=wav.name)
        return mail

    def text(self, to: str, subject: str, text: str) -> EmailMessage:
        """A plain-text e-mail (call notify) from this mailer's sender."""
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, to, subject
        mail.set_content(text)
        return mail

    def send(self, mail: EmailMessage) -> None:
        """Send once (blocking this greenlet); raises OSError / smtplib.SMTPException."""
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(mail)

    def send_later(self, mail: EmailMessage, on_sent: Callable[[], None],
                   on_failed: Callable[[], None] | None = None) -> gevent.Greenlet:
        """Deliver in a greenlet; ``on_sent`` after success, ``on_failed`` after the last try."""
        return gevent.spawn(self._deliver, mail, on_sent, on_failed)

    def _deliver(self, mail: EmailMessage, on_sent: Callable[[], None],
                 on_failed: Callable[[], None] | None = None) -> bool:
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                self.send(mail)
            except (OSError, smtplib.SMTPException) as exc:
                self.failures += 1
                log.warning("mail to %s failed (try %d): %s", mail["To"], attempt, exc)
                if attempt < self.retries:
                    gevent.sleep(delay)
                    delay *= 2
                continue
            self.sent += 1
            on_sent()
            return True
        log.error("mail to %s given up after %d tries", mail["To"], self.retries)
        if on_failed is not None:
            on_failed()
        return False


class VoicemailService:
    """The stateful side of voicemail: the ``voicemail`` service of the call sessions."""

    def __init__(self, app: Pbx, storage: Path, mailer: Mailer | None = None,
                 mwi: Publisher | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.storage = Path(storage).absolute()
        self.mailer = mailer
        self.mwi = mwi
        self.clock = clock
        self._domains: dict[UUID, str] = {}
        self.pending_mail: list[gevent.Greenlet] = []
        self._handlers: dict[str, Callable[[Command], CommandResult]] = {
            "status": self._status, "deposit": self._deposit, "check_pin": self._check_pin,
            "list": self._list, "save": self._save_message, "delete": self._delete,
            "forward": self._forward, "greeting": self._greeting,
        }

    # -- administration ------------------------------------------------------------------
    def enable(self, enterprise: str | None, extension: str, email_audio: bool = True,
               capacity_seconds: int = 3600, retention_days: int = 14,
               keep: bool | None = None) -> Mailbox:
        """Create or change a box; ``keep`` False is e-mail only, None leaves it as it is."""
        user = self.app.user(enterprise, extension)
        if email_audio and not user.email:
            raise ValidationError(f"user {extension} has no e-mail address for --email-audio")
        if keep is False and not email_audio:
            raise ValidationError("--email-only needs --email-audio: messages would be lost")
        if not 60 <= capacity_seconds <= 24 * 3600 or not 1 <= retention_days <= 365:
            raise ValidationError("capacity is 60 s to 24 h, retention 1 to 365 days")
        try:
            box: Mailbox = self.app.repository.get(Mailbox.create_id(user.id))
            if keep is None and not email_audio and not box.keep:
                raise ValidationError("the box is e-mail only: give --keep with --no-email-audio")
            box.reenable(user.email, email_audio, capacity_seconds, retention_days)
        except AggregateNotFoundError:
            box = Mailbox(user.id, user.enterprise_id, user.extension, user.email, email_audio,
                          capacity_seconds, retention_days)
        if keep is not None and keep != box.keep:
            box.set_delivery(keep)
        self.app.save(box)
        return box

    def change_delivery(self, enterprise: str | None, extension: str,
                        email_audio: bool | None = None, keep: bool | None = None) -> Mailbox:
        """The owner's choice for an existing box (self-service): e-mail, keep or e-mail only."""
        user = self.app.user(enterprise, extension)
        box = self._get(user.enterprise_id, user.extension)
        if box is None or not box.enabled:
            raise ValidationError(f"user {extension} has no voicemail box")
        new_email = box.email_audio if email_audio is None else email_audio
        return self.enable(enterprise, extension, new_email, box.capacity_seconds,
                           box.retention_days, keep=box.keep if keep is None else keep)

    def disable(self, enterprise: str | None, extension: str) -> Mailbox:
        user = self.app.user(enterprise, extension)
        box = self._get(user.enterprise_id, user.extension)
        if box is None or not box.enabled:
            raise ValidationError(f"user {extension} has no voicemail box")
        box.disable()
        self.app.save(box)
        return box

    def mailbox(self, enterprise_id: UUID, extension: str) -> Mailbox | None:
        """The box to show: callers' sealed numbers and names opened (privacy)."""
        box = self._get(enterprise_id, extension)
        return None if box is None else personal.opened_aggregate(self.app, box)

    def mailboxes(self) -> list[Mailbox]:
        ids: list[UUID] = []
        after = 0
        while batch := self.app.notifications(after, 1000, topics=[MAILBOX_TOPIC]):
            ids += [UUID(str(n.originator_id)) for n in batch]
            after = batch[-1].id
        return [self.app.repository.get(i) for i in dict.fromkeys(ids)]

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete messages older than each box's retention; returns how many."""
        now = now or self.clock()
        count = 0
        for box in self.mailboxes():
            expired = box.expired(now)
            for message in expired:
                _remove(message.path)
                box.purge_message(message.message_id, "expired")
            if expired:
                self.app.save(box)
                self._publish_mwi(box)
                count += len(expired)
        if count:
            log.info("voicemail: purged %d expired messages", count)
        return count

    def run_purger(self, interval: float = PURGE_INTERVAL_SECONDS) -> None:
        """Loop forever (a greenlet of the controller): retention every ``interval`` s."""
        while True:
            try:
                self.purge_expired()
            except Exception:  # boundary: the purger keeps running after a store hiccup
                log.exception("voicemail purge failed")
            gevent.sleep(interval)

    # -- commands from call scripts ------------------------------------------------------
    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        handler = self._handlers.get(command.name)
        if handler is None:
            return CommandResult(False, f"unknown command {command.name!r}")
        for attempt in range(SAVE_RETRIES):
            try:
                return handler(command)
            except RecordConflictError:  # another controller changed the box: try again
                log.info("voicemail %s: conflict, retry %d", command.name, attempt + 1)
            except (ValueError, OSError, KeyError) as exc:
                log.warning("call %s: voicemail %s failed: %s", ctx.call_id, command.name, exc)
                return CommandResult(False, str(exc))
        return CommandResult(False, "busy: try again")

    def _box_of(self, command: Command) -> Mailbox | None:
        if command.arg("box"):  # a group voicemail box (routing/group_voicemail.py), by id
            box = self._by_id(UUID(command.arg("box")))
        else:
            box = self._get(UUID(command.arg("enterprise")), command.arg("extension"))
        return box if box is not None and box.enabled else None

    def _by_id(self, key: UUID) -> Mailbox | None:
        try:
            box: Mailbox = self.app.repository.get(key)
        except AggregateNotFoundError:
            return None
        return box

    def _get(self, enterprise_id: UUID, extension: str) -> Mailbox | None:
        key = Mailbox.create_id(User.create_id(enterprise_id, extension))
        try:
            box: Mailbox = self.app.repository.get(key)
        except AggregateNotFoundError:
            return None
        return box

    def folder(self, box: Mailbox) -> Path:
        if box.group is not None:  # group voicemail: by owner, not extension
            return self.storage / str(box.enterprise_id) / f"group-{box.user_id}"
        return self.storage / str(box.enterprise_id) / box.extension

    def _status(self, command: Command) -> CommandResult:
        box = self._box_of(command)
        if box is None:
            return CommandResult(False, "no mailbox")
        folder = self.folder(box)
        folder.mkdir(parents=True, exist_ok=True)
        kind = "busy" if command.arg("reason") == "busy" else "unavailable"
        greeting = box.greetings.get(kind, "")
        if greeting and not os.path.exists(greeting):
            greeting = ""
        new, saved = box.counts()
        locked = "1" if box.is_locked(self.clock()) else "0"
        return CommandResult(True, ";".join([
            f"seconds_left={box.seconds_left}", f"new={new}", f"saved={saved}",
            f"locked={locked}", f"folder={folder}", f"record_to={folder / f'{uuid.uuid4()}.wav'}",
            f"greeting={greeting}",
        ]))

    def _own_path(self, box: Mailbox, raw: str) -> Path:
        path = Path(raw).absolute()
        if path.parent != self.folder(box):
            raise ValueError(f"{raw!r} is not in the mailbox's folder")
        return path

    def _deposit(self, command: Command) -> CommandResult:
        box = self._box_of(command)
        if box is None:
            return CommandResult(False, "no mailbox")
        path = self._own_path(box, command.arg("path"))
        seconds = min(float(command.arg("seconds", "0")), float(box.seconds_left))
        if seconds <= 0 or not path.exists():
            _remove(str(path))
            return CommandResult(False, "mailbox full" if box.full else "nothing recorded")
        caller, name = command.arg("caller"), command.arg("caller_name")
        caller, name = personal.sealed_caller(self.app, self.app.directory(), caller, name)
        box.leave_message(path.stem, caller, name, round(seconds, 3), str(path), self.clock())
        self.app.save(box)
        log.info("voicemail: message %s (%.1f s) for %s from %s", path.stem, seconds,
                 box.extension, caller)
        self._after_new_message(box, path.stem)
        return CommandResult(True, path.stem)

    def _after_new_message(self, box: Mailbox, message_id: str) -> None:
        self._publish_mwi(box)
        message = personal.opened(self.app, box.messages[message_id])
        if self.mailer is None or not box.email_audio or not box.email:
            if not box.keep:
                log.warning("voicemail: message %s for %s kept: no mail relay for e-mail only",
                            message_id, box.extension)
            return
        who = f"{message.caller_name} ({message.caller})" if message.caller_name else (
            message.caller or "anonymous")
        group = box.group
        mail = self.mailer.message(
            box.email, f"Voicemail from {who}, {message.seconds:.0f} s",
            f"{who} left you a message of {message.seconds:.0f} seconds at "
            f"{message.at:%Y-%m-%d %H:%M} UTC.\n", Path(message.path))
        if group is not None:  # group voicemail (CORE-4, OPT-4): its name, and the cc
            mail.replace_header("Subject", f"Voicemail for {group.name} from {who}, "
                                           f"{message.seconds:.0f} s")
            if group.cc:
                mail["Cc"] = group.cc
        box_id, to = box.id, box.email

        def record_mailed() -> None:
            for _ in range(SAVE_RETRIES):
                try:
                    fresh: Mailbox = self.app.repository.get(box_id)
                    fresh.mailed(message_id, to)
                    found = fresh.messages.get(message_id)
                    if not fresh.keep and found is not None:
                        fresh.remove_mailed(message_id, to)
                    self.app.save(fresh)
                except RecordConflictError:
                    continue
                if not fresh.keep and found is not None:  # e-mail only: the audio goes
                    _remove(found.path)
                    log.info("voicemail: message %s for %s e-mailed and removed", message_id,
                             fresh.extension)
                    self._publish_mwi(fresh)
                return

        def mail_failed() -> None:
            if not box.keep:
                log.error("voicemail: message %s for %s kept: e-mail to %s failed", message_id,
                          box.extension, to)

        self.pending_mail = [g for g in self.pending_mail if not g.dead]
        self.pending_mail.append(self.mailer.send_later(mail, record_mailed, mail_failed))

    def _check_pin(self, command: Command) -> CommandResult:
        box = self._box_of(command)
        if box is None:
            return CommandResult(False, "no mailbox")
        now = self.clock()
        if box.is_locked(now):
            return CommandResult(False, "locked")
        user: User = self.app.repository.get(box.user_id)
        pin = command.arg("pin")
        if user.pin_hash and pin and verify_secret(pin, user.pin_hash):
            if box.pin_failures:
                box.accept_pin(now)
                self.app.save(box)
            return CommandResult(True, "ok")
        box.fail_pin(now)
        if box.pin_failures >= MAX_PIN_FAILURES:
            box.lock(now + timedelta(minutes=LOCK_MINUTES))
            self.app.save(box)
            log.warning("voicemail: box of %s locked after wrong PINs", box.extension)
            return CommandResult(False, "locked")
        self.app.save(box)
        return CommandResult(False, f"wrong;tries_left={MAX_PIN_FAILURES - box.pin_failures}")

    def _list(self, command: Command) -> CommandResult:
        box = self._box_of(command)
        if box is None:
            return CommandResult(False, "no mailbox")
        ordered = sorted(box.messages.values(), key=lambda m: (m.status != "new", m.at))
        return CommandResult(True, ",".join(
            f"{m.message_id}|{m.status}|{m.seconds:.0f}|{personal.open_(self.app, m.caller)}"
            f"|{m.path}" for m in ordered))

    def _message_command(self, command: Command) -> tuple[Mailbox, str] | None:
        box = self._box_of(command)
        message_id = command.arg("message")
        if box is None or message_id not in box.messages:
            return None
        return box, message_id

    def _save_message(self, command: Command) -> CommandResult:
        found = self._message_command(command)
        if found is None:
            return CommandResult(False, "no such message")
        box, message_id = found
        box.save_message(message_id)
        self.app.save(box)
        self._publish_mwi(box)
        return CommandResult(True)

    def _delete(self, command: Command) -> CommandResult:
        found = self._message_command(command)
        if found is None:
            return CommandResult(False, "no such message")
        box, message_id = found
        path = box.messages[message_id].path
        box.delete_message(message_id)
        self.app.save(box)
        _remove(path)
        self._publish_mwi(box)
        return CommandResult(True)

    def _forward(self, command: Command) -> CommandResult:
        found = self._message_command(command)
        if found is None:
            return CommandResult(False, "no such message")
        box, message_id = found
        to = command.arg("to")
        target = self._get(box.enterprise_id, to) if to.isdigit() else None
        if target is None or not target.enabled or target.id == box.id:
            return CommandResult(False, f"no mailbox {to}")
        original = box.messages[message_id]
        if target.seconds_left < original.seconds:
            return CommandResult(False, "mailbox full")
        new_id = str(uuid.uuid4())
        folder = self.folder(target)
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{new_id}.wav"
        shutil.copyfile(original.path, copy)
        target.leave_message(new_id, original.caller, original.caller_name, original.seconds,
                             str(copy), self.clock())
        box.forward_message(message_id, to, new_id)
        try:
            self.app.save(box, target)
        except RecordConflictError:
            _remove(str(copy))
            raise
        self._after_new_message(target, new_id)
        return CommandResult(True, new_id)

    def _greeting(self, command: Command) -> CommandResult:
        box = self._box_of(command)
        kind = command.arg("kind")
        if box is None or kind not in GREETING_KINDS:
            return CommandResult(False, "no mailbox" if box is None else "unknown greeting")
        path = self._own_path(box, command.arg("path"))
        if not path.exists():
            return CommandResult(False, "nothing recorded")
        box.record_greeting(kind, str(path))
        self.app.save(box)
        return CommandResult(True)

    # -- message waiting -----------------------------------------------------------------
    def _domain(self, enterprise_id: UUID) -> str:
        if enterprise_id not in self._domains:
            enterprise: Enterprise = self.app.repository.get(enterprise_id)
            self._domains[enterprise_id] = enterprise.domain
        return self._domains[enterprise_id]

    def mwi_headers(self, box: Mailbox) -> dict[str, str]:
        new, saved = box.counts()
        return {
            "MWI-Messages-Waiting": "yes" if new else "no",
            "MWI-Message-Account": f"sip:{box.extension}@{self._domain(box.enterprise_id)}",
            "MWI-Voice-Message": f"{new}/{saved} (0/0)",
        }

    def answer_query(self, query: dict[str, str]) -> dict[str, str] | None:
        """FreeSWITCH's ``MESSAGE_QUERY`` (a phone subscribed to message-summary): publish
        the account's current ``MESSAGE_WAITING``, as mod_voicemail does, with the
        subscription's profile and Call-ID so sofia NOTIFYs that phone. Returns what was
        published (None: not one of our users)."""
        account = query.get("Message-Account", "")
        user_part, _, domain = account.removeprefix("sip:").partition("@")
        directory = self.app.directory()
        enterprise = directory.enterprise_for_domain(domain)
        user = directory.user(enterprise.id, user_part) if enterprise is not None else None
        if enterprise is None or user is None:
            log.debug("voicemail: MESSAGE_QUERY for %r: not one of our users", account)
            return None
        box = self._get(enterprise.id, user.extension)
        if box is not None and box.enabled:
            answer = self.mwi_headers(box)
        else:
            answer = {"MWI-Messages-Waiting": "no",
                      "MWI-Message-Account": f"sip:{user.extension}@{enterprise.domain}",
                      "MWI-Voice-Message": "0/0 (0/0)"}
        if query.get("VM-Sofia-Profile"):
            answer["Sofia-Profile"] = query["VM-Sofia-Profile"]
        if query.get("VM-Call-ID"):
            answer["Call-ID"] = query["VM-Call-ID"]
        if self.mwi is not None:
            self.mwi.publish(answer)
        return answer

    def _publish_mwi(self, box: Mailbox) -> None:
        if self.mwi is not None and box.group is None:  # no lamp for group boxes
            self.mwi.publish(self.mwi_headers(box))

    def wait_mail(self, timeout: float) -> None:
        """Wait for the e-mails in flight (tests, shutdown)."""
        gevent.joinall(self.pending_mail, timeout=timeout)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass

