"""Wiring: which store, which ports, which projections. ``pbx serve`` and tests build this."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

import gevent

from esl_controller.application import Pbx
from esl_controller.call_writer import CallWriter
from esl_controller.esl.server import ControllerServer
from esl_controller.esl.session import Services, handle_call
from esl_controller.routing.script import RoutingSettings
from esl_controller.web import DirectoryHttpServer
from projections.blf import BlfProjection, LineChange, presence_headers
from projections.call_log import CallLogProjection
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
    extra: dict[str, str] = field(default_factory=dict)


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
            settings=RoutingSettings(gateway=config.gateway),
        )
        host, port = config.listen
        self.esl_server = ControllerServer(host, port, partial(handle_call, services))
        self.http = (
            DirectoryHttpServer(config.http[0], config.http[1], lambda: self.directory)
            if config.http is not None
            else None
        )
        self.presence = None
        if config.esl is not None:
            from esl_controller.esl.inbound import PresencePublisher

            assert config.esl_password is not None
            self.presence = PresencePublisher(config.esl[0], config.esl[1], config.esl_password)
        self.call_log = Follower(self.app, CallLogProjection())
        self.blf = Follower(self.app, BlfProjection(), sink=self._on_line_change)
        self._greenlets: list[gevent.Greenlet] = []

    def _on_line_change(self, change: LineChange) -> None:
        if self.presence is not None:
            self.presence.publish(presence_headers(change))

    def _follow_directory(self) -> None:
        while True:
            try:
                self.app.catch_up(self.directory)
            except Exception as exc:  # noqa: BLE001 - keep following after a store hiccup
                log.warning("directory follower: %s", exc)
            gevent.sleep(self.config.poll_interval * 4)

    def start(self) -> Controller:
        self.writer.start()
        if self.presence is not None:
            self.presence.start()
        self._greenlets = [
            gevent.spawn(self._follow_directory),
            gevent.spawn(self.call_log.run, self.config.poll_interval),
            gevent.spawn(self.blf.run, self.config.poll_interval),
        ]
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

    @property
    def esl_address(self) -> tuple[str, int]:
        return self.esl_server.address

    def settle(self, timeout: float = 5.0) -> None:
        """Bring projections up to date with everything written so far (tests, simulate)."""
        self.call_log.catch_up()
        self.blf.catch_up()

    def stop(self) -> None:
        self.esl_server.stop(timeout=5)
        if self.http is not None:
            self.http.stop()
        self.writer.stop()
        for follower in (self.call_log, self.blf):
            follower.stop()
        gevent.killall(self._greenlets, timeout=2)
        self.call_log.catch_up()
        self.blf.catch_up()
        if self.presence is not None:
            self.presence.stop()
