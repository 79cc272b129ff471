"""Webhook secrets at rest (issue 6, security by default): sealed with a key outside the
database, opened only to sign and to check a Bearer token; older clear secrets still work;
``pbx webhook rekey`` seals them under a new key and forgets the old one."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gevent.pywsgi import WSGIServer

from commands.main import cli
from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.domain.calls import Call
from esl_controller.domain.webhooks import Webhook
from esl_controller.errors import PbxError
from esl_controller.feed import WebhookDelivery, active_webhooks, pull
from esl_controller.store import sqlite_path

SECRET = "crm-shared-secret-0123456789"
AT = datetime(2026, 11, 26, 10, 42, tzinfo=UTC)


class Receiver:
    """A CRM's webhook endpoint over real HTTP: keeps each body and its signature header."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, str]] = []
        self.server = WSGIServer(("127.0.0.1", 0), self.app, log=None)

    def app(self, environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.got.append((body, environ.get("HTTP_X_PBX_SIGNATURE", "")))
        start("200 OK", [("Content-Length", "0")])
        return [b""]

    @property
    def url(self) -> str:
        host, port = self.server.address[:2]
        return f"http://{host}:{port}/pbx"

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """The payloads whose signature verifies with ``secret``."""
        return [json.loads(body) for body, signature in self.got if hmac.compare_digest(
            signature, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())]


def logged(app: Pbx) -> list[Any]:
    """Every stored event, in log order."""
    return [e for _p, e in app.events_after(0)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.server.start()
    yield found
    found.server.stop()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/pbx.sqlite"
    app = Pbx(url)
    app.create_enterprise("Acme", "acme.example")
    app.add_user(None, "102", "Bob de Vries", number="020 1234567")
    return url


class Ran:
    """A ``pbx`` command's result as the console sees it: exit status 2 for bad input."""

    def __init__(self, db: str, args: tuple[str, ...]) -> None:
        result = CliRunner().invoke(cli, ["--db", db, *args])
        refused = isinstance(result.exception, PbxError)
        self.exit_code = 2 if refused else result.exit_code
        self.output = result.output + (f"error: {result.exception}" if refused else "")


def pbx(db: str, *args: str) -> Ran:
    return Ran(db, args)


def record_call(app: Pbx) -> str:
    call_id = str(uuid.uuid4())
    call = Call(call_id, app.enterprise("Acme").id, "0612345678", None, "+31201234567",
                "external", "sofia/x", AT)
    call.route("inbound", "102", [])
    call.alert(["102"], AT)
    app.save(call)
    return call_id


def store_bytes(db: str) -> bytes:
    path = sqlite_path(db)
    assert path is not None
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def bearer(app: Pbx, token: str) -> str:
    status, _answer = pull(app, {"HTTP_AUTHORIZATION": f"Bearer {token}",
                                 "QUERY_STRING": "after=0"})
    return status


def test_the_secret_is_nowhere_in_the_database_yet_deliveries_verify(
        db: str, receiver: Receiver) -> None:
    done = pbx(db, "webhook", "add", receiver.url, "-e", "Acme", "--secret", SECRET)
    assert done.exit_code == 0, done.output
    raw = store_bytes(db)
    assert SECRET.encode() not in raw and b"webhook" in raw.lower()
    assert hashlib.sha256(SECRET.encode()).hexdigest().encode() not in raw
    key_file = Path(str(sqlite_path(db))).with_name("pbx-secrets.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    listing = pbx(db, "webhook", "list", "--json")
    assert SECRET not in listing.output
    assert json.loads(listing.output)[0]["secret_fingerprint"] == \
        hashlib.sha256(SECRET.encode()).hexdigest()[:12]
    shown = pbx(db, "events", "list").output + pbx(db, "events", "export", "--from",
                                                    "2000-01-01", "--to", "2100-01-01").output
    assert "sk:v1:" not in shown and SECRET not in shown  # not even sealed

    app = Pbx(db)
    call_id = record_call(app)
    [hook] = active_webhooks(app)
    assert hook.secret == SECRET  # opened for signing only
    WebhookDelivery(app).deliver_once(hook)
    docs = receiver.verified(SECRET)
    assert [d["type"] for d in docs] == ["call.offered", "call.ringing"]
    assert {d["call_id"] for d in docs} == {call_id}
    assert bearer(app, SECRET) == "200 OK"
    assert bearer(app, SECRET[:-1] + "X").startswith("401")


def test_rekey_seals_under_a_new_key_and_the_old_key_is_forgotten(
        db: str, receiver: Receiver) -> None:
    assert pbx(db, "webhook", "add", receiver.url, "--secret", SECRET).exit_code == 0
    key_file = Path(str(sqlite_path(db))).with_name("pbx-secrets.key")
    old_key = key_file.read_text()
    app = Pbx(db)
    [before] = [e.secret for e in logged(app) if type(e).__name__ == "WebhookAdded"]

    done = pbx(db, "webhook", "rekey")
    assert done.exit_code == 0, done.output
    assert "1 webhook secret(s) sealed under key" in done.output
    new_key = key_file.read_text()
    assert new_key != old_key and len(new_key.splitlines()) == 1
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert personal.open_secret(Pbx(db), before) is None  # the old sealing cannot be opened

    app = Pbx(db)
    record_call(app)
    [hook] = active_webhooks(app)
    WebhookDelivery(app).deliver_once(hook)
    assert len(receiver.verified(SECRET)) == 2


def test_a_clear_secret_of_an_older_webhook_still_signs_and_authorises(
        db: str, receiver: Receiver) -> None:
    app = Pbx(db)
    app.save(Webhook(receiver.url, None, SECRET, 5, app.last_position()))  # as stored before
    record_call(app)
    [hook] = active_webhooks(app)
    WebhookDelivery(app).deliver_once(hook)
    assert len(receiver.verified(SECRET)) == 2
    assert bearer(app, SECRET) == "200 OK"


def test_without_its_key_a_secret_is_never_used_and_nothing_is_sent_unsigned(
        db: str, receiver: Receiver) -> None:
    assert pbx(db, "webhook", "add", receiver.url, "--secret", SECRET).exit_code == 0
    key_file = Path(str(sqlite_path(db))).with_name("pbx-secrets.key")
    key_file.unlink()  # the key is lost: a new one is made on next use
    app = Pbx(db)
    record_call(app)
    [hook] = active_webhooks(app)
    assert hook.secret is None and hook.unreadable
    assert bearer(app, SECRET).startswith("401")
    keys_before = key_file.read_text()
    refused = pbx(db, "webhook", "rekey")
    assert refused.exit_code == 2 and "cannot be opened" in refused.output
    assert key_file.read_text() == keys_before  # the refusal changed no key


def test_a_key_file_open_to_others_is_refused(db: str) -> None:
    key_file = Path(str(sqlite_path(db))).with_name("pbx-secrets.key")
    key_file.write_text(personal._b64(os.urandom(32)) + "\n")
    key_file.chmod(0o644)
    done = pbx(db, "webhook", "add", "https://crm.example/x", "--secret", SECRET)
    assert done.exit_code == 2 and "chmod 600" in done.output
    assert [e for e in logged(Pbx(db))
            if type(e).__name__ == "WebhookAdded"] == []


def test_a_configured_master_key_seals_and_opens(db: str, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.setenv(personal.SECRETS_KEY_ENV, personal._b64(os.urandom(32)))
    app = Pbx(db)
    sealed = personal.seal_secret(app, SECRET)
    assert sealed.startswith("sk:v1:") and SECRET not in sealed
    assert personal.open_secret(Pbx(db), sealed) == SECRET
    assert not Path(str(sqlite_path(db))).with_name("pbx-secrets.key").exists()
    monkeypatch.setenv(personal.SECRETS_KEY_ENV, "not base64!")
    with pytest.raises(personal.SecretKeyError):
        personal.seal_secret(Pbx(db), SECRET)
