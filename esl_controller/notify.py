"""Call notify (USR-17): the ``notify`` service of the call sessions.

The incoming-call chain yields ``Command("notify", "call", ...)`` when a call matches one
of the user's notify rules. :meth:`NotifyService.handle` only builds the e-mail and hands
it to the :class:`~esl_controller.voicemail.Mailer`, which sends it in a greenlet with
retries: the call is never delayed by SMTP and never affected by a failure. Once the relay
accepted the e-mail, ``CallNotified`` is recorded (a CallNotification per user and call).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import gevent
from eventsourcing.persistence import RecordConflictError

from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.domain.notifications import CallNotification
from esl_controller.domain.users import User
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult
from esl_controller.voicemail import Mailer

log = logging.getLogger(__name__)


def notice(command: Command, at: datetime) -> tuple[str, str]:
    """(subject, text) of the e-mail about one call, the time in the enterprise's zone."""
    caller, name = command.arg("caller"), command.arg("caller_name")
    who = f"{name} ({caller})" if name and name != caller else caller or "anonymous"
    try:
        zone = ZoneInfo(command.arg("timezone", "UTC") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    called = f"{command.arg('user_name')} ({command.arg('extension')})"
    when = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
    return (f"Call from {who} for {called}",
            f"{who} is calling {called}.\nTime: {when}\n")


class NotifyService:
    """Sends the call notify e-mails; ``handle`` is registered as the ``notify`` service."""

    def __init__(self, app: Pbx, mailer: Mailer | None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.mailer = mailer
        self.clock = clock
        self.pending: list[gevent.Greenlet] = []

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        """Queue the e-mail; whatever goes wrong is logged and answered, never raised."""
        if command.name != "call":
            return CommandResult(False, f"unknown command {command.name!r}")
        if self.mailer is None:
            log.warning("call %s: call notify to %s: no mail relay configured (--smtp)",
                        ctx.call_id, command.arg("to"))
            return CommandResult(False, "no mail relay")
        try:
            raw = command.arg("at")
            at = datetime.fromisoformat(raw) if raw else self.clock()
            subject, text = notice(command, at)
            to = command.arg("to")
            mail = self.mailer.text(to, subject, text)
            user_id = User.create_id(UUID(command.arg("enterprise")), command.arg("extension"))
            call_id, caller = command.arg("call_id"), command.arg("caller")
            self.pending = [g for g in self.pending if not g.dead]
            self.pending.append(self.mailer.send_later(
                mail, lambda: self._record(user_id, call_id, caller, to, at)))
        except Exception as exc:  # boundary: call notify never affects the call
            log.warning("call %s: call notify failed: %s", ctx.call_id, exc)
            return CommandResult(False, str(exc))
        log.info("call %s: call notify e-mail to %s queued", ctx.call_id, to)
        return CommandResult(True, to)

    def _record(self, user_id: UUID, call_id: str, caller: str, to: str, at: datetime) -> None:
        try:
            # privacy (issue 6): an outside caller's number sealed under their key
            caller, _name = personal.sealed_caller(self.app, self.app.directory(), caller)
            self.app.save(CallNotification(user_id, call_id, caller, to, at))
        except RecordConflictError:
            log.info("call %s: CallNotified already recorded for this user", call_id)
        except Exception as exc:  # boundary: the e-mail went out; the store may be busy
            log.warning("call %s: e-mail sent, CallNotified not recorded: %s", call_id, exc)

    def wait(self, timeout: float) -> None:
        """Wait for the e-mails in flight (tests, shutdown)."""
        gevent.joinall(self.pending, timeout=timeout)
