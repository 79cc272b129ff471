"""``pbx serve``: run the controller FreeSWITCH hands every call to."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import click
import gevent

from commands.main import Context


def _address(value: str | None, default_port: int, what: str) -> tuple[str, int] | None:
    if value is None:
        return None
    from esl_controller.bootstrap import parse_address  # the controller loads only when used

    try:
        return parse_address(value, default_port)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from None


def inbound_target(esl: str | None, password_file: str | None) -> tuple[tuple[str, int], str]:
    """``--esl HOST:PORT`` and the password of FreeSWITCH's inbound socket, checked: both
    required, never FreeSWITCH's default password (commands acting on live calls)."""
    if esl is None:
        raise click.UsageError("missing option '--esl' (FreeSWITCH's inbound ESL HOST:PORT)")
    address = _address(esl, 8021, "--esl")
    assert address is not None
    password = read_password(password_file)
    if password is None:
        raise click.UsageError("--esl needs --esl-password-file or PBX_ESL_PASSWORD")
    from esl_controller.esl.inbound import DEFAULT_PASSWORD

    if password == DEFAULT_PASSWORD:
        raise click.UsageError("refusing FreeSWITCH's default ESL password 'ClueCon'")
    return address, password


def connected(address: tuple[str, int], password: str) -> Any:
    """An ``InboundClient`` logged in to FreeSWITCH's event socket; unreachable or refused:
    one line and exit status 1 (the input was fine, the switch was not)."""
    from esl_controller.esl.inbound import AuthenticationError, InboundClient, NotConnectedError
    from esl_controller.esl.server import EslError

    host, port = address
    try:
        client = InboundClient(host, port, password)
        client.connect()
    except (NotConnectedError, AuthenticationError, EslError, OSError) as exc:
        click.echo(f"error: FreeSWITCH's event socket at {host}:{port}: {exc}", err=True)
        raise click.exceptions.Exit(1) from None
    return client


def read_password(path: str | None) -> str | None:
    """The inbound ESL password: from a file, else PBX_ESL_PASSWORD; never logged."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}",
                                     param_hint="--esl-password-file") from None
        if not text:
            raise click.BadParameter(f"{path} is empty", param_hint="--esl-password-file")
        return text
    return os.environ.get("PBX_ESL_PASSWORD") or None


@click.command("serve")
@click.option("--listen", default="127.0.0.1:8084", show_default=True,
              help="Where FreeSWITCH's dialplan `socket` connects (outbound ESL).")
@click.option("--http", default="127.0.0.1:8085", show_default=True,
              help="Directory for mod_xml_curl; 'off' to disable.")
@click.option("--esl", default=None, help="FreeSWITCH's inbound ESL HOST:PORT for BLF presence.")
@click.option("--esl-password-file", default=None, help="File holding the inbound ESL password.")
@click.option("--gateway", default=None, help="SIP gateway for external calls (sofia/gateway/NAME).")
@click.option("--smtp", default=None,
              help="SMTP relay HOST:PORT for voicemail e-mails (default: no e-mail).")
@click.option("--mail-from", default=None, help="Sender address of voicemail e-mails.")
@click.option("--voicemail-dir", default=None, type=click.Path(file_okay=False),
              help="Folder for voicemail audio (default: var/voicemail).")
@click.option("--fax-dir", default=None, type=click.Path(file_okay=False),
              help="Folder for received faxes, TIFF and PDF (default: var/fax).")
@click.option("--fax-retention", default=None, type=click.IntRange(1, 36500), metavar="DAYS",
              help="Delete received faxes' files after DAYS days, checked daily (default: keep).")
@click.option("--recordings-dir", default=None, type=click.Path(file_okay=False),
              help="Folder for call recordings, shared with FreeSWITCH (default: "
                   "var/recordings).")
@click.option("--node", default=None,
              help="This controller's name in the queue calls it holds (default: the --listen "
                   "address); keep it across restarts, unique per controller on one store.")
@click.option("--reattach-window", default=30, show_default=True, type=click.IntRange(5, 600),
              help="Seconds queue callers left by the previous process have to come back "
                   "after a restart before they count as abandoned.")
@click.pass_obj
def serve(
    obj: Context, listen: str, http: str, esl: str | None, esl_password_file: str | None,
    gateway: str | None, smtp: str | None = None, mail_from: str | None = None,
    voicemail_dir: str | None = None, fax_dir: str | None = None,
    recordings_dir: str | None = None, node: str | None = None, reattach_window: int = 30,
    fax_retention: int | None = None,
) -> None:
    """Run the controller until interrupted (Ctrl-C / SIGTERM)."""
    password = read_password(esl_password_file)
    if esl is not None and password is None:
        raise click.UsageError("--esl needs --esl-password-file or PBX_ESL_PASSWORD")
    if password == "ClueCon":
        raise click.UsageError("refusing FreeSWITCH's default ESL password 'ClueCon'")
    if gateway is not None and not gateway.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter(f"invalid gateway name {gateway!r}", param_hint="--gateway")
    from esl_controller.bootstrap import Controller, ServeConfig

    config = ServeConfig(
        db_url=obj.db,
        listen=_address(listen, 8084, "--listen") or ("127.0.0.1", 8084),
        http=None if http == "off" else _address(http, 8085, "--http"),
        esl=_address(esl, 8021, "--esl"),
        esl_password=password,
        gateway=gateway,
        projections="process",
        smtp=_address(smtp, 25, "--smtp"),
        mail_from=mail_from,
        voicemail_dir=voicemail_dir,
        fax_dir=fax_dir,
        fax_retention_days=fax_retention,
        recordings_dir=recordings_dir,  # call recording (REC-1)
        node=node.strip() if node and node.strip() else None,  # restarts (call centers)
        reattach_window=float(reattach_window),
    )
    logging.getLogger().setLevel(logging.INFO)
    # Per-record thread/process lookups cost more than the line itself at 300 calls/s.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    controller = Controller(config).start()
    host, port = controller.esl_address
    click.echo(f"pbx controller listening for FreeSWITCH on {host}:{port}", err=True)
    if controller.http is not None:
        web_host, web_port = controller.http.address
        click.echo(f"directory for mod_xml_curl on http://{web_host}:{web_port}/directory",
                   err=True)
    click.echo(f"event store: {controller.app.db_url}", err=True)
    stopping = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    gevent.signal_handler(signal.SIGINT, stopping.set)
    stopping.wait()
    click.echo("stopping: finishing calls in progress", err=True)
    controller.stop()


COMMANDS = [serve]
