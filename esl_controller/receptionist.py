"""Use cases of the receptionist console (RCP-1).

A receptionist is a user with a licence: entry (8 monitored users), standard (30) or
premium (unlimited, and queue handling). The console shows each monitored user's line
(idle, ringing, busy, dnd; "private" for users with privacy on, USR-19) from the busy lamp
read model the controller keeps (projections/blf.py), and for every call in progress who
calls whom, from the call's own record (the Call aggregate, keyed by FreeSWITCH's A-leg
uuid). Actions go to FreeSWITCH over its inbound event socket, given as a function that
sends one ``api`` command and returns the reply:

- pick up a ringing call: ``originate {...}user/REC@DOMAIN &intercept(A-LEG)``: the
  receptionist's phone rings; when they answer, it takes the caller and the ringing leg
  ends (``intercept_unanswered_only``: never a call answered meanwhile);
- transfer an answered call: ``uuid_transfer A-LEG DEST XML default``: the caller goes
  through the dialplan to the controller again, routed as a call placed by the monitored
  user who answered it (their calling plan applies, see esl/session.py ``_transferred``);
- park an answered call on a park slot: the same transfer, to the slot's extension.

A premium receptionist also handles call center queues (RCP-1 "premium adds queue
handling"): the console lists the callers waiting in the queues they are given, and they take
a waiting caller out of a queue to their own phone or on to any extension or number. The take
is recorded first (``QueueCallTaken``: the dispatcher never offers the call again), then
``uuid_break CALL`` ends the music slice the caller hears, so the caller's own session (the
queue script) learns it at once and rings the destination, presenting the caller.

Every action sent is recorded as ``ReceptionistActionTaken`` (who did what to which call).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError
from sqlalchemy import select

from esl_controller import personal  # outside parties' numbers are sealed
from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.call_centers import QueueCall
from esl_controller.domain.calls import Call
from esl_controller.domain.receptionist import LICENCES, QUEUE_HANDLING, Receptionist
from esl_controller.errors import NotFoundError, ValidationError
from projections.blf import LINES, METADATA, RANK
from projections.directory import Directory, EnterpriseView, UserView
from projections.tracking import make_engine

Api = Callable[[str], str]
UUID_RE = re.compile(r"^[0-9a-fA-F-]{36}$")


@dataclass(frozen=True, slots=True)
class ActiveCall:
    """One call on a monitored user's line."""

    call_id: str  # FreeSWITCH's A-leg uuid
    state: str  # ringing or busy, for this user
    caller: str  # "Alice Jansen (101)" or the external number
    callee: str  # who was called (or the number dialled)
    answered_by: str | None


@dataclass(frozen=True, slots=True)
class MonitoredLine:
    extension: str
    name: str
    state: str  # idle, ringing, busy, dnd, private
    calls: tuple[ActiveCall, ...] = ()


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """One caller waiting in a queue the (premium) receptionist handles."""

    position: int
    call_id: str  # FreeSWITCH's A-leg uuid
    caller: str  # "06 12345678", "Alice Jansen (101)" or "anonymous"
    waited: int  # seconds since the call entered the queue
    priority: int
    ringing: tuple[str, ...]  # agents being offered the call right now


@dataclass(frozen=True, slots=True)
class HandledQueue:
    name: str
    extension: str
    waiting: tuple[WaitingCaller, ...]


@dataclass(frozen=True, slots=True)
class Console:
    receptionist: UserView
    licence: str
    limit: int | None
    queue_handling: bool
    lines: tuple[MonitoredLine, ...]
    queues: tuple[HandledQueue, ...] = ()  # premium: the queues handled, live


def _receptionist(app: Pbx, ent: EnterpriseView, extension: str) -> tuple[UserView, Receptionist]:
    user = app.user(ent.name, extension)
    try:
        found: Receptionist = app.repository.get(Receptionist.create_id(user.id))
    except AggregateNotFoundError:
        raise NotFoundError(
            f"{user.extension} ({user.name}) is no receptionist: add one with "
            "'pbx receptionist add EXT --licence entry|standard|premium'") from None
    return user, found


def _check_licence(licence: str) -> str:
    licence = licence.strip().lower()
    if licence not in LICENCES:
        raise ValidationError(f"unknown licence {licence!r}: use entry, standard or premium")
    return licence


def _limit_words(licence: str) -> str:
    limit = LICENCES[licence]
    return "unlimited" if limit is None else f"at most {limit}"


def add_receptionist(app: Pbx, enterprise: str | None, extension: str, licence: str
                     ) -> Receptionist:
    """Make a user a receptionist, or change the licence of one (never below the users
    monitored already)."""
    licence = _check_licence(licence)
    ent = app.enterprise(enterprise)
    user = app.user(ent.name, extension)
    try:
        found: Receptionist = app.repository.get(Receptionist.create_id(user.id))
    except AggregateNotFoundError:
        found = Receptionist(ent.id, user.id, user.extension, licence)
        app.save(found)
        return found
    limit = LICENCES[licence]
    if limit is not None and len(found.monitored) > limit:
        raise ValidationError(
            f"{user.extension} monitors {len(found.monitored)} users; the {licence} licence "
            f"allows {_limit_words(licence)}: monitor fewer first")
    if found.queues and licence not in QUEUE_HANDLING:
        raise ValidationError(
            f"{user.extension} handles {len(found.queues)} queue(s); the {licence} licence "
            f"has no queue handling: 'pbx receptionist queues {user.extension} none' first")
    if found.licence != licence:
        found.change_licence(licence)
        app.save(found)
    return found


def set_monitored(app: Pbx, enterprise: str | None, extension: str, users: list[str]
                  ) -> Receptionist:
    """The complete list of users the receptionist monitors (replaces the one before)."""
    ent = app.enterprise(enterprise)
    user, found = _receptionist(app, ent, extension)
    wanted: list[str] = []
    directory = app.directory()
    for raw in users:
        ext = raw.strip()
        if not ext:
            continue
        if directory.user(ent.id, ext) is None:
            raise ValidationError(f"no user with extension {ext} in {ent.name!r}")
        if ext == user.extension:
            raise ValidationError(f"{ext} is the receptionist: a console does not monitor itself")
        if ext in wanted:
            raise ValidationError(f"{ext} is given twice")
        wanted.append(ext)
    if not wanted:
        raise ValidationError("give the users to monitor: EXT[,EXT...]")
    if found.limit is not None and len(wanted) > found.limit:
        raise ValidationError(
            f"the {found.licence} licence of {user.extension} monitors at most {found.limit} "
            f"users, not {len(wanted)}")
    if wanted != found.monitored:
        found.monitor(wanted)
        app.save(found)
    return found


def _party(directory_user: UserView | None, number: str) -> str:
    if directory_user is not None:
        return f"{directory_user.name} ({directory_user.extension})"
    return numbers.national_format(number) if number.startswith("+") else number or "anonymous"


def console(app: Pbx, enterprise: str | None, extension: str, now: datetime | None = None
            ) -> Console:
    """The receptionist's view: every monitored user's line and calls, now; for a premium
    receptionist also the queues they handle with their waiting callers."""
    ent = app.enterprise(enterprise)
    user, found = _receptionist(app, ent, extension)
    directory = app.directory()
    rows: dict[str, list[tuple[str, str]]] = {}
    engine = make_engine(app.db_url)
    try:
        METADATA.create_all(engine, checkfirst=True)
        with engine.connect() as conn:
            query = select(LINES.c.extension, LINES.c.call_id, LINES.c.state).where(
                LINES.c.enterprise_id == str(ent.id))
            for row in conn.execute(query):
                rows.setdefault(str(row.extension), []).append((str(row.call_id), str(row.state)))
    finally:
        engine.dispose()
    lines: list[MonitoredLine] = []
    for ext in found.monitored:
        monitored = directory.user(ent.id, ext)
        if monitored is None:  # removed since: shown, never acted on
            lines.append(MonitoredLine(ext, "(removed)", "idle"))
            continue
        if monitored.privacy:
            lines.append(MonitoredLine(ext, monitored.name, "private"))
            continue
        mine = rows.get(ext, [])
        state = max((s for _, s in mine), key=RANK.__getitem__, default="idle")
        calls: list[ActiveCall] = []
        for call_id, call_state in mine:
            if call_state not in ("ringing", "busy"):
                continue  # the DND row
            call = _call(app, call_id)
            if call is None or call.ended:
                continue
            calls.append(_active(app, directory, ent, call, call_id, call_state))
        lines.append(MonitoredLine(ext, monitored.name, state, tuple(calls)))
    queues = _handled(app, directory, ent, found, now or datetime.now(UTC)) \
        if found.queue_handling else ()
    return Console(user, found.licence, found.limit, found.queue_handling, tuple(lines),
                   queues)


def _call(app: Pbx, call_id: str) -> Call | None:
    try:
        found: Call = app.repository.get(UUID(call_id))
    except (AggregateNotFoundError, ValueError):
        return None
    return found


def _active(app: Pbx, directory: Directory, ent: EnterpriseView, call: Call, call_id: str,
            state: str) -> ActiveCall:
    """Outside parties' numbers are sealed in the log (esl_controller.personal): opened."""
    caller_user = directory.user(ent.id, call.caller_user) if call.caller_user else None
    target = call.target_user or call.destination
    callee_user = directory.user(ent.id, target) if target else None
    return ActiveCall(call_id, state, _party(caller_user, personal.open_(app, call.caller)),
                      _party(callee_user, personal.open_(app, call.destination)),
                      call.answered_by)


# -- actions -------------------------------------------------------------------------------


def _parties(call: Call) -> set[str]:
    return {p for p in (call.caller_user, call.target_user, call.answered_by, *call.alerted)
            if p}


def pickup_command(receptionist: UserView, domain: str, call: Call, call_id: str,
                   caller_name: str = "", caller_number: str = "") -> str:
    """Ring the receptionist, showing the caller; on answer they take the caller of the
    ringing call."""
    shown = caller_number or call.caller
    name = re.sub(r"['{}\\\r\n,]", "", caller_name or shown).strip() or "anonymous"
    number = re.sub(r"[^0-9+*#]", "", shown) or "anonymous"
    variables = ",".join((
        f"origination_caller_id_number={number}",
        f"origination_caller_id_name='{name}'",
        "intercept_unanswered_only=true",
        "originate_timeout=30",
    ))
    return f"originate {{{variables}}}user/{receptionist.extension}@{domain} &intercept({call_id})"


def transfer_command(call_id: str, destination: str) -> str:
    return f"uuid_transfer {call_id} {destination} XML default"


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: str
    call_id: str
    on_behalf_of: str
    destination: str
    command: str
    reply: str


def act(
    app: Pbx,
    enterprise: str | None,
    extension: str,
    action: str,
    call_id: str,
    destination: str | None,
    api: Api,
    at: datetime,
) -> ActionResult:
    """Pick up, transfer or park call ``call_id`` of a monitored user, over ``api``.

    Everything is checked before anything is sent; the action is recorded only once
    FreeSWITCH accepted the command (``+OK``)."""
    ent = app.enterprise(enterprise)
    user, found = _receptionist(app, ent, extension)
    call_id = call_id.strip().lower()
    if not UUID_RE.fullmatch(call_id):
        raise ValidationError(f"{call_id!r} is no call id (see 'pbx receptionist show')")
    call = _call(app, call_id)
    if call is None or call.enterprise_id != ent.id:
        raise NotFoundError(f"no call {call_id} in {ent.name!r}")
    if call.ended:
        raise ValidationError(f"call {call_id} has ended")
    watched = [p for p in found.monitored if p in _parties(call)]
    if not watched:
        raise ValidationError(
            f"call {call_id} involves none of the users {user.extension} monitors")
    on_behalf = watched[0]
    directory = app.directory()
    if action == "pickup":
        if destination:
            raise ValidationError("pickup takes no destination: the call comes to the "
                                  "receptionist's phone")
        if call.answered_by is not None:
            raise ValidationError(f"call {call_id} was answered by {call.answered_by}: only "
                                  "a ringing call can be picked up")
        target = user.extension
        caller = directory.user(ent.id, call.caller_user) if call.caller_user else None
        command = pickup_command(user, ent.domain, call, call_id,
                                 caller.name if caller is not None else "",
                                 personal.open_(app, call.caller))
    elif action in ("transfer", "park"):
        if call.answered_by is None:
            raise ValidationError(f"call {call_id} is still ringing: pick it up first "
                                  "(only an answered call can be transferred or parked)")
        if call.caller_user is not None and call.caller_user == call.answered_by:
            raise ValidationError("that call was placed by the monitored user")
        if not destination or not destination.strip():
            raise ValidationError(f"{action} needs a destination")
        target = destination.strip()
        if action == "park":
            slot = directory.target(ent.id, target)
            if slot is None or slot.kind != "park":
                raise ValidationError(f"{target!r} is no park slot of {ent.name!r}")
            on_behalf = call.answered_by if call.answered_by in found.monitored else on_behalf
        else:
            target = _transfer_destination(app, ent, target)
        if target == call.answered_by:
            raise ValidationError(f"call {call_id} is with {target} already")
        command = transfer_command(call_id, target)
    else:
        raise ValidationError(f"unknown action {action!r}: pickup, transfer or park")
    reply = api(command).strip()
    if not reply.startswith("+OK"):
        raise ValidationError(f"FreeSWITCH refused the {action}: {reply or 'no reply'}")
    found.take_action(action, call_id, on_behalf, target, command, at)
    app.save(found)
    return ActionResult(action, call_id, on_behalf, target, command, reply)


def _transfer_destination(app: Pbx, ent: EnterpriseView, text: str) -> str:
    """A user's or target's extension, or a number: as the dialplan gets it."""
    directory = app.directory()
    if directory.user(ent.id, text) is not None or directory.target(ent.id, text) is not None:
        return text
    if text.isdigit() and ent.in_plan(text):
        raise ValidationError(f"{text} is no extension of {ent.name!r}")
    e164 = numbers.try_normalise(text, ent.country)
    if e164 is None:
        raise ValidationError(f"{text!r} is no extension of {ent.name!r} and no telephone number")
    return e164


def actions_taken(app: Pbx, enterprise: str | None, extension: str) -> list[dict[str, str]]:
    """The receptionist's recorded actions, oldest first."""
    ent = app.enterprise(enterprise)
    _, found = _receptionist(app, ent, extension)
    taken: list[dict[str, str]] = []
    for event in app.repository.event_store.get(found.id):
        if type(event).__name__ == "ReceptionistActionTaken":
            data = event.__dict__
            taken.append({k: personal.open_(app, str(data[k])) for k in
                          ("action", "call_id", "on_behalf_of", "destination", "at")})
    return taken


def may_handle_queues(app: Pbx, enterprise: str | None, extension: str) -> bool:
    """Whether the user is a receptionist whose licence (premium) includes handling call
    center queues: for the call center's supervisor commands to check."""
    ent = app.enterprise(enterprise)
    user = app.user(ent.name, extension)
    try:
        found: Receptionist = app.repository.get(Receptionist.create_id(user.id))
    except AggregateNotFoundError:
        return False
    return found.queue_handling


# -- queue handling (premium) ---------------------------------------------------------------


def _premium(user: UserView, found: Receptionist) -> None:
    if not found.queue_handling:
        raise ValidationError(f"{user.extension} has the {found.licence} licence: queue "
                              "handling comes with the premium licence only")


def set_queues(app: Pbx, enterprise: str | None, extension: str, queues: list[str]
               ) -> list[str]:
    """The complete list of call center queues (names or extensions) a premium receptionist
    handles; ``none`` alone clears it. Returns the queues' names."""
    from esl_controller.call_centers import CallCenters

    ent = app.enterprise(enterprise)
    user, found = _receptionist(app, ent, extension)
    _premium(user, found)
    wanted = [q.strip() for q in queues if q.strip()]
    if wanted == ["none"]:
        wanted = []
    elif not wanted:
        raise ValidationError("give the queues to handle: QUEUE[,QUEUE...] (or none)")
    centers = CallCenters(app)
    ids: list[str] = []
    names: list[str] = []
    for raw in wanted:
        view = centers.queue(ent.name, raw)
        if str(view.id) in ids:
            raise ValidationError(f"queue {view.name} is given twice")
        ids.append(str(view.id))
        names.append(view.name)
    if ids != found.queues:
        found.give_queues(ids)
        app.save(found)
    return names


def _handled(app: Pbx, directory: Directory, ent: EnterpriseView, found: Receptionist,
             now: datetime) -> tuple[HandledQueue, ...]:
    """The queues the receptionist handles, each with its waiting callers in the order the
    dispatcher serves them (removed queues are left out)."""
    handled: list[HandledQueue] = []
    for queue_id in found.queues:
        queue = directory.queues.get(UUID(queue_id))
        if queue is None or queue.enterprise_id != ent.id:
            continue
        waiting = []
        for position, call in enumerate(directory.waiting_in(queue.id), 1):
            number = personal.open_(app, call.caller)
            user = directory.user(ent.id, number) if number.isdigit() else None
            waiting.append(WaitingCaller(
                position, call.call_id, _party(user, number),
                max(0, int((now - call.enqueued_at).total_seconds())), call.priority,
                tuple(call.offered_to)))
        handled.append(HandledQueue(queue.name, queue.extension, tuple(waiting)))
    return tuple(handled)


def break_command(call_id: str) -> str:
    """End the media the caller hears now (a music slice of the queue's wait): the caller's
    session looks at the queue again at once."""
    return f"uuid_break {call_id}"


def take(
    app: Pbx,
    enterprise: str | None,
    extension: str,
    call_id: str,
    destination: str | None,
    api: Api,
    at: datetime,
    ready: Callable[[], None] | None = None,
) -> ActionResult:
    """Take waiting call ``call_id`` out of a queue the premium receptionist handles: to
    their own phone, or on to ``destination`` (an extension or a number).

    Everything is checked first; the take is recorded (``QueueCallTaken`` and
    ``ReceptionistActionTaken``, one write: a concurrent offer to an agent makes it fail and
    nothing is written), then ``uuid_break`` goes to FreeSWITCH. Should FreeSWITCH not
    answer ``+OK``, the take stands: the caller's session sees it at its next look for an
    agent, after the current music slice (``reply`` tells). ``ready`` runs once everything
    is checked, before anything is recorded (the CLI connects to the event socket there)."""
    ent = app.enterprise(enterprise)
    user, found = _receptionist(app, ent, extension)
    _premium(user, found)
    call_id = call_id.strip().lower()
    if not UUID_RE.fullmatch(call_id):
        raise ValidationError(f"{call_id!r} is no call id (see 'pbx receptionist show')")
    directory = app.directory()
    waiting = directory.queue_call_of(call_id)
    queue = directory.queues.get(waiting.queue_id) if waiting is not None else None
    if waiting is None or queue is None or queue.enterprise_id != ent.id:
        raise NotFoundError(f"no call {call_id} is waiting in a queue of {ent.name!r}")
    if str(queue.id) not in found.queues:
        raise ValidationError(f"call {call_id} waits in queue {queue.name}, which "
                              f"{user.extension} does not handle")
    if waiting.offered_to:
        raise ValidationError(f"call {call_id} is ringing agent {', '.join(waiting.offered_to)}"
                              ": take it when it waits again")
    if destination is None or not destination.strip():
        target = user.extension
    else:
        target = _transfer_destination(app, ent, destination.strip())
        if target in (queue.extension, *queue.numbers):
            raise ValidationError(f"call {call_id} is in queue {queue.name} already")
    command = break_command(call_id)
    if ready is not None:
        ready()
    queue_call: QueueCall = app.repository.get(waiting.id)
    if queue_call.ended is not None:
        raise ValidationError(f"call {call_id} left the queue meanwhile ({queue_call.ended})")
    if queue_call.offered_to:
        raise ValidationError(f"call {call_id} is ringing agent "
                              f"{', '.join(queue_call.offered_to)}: take it when it waits again")
    # privacy (issue 6): an outside number the caller is sent to is sealed in the events
    person = personal.outsider(directory, target)
    recorded = target if person is None else personal.seal(app, target, person)
    queue_call.take(user.extension, recorded, at)
    found.take_action("take", call_id, f"queue {queue.name}", recorded, command, at)
    try:
        app.save(queue_call, found)
    except RecordConflictError:
        raise ValidationError(f"call {call_id} was offered to an agent or left the queue "
                              "just now: look again") from None
    reply = api(command).strip()
    return ActionResult("take", call_id, f"queue {queue.name}", target, command, reply)
