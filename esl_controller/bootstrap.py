"""Wiring: which store, which ports, which projections. ``pbx serve`` and tests build this."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gevent

from esl_controller.application import Pbx
from esl_controller.assistants import AssistantsService  # manager/assistant (MA-1)
from esl_controller.call_centers import (  # issue 5
    POLL_CATCH_UP_SECONDS,
    REATTACH_WINDOW,
    QueueService,
)
from esl_controller.call_history import CallsService
from esl_controller.call_writer import CallWriter
from esl_controller.callback_on_busy import CHECK_SECONDS, CallbackOnBusy
from esl_controller.calling_plans import CapacityService, PinService
from esl_controller.click_to_call import ClickToCallService
from esl_controller.esl.inbound import EventSubscriber, PresencePublisher
from esl_controller.esl.server import ControllerServer
from esl_controller.esl.session import Services, handle_call
from esl_controller.fax import DEFAULT_FAX_DIR, FaxService  # fax to e-mail (OPT-3)
from esl_controller.hotdesk import HotDeskService
from esl_controller.hunt_service import HuntService
from esl_controller.notify import NotifyService
from esl_controller.park import CallServicesRuntime
from esl_controller.recordings import DEFAULT_RECORDINGS_DIR, RecordingService  # REC-1/2
from esl_controller.routing.script import DEFAULT_HOLD_MUSIC, RoutingSettings
from esl_controller.settings_service import SettingsService
from esl_controller.voicemail import Mailer, VoicemailService
from esl_controller.web import DirectoryHttpServer
from esl_controller.worker import ProjectionWorker, WorkerProcess
from projections.directory import Directory
from projections.tracking import Follower

log = logging.getLogger(__name__)

DEFAULT_ESL_PASSWORD = "ClueCon"


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` -> (host, port); loopback unless told otherwise."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid address {text!r}: use HOST:PORT")
    return host, int(port)


@dataclass
class ServeConfig:
    db_url: str | None = None
    listen: tuple[str, int] = ("127.0.0.1", 8084)
    http: tuple[str, int] | None = ("127.0.0.1", 8085)
    esl: tuple[str, int] | None = None
    esl_password: str | None = None
    gateway: str | None = None
    poll_interval: float = 0.05
    # "inline": projections in this process (tests, simulate); "process": a worker process
    # (pbx serve: folding the log never competes with call setup); "off": none.
    projections: str = "inline"
    # Voicemail: SMTP relay for the messages' e-mails (None: no mail), sender, audio folder.
    smtp: tuple[str, int] | None = None
    mail_from: str | None = None
    voicemail_dir: str | None = None
    fax_dir: str | None = None  # received faxes (TIFF, PDF) (OPT-3); default var/fax
    fax_retention_days: int | None = None  # delete faxes' files after this (None: keep)
    # Music on hold (USR-11): the stream for every enterprise, and per enterprise id.
    hold_music: str | None = None
    hold_music_by_enterprise: tuple[tuple[str, str], ...] = ()
    recordings_dir: str | None = None  # call recordings (REC-1); default var/recordings
    # Restarts (call centers): this controller's name in the queue calls it holds (default:
    # the listen address, stable across restarts) and the seconds callers left waiting by
    # the previous process have to re-attach before they count as abandoned.
    node: str | None = None
    reattach_window: float | None = None


class Controller:
    """The running controller: ESL server, directory HTTP, projections and presence."""

    def __init__(self, config: ServeConfig) -> None:
        if config.esl is not None and not config.esl_password:
            raise ValueError("--esl needs a password (--esl-password-file or PBX_ESL_PASSWORD)")
        if config.esl_password == DEFAULT_ESL_PASSWORD:
            raise ValueError("refusing FreeSWITCH's default ESL password 'ClueCon': set your own")
        self.config = config
        self.app = Pbx(config.db_url)
        self.directory = Directory()
        self.app.catch_up(self.directory)
        self.writer = CallWriter(self.app)
        services = Services(
            directory=lambda: self.directory,
            writer=self.writer,
            settings=RoutingSettings(
                gateway=config.gateway,
                hold_music=config.hold_music or DEFAULT_HOLD_MUSIC,
                hold_music_by_enterprise=config.hold_music_by_enterprise,
            ),
        )
        self.services = services
        self.hotdesk = HotDeskService(self.app)  # hot desking (USR-8)
        services.commands["hotdesk"] = self.hotdesk.handle
        services.commands["settings"] = SettingsService(self.app).handle
        self.voicemail = self._voicemail(config)
        services.commands["voicemail"] = self.voicemail.handle
        self.fax = FaxService(  # fax to e-mail (OPT-3): rxfax files, PDF, mail
            self.app, Path(config.fax_dir or DEFAULT_FAX_DIR), self.voicemail.mailer)
        services.commands["fax"] = self.fax.handle
        self.calls = CallsService(self.app)  # call return, redial, speed dial (USR-11/12)
        services.commands["calls"] = self.calls.handle
        self.callback_on_busy = CallbackOnBusy(  # *5 / *55 (USR-11)
            self.app, services.lines, self.calls, config.esl, config.esl_password,
            clock=services.clock, check_seconds=min(CHECK_SECONDS, config.poll_interval * 20),
        )
        services.commands["callback"] = self.callback_on_busy.handle
        self.notify = NotifyService(self.app, self.voicemail.mailer)  # call notify (USR-17)
        services.commands["notify"] = self.notify.handle
        # Calling plans' PIN (enhanced plan) and call capacity (GRP-1, GRP-2).
        services.commands["calling-plan"] = PinService(self.app).handle
        services.commands["capacity"] = CapacityService(
            services.lines, self.writer.save_later, services.clock).handle
        # Call services (issue 4): pickup, barge-in, park slots, conference rooms.
        self.call_services = CallServicesRuntime(self.app, services.lines, config.esl,
                                                 config.esl_password)
        services.commands["pickup"] = self.call_services.pickup
        services.commands["park"] = self.call_services.park
        services.commands["conference"] = self.call_services.conference
        self.mwi_queries: EventSubscriber | None = None  # phones subscribing to MWI
        if config.esl is not None and config.esl_password:
            self.mwi_queries = EventSubscriber(
                config.esl[0], config.esl[1], config.esl_password,
                {"MESSAGE_QUERY": self.voicemail.answer_query},
            )
        # Hunt groups (CORE-2): rotation state as events, *35 / *36 sign out / in.
        self.hunt = HuntService(self.app, lambda: self.directory, clock=services.clock)
        services.commands["hunt"] = self.hunt.handle
        # Call centers (CC-1..CC-4): queues, agents, the dispatcher; abandons on call end.
        self.queues = QueueService(self.app, lambda: self.directory, clock=services.clock,
                                   busy=services.lines.busy,
                                   node=config.node or "{}:{}".format(*config.listen),
                                   reattach_window=REATTACH_WINDOW
                                   if config.reattach_window is None
                                   else config.reattach_window,
                                   poll_catch_up=POLL_CATCH_UP_SECONDS)
        services.commands["queue"] = self.queues.handle
        services.call_ended.append(self.queues.call_ended)
        # An offer ringing an agent who turns unavailable is withdrawn (CC-2).
        services.ring_watch["queue"] = self.queues.withdraw_reason
        # Supervisor functions (CC-5): the agent's answer and leg, for monitoring and reports.
        from esl_controller.supervisor import QueueConnections

        services.call_bridged.append(QueueConnections(
            self.app, lambda: self.directory, services.clock, self.queues._lock).call_bridged)
        # Call recording (REC-1, REC-2): uuid_record during bridged calls, daily retention.
        self.recordings = RecordingService(
            self.app, Path(config.recordings_dir or DEFAULT_RECORDINGS_DIR), services.clock)
        services.recordings = self.recordings
        # Manager/assistant (MA-1): *47 / *48 screening on / off.
        services.commands["assistants"] = AssistantsService(self.app).handle
        # Commands from a hot-desk phone act for the user logged in on it (USR-8).
        for name, handler in list(services.commands.items()):
            if name != "hotdesk":
                services.commands[name] = self.hotdesk.as_logged_in_user(
                    handler, lambda: self.directory)
        host, port = config.listen
        self.esl_server = ControllerServer(host, port, partial(handle_call, services))
        self.http = (
            DirectoryHttpServer(config.http[0], config.http[1], lambda: self.directory,
                                app=self.app)  # app: self-service at /self/EXT (USR-24)
            if config.http is not None
            else None
        )
        if self.http is not None:  # click-to-call (OPT-5): call the visitor, then the user
            self.http.click_to_call = ClickToCallService(
                self.app, lambda: self.directory, config.gateway, config.esl,
                config.esl_password)
        self.worker: ProjectionWorker | None = None
        self.worker_process: WorkerProcess | None = None
        if config.projections == "inline":
            self.worker = ProjectionWorker(
                self.app.db_url, config.esl, config.esl_password, config.poll_interval
            )
        elif config.projections == "process":
            self.worker_process = WorkerProcess(
                self.app.db_url, config.esl, config.esl_password, config.poll_interval
            )
        self._greenlets: list[gevent.Greenlet] = []

    def _voicemail(self, config: ServeConfig) -> VoicemailService:
        mailer = None
        if config.smtp is not None:
            sender = config.mail_from or "voicemail@localhost"
            mailer = Mailer(config.smtp[0], config.smtp[1], sender)
        self.mwi: PresencePublisher | None = None
        if config.esl is not None and config.esl_password:
            self.mwi = PresencePublisher(
                config.esl[0], config.esl[1], config.esl_password, event_name="MESSAGE_WAITING"
            )
        storage = Path(config.voicemail_dir or "var/voicemail")
        return VoicemailService(self.app, storage, mailer, self.mwi)

    @property
    def call_log(self) -> Follower:  # type: ignore[type-arg]
        assert self.worker is not None, "projections run in another process"
        return self.worker.call_log

    @property
    def blf(self) -> Follower:  # type: ignore[type-arg]
        assert self.worker is not None, "projections run in another process"
        return self.worker.blf

    @property
    def recording_index(self) -> Follower:  # type: ignore[type-arg]
        assert self.worker is not None, "projections run in another process"
        return self.worker.recording_index

    def _purge_faxes(self, days: int) -> None:
        """Once a day: the files of faxes received more than ``days`` ago (FaxPurged)."""
        from esl_controller.fax import purge_faxes

        while True:
            try:
                purge_faxes(self.app, days)
            except Exception:  # boundary: the purger keeps running after a store hiccup
                log.exception("fax purge failed")
            gevent.sleep(24 * 3600)

    def _follow_directory(self) -> None:
        while True:
            try:
                self.app.catch_up(self.directory)
            except Exception as exc:  # noqa: BLE001 - keep following after a store hiccup
                log.warning("directory follower: %s", exc)
            gevent.sleep(self.config.poll_interval * 4)

    def start(self) -> Controller:
        self.writer.start()
        # Fold the call history before the first call: *69 / *66 then never wait for it.
        self.calls.history.catch_up(self.app)
        self.queues.recover()  # queue calls the previous process left open (call centers)
        self._greenlets = [gevent.spawn(self._follow_directory)]
        self._greenlets.append(gevent.spawn(self.queues.run_reattach_window))  # ... closed
        self._greenlets.append(gevent.spawn(self.voicemail.run_purger))
        self._greenlets.append(gevent.spawn(self.callback_on_busy.run))
        self._greenlets.append(gevent.spawn(self.hotdesk.run_auto_logout))
        self._greenlets.append(gevent.spawn(self.recordings.run_purger))  # REC-2 retention
        if self.config.fax_retention_days is not None:  # fax retention, daily
            self._greenlets.append(gevent.spawn(self._purge_faxes,
                                                self.config.fax_retention_days))
        self.call_services.start()  # park slot lamps
        if self.mwi is not None:
            self.mwi.start()
        if self.mwi_queries is not None:
            self.mwi_queries.start()
        if self.worker is not None:
            self.worker.start()
        if self.worker_process is not None:
            self.worker_process.start()
        self.esl_server.start()
        if self.http is not None:
            self.http.start()
        log.info(
            "controller ready: ESL outbound on %s:%d, directory HTTP on %s, store %s",
            *self.esl_address,
            "{}:{}".format(*self.http.address) if self.http else "off",
            self.app.db_url,
        )
        return self

    def _hand_back_queue_callers(self) -> None:
        """Callers waiting in a queue (not talking to an agent) are handed back to
        FreeSWITCH, not hung up: the dialplan connects them to the next controller, which
        re-attaches them at their place (call centers, issue 5)."""
        for run in list(self.services.live.values()):
            if run.answered_by is None and self.directory.queue_call_of(
                    run.ctx.call_id) is not None:
                run.detach()

    @property
    def esl_address(self) -> tuple[str, int]:
        return self.esl_server.address

    def stop(self) -> None:
        self._hand_back_queue_callers()
        self.esl_server.stop(timeout=5)
        if self.http is not None:
            self.http.stop()
        self.writer.stop()
        gevent.killall(self._greenlets, timeout=2)
        self.voicemail.wait_mail(timeout=2)
        self.fax.wait_mail(timeout=2)
        self.notify.wait(timeout=2)
        self.call_services.stop()
        if self.mwi_queries is not None:
            self.mwi_queries.stop()
        if self.mwi is not None:
            self.mwi.wait_idle(2)
            self.mwi.stop()
        if self.worker is not None:
            self.worker.stop()
        if self.worker_process is not None:
            self.worker_process.stop()
