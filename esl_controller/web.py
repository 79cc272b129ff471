"""The HTTP endpoint FreeSWITCH's mod_xml_curl asks for directory entries.

``POST /directory`` (form-encoded, as mod_xml_curl posts) answers with the XML of
:func:`projections.directory_xml.render_directory`; ``GET /healthz`` answers ``ok``. A bad
request gets a 400 and one log line; the server keeps serving.

With a store, ``GET``/``POST /self/EXT`` is the self-service of the user's app (USR-24):
the PIN in the ``X-Pbx-Pin`` header (never logged), the changes as a JSON object; the
answer is JSON (the user's settings, or ``{"error": ...}`` with 400, 403 or 404).

``GET /play/TOKEN`` plays a shared call recording inline (REC-3); the share is checked and
the request recorded as an event every time (``esl_controller.recording_access``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from gevent.pywsgi import WSGIServer

from esl_controller.application import Pbx
from esl_controller.click_to_call import ClickToCallService
from esl_controller.errors import NotFoundError, PbxError, ValidationError
from esl_controller.self_service import (
    PinRefusedError,
    SelfService,
    apply_changes,
    check_request,
    settings_of,
)
from projections.directory import Directory
from projections.directory_xml import render_directory

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_FIELDS = 200
FORM_TYPE = "application/x-www-form-urlencoded"

StartResponse = Callable[..., Any]


class BadRequestError(Exception):
    """The request cannot be understood; answered with 400."""


class DirectoryHttpServer:
    """A small gevent WSGI server: start it, read ``address``, stop it."""

    def __init__(self, host: str, port: int, directory_provider: Callable[[], Directory],
                 app: Pbx | None = None) -> None:
        self.directory_provider = directory_provider
        self.app = app  # the store for self-service (/self/EXT); None: not offered
        self.click_to_call: ClickToCallService | None = None  # POST /click-to-call (OPT-5)
        self._server = WSGIServer((host, port), self.wsgi, log=None, error_log=log)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._server.start()
        log.info("directory endpoint listening on http://%s:%d/directory", *self.address)

    def stop(self, timeout: float = 2.0) -> None:
        self._server.stop(timeout=timeout)

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return _reply(start_response, "200 OK", b"ok\n", "text/plain")
        if path == "/click-to-call" and self.click_to_call is not None:
            status, answer = click_to_call(self.click_to_call, environ)
            return _reply(start_response, status, json.dumps(answer).encode(),
                          "application/json")
        if path.startswith("/self/") and self.app is not None:
            status, answer = self_service(self.app, environ, path.removeprefix("/self/"))
            return _reply(start_response, status, json.dumps(answer).encode(),
                          "application/json")
        if (path == "/play" or path.startswith("/play/")) and self.app is not None:
            # recording share links (REC-3): checked and logged on every request
            from esl_controller.recording_access import play_wsgi

            return play_wsgi(self.app, environ, start_response)
        if path == "/events" and self.app is not None and method == "GET":  # CRM feed (CRM-1)
            from esl_controller.feed import pull

            status, answer = pull(self.app, environ)
            return _reply(start_response, status, json.dumps(answer).encode(),
                          "application/json")
        if path != "/directory":
            return _reply(start_response, "404 Not Found", b"not found\n", "text/plain")
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", b"use POST\n", "text/plain")
        try:
            form = read_form(environ)
        except BadRequestError as exc:
            log.warning("bad directory request from %s: %s", environ.get("REMOTE_ADDR"), exc)
            return _reply(start_response, "400 Bad Request", f"{exc}\n".encode(), "text/plain")
        try:
            body = render_directory(self.directory_provider(), form)
        except Exception:
            log.exception("directory lookup failed for %r", form)
            return _reply(start_response, "500 Internal Server Error", b"error\n", "text/plain")
        log.debug("directory %s %s@%s", form.get("action"), form.get("user"), form.get("domain"))
        return _reply(start_response, "200 OK", body, "text/xml")


def self_service(app: Pbx, environ: dict[str, Any], extension: str
                 ) -> tuple[str, dict[str, object]]:
    """One self-service request: (HTTP status, JSON answer). The PIN is checked after the
    request's shape and before anything is changed; it never reaches a log line."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "POST"):
        return "405 Method Not Allowed", {"error": "use GET or POST"}
    enterprise = environ.get("HTTP_X_PBX_ENTERPRISE") or None
    changes: dict[str, Any] = {}
    try:
        if method == "POST":
            changes = check_request(read_json(environ))
        SelfService(app).unlock(enterprise, extension, environ.get("HTTP_X_PBX_PIN", ""))
    except NotFoundError as exc:
        return "404 Not Found", {"error": str(exc)}
    except BadRequestError as exc:
        return "400 Bad Request", {"error": str(exc)}
    except PinRefusedError as exc:
        return "403 Forbidden", {"error": str(exc)}
    except ValidationError as exc:
        return "400 Bad Request", {"error": str(exc)}
    try:
        user = apply_changes(app, enterprise, extension, changes) if changes else app.user(
            enterprise, extension)
    except PbxError as exc:
        return "400 Bad Request", {"error": str(exc)}
    if changes:
        log.info("self-service: %s changed %s", extension, ", ".join(sorted(changes)))
    return "200 OK", settings_of(user)


def click_to_call(service: ClickToCallService, environ: dict[str, Any]
                  ) -> tuple[str, dict[str, object]]:
    """``POST /click-to-call`` with ``token`` and ``number`` (a form or a JSON object)."""
    if environ.get("REQUEST_METHOD", "GET") != "POST":
        return "405 Method Not Allowed", {"error": "use POST"}
    json_body = environ.get("CONTENT_TYPE", "").lower().startswith("application/json")
    try:
        fields = read_json(environ) if json_body else read_form(environ)
    except BadRequestError as exc:
        return "400 Bad Request", {"error": str(exc)}
    if not isinstance(fields, dict):
        return "400 Bad Request", {"error": "send a JSON object with token and number"}
    code, answer = service.request(fields, environ.get("REMOTE_ADDR", ""))
    return CLICK_TO_CALL_STATUS[code], answer


CLICK_TO_CALL_STATUS = {202: "202 Accepted", 400: "400 Bad Request", 403: "403 Forbidden",
                        429: "429 Too Many Requests", 503: "503 Service Unavailable"}


def read_json(environ: dict[str, Any]) -> object:
    """The POSTed JSON document; BadRequestError when it cannot be read."""
    content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise BadRequestError("send Content-Type: application/json")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequestError("invalid Content-Length") from None
    if length <= 0 or length > MAX_BODY:
        raise BadRequestError(f"body of {length} bytes refused")
    try:
        return json.loads(environ["wsgi.input"].read(length))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError(f"malformed JSON: {exc}") from None


def read_form(environ: dict[str, Any]) -> dict[str, str]:
    """The POSTed form fields; BadRequestError when they cannot be read."""
    content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if content_type not in ("", FORM_TYPE):
        raise BadRequestError(f"unsupported content type {content_type!r}")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequestError("invalid Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise BadRequestError(f"body of {length} bytes refused")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        text = "&".join(field for field in raw.decode("utf-8").split("&") if field)
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError(f"malformed form: {exc}") from None
    return dict(pairs)


def _reply(
    start_response: StartResponse, status: str, body: bytes, content_type: str
) -> list[bytes]:
    headers = [
        ("Content-Type", f"{content_type}; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    start_response(status, headers)
    return [body]
