"""The ``calls`` service: what call control on the phone needs from the log (USR-11/12).

* ``last-received``: who called this user last (call return, ``*69``);
* ``last-placed``: the number this user dialled last (redial, ``*66``);
* ``speed-dial`` / ``speed-dial-off``: program a speed dial slot from the phone (``*74``,
  ``*75``), through the same use case as ``pbx user speed-dial``.

The last calls are an in-memory fold of the calls' events (:class:`CallHistory`), caught up
from the log each time it is asked, so it sees calls other controller processes carried
and survives a restart (rebuilt from the log). Only finished calls count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent

from esl_controller import personal, user_services
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.errors import PbxError
from esl_controller.routing import codes
from esl_controller.routing.actions import Command
from esl_controller.routing.context import CallContext
from esl_controller.routing.outcomes import CommandResult

log = logging.getLogger(__name__)

WITHHELD = ("", "anonymous", "unknown", "private", "0000000000")
CALL_EVENTS = (
    "CallOffered",
    "CallRouted",
    "CallAnswered",
    "CallNumberDialled",
    "CallerNumberWithheld",
    "CallEnded",
)
TOPICS: tuple[str, ...] = tuple(
    f"{Call.__module__}:{Call.__qualname__}.{name}" for name in CALL_EVENTS
)


@dataclass(frozen=True, slots=True)
class LastCall:
    """The other party of a user's last call: a number to dial, or withheld."""

    number: str
    withheld: bool = False


@dataclass
class _Active:
    enterprise_id: str
    caller: str
    caller_user: str | None
    destination: str
    target_user: str | None = None
    answered_by: str | None = None
    withheld: bool = False


class CallHistory:
    """(enterprise, extension) -> last received and last placed call, folded from the log."""

    def __init__(self) -> None:
        self.position = 0
        self._active: dict[UUID, _Active] = {}
        self.received: dict[tuple[str, str], LastCall] = {}
        self.placed: dict[tuple[str, str], LastCall] = {}
        # (enterprise, caller) -> the colleague of their last placed call and its outcome
        self.last_outcome: dict[tuple[str, str], tuple[str | None, str]] = {}

    def catch_up(self, app: Pbx) -> None:
        top = app.last_position()
        if top <= self.position:
            return
        for _position, event in app.events_after(self.position, TOPICS, top):
            self.apply(event)
        self.position = top

    def apply(self, event: DomainEvent) -> None:
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is not None:
            handler(event.originator_id, event)

    def _on_CallOffered(self, cid: UUID, e: Any) -> None:
        if e.enterprise_id is not None:
            self._active[cid] = _Active(str(e.enterprise_id), e.caller or "", e.caller_user,
                                        e.destination or "")

    def _on_CallRouted(self, cid: UUID, e: Any) -> None:
        call = self._active.get(cid)
        if call is not None:
            call.target_user = e.target_user

    def _on_CallAnswered(self, cid: UUID, e: Any) -> None:
        call = self._active.get(cid)
        if call is not None:
            call.answered_by = e.by

    def _on_CallNumberDialled(self, cid: UUID, e: Any) -> None:
        call = self._active.get(cid)
        if call is not None:
            call.destination = e.number

    def _on_CallerNumberWithheld(self, cid: UUID, e: Any) -> None:
        call = self._active.get(cid)
        if call is not None:
            call.withheld = True

    def _on_CallEnded(self, cid: UUID, e: Any) -> None:
        call = self._active.pop(cid, None)
        if call is None:
            return
        ent = call.enterprise_id
        if call.caller_user is not None:
            self.last_outcome[(ent, call.caller_user)] = (call.target_user, e.outcome)
            number = _redialable(call.destination)
            if number is not None:
                self.placed[(ent, call.caller_user)] = LastCall(number)
        if call.caller_user is not None:
            other = LastCall(call.caller_user)
        else:
            withheld = call.withheld or call.caller.strip().lower() in WITHHELD
            other = LastCall("" if withheld else call.caller, withheld)
        for user in {call.target_user, call.answered_by}:
            if user is not None and user.isdigit() and user != call.caller_user:
                self.received[(ent, user)] = other


def _redialable(destination: str) -> str | None:
    """What a redial dials again: the number itself (``*67`` kept), never a feature code."""
    rest = destination.removeprefix(codes.CLIR_PER_CALL)
    if not rest or rest[0] in "*#":
        return None
    return destination


class CallsService:
    """The ``calls`` Command service, registered by bootstrap."""

    def __init__(self, app: Pbx) -> None:
        self.app = app
        self.history = CallHistory()

    def last_busy_colleague(self, enterprise_id: str, extension: str) -> str | None:
        """The colleague whose busy line this user heard on their last call, if they did."""
        self.history.catch_up(self.app)
        target, outcome = self.history.last_outcome.get((enterprise_id, extension), (None, ""))
        return target if outcome == "busy" else None

    def handle(self, command: Command, ctx: CallContext) -> CommandResult:
        directory = self.app.directory()
        ent = directory.enterprise_for_domain(ctx.domain or "")
        if ent is None or ctx.auth_user is None:
            return CommandResult(False, "not a user of this exchange")
        ext = command.arg("extension") or ctx.auth_user
        if command.name in ("last-received", "last-placed"):
            self.history.catch_up(self.app)
            table = self.history.received if command.name == "last-received" else (
                self.history.placed
            )
            last = table.get((str(ent.id), ext))
            if last is None:
                return CommandResult(False, "none")
            if last.withheld:
                return CommandResult(False, "withheld")
            number = personal.open_(self.app, last.number)  # privacy (issue 6): sealed
            if number == personal.ERASED:
                return CommandResult(False, "none")  # the person was erased: as if no call
            return CommandResult(True, number)
        try:
            if command.name == "speed-dial":
                user_services.set_speed_dial(self.app, ent.name, ctx.auth_user,
                                             command.arg("slot"), command.arg("number"))
            elif command.name == "speed-dial-off":
                user_services.remove_speed_dial(self.app, ent.name, ctx.auth_user,
                                                command.arg("slot"))
            else:
                return CommandResult(False, f"unknown command {command.name!r}")
        except PbxError as exc:
            log.info("call %s: %s %s refused: %s", ctx.call_id, ctx.auth_user, command.name, exc)
            return CommandResult(False, str(exc))
        return CommandResult(True, "")
