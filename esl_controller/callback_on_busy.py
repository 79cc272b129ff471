"""Automatic callback on busy (USR-11).

A user who hears a colleague's busy line dials ``*5`` (or ``*5`` + the extension at any
time): the request is recorded (``CallbackRequested``). The controller watches both lines
(:class:`~esl_controller.lines.ActiveLines`: the calls it carries); once both are idle it
rings the requester's phone first with ``originate`` over FreeSWITCH's inbound event socket,
showing the colleague as the caller, and when the requester answers FreeSWITCH sends the
colleague's extension through the ``default`` dialplan as a call placed by the requester
(the controller routes it like any other call of theirs: DND, forwarding ... apply).
``*55`` cancels; a request not carried out within 30 minutes expires. One request per
user: a new one replaces the old one. Every step is an event on the request's aggregate.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import gevent
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, DomainEvent, event

from esl_controller.application import Pbx
from esl_controller.call_history import CallsService
from esl_controller.errors import PbxError, ValidationError
from esl_controller.esl.inbound import AuthenticationError, InboundClient, NotConnectedError
from esl_controller.esl.server import EslError
from esl_controller.lines import ActiveLines
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult

log = logging.getLogger(__name__)

EXPIRES_AFTER = timedelta(minutes=30)
CHECK_SECONDS = 1.0  # how often idle lines are looked for
RETRY_SECONDS = 30.0  # after FreeSWITCH refused or could not be reached


class CallbackRequest(Aggregate):
    """One user's pending automatic callback, identified by (enterprise, requester)."""

    @staticmethod
    def create_id(enterprise_id: UUID, caller: str) -> UUID:
        return uuid5(enterprise_id, "callback-on-busy:" + caller)

    @event("CallbackRequested")
    def __init__(self, enterprise_id: UUID, caller: str, target: str, at: datetime,
                 expires_at: datetime) -> None:
        self.enterprise_id = enterprise_id
        self.caller = caller
        self.target = target
        self.expires_at = expires_at
        self.pending = True

    @event("CallbackRenewed")
    def renew(self, target: str, at: datetime, expires_at: datetime) -> None:
        """A new request of the same user replaces whatever was there."""
        self.target = target
        self.expires_at = expires_at
        self.pending = True

    @event("CallbackCancelled")
    def cancel(self, reason: str, at: datetime) -> None:
        """``cancelled`` (``*55``) or ``expired``."""
        self.pending = False

    @event("CallbackOriginated")
    def originate(self, job: str, at: datetime) -> None:
        """Both lines were idle: the requester's phone rings, then the colleague's."""
        self.pending = False


TOPICS: tuple[str, ...] = tuple(
    f"{CallbackRequest.__module__}:{CallbackRequest.__qualname__}.{name}"
    for name in ("CallbackRequested", "CallbackRenewed", "CallbackCancelled",
                 "CallbackOriginated")
)


@dataclass(frozen=True, slots=True)
class Pending:
    id: UUID
    enterprise_id: str
    caller: str
    target: str
    expires_at: datetime


def originate_command(caller: str, domain: str, target: str, target_name: str) -> str:
    """Ring ``caller``'s phones showing the colleague; on answer dial ``target`` as them."""
    name = re.sub(r"['{}\\\r\n,]", "", target_name).strip()
    variables = ",".join((
        f"origination_caller_id_number={target}",
        f"origination_caller_id_name='Callback {name}'",
        f"user_name={caller}",
        f"domain_name={domain}",
        "sip_authorized=true",
        "originate_timeout=30",
    ))
    return f"originate {{{variables}}}user/{caller}@{domain} {target} XML default"


class CallbackOnBusy:
    """The ``callback`` Command service and the watcher that carries requests out."""

    def __init__(
        self,
        app: Pbx,
        lines: ActiveLines,
        calls: CallsService,
        esl: tuple[str, int] | None,
        esl_password: str | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.app = app
        self.lines = lines
        self.calls = calls
        self.esl = esl
        self.esl_password = esl_password
        self.clock = clock
        self.check_seconds = check_seconds
        self.position = 0
        self.pending: dict[UUID, Pending] = {}
        self._retry_at: dict[UUID, datetime] = {}

    # -- the fold of requests ---------------------------------------------------------------
    def catch_up(self) -> None:
        top = self.app.last_position()
        if top <= self.position:
            return
        for _position, e in self.app.events_after(self.position, TOPICS, top):
            self.apply(e)
        self.position = top

    def apply(self, e: DomainEvent) -> None:
        data: Any = e
        name = type(e).__name__
        if name == "CallbackRequested":
            self.pending[e.originator_id] = Pending(
                e.originator_id, str(data.enterprise_id), data.caller, data.target,
                data.expires_at)
        elif name == "CallbackRenewed":
            old = self.pending.get(e.originator_id)
            known = old or self._identity(e.originator_id)
            if known is not None:
                self.pending[e.originator_id] = Pending(
                    e.originator_id, known.enterprise_id, known.caller, data.target,
                    data.expires_at)
        else:
            self.pending.pop(e.originator_id, None)

    def _identity(self, request_id: UUID) -> Pending | None:
        request: CallbackRequest = self.app.repository.get(request_id)
        return Pending(request_id, str(request.enterprise_id), request.caller, request.target,
                       request.expires_at)

    # -- requests from the phone ------------------------------------------------------------
    def request(self, enterprise: str | None, caller: str, target: str | None) -> str:
        """Record a request; returns the colleague's extension. ``target`` None: the
        colleague whose busy line ``caller`` heard on their last call."""
        ent = self.app.enterprise(enterprise)
        me = self.app.user(ent.name, caller)
        if target is None:
            target = self.calls.last_busy_colleague(str(ent.id), caller)
            if target is None:
                raise ValidationError(f"{caller}'s last call did not reach a busy colleague")
        colleague = self.app.directory().user(ent.id, target)
        if colleague is None:
            raise ValidationError(f"{target} is no extension of {ent.name}")
        if colleague.id == me.id:
            raise ValidationError(f"{caller} cannot ask for a callback from itself")
        now = self.clock()
        request_id = CallbackRequest.create_id(ent.id, caller)
        try:
            request: CallbackRequest = self.app.repository.get(request_id)
        except AggregateNotFoundError:  # this user's first request
            request = CallbackRequest(ent.id, caller, target, now, now + EXPIRES_AFTER)
        else:
            request.renew(target, now, now + EXPIRES_AFTER)
        self.app.save(request)
        self.catch_up()
        return target

    def cancel(self, enterprise: str | None, caller: str, reason: str = "cancelled") -> bool:
        ent = self.app.enterprise(enterprise)
        request_id = CallbackRequest.create_id(ent.id, caller)
        self.catch_up()
        if request_id not in self.pending:
            return False
        request: CallbackRequest = self.app.repository.get(request_id)
        request.cancel(reason, self.clock())
        self.app.save(request)
        self.catch_up()
        return True

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        directory = self.app.directory()
        ent = directory.enterprise_for_domain(ctx.domain or "")
        if ent is None or ctx.auth_user is None:
            return CommandResult(False, "not a user of this exchange")
        try:
            if command.name == "request":
                target = self.request(ent.name, ctx.auth_user, command.arg("target") or None)
                return CommandResult(True, target)
            if command.name == "cancel":
                if not self.cancel(ent.name, ctx.auth_user):
                    return CommandResult(False, f"{ctx.auth_user} has no callback request")
                return CommandResult(True, "")
        except PbxError as exc:
            log.info("call %s: callback for %s refused: %s", ctx.call_id, ctx.auth_user, exc)
            return CommandResult(False, str(exc))
        return CommandResult(False, f"unknown command {command.name!r}")

    # -- the watcher ----------------------------------------------------------------------------
    def run(self) -> None:
        """Look for requests whose two lines are idle, forever (``pbx serve``)."""
        while True:
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - keep watching after a store hiccup
                log.warning("callback on busy: %s", exc)
            gevent.sleep(self.check_seconds)

    def check(self) -> list[str]:
        """One look: expire old requests, originate the due ones; returns the jobs sent."""
        self.catch_up()
        now = self.clock()
        jobs: list[str] = []
        for pending in list(self.pending.values()):
            if now >= pending.expires_at:
                request: CallbackRequest = self.app.repository.get(pending.id)
                request.cancel("expired", now)
                self.app.save(request)
                continue
            if not self.lines.idle(pending.enterprise_id, pending.caller, pending.target):
                continue
            if now < self._retry_at.get(pending.id, now):
                continue
            job = self._originate(pending)
            if job is None:
                self._retry_at[pending.id] = now + timedelta(seconds=RETRY_SECONDS)
                continue
            request = self.app.repository.get(pending.id)
            request.originate(job, now)
            self.app.save(request)
            jobs.append(job)
        self.catch_up()
        return jobs

    def _originate(self, pending: Pending) -> str | None:
        if self.esl is None or not self.esl_password:
            return None  # no inbound event socket configured: nothing can ring
        directory = self.app.directory()
        ent = directory.enterprises.get(UUID(pending.enterprise_id))
        colleague = directory.user(ent.id, pending.target) if ent else None
        if ent is None or colleague is None:
            return None
        command = originate_command(pending.caller, ent.domain, pending.target, colleague.name)
        job = str(uuid.uuid4())
        host, port = self.esl
        try:
            client = InboundClient(host, port, self.esl_password)
            client.connect()
        except (NotConnectedError, AuthenticationError, EslError, OSError) as exc:
            log.warning("callback %s -> %s: event socket %s:%d: %s", pending.caller,
                        pending.target, host, port, exc)
            return None
        try:
            reply = client.send(f"bgapi {command}\nJob-UUID: {job}").reply_text
        except (NotConnectedError, EslError) as exc:
            log.warning("callback %s -> %s: %s", pending.caller, pending.target, exc)
            return None
        finally:
            client.close()
        if not reply.startswith("+OK"):
            log.warning("callback %s -> %s refused: %s", pending.caller, pending.target, reply)
            return None
        log.info("callback on busy: %s rings, then %s (job %s)", pending.caller,
                 pending.target, job)
        return job
