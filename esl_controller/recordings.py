"""Call recording (REC-1, REC-2): per-user policies, recording during calls, retention.

* Policies: ``pbx user recording EXT --mode M [--retention C]`` records a RecordingPolicy
  event; the Directory folds it (projections/recording_fold.py).
* During a call the session (esl/session.py) hands each bridged call to a
  :class:`CallRecorder`: for each party who is a user with a recording mode it asks
  routing/recording.py what to do and carries it out through FreeSWITCH's ``uuid_record``
  on the caller's channel (A-leg): ``start PATH [LIMIT]`` (one WAV per recorded user with
  both sides of the conversation mixed, like ``record_session``), ``mask`` / ``unmask``
  (FreeSWITCH writes silence while masked) and the in-call codes: the caller's as the
  A-leg's DTMF, the called party's through ``bind_meta_app`` on the A-leg, which fires a
  CUSTOM ``pbx::incall`` event (routing/recording.py explains the mechanism). At the end
  it reads the real WAV's length and records RecordingStopped; an on-demand recording not
  kept is deleted (RecordingDiscarded + RecordingPurged "discarded").
* Monthly cap (7y-1000 / 7y-3500): the recording starts with LIMIT = the seconds left
  this month; FreeSWITCH stops it there and fires RECORD_STOP; the controller records
  RecordingStopped(reason="monthly-cap") and plays :data:`CAP_TONE` to the user's leg
  (``uuid_broadcast``). With nothing left, nothing is recorded: RecordingStarted and
  RecordingStopped(0 s, "monthly-cap") with no file, and the tone.
* Retention: :meth:`RecordingService.purge` deletes audio older than its class's days
  (RecordingPurged "retention"); ``pbx recordings purge`` and a daily greenlet of
  ``pbx serve`` run it.
"""

from __future__ import annotations

import logging
import os
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import gevent
import gevent.queue
from eventsourcing.application import AggregateNotFoundError

from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.domain.recordings import (
    MODES,
    RETENTION_CLASSES,
    Recording,
    RecordingPolicy,
    month_of,
)
from esl_controller.errors import ValidationError
from esl_controller.routing import recording as decide
from esl_controller.routing.trace import Trace
from projections.directory import Directory, UserView

log = logging.getLogger(__name__)

DEFAULT_RECORDINGS_DIR = "var/recordings"
DEFAULT_MODE, DEFAULT_RETENTION = "never", "90d"
PURGE_INTERVAL_SECONDS = 24 * 3600.0
CAP_TONE = "tone_stream://%(300,200,620);loops=3"  # built into FreeSWITCH: no sound file
RECORDING_TOPICS = tuple(
    f"esl_controller.domain.recordings:Recording.{name}"
    for name in ("RecordingStarted", "RecordingStopped", "RecordingKept", "RecordingDiscarded",
                 "RecordingPurged")
)
API_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    """One recording as ``pbx recordings list`` shows it."""

    id: UUID
    call_id: str
    enterprise_id: UUID
    extension: str
    other_party: str
    direction: str
    mode: str
    retention: str
    started_at: datetime
    seconds: float | None
    stop_reason: str | None
    kept: bool | None
    purged: str | None  # purge reason
    path: str


class RecordingService:
    """Policies, the recordings' files and their retention."""

    def __init__(self, app: Pbx, storage: Path | str = DEFAULT_RECORDINGS_DIR,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.storage = Path(storage).absolute()
        self.clock = clock

    # -- policies ------------------------------------------------------------------------
    def set_policy(self, enterprise: str | None, extension: str, mode: str | None,
                   retention: str | None) -> tuple[UserView, str, str]:
        user = self.app.user(enterprise, extension)
        if mode is not None and mode not in MODES:
            raise ValidationError(f"unknown recording mode {mode!r}: use one of "
                                  + ", ".join(MODES))
        if retention is not None and retention not in RETENTION_CLASSES:
            raise ValidationError(f"unknown retention class {retention!r}: use one of "
                                  + ", ".join(RETENTION_CLASSES))
        if mode is None and retention is None:
            raise ValidationError("give --mode and/or --retention")
        try:
            policy: RecordingPolicy = self.app.repository.get(RecordingPolicy.create_id(user.id))
        except AggregateNotFoundError:
            policy = RecordingPolicy(user.enterprise_id, user.id, mode or DEFAULT_MODE,
                                     retention or DEFAULT_RETENTION)
        else:
            new = (mode or policy.mode, retention or policy.retention)
            if new != (policy.mode, policy.retention):
                policy.set(*new)
        self.app.save(policy)
        return user, policy.mode, policy.retention

    @staticmethod
    def policy_of(directory: Directory, user: UserView) -> tuple[str, str]:
        view = directory.recording_policy(user.id)
        return (view.mode, view.retention) if view else (DEFAULT_MODE, DEFAULT_RETENTION)

    # -- the recordings ------------------------------------------------------------------
    def recordings(self) -> list[RecordingSummary]:
        """Every recording, oldest first, from the events."""
        found: dict[UUID, dict[str, Any]] = {}
        for _position, domain_event in self.app.events_after(0, RECORDING_TOPICS):
            event: Any = domain_event
            name = type(event).__name__
            rid = event.originator_id
            if name == "RecordingStarted":
                found[rid] = {
                    "id": rid, "call_id": event.call_id, "enterprise_id": event.enterprise_id,
                    "extension": event.extension,
                    "other_party": personal.open_(self.app, event.other_party),
                    "direction": event.direction, "mode": event.mode,
                    "retention": event.retention, "started_at": event.at, "seconds": None,
                    "stop_reason": None, "kept": None, "purged": None, "path": event.path}
            elif rid in found and name == "RecordingStopped":
                found[rid].update(seconds=event.seconds, stop_reason=event.reason)
            elif rid in found and name in ("RecordingKept", "RecordingDiscarded"):
                found[rid]["kept"] = name == "RecordingKept"
            elif rid in found and name == "RecordingPurged":
                found[rid]["purged"] = event.reason
        return [RecordingSummary(**r) for r in found.values()]

    def purge(self, now: datetime | None = None) -> list[RecordingSummary]:
        """Delete the audio of recordings past their class's days; returns them."""
        now = now or self.clock()
        purged = []
        for item in self.recordings():
            days = RETENTION_CLASSES[item.retention][0]
            if item.purged is not None or item.started_at + timedelta(days=days) > now:
                continue
            if item.stop_reason is None and item.started_at + timedelta(days=1) > now:
                continue  # still being recorded
            recording: Recording = self.app.repository.get(item.id)
            _remove(item.path)
            recording.purge(now, "retention")
            self.app.save(recording)
            purged.append(item)
        if purged:
            log.info("recordings: purged %d past their retention", len(purged))
        return purged

    def run_purger(self, interval: float = PURGE_INTERVAL_SECONDS) -> None:
        """Loop forever (a greenlet of ``pbx serve``): retention once a day."""
        while True:
            try:
                self.purge()
            except Exception:  # boundary: the purger keeps running after a store hiccup
                log.exception("recording purge failed")
            gevent.sleep(interval)

    def path_for(self, enterprise_id: UUID, extension: str, call_id: str, at: datetime
                 ) -> Path:
        folder = self.storage / str(enterprise_id) / extension
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{at:%Y%m%dT%H%M%S}-{call_id}.wav"


def wav_seconds(path: str) -> float:
    """The length of a WAV file in seconds (0 when there is none)."""
    try:
        with wave.open(path, "rb") as wav:
            rate = wav.getframerate()
            return round(wav.getnframes() / rate, 2) if rate else 0.0
    except (OSError, EOFError, wave.Error):
        return 0.0


def _remove(path: str) -> None:
    if not path:
        return
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# -- during a call -----------------------------------------------------------------------
@dataclass
class Party:
    """One recorded user of a call."""

    user: UserView
    leg: str  # "aleg" (the caller's phone) or "bleg" (the answering party)
    state: decide.RecorderState
    retention: str
    other_party: str
    direction: str
    limit: int | None = None
    recording: Recording | None = None
    path: str = ""
    stop_reason: str | None = None
    events: list[str] = field(default_factory=list)


class CallRecorder:
    """The recording side of one call, driven by the session's channel events.

    Events are queued and carried out one at a time in a greenlet of its own, so the
    session's event dispatcher never waits for a reply of FreeSWITCH.
    """

    def __init__(self, service: RecordingService, api: Callable[[str], str], channel: str,
                 call_id: str, trace: Trace, directory: Callable[[], Directory]) -> None:
        self.service = service
        self.api = api
        self.channel = channel
        self.call_id = call_id
        self.trace = trace
        self.directory = directory
        self.parties: list[Party] = []
        self._queue: gevent.queue.Queue[tuple[str, Any]] = gevent.queue.Queue()
        self._worker: gevent.Greenlet[Any, Any] | None = None
        self._star = False
        self._stopped_by_switch: set[str] = set()
        self._bound: tuple[str, ...] = ()  # code digits bound for the called party

    # -- from the session (dispatcher greenlet) ------------------------------------------
    def bridged(self, enterprise_id: str | None, caller: str | None, callee: str | None,
                caller_number: str, destination: str) -> None:
        if not enterprise_id or not self._anyone_recorded(UUID(enterprise_id), caller, callee):
            return  # the common case costs two dict look-ups, no greenlet
        self._put("bridge", (enterprise_id, caller, callee, caller_number, destination))

    def _anyone_recorded(self, enterprise_id: UUID, *extensions: str | None) -> bool:
        directory = self.directory()
        for extension in extensions:
            user = directory.user(enterprise_id, extension) if extension else None
            if user is not None and RecordingService.policy_of(directory, user)[0] != "never":
                return True
        return False

    def dtmf(self, headers: dict[str, str]) -> None:
        self._put("dtmf", headers.get("DTMF-Digit", ""))

    # -- the called party's codes (bind_meta_app on the A-leg, CUSTOM pbx::incall) --------
    def called_party_bindings(self, enterprise_id: str | None, extensions: list[str]
                              ) -> list[str]:
        """The ESL commands to send before ringing ``extensions`` so that the one who
        answers can use their codes: the CUSTOM subscription (once) and a pipelined
        ``sendmsg`` running ``bind_meta_app`` per code digit their modes use and not bound
        yet (FreeSWITCH runs them, in order, before the ``bridge`` queued after them)."""
        if not enterprise_id or not extensions:
            return []
        directory = self.directory()
        ent = UUID(enterprise_id)
        modes = [RecordingService.policy_of(directory, user)[0] for user in
                 (directory.user(ent, ext) for ext in extensions if ext.isdigit())
                 if user is not None]
        codes = decide.codes_to_bind(modes, self._bound)
        if not codes:
            return []
        texts = [] if self._bound else [f"event plain CUSTOM {decide.CALLED_CODE_SUBCLASS}"]
        self._bound = tuple(sorted({*self._bound, *codes}))
        texts += [("sendmsg\ncall-command: execute\nexecute-app-name: bind_meta_app\n"
                   f"execute-app-arg: {decide.meta_app_arg(code)}\nevent-lock: true")
                  for code in codes]
        return texts

    def custom(self, headers: dict[str, str]) -> None:
        """A CUSTOM event on the A-leg: the called party pressed a bound code."""
        code = decide.code_of_event(headers)
        if code is not None:
            self._put("called-code", code)

    def record_stop(self, headers: dict[str, str]) -> None:
        self._put("record-stop", headers.get("Record-File-Path", ""))

    def finish(self, timeout: float = API_TIMEOUT) -> None:
        """After the hang-up: the lengths from the WAVs, stop, keep or discard."""
        if self._worker is None:
            return
        self._queue.put(("end", None))
        self._worker.join(timeout=timeout * 2)

    def _put(self, kind: str, item: Any) -> None:
        if self._worker is None:
            self._worker = gevent.spawn(self._run)
        self._queue.put((kind, item))

    def _run(self) -> None:
        while True:
            kind, item = self._queue.get()
            try:
                if kind == "bridge":
                    self._on_bridge(*item)
                elif kind == "dtmf":
                    self._on_digit(item)
                elif kind == "called-code":
                    self._on_code("bleg", item)
                elif kind == "record-stop":
                    self._on_switch_stop(item)
                else:
                    self._on_end()
                    return
            except Exception:  # boundary: recording never breaks the call
                log.exception("call %s: recording %s failed", self.call_id, kind)
                if kind == "end":
                    return

    # -- the decisions carried out -------------------------------------------------------
    def _on_bridge(self, enterprise_id: str | None, caller: str | None, callee: str | None,
                   caller_number: str, destination: str) -> None:
        if self.parties or not enterprise_id:
            return  # recorded from the first bridge (a transfer keeps the recording going)
        directory = self.directory()
        ent = UUID(enterprise_id)
        a_user = directory.user(ent, caller) if caller else None
        b_user = directory.user(ent, callee) if callee and callee.isdigit() else None
        if b_user is not None and a_user is not None and b_user.id == a_user.id:
            b_user = None
        if a_user is not None:
            self._start(directory, a_user, "aleg", callee or destination,
                        "internal" if b_user is not None else "outbound")
        if b_user is not None:
            self._start(directory, b_user, "bleg", caller or caller_number,
                        "internal" if a_user is not None else "inbound")

    def _start(self, directory: Directory, user: UserView, leg: str, other: str,
               direction: str) -> None:
        mode, retention = RecordingService.policy_of(directory, user)
        now = self.service.clock()
        used = directory.recorded_seconds(user.id, month_of(now))
        start = decide.at_bridge(mode, retention, used)
        if start is None:
            return
        party = Party(user, leg, decide.RecorderState(mode), retention, other, direction,
                      start.limit_seconds)
        self.parties.append(party)
        self.trace.add("recording", "refused" if start.refused_by_cap else mode,
                       f"{user.extension}: {start.why}")
        if start.refused_by_cap:
            recording = self._new_recording(party, "", now)
            recording.stop(now, 0.0, "monthly-cap")
            party.stop_reason = "monthly-cap"
            party.state = decide.RecorderState(mode, stopped=True)
            self.service.app.save(recording)
            self._tell(party)
        elif start.record_now:
            self._begin(party, now)

    def _new_recording(self, party: Party, path: str, now: datetime) -> Recording:
        other, _name = personal.sealed_caller(  # privacy: an outsider's number sealed
            self.service.app, self.directory(), party.other_party)
        recording = Recording(self.call_id, party.user.enterprise_id, party.user.id,
                              party.user.extension, other, party.direction,
                              party.state.mode, path, party.retention, now)
        party.recording = recording
        return recording

    def _begin(self, party: Party, now: datetime) -> None:
        path = str(self.service.path_for(party.user.enterprise_id, party.user.extension,
                                         self.call_id, now))
        if party.limit is not None:  # FreeSWITCH fires RECORD_STOP at the limit
            self.api("event plain RECORD_STOP")
        limit = f" {party.limit}" if party.limit is not None else ""
        reply = self.api(f"api uuid_record {self.channel} start {path}{limit}")
        if not reply.startswith("+OK"):
            self.trace.add("recording", "failed", f"{party.user.extension}: {reply.strip()}")
            return
        party.path = path
        party.state = decide.RecorderState(party.state.mode, started=True,
                                           kept=party.state.kept)
        self.service.app.save(self._new_recording(party, path, now))

    def _on_digit(self, digit: str) -> None:
        self._star, code = decide.feed_digit(self._star, digit)
        if code is not None:
            self._on_code("aleg", code)  # the A-leg's DTMF: the caller's phone

    def _on_code(self, leg: str, code: str) -> None:
        """Code digit ``code`` from the phone of the party on ``leg``, for their recording."""
        party = next((p for p in self.parties if p.leg == leg), None)
        if party is None:
            return  # that party is not recorded: their codes mean nothing here
        party.state, effect, words = decide.on_code(party.state, code)
        phone = "the caller's phone" if leg == "aleg" else "the called party's phone"
        self.trace.add("recording", effect or "ignored",
                       f"{party.user.extension}: {words} (from {phone})")
        now = self.service.clock()
        if effect == "start":
            self._begin(party, now)
            return
        recording = party.recording
        if recording is None or effect is None:
            return
        if effect == "keep":
            recording.keep(now)
        elif effect in ("pause", "resume"):
            verb = "mask" if effect == "pause" else "unmask"
            self.api(f"api uuid_record {self.channel} {verb} {party.path}")
            (recording.pause if effect == "pause" else recording.resume)(now)
        elif effect == "stop":
            self.api(f"api uuid_record {self.channel} stop {party.path}")
            party.stop_reason = "user"
            self._stop(party, now)
        self.service.app.save(recording)

    def _on_switch_stop(self, path: str) -> None:
        """RECORD_STOP before the hang-up: FreeSWITCH reached the monthly cap's limit."""
        party = next((p for p in self.parties if p.path == path and p.path), None)
        if party is None or party.recording is None or party.state.stopped:
            return
        if party.limit is None or wav_seconds(path) < party.limit - 0.5:
            return  # closed by the hang-up: the end of the call records it
        party.stop_reason = "monthly-cap"
        self._stop(party, self.service.clock())
        self.service.app.save(party.recording)
        self.trace.add("recording", "monthly-cap",
                       f"{party.user.extension}: monthly cap reached, recording stopped")
        self._tell(party)

    def _tell(self, party: Party) -> None:
        """The user hears the cap tone on their own leg."""
        self.api(f"api uuid_broadcast {self.channel} {CAP_TONE} {party.leg}")

    def _stop(self, party: Party, now: datetime) -> None:
        assert party.recording is not None
        seconds = wav_seconds(party.path)
        party.recording.stop(now, seconds, party.stop_reason or "call-ended")
        party.state = decide.RecorderState(party.state.mode, started=True, stopped=True,
                                           kept=party.state.kept)

    def _on_end(self) -> None:
        now = self.service.clock()
        for party in self.parties:
            recording = party.recording
            if recording is None or not party.path:
                continue
            if not party.state.stopped:
                limit_hit = (party.limit is not None
                             and wav_seconds(party.path) >= party.limit - 0.5)
                party.stop_reason = "monthly-cap" if limit_hit else "call-ended"
                self._stop(party, now)
            if party.state.mode == "on-demand" and not party.state.kept:
                recording.discard(now)
                _remove(party.path)
                recording.purge(now, "discarded")
            elif party.state.mode == "on-demand-start":
                recording.keep(now)
            self.service.app.save(recording)

