"""Drives one call: runs its routing script and carries out each action over ESL.

A thin executor. The script (esl_controller.routing) decides; this module turns Actions into
``sendmsg`` commands, FreeSWITCH's events into Outcomes, and records every step that matters
as an event on the call's aggregate. Every wait has a timeout. The caller hanging up at any
moment closes the script and ends the call cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
from eventsourcing.application import AggregateNotFoundError
from greenswitch.esl import OutboundSessionHasGoneAway

from esl_controller.call_writer import CallWriter
from esl_controller.domain.calls import Call
from esl_controller.errors import PbxError, StoreUnavailableError
from esl_controller.esl import media
from esl_controller.esl.headers import parse_channel_data
from esl_controller.esl.server import ControllerSession
from esl_controller.lines import ActiveLines
from esl_controller.personal import CallParties  # privacy (issue 6): outsiders sealed
from esl_controller.reroute import configuration_read, context_record  # audit (issue 6)
from esl_controller.routing import announcements
from esl_controller.routing.actions import (
    Action,
    Answer,
    CollectDigits,
    Command,
    GatewayNumber,  # privacy (issue 6)
    Hangup,
    Playback,
    PreAnswer,
    ReceiveFax,  # fax to e-mail (OPT-3)
    Record,
    Ring,
)
from esl_controller.routing.actions import (
    Execute as ExecuteApp,  # call services (issue 4)
)
from esl_controller.routing.causes import HangupCause
from esl_controller.routing.context import CallContext, Origin
from esl_controller.routing.outcomes import (
    CommandResult,
    Done,
    Executed,  # call services (issue 4)
    FaxReceived,  # fax to e-mail (OPT-3)
    Outcome,
    Rang,
    Recorded,
    RingResult,
)
from esl_controller.routing.route import route_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.routing.trace import Trace
from projections.directory import Directory

if TYPE_CHECKING:  # call recording (REC-1)
    from esl_controller.recordings import CallRecorder, RecordingService

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 5.0
MEDIA_TIMEOUT = 60.0
MAX_CALL_SECONDS = 4 * 3600
LINGER_SECONDS = 30
# transfer_ringback: the ring tone a caller already answered (a menu, an announcement) hears
# while a bridge rings; the Dutch ring cadence, 425 Hz 1 s on, 4 s off.
BRIDGE_VARIABLES = ("hangup_after_bridge=true continue_on_fail=true "
                    "transfer_ringback=%(1000,4000,425)")
HOLD_EVENTS = "event plain CHANNEL_HOLD CHANNEL_UNHOLD"
OUTCOME_BY_CAUSE = {
    HangupCause.USER_BUSY: "busy",
    HangupCause.NO_ANSWER: "no-answer",
    HangupCause.USER_NOT_REGISTERED: "not-reachable",
    HangupCause.CALL_REJECTED: "rejected",
}
OUTCOME_BY_RESULT = {
    RingResult.BUSY: "busy",
    RingResult.NO_ANSWER: "no-answer",
    RingResult.NOT_REACHABLE: "not-reachable",
    RingResult.REJECTED: "rejected",
    RingResult.FAILED: "failed",
    RingResult.WITHDRAWN: "no-answer",
}
# Call centers (CC-2): a Ring with ``watch`` marks its legs ``pbx_ring=<caller's uuid>``;
# when the watching service says so (the offered agent turned unavailable), ``hupall`` ends
# exactly those legs (LOSE_RACE: the phone shows no missed call) and ``bridge`` returns.
RING_WATCH_VARIABLE = "pbx_ring"
RING_WATCH_SECONDS = 0.25
WITHDRAW_CAUSE = HangupCause.LOSE_RACE


CHANNEL_SERVICES = ("pickup", "park", "conference")  # Commands given the caller's channel


class CallerGoneError(Exception):
    """The caller hung up (or the switch went away) while an action ran."""


CommandHandler = Callable[[Command, CallContext], CommandResult]


@dataclass
class Services:
    """What a call needs from the rest of the controller."""

    directory: Callable[[], Directory]
    writer: CallWriter
    settings: RoutingSettings
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Stateful services scripts talk to through Command actions, by service name.
    commands: dict[str, CommandHandler] = field(default_factory=dict)
    lines: ActiveLines = field(default_factory=ActiveLines)
    # Channel uuid -> (enterprise id, extension) of the party who answered it: who can
    # transfer that channel (USR-11). Bounded: the oldest entries go first.
    answered_parties: OrderedDict[str, tuple[str, str]] = field(default_factory=OrderedDict)
    # Called with the call's context when a call ended (call centers: a caller who hangs up
    # while waiting in a queue abandons it).
    call_ended: list[Callable[[CallContext], None]] = field(default_factory=list)
    # Called with the call's context, who answered and FreeSWITCH's uuid of their leg when
    # the first bridge comes up (call centers: the agent answered a queue call, CC-5).
    call_bridged: list[Callable[[CallContext, str, str], None]] = field(default_factory=list)
    recordings: RecordingService | None = None  # call recording (REC-1), bootstrap.py
    # Asked while a Ring with ``watch=NAME`` rings: a reason to withdraw it, or None
    # (call centers: the queue service, when the offered agent turned unavailable).
    ring_watch: dict[str, Callable[[CallContext], str | None]] = field(default_factory=dict)
    # Restarts (issue 5): the calls in progress by channel uuid, so a stopping controller
    # can hand its waiting queue callers back to FreeSWITCH (CallRun.detach).
    live: dict[str, CallRun] = field(default_factory=dict)


MAX_ANSWERED_PARTIES = 10000


def handle_call(services: Services, sess: ControllerSession) -> None:
    """The per-connection handler given to ControllerServer."""
    data = sess.connect(timeout=COMMAND_TIMEOUT)
    ctx = parse_channel_data(data)
    channel = ctx.call_id
    ctx, transfer_note = _transferred(services, data, ctx)
    ctx, resumed = _reattached(services, data, ctx)  # after a controller restart
    run = CallRun(services, sess, ctx, channel, transfer_note)
    if resumed is not None:
        run.resumed = resumed
        run.trace.add("controller", "re-attached", "FreeSWITCH connected the channel again "
                      "after a controller restart (socket_resume): the call goes on")
    try:
        # myevents does not include hold: subscribed apart, still locked to this channel.
        sess.commands(["myevents", f"linger {LINGER_SECONDS}", HOLD_EVENTS],
                      timeout=COMMAND_TIMEOUT)
    except OutboundSessionHasGoneAway:
        run.gone_early = True  # recorded all the same: offered, then cancelled
    services.live[channel] = run
    try:
        run.run()
    finally:
        if services.live.get(channel) is run:
            del services.live[channel]
        sess.close()


def _reattached(services: Services, data: dict[str, str], ctx: CallContext
                ) -> tuple[CallContext, Call | None]:
    """A channel the dialplan connected again after its controller went away
    (``pbx_reattach``, freeswitch-conf/dialplan): the call recorded under its uuid goes
    on (a queue caller is re-attached at its place, call_centers.py). A call never
    recorded (no controller took it at first) is a new call; one recorded as ended gets
    a new id derived from the channel's."""
    if (data.get("variable_pbx_reattach") or "").lower() != "true":
        return ctx, None
    # The queue script set pbx_queue_call: the call's id (a blind transfer's differs
    # from the channel's uuid).
    call_id = (data.get("variable_pbx_queue_call") or "").strip() or ctx.call_id
    try:
        call: Call = services.writer.app.repository.get(Call.create_id(call_id))
    except (AggregateNotFoundError, ValueError):
        call_id = ctx.call_id
        try:
            call = services.writer.app.repository.get(Call.create_id(call_id))
        except (AggregateNotFoundError, ValueError):
            return ctx, None
    if not call.ended:
        return replace(ctx, call_id=call_id), call
    try:
        new_id = str(uuid.uuid5(uuid.UUID(ctx.call_id), f"reattach:{call.version}"))
    except ValueError:
        new_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.call_id}/reattach/{call.version}"))
    return replace(ctx, call_id=new_id), None


def _transferred(
    services: Services, data: dict[str, str], ctx: CallContext
) -> tuple[CallContext, str | None]:
    """A channel the dialplan sent here again after a blind transfer (SIP REFER).

    FreeSWITCH marks it with ``transfer_source``; it is the same channel (same uuid) as the
    call it was transferred out of, so it is recorded as a new call (id derived from both).
    It is routed as a call placed by the TRANSFERRING user, known from this controller's own
    record of who answered that channel, never from a header: their calling plan applies,
    so a transfer cannot reach what the transferor may not dial. No known transferor: the
    call is refused.
    """
    source = (data.get("variable_transfer_source") or "").strip()
    if not source or source == "_undef_":
        return ctx, None
    try:
        new_id = str(uuid.uuid5(uuid.UUID(ctx.call_id), source))
    except ValueError:
        new_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.call_id}/{source}"))
    party = services.answered_parties.get(ctx.call_id) or _answered_in_log(services, ctx.call_id)
    directory = services.directory()
    enterprise = directory.enterprises.get(uuid.UUID(party[0])) if party else None
    if party is None or enterprise is None:
        note = f"blind transfer to {ctx.destination} by an unknown party: refused"
        return replace(ctx, call_id=new_id, origin=Origin.INTERNAL, auth_user=None,
                       domain=None, privacy=False), note
    transferor = party[1]
    note = (f"blind transfer by {transferor} to {ctx.destination}: routed as a call placed by "
            f"{transferor}, whose calling plan applies")
    return replace(ctx, call_id=new_id, origin=Origin.INTERNAL, auth_user=transferor,
                   domain=enterprise.domain, privacy=False, diverted_from=None), note


def _answered_in_log(services: Services, channel: str) -> tuple[str, str] | None:
    try:
        call: Call = services.writer.app.call(channel)
    except (PbxError, ValueError):
        return None
    if call.enterprise_id is None or not (call.answered_by or "").isdigit():
        return None
    return str(call.enterprise_id), str(call.answered_by)


class CallRun:
    """One call from offer to end."""

    def __init__(self, services: Services, sess: ControllerSession, ctx: CallContext,
                 channel: str | None = None, transfer_note: str | None = None) -> None:
        self.services = services
        self.sess = sess
        self.ctx = ctx
        self.channel = channel or ctx.call_id  # FreeSWITCH's uuid of the caller's channel
        self.trace = Trace()
        if transfer_note is not None:
            self.trace.add("transfer", "blind", transfer_note)
        self.transferred_to: str | None = None  # blind transfer: the channel left
        self.call: Call | None = None
        self.answered_by: str | None = None
        self.answered_at: datetime | None = None
        self.last_result: RingResult | None = None
        self.final_cause: HangupCause | None = None
        self.refused = False
        self.ringing: tuple[str, ...] = ()
        self.bridge_prepared = False
        self.gone_early = False
        self.answered_as: str | None = None
        self.routed: tuple[str, str | None] = ("", None)
        self.configuration: tuple[int, list[dict[str, Any]]] = (0, [])  # audit (issue 6)
        self.bridged_leg: str | None = None  # the leg the caller is bridged to right now
        self.first_leg: str | None = None  # the leg that answered
        self.ringback_set: str | None = None  # custom ringback set on the channel (issue 4)
        # privacy (issue 6): outside parties' numbers are sealed before any event records them
        self.parties = CallParties(services.writer.app, None)
        self.recorder: CallRecorder | None = None  # call recording (REC-1)
        self.withdrawn: str | None = None  # why the watched ring was withdrawn (CC-2)
        self.log = logging.LoggerAdapter(log, {"call": ctx.call_id})
        self.resumed: Call | None = None  # re-attached after a controller restart
        self.detached = False  # handed back to FreeSWITCH by a stopping controller

    # -- the call ------------------------------------------------------------------------
    def run(self) -> None:
        started = self.services.clock()
        directory = self.services.directory()
        script = route_call(
            self.ctx, directory, self.services.settings, self.trace, started,
            self.services.lines.busy,
        )
        try:
            action: Action | None = next(script)
        except StopIteration:
            action = None
        # audit (issue 6): the configuration this decision read, for explain and reroute
        self.configuration = (directory.position, configuration_read(
            directory, self.ctx, self.trace.classification))
        if not self._record_offer(started):
            script.close()
            return
        self.sess.on("CHANNEL_BRIDGE", self._on_bridge)
        self.sess.on("CHANNEL_UNBRIDGE", self._on_unbridge)
        self.sess.on("CHANNEL_HOLD", self._on_hold)
        self.sess.on("CHANNEL_UNHOLD", self._on_unhold)
        self._start_recorder()  # call recording (REC-1)
        try:
            if self.gone_early:
                raise CallerGoneError
            while action is not None:
                self._record_new_steps()
                outcome = self._execute(action)
                try:
                    action = script.send(outcome)
                except StopIteration:
                    action = None
        except CallerGoneError:
            self.log.info("caller hung up during the call (%s)", self.ctx.call_id)
        finally:
            script.close()
            self._record_new_steps()
            self._finish(started)

    def _record_offer(self, started: datetime) -> bool:
        if self.resumed is not None:  # a controller restart: the call's record goes on
            return self._record_resumed()
        cls = self.trace.classification
        pd = self.parties  # privacy (issue 6): seal outsiders' numbers
        pd.directory = self.services.directory()
        caller = (self.ctx.caller_number if cls.caller_user
                  else pd.value(self.ctx.caller_number) or "")
        call = Call(
            self.ctx.call_id,
            uuid.UUID(cls.enterprise_id) if cls.enterprise_id else None,
            caller,
            cls.caller_user,
            pd.value(self.ctx.destination) or "",
            self.ctx.origin.value,
            pd.text(self.ctx.channel),
            started,
        )
        call.route(cls.kind, cls.target_user,
                   pd.steps([s.as_dict() for s in self.trace.take_new()]))
        call.note_configuration(  # audit (issue 6): pbx calls explain, pbx audit reroute
            *self.configuration, pd.context(context_record(self.ctx, self.services.settings)))
        self.routed = (cls.kind, cls.target_user)
        if self.ctx.privacy and cls.caller_user is None:
            call.withhold()  # call return must never reveal a withheld number
        self.call = call
        try:
            self.services.writer.save(call)
        except StoreUnavailableError as exc:
            self.log.error("call %s not routed, store unavailable: %s", self.ctx.call_id, exc)
            self._fail_safely()
            return False
        if cls.caller_user and cls.enterprise_id:
            self.services.lines.add(cls.enterprise_id, cls.caller_user, self.ctx.call_id)
        self.services.lines.calls.offered(self.ctx.call_id, self.channel)  # pickup, park
        decision = "; ".join(s.detail for s in self.trace.steps)
        self.log.info("call %s routed: %s", self.ctx.call_id, decision)
        return True

    def _record_resumed(self) -> bool:
        cls = self.trace.classification
        self.parties.directory = self.services.directory()
        steps = self.parties.steps([s.as_dict() for s in self.trace.take_new()])
        call = self.resumed
        for attempt in (1, 2):
            assert call is not None
            call.continue_route(steps)
            self.call = call
            try:
                self.services.writer.save(call)
                break
            except StoreUnavailableError as exc:
                if attempt == 1:  # the stopping process wrote its last events meanwhile
                    with contextlib.suppress(Exception):
                        call = self.services.writer.app.repository.get(call.id)
                        continue
                self.log.error("call %s not resumed, store unavailable: %s",
                               self.ctx.call_id, exc)
                self._fail_safely()
                return False
        self.routed = (cls.kind, cls.target_user)
        if cls.caller_user and cls.enterprise_id:
            self.services.lines.add(cls.enterprise_id, cls.caller_user, self.ctx.call_id)
        self.services.lines.calls.offered(self.ctx.call_id, self.channel)
        self.log.info("call %s re-attached after a controller restart", self.ctx.call_id)
        return True

    def detach(self) -> None:
        """Hand the call back to FreeSWITCH without ending it (a stopping controller's
        waiting queue callers): the socket closes without ``exit`` or hangup, so the
        dialplan's ``socket_resume`` window connects the channel to the next controller.
        Nothing more is recorded: the call is not over."""
        self.detached = True
        try:
            self.sess.sock.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            self.log.info("call %s: detach: %s", self.ctx.call_id, exc)

    def _fail_safely(self) -> None:
        """The caller hears an announcement and the call ends; never left hanging."""
        try:
            self.sess.execute("pre_answer", None, timeout=COMMAND_TIMEOUT)
            self.sess.execute("playback", announcements.SERVICE_UNAVAILABLE, timeout=MEDIA_TIMEOUT)
            self.sess.hangup(HangupCause.NORMAL_TEMPORARY_FAILURE.value, timeout=COMMAND_TIMEOUT)
        except (OutboundSessionHasGoneAway, Exception) as exc:  # noqa: BLE001
            self.log.warning("call %s: could not play the failure notice: %s", self.ctx.call_id, exc)

    def _record_new_steps(self) -> None:
        new = self.trace.take_new()
        cls = self.trace.classification
        changed = (cls.kind, cls.target_user) != self.routed
        if self.call is not None and changed and (new or cls.target_user != self.routed[1]):
            # A code (redial, call return, speed dial) resolved to a destination: the call
            # is routed anew, so the call log and the lamps see the real callee.
            self.routed = (cls.kind, cls.target_user)
            self.call.route(cls.kind, cls.target_user,
                            self.parties.steps([s.as_dict() for s in new]))
        elif new and self.call is not None:
            self.call.continue_route(self.parties.steps([s.as_dict() for s in new]))

    # -- actions -------------------------------------------------------------------------
    def _execute(self, action: Action) -> Outcome:
        if self.sess.hangup_headers is not None and not isinstance(action, (Hangup, Command)):
            raise CallerGoneError  # commands still run: e.g. keep a message left before hangup
        try:
            if isinstance(action, Answer):
                self._app("answer", None, COMMAND_TIMEOUT)
            elif isinstance(action, PreAnswer):
                self._app("pre_answer", None, COMMAND_TIMEOUT)
                self.refused = True
            elif isinstance(action, Playback):
                self._app("playback", action.media, MEDIA_TIMEOUT)
            elif isinstance(action, Hangup):
                self.final_cause = action.cause
                if self.sess.hangup_headers is None:
                    self.sess.hangup(action.cause.value, timeout=COMMAND_TIMEOUT)
            elif isinstance(action, Ring):
                return self._ring(action)
            elif isinstance(action, (Record, CollectDigits, ReceiveFax)):
                outcome = media.execute(self.sess, action, MEDIA_TIMEOUT)
                if self.sess.hangup_headers is not None and not isinstance(
                        outcome, (Recorded, FaxReceived)):  # a fax machine hangs up when done
                    raise CallerGoneError
                return outcome
            elif isinstance(action, ExecuteApp):
                return self._execute_app(action)
            elif isinstance(action, Command) and action.service == "session":
                return self._session_command(action)
            elif isinstance(action, Command):
                handler = self.services.commands.get(action.service)
                if handler is None:
                    self.log.error("call %s: no service %r", self.ctx.call_id, action.service)
                    return CommandResult(False, "no such service")
                if action.service in CHANNEL_SERVICES:  # they need the caller's channel
                    action = Command(action.service, action.name,
                                     (*action.args, ("channel", self.channel)))
                return handler(action, self.ctx)
        except OutboundSessionHasGoneAway:
            raise CallerGoneError from None
        return Done()

    def _session_command(self, command: Command) -> CommandResult:
        """Commands about this call itself: recorded on its aggregate."""
        assert self.call is not None
        if command.name == "dialled":
            self.call.dial(self.parties.value(command.arg("number")) or "",
                           command.arg("how"))
            self.services.writer.save_later(self.call)
            return CommandResult(True, "")
        return CommandResult(False, f"unknown session command {command.name!r}")

    def _app(self, app: str, arg: str | None, timeout: float) -> dict[str, str]:
        result = self.sess.execute(app, arg, timeout=timeout)
        if self.sess.hangup_headers is not None:
            raise CallerGoneError
        return result

    def _ring(self, ring: Ring) -> Outcome:
        assert self.call is not None
        self.ringing = tuple(t.label() for t in ring.targets)
        self.answered_as = ring.answered_as
        for target in ring.targets:  # privacy (issue 6): an outside number rung is sealed
            if isinstance(target, GatewayNumber):
                self.parties.add(target.number)
        self.call.alert([self.parties.text(t) for t in self.ringing], self.services.clock())
        self.services.writer.save_later(self.call)
        if not self.bridge_prepared:
            # A-leg variables: {...} in the dial string only reaches the called legs.
            self.sess.execute("multiset", f"{BRIDGE_VARIABLES} hold_music={self.hold_music}",
                              COMMAND_TIMEOUT, wait=False)
            self.bridge_prepared = True
        self._set_ringback(ring)  # call services: custom ringback, ringing index (pickup)
        self._mark_ringing(ring)
        self._bind_called_codes(ring)  # call recording (REC-1): the called party's codes
        self.withdrawn = None
        watcher = self._watch_ring(ring)  # call centers: an offer withdrawn while ringing
        try:
            complete = self.sess.execute(
                "bridge", dial_string(ring, self._callee_hold_music(ring), self.ctx.domain,
                                      self.channel if watcher is not None else None),
                timeout=ring.timeout + MAX_CALL_SECONDS,
            )
        finally:
            self.services.lines.calls.stop_ringing(self.channel)
            if watcher is not None:
                watcher[1].set()
                watcher[0].join(timeout=COMMAND_TIMEOUT)
        if self.answered_by is not None:
            self._check_blind_transfer(complete)
            return Rang(RingResult.ANSWERED, HangupCause.NORMAL_CLEARING, self.answered_by)
        cause = HangupCause.parse(
            complete.get("variable_originate_disposition") or complete.get("Hangup-Cause")
        )
        if self.sess.hangup_headers is not None or cause is HangupCause.ORIGINATOR_CANCEL:
            raise CallerGoneError
        if self.withdrawn is not None:  # we ended the legs (Ring.watch)
            self.withdrawn = None
            return Rang(RingResult.WITHDRAWN, cause)
        rang = Rang.failed_with(cause)
        self.last_result = rang.result
        return rang

    def _watch_ring(self, ring: Ring) -> tuple[gevent.Greenlet, gevent.event.Event] | None:
        """Ask the ring's watching service every RING_WATCH_SECONDS whether to withdraw it;
        when it gives a reason, ``api hupall`` the legs carrying this call's mark."""
        check = self.services.ring_watch.get(ring.watch) if ring.watch else None
        if check is None:
            return None
        stop = gevent.event.Event()

        def watch() -> None:
            while not stop.wait(RING_WATCH_SECONDS):
                if self.answered_by is not None or self.sess.hangup_headers is not None:
                    return
                try:
                    reason = check(self.ctx)
                except Exception as exc:  # noqa: BLE001 - the ring goes on regardless
                    self.log.error("call %s: ring watch failed: %s", self.ctx.call_id, exc)
                    continue
                if reason is None or stop.is_set() or self.answered_by is not None:
                    continue
                self.withdrawn = reason
                reply = self.sess.command(f"api hupall {WITHDRAW_CAUSE.value} "
                                          f"{RING_WATCH_VARIABLE} {self.channel}",
                                          timeout=COMMAND_TIMEOUT)
                if not reply.startswith("+OK"):
                    self.withdrawn = None
                    self.log.warning("call %s: withdrawing the ring failed: %s",
                                     self.ctx.call_id, reply.strip())
                    continue
                self.log.info("call %s: ring withdrawn: %s", self.ctx.call_id, reason)
                return

        return gevent.spawn(watch), stop

    def _on_bridge(self, headers: dict[str, str]) -> None:
        """CHANNEL_BRIDGE: the callee answered; record it at once (lamps go busy)."""
        other_leg = headers.get("Other-Leg-Unique-ID") or headers.get("Bridge-B-Unique-ID")
        if self.call is not None and self.answered_by is not None:
            if other_leg and self.first_leg and other_leg != self.first_leg:
                self._attended_transfer(headers, other_leg)
            return
        self.first_leg = self.bridged_leg = other_leg
        if self.call is None:
            return
        other = headers.get("Other-Leg-Destination-Number", "")
        by = self.services.lines.calls.picked_by(self.channel) or self.answered_as or next(
            (t for t in self.ringing if t == other), self.ringing[0] if self.ringing else other
        )
        now = self.services.clock()
        self.answered_by, self.answered_at = by, now
        enterprise_id = self.trace.classification.enterprise_id
        if enterprise_id and by.isdigit():
            self.services.lines.add(enterprise_id, by, self.ctx.call_id)
            parties = self.services.answered_parties
            parties[self.channel] = (enterprise_id, by)
            parties.move_to_end(self.channel)
            while len(parties) > MAX_ANSWERED_PARTIES:
                parties.popitem(last=False)
        self.call.answer(self.parties.text(by), now)
        self.call.bridge(self.parties.text(headers.get("Other-Leg-Channel-Name", by)), now)
        self.services.writer.save_later(self.call)
        for bridged in self.services.call_bridged:  # call centers: agent leg (CC-5)
            try:
                bridged(self.ctx, by, other_leg or "")
            except Exception as exc:  # noqa: BLE001 - the call goes on regardless
                self.log.error("call %s: bridge hook failed: %s", self.ctx.call_id, exc)
        if self.recorder is not None:  # call recording (REC-1): the parties are known now
            self.recorder.bridged(enterprise_id, self.trace.classification.caller_user, by,
                                  self.ctx.caller_number, self.ctx.destination)

    # -- call recording (REC-1, esl_controller/recordings.py) ------------------------------
    def _start_recorder(self) -> None:
        """Recording follows the A-leg's DTMF (the caller's in-call codes), the CUSTOM
        ``pbx::incall`` events of what :meth:`_bind_called_codes` bound (the called party's)
        and RECORD_STOP (cap)."""
        service = self.services.recordings
        if service is None:
            return
        from esl_controller.recordings import CallRecorder

        def api(text: str) -> str:
            return self.sess.command(text, timeout=COMMAND_TIMEOUT)

        self.recorder = CallRecorder(service, api, self.channel, self.ctx.call_id, self.trace,
                                     self.services.directory)
        self.sess.on("DTMF", self.recorder.dtmf)
        self.sess.on("RECORD_STOP", self.recorder.record_stop)
        self.sess.on("CUSTOM", self.recorder.custom)  # the called party's codes

    def _bind_called_codes(self, ring: Ring) -> None:
        """Before ringing users with an in-call-code mode: ``bind_meta_app`` on the A-leg so
        their DTMF, on the B-leg, reaches the controller as a CUSTOM event (one write)."""
        if self.recorder is None:
            return
        from esl_controller.routing.actions import SharedDevice, UserDevices

        users = [t.extension for t in ring.targets if isinstance(t, (UserDevices, SharedDevice))]
        if ring.answered_as:
            users.append(ring.answered_as)  # mobility: the user's mobile rings as them
        texts = self.recorder.called_party_bindings(self.trace.classification.enterprise_id,
                                                    users)
        if texts:
            self.sess.commands(texts, timeout=COMMAND_TIMEOUT)

    # -- call services (issue 4): pickup, park, conference, music on hold, ringback --------
    def _execute_app(self, action: ExecuteApp) -> Executed:
        """Run an application until it returns; bridged meanwhile (intercept) or not."""
        if action.variables:
            assignments = " ".join(f"{k}={v}" for k, v in action.variables)
            self.sess.execute("multiset", assignments, COMMAND_TIMEOUT, wait=False)
        if action.answered_as is not None:
            self.answered_as = action.answered_as
        before = self.answered_by
        complete = self.sess.execute(action.app, action.arg, timeout=MAX_CALL_SECONDS)
        bridged = before is None and self.answered_by is not None
        if self.sess.hangup_headers is not None and not bridged:
            raise CallerGoneError
        return Executed(complete.get("Application-Response", ""), bridged)

    def _choice(self, what: str, extension: str | None, *more: str | None) -> str | None:
        enterprise_id = self.trace.classification.enterprise_id
        if not enterprise_id:
            return None
        directory = self.services.directory()
        chosen = getattr(directory, what, None)
        return chosen(uuid.UUID(enterprise_id), extension, *more) if chosen is not None else None

    def _callee_hold_music(self, ring: Ring) -> str:
        """What the caller hears when the called user holds: that user's choice, else the
        dialled group's, else the enterprise's."""
        first = ring.targets[0].label() if len(ring.targets) == 1 else None
        enterprise_id = self.trace.classification.enterprise_id
        return (self._choice("hold_music_of", first, self.ctx.destination)
                or self.services.settings.hold_music_for(enterprise_id))

    def _set_ringback(self, ring: Ring) -> None:
        """``ringback`` / ``transfer_ringback`` on the A-leg: the callee's or enterprise's."""
        first = ring.targets[0].label() if ring.targets else None
        tone = self._choice("ringback_of", first, self.ctx.destination)  # user, group
        if tone and tone != self.ringback_set:
            self.sess.execute("multiset", f"ringback={tone} transfer_ringback={tone}",
                              COMMAND_TIMEOUT, wait=False)
            self.ringback_set = tone

    def _mark_ringing(self, ring: Ring) -> None:
        from esl_controller.routing.actions import UserDevices

        enterprise_id = self.trace.classification.enterprise_id
        for target in ring.targets:
            if enterprise_id and isinstance(target, UserDevices):
                self.services.lines.calls.ring(enterprise_id, target.extension, self.channel)

    # -- during the call (USR-11) ----------------------------------------------------------
    @property
    def hold_music(self) -> str:
        """What the other party hears when the caller's phone holds: the caller's choice,
        else the enterprise's (``pbx moh``), else the switch-wide setting."""
        return self._choice("hold_music_of", self.trace.classification.caller_user) or (
            self.services.settings.hold_music_for(self.trace.classification.enterprise_id))

    def _party(self, headers: dict[str, str]) -> str:
        """Who a channel event is about: the caller (A-leg) or the answering party."""
        if headers.get("Unique-ID", self.channel) == self.channel:
            return self.trace.classification.caller_user or self.ctx.caller_number or "caller"
        return self.answered_by or headers.get("Caller-Destination-Number", "callee")

    def _on_hold(self, headers: dict[str, str]) -> None:
        """CHANNEL_HOLD: a phone put the call on hold (re-INVITE); the other hears music."""
        if self.call is None or self.answered_by is None:
            return
        by = self._party(headers)
        self.call.hold(self.parties.text(by), self.hold_music, self.services.clock())
        self.services.writer.save_later(self.call)

    def _on_unhold(self, headers: dict[str, str]) -> None:
        if self.call is None or self.answered_by is None:
            return
        self.call.resume(self.parties.text(self._party(headers)), self.services.clock())
        self.services.writer.save_later(self.call)

    def _on_unbridge(self, headers: dict[str, str]) -> None:
        other_leg = headers.get("Other-Leg-Unique-ID") or headers.get("Bridge-B-Unique-ID")
        if other_leg is None or other_leg == self.bridged_leg:
            self.bridged_leg = None

    def _attended_transfer(self, headers: dict[str, str], other_leg: str) -> None:
        """A new CHANNEL_BRIDGE on an answered call: the switch bridged the caller to the
        party the callee consulted (REFER with Replaces, or ``att_xfer``)."""
        assert self.call is not None
        self.bridged_leg = other_leg
        to = headers.get("Other-Leg-Destination-Number") or headers.get(
            "Other-Leg-Channel-Name", "another party")
        by = self.answered_by or "callee"
        now = self.services.clock()
        self.parties.add(to)
        self.call.transfer("attended", by, self.parties.text(to), now)
        self.services.writer.save_later(self.call)
        enterprise_id = self.trace.classification.enterprise_id
        if enterprise_id and to.isdigit():
            self.services.lines.add(enterprise_id, to, self.ctx.call_id)
            self.services.answered_parties[self.channel] = (enterprise_id, to)
        if enterprise_id and by.isdigit():
            self.services.lines.remove(enterprise_id, by, self.ctx.call_id)

    def _check_blind_transfer(self, complete: dict[str, str]) -> None:
        """The bridge ended because the callee REFERred the caller elsewhere: FreeSWITCH set
        ``transfer_source`` and sends the channel through the dialplan again."""
        source = complete.get("variable_transfer_source") or ""
        before = self.sess.session_data.get("variable_transfer_source") or ""
        if not source or source == before or self.call is None:
            return
        parts = source.split(":", 3)
        destination = parts[3].split("/", 1)[0] if len(parts) == 4 else "another destination"
        self.transferred_to = destination
        self.parties.add(destination)
        self.call.transfer("blind", self.answered_by or "callee", self.parties.text(destination),
                           self.services.clock())
        self.trace.add("transfer", "blind",
                       f"{self.answered_by} transferred the call to {destination}")

    # -- the end -------------------------------------------------------------------------
    def _finish(self, started: datetime) -> None:
        self.services.lines.end(self.ctx.call_id)
        if self.detached:  # handed back to FreeSWITCH: another controller goes on with it
            self.log.info("call %s handed back to FreeSWITCH", self.ctx.call_id)
            return
        for ended in self.services.call_ended:  # call centers: abandoned queue calls
            try:
                ended(self.ctx)
            except Exception as exc:  # noqa: BLE001 - the call's own end is recorded anyway
                self.log.error("call %s: end hook failed: %s", self.ctx.call_id, exc)
        if self.call is None:
            return
        if (self.bridged_leg is not None and self.transferred_to is None
                and self.sess.hangup_headers is None and not self.sess.gone.is_set()):
            # Still bridged after the bridge app returned (attended transfer): the call goes
            # on between the caller and the new party; its end is FreeSWITCH's.
            gevent.wait([self.sess.hangup_complete, self.sess.gone], timeout=MAX_CALL_SECONDS,
                        count=1)
        if (self.sess.hangup_headers is None and self.final_cause is None
                and self.transferred_to is None):
            try:
                self.sess.hangup(HangupCause.NORMAL_CLEARING.value, timeout=COMMAND_TIMEOUT)
            except (OutboundSessionHasGoneAway, Exception) as exc:  # noqa: BLE001
                self.log.warning("call %s: hangup failed: %s", self.ctx.call_id, exc)
        if not self.sess.gone.is_set() and self.transferred_to is None:
            gevent.wait([self.sess.hangup_complete, self.sess.gone], timeout=COMMAND_TIMEOUT,
                        count=1)
        if self.recorder is not None:  # call recording (REC-1): lengths, keep or discard
            self.recorder.finish()
            self._record_new_steps()
        outcome, cause = self._result()
        now = self.services.clock()
        talk = (now - self.answered_at).total_seconds() if self.answered_at else 0.0
        self.call.end(cause.value, outcome, now, (now - started).total_seconds(), talk)
        try:
            self.services.writer.save(self.call)
        except StoreUnavailableError as exc:
            self.log.error("call %s: end not recorded: %s", self.ctx.call_id, exc)
        self.log.info("call %s ended: %s (%s)", self.ctx.call_id, outcome, cause.value)

    def _result(self) -> tuple[str, HangupCause]:
        headers: dict[str, Any] = self.sess.hangup_headers or {}
        switch_cause = HangupCause.parse(headers.get("Hangup-Cause"))
        if self.answered_by is not None:
            return "answered", switch_cause if headers else HangupCause.NORMAL_CLEARING
        cause = self.final_cause
        if self.trace.classification.outcome is not None:
            return self.trace.classification.outcome, cause or HangupCause.NORMAL_CLEARING
        if cause is None:
            return "cancelled", HangupCause.ORIGINATOR_CANCEL
        if self.refused:
            return "refused", cause
        if cause in OUTCOME_BY_CAUSE:
            return OUTCOME_BY_CAUSE[cause], cause
        if self.last_result is not None:
            return OUTCOME_BY_RESULT[self.last_result], cause
        return "failed", cause


def dial_string(ring: Ring, hold_music: str | None = None, domain: str | None = None,
                watch_mark: str | None = None) -> str:
    """``{vars}target1,target2``: ring all targets at once; first to answer wins.

    ``hold_music`` is what the caller hears when the called phone holds the call; a Ring
    with ``auto_answer`` (intercom) asks the phone to answer by itself: ``sip_auto_answer``
    (sofia's intercom support) and ``Call-Info: <sip:DOMAIN>;answer-after=0`` on the INVITE.
    """
    name = ring.caller_id_name.replace("'", "").replace(",", " ").replace("}", "")
    variables = ",".join(
        [
            f"call_timeout={ring.timeout}",
            "hangup_after_bridge=true",
            "continue_on_fail=true",
            "ignore_early_media=true",
            f"origination_caller_id_number={ring.caller_id_number}",
            f"origination_caller_id_name='{name}'",
        ]
        + ([f"sip_h_Diversion='{ring.diversion}'"] if ring.diversion else [])
        + (["origination_privacy=hide_name:hide_number"] if ring.privacy else [])
        + ([f"hold_music={hold_music}"] if hold_music else [])
        + ([
            "sip_auto_answer=true",
            f"sip_h_Call-Info=<sip:{domain or 'localhost'}>;answer-after=0",
        ] if ring.auto_answer else [])
        + ([f"alert_info='{ring.alert_info}'"] if ring.alert_info else [])
        + ([f"{RING_WATCH_VARIABLE}={watch_mark}"] if watch_mark else [])
    )
    return "{" + variables + "}" + ",".join(t.dial_string() for t in ring.targets)
