"""Projection worker: keeps the SQL read models current and pushes BLF presence.

``pbx serve`` runs it as a separate process (``pbx projections run``) so that folding the log
never competes with call setup for the same core; tests and ``pbx simulate`` run it inline.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import gevent

from esl_controller.application import Pbx
from projections.blf import BlfProjection, LineChange, presence_headers
from projections.call_log import CallLogProjection
from projections.recording_index import RecordingIndexProjection
from projections.tracking import Follower

log = logging.getLogger(__name__)


class ProjectionWorker:
    """The call log and line-state followers, with presence pushed to FreeSWITCH."""

    def __init__(
        self,
        db_url: str,
        esl: tuple[str, int] | None = None,
        esl_password: str | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        self.app = Pbx(db_url)
        self.poll_interval = poll_interval
        self.presence = None
        if esl is not None:
            from esl_controller.esl.inbound import PresencePublisher

            if not esl_password:
                raise ValueError("--esl needs a password")
            self.presence = PresencePublisher(esl[0], esl[1], esl_password)
        self.call_log = Follower(self.app, CallLogProjection())
        self.blf = Follower(self.app, BlfProjection(), sink=self._on_line_change)
        self.recording_index = Follower(self.app, RecordingIndexProjection())  # REC-3
        from projections.queue_report import QueueReportProjection  # CC-5 reports

        self.queue_report = Follower(self.app, QueueReportProjection())
        self._greenlets: list[gevent.Greenlet] = []

    def _on_line_change(self, change: LineChange) -> None:
        if self.presence is not None:
            self.presence.publish(presence_headers(change))

    def start(self) -> ProjectionWorker:
        if self.presence is not None:
            self.presence.start()
        self._greenlets = [
            gevent.spawn(self.call_log.run, self.poll_interval),
            gevent.spawn(self.blf.run, self.poll_interval),
            gevent.spawn(self.recording_index.run, self.poll_interval),
        ]
        self._greenlets.append(gevent.spawn(self.queue_report.run, self.poll_interval))
        # the CRM event feed (CRM-1): every webhook from its tracked position
        from esl_controller.feed import WebhookDelivery

        self.webhooks = WebhookDelivery(self.app)
        self._greenlets.append(gevent.spawn(self.webhooks.run, max(self.poll_interval, 0.2)))
        # the audit hash chain (issue 6): seal each new event into event_chain
        from esl_controller.audit import Sealer

        self.sealer = Sealer(self.app)
        self._greenlets.append(gevent.spawn(self.sealer.run, max(self.poll_interval, 0.1)))
        return self

    def stop(self) -> None:
        for follower in (self.call_log, self.blf, self.recording_index):
            follower.stop()
        self.queue_report.stop()  # CC-5 reports
        if getattr(self, "webhooks", None) is not None:
            self.webhooks.stop()  # CRM feed: positions are tracked, nothing is lost
        if getattr(self, "sealer", None) is not None:
            self.sealer.stop()  # audit chain: the rest is sealed below
        gevent.joinall(self._greenlets, timeout=5)
        gevent.killall(self._greenlets, timeout=2)
        self.call_log.catch_up()
        self.blf.catch_up()
        self.recording_index.catch_up()
        self.queue_report.catch_up()
        if getattr(self, "sealer", None) is not None:
            self.sealer.finish()
        if self.presence is not None:
            self.presence.wait_idle(2)
            self.presence.stop()


class WorkerProcess:
    """``pbx projections run`` as a child process, restarted if it dies."""

    def __init__(self, db_url: str, esl: tuple[str, int] | None, esl_password: str | None,
                 poll_interval: float) -> None:
        self.argv = [sys.executable, "-c", "from commands.main import main; main()",
                     "--db", db_url, "projections", "run", "--poll", str(poll_interval)]
        if esl is not None:
            self.argv += ["--esl", f"{esl[0]}:{esl[1]}"]
        self.env = dict(os.environ)
        if esl_password:
            self.env["PBX_ESL_PASSWORD"] = esl_password  # never on the command line
        self.proc: subprocess.Popen[bytes] | None = None
        self._supervisor: gevent.Greenlet | None = None
        self._stopping = False
        self.restarts = 0

    def start(self) -> WorkerProcess:
        self._supervisor = gevent.spawn(self._supervise)
        return self

    def _supervise(self) -> None:
        backoff = 0.5
        while not self._stopping:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL)
            code = self.proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.error("projection worker exited with %s; restarting in %.1f s", code, backoff)
            gevent.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._supervisor is not None:
            self._supervisor.kill()
