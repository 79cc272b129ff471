"""``pbx webhook``: deliver the public call event feed to a CRM (CRM-1)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlparse

import click
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import AggregateNotFoundError

from commands.common import json_option, pass_app
from commands.output import emit_json, table
from esl_controller import personal
from esl_controller.application import Pbx
from esl_controller.audit_refusals import refusals_recorded
from esl_controller.domain.webhooks import Webhook
from esl_controller.errors import NotFoundError, ValidationError
from esl_controller.feed import DEFAULT_MAX_FAILURES, active_webhooks


@click.group("webhook")
def webhook() -> None:
    """Webhooks receiving the call event feed (see docs/events)."""


def _check_url(url: str) -> str:
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError(f"not an http(s) URL: {url!r}")
    return url.strip()


def _seal(app: Pbx, secret: str | None) -> str | None:
    if secret is None:
        return None
    try:
        return personal.seal_secret(app, secret)
    except personal.SecretKeyError as exc:
        raise ValidationError(str(exc)) from None


def _fingerprint(secret: str | None) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12] if secret else ""


@webhook.command("add")
@click.argument("url")
@click.option("-e", "--enterprise", default=None,
              help="Only this enterprise's calls (default: every enterprise).")
@click.option("--secret", default=None,
              help="Sign each POST: X-Pbx-Signature: sha256=HMAC-SHA256(secret, body).")
@click.option("--max-failures", default=DEFAULT_MAX_FAILURES, show_default=True,
              type=click.IntRange(1, 1000), help="Failed tries of one event before an event "
              "records it (retries go on).")
@pass_app
@refusals_recorded("webhook add", secrets=("secret",))
def add(app: Pbx, url: str, enterprise: str | None, secret: str | None,
        max_failures: int) -> None:
    """POST every public call event (offered, ringing, answered, ended) to URL."""
    url = _check_url(url)
    if secret is not None and len(secret) < 16:
        raise ValidationError("--secret: use at least 16 characters")
    ent_id = app.enterprise(enterprise).id if enterprise is not None else None
    wid = Webhook.create_id(url, ent_id)
    existing: Webhook | None
    try:
        existing = app.repository.get(wid)
    except AggregateNotFoundError:
        existing = None
    if existing is not None and not existing.removed:
        raise ValidationError(f"webhook {url} already exists")
    sealed = _seal(app, secret)  # at rest only sealed, with a key outside the database
    if existing is None:
        app.save(Webhook(url, ent_id, sealed, max_failures, app.last_position()))
    else:
        existing.reinstate(sealed, max_failures, app.last_position())
        app.save(existing)
    scope = f"enterprise {enterprise}" if enterprise else "every enterprise"
    click.echo(f"webhook {url} added for {scope}" + (", signed" if secret else ""))


@webhook.command("remove")
@click.argument("url")
@click.option("-e", "--enterprise", default=None)
@pass_app
@refusals_recorded("webhook remove")
def remove(app: Pbx, url: str, enterprise: str | None) -> None:
    """Stop delivering to URL."""
    ent_id = app.enterprise(enterprise).id if enterprise is not None else None
    try:
        existing: Webhook = app.repository.get(Webhook.create_id(url.strip(), ent_id))
    except AggregateNotFoundError:
        raise NotFoundError(f"no webhook {url}") from None
    if existing.removed:
        raise NotFoundError(f"no webhook {url}")
    existing.remove()
    app.save(existing)
    click.echo(f"webhook {url} removed")


@webhook.command("list")
@json_option
@pass_app
def list_(app: Pbx, as_json: bool) -> None:
    """The webhooks in force (secrets shown as a fingerprint only)."""
    names = {str(e.id): e.name for e in app.directory().enterprises.values()}
    hooks = active_webhooks(app)
    if as_json:
        emit_json([{"url": h.url, "enterprise": names.get(h.enterprise_id or ""),
                    "secret_fingerprint": _fingerprint(h.secret) or None,
                    "max_failures": h.max_failures} for h in hooks])
        return
    table([(h.url, names.get(h.enterprise_id or "", "(all)"), _fingerprint(h.secret),
            h.max_failures) for h in hooks],
          ["url", "enterprise", "secret (sha256)", "max failures"])


@webhook.command("rekey")
@pass_app
@refusals_recorded("webhook rekey")
def rekey(app: Pbx) -> None:
    """Seal every webhook secret under a NEW secrets key, then forget the old keys.

    With a key file: a new key is made and written first, each secret sealed again
    (``WebhookSecretResealed``), then the old keys leave the file. With PBX_SECRETS_KEY: put
    the new key first (comma, then the old), run this, then drop the old key from it.
    """
    try:
        keys = personal.secret_keys(app)
        hooks = active_webhooks(app)
        unreadable = [h.url for h in hooks if h.unreadable]
        if unreadable:  # checked before any key changes: a refusal changes nothing
            raise ValidationError("secret of " + ", ".join(unreadable) + " cannot be opened: "
                                  "remove and add those webhooks with a new secret first")
        if not keys.configured:
            keys.write([AESGCM.generate_key(bit_length=256), *keys.keys])
    except personal.SecretKeyError as exc:
        raise ValidationError(str(exc)) from None
    count = 0
    for hook in hooks:
        if hook.secret is None:
            continue
        found: Webhook = app.repository.get(hook.id)
        found.reseal(personal.seal_secret(app, hook.secret))
        app.save(found)
        count += 1
    where = "PBX_SECRETS_KEY (now drop the old keys from it)" if keys.configured else (
        str(keys.path) if keys.path is not None else "memory")
    if not keys.configured:
        keys.write(keys.keys[:1])
    click.echo(f"{count} webhook secret(s) sealed under key {personal.key_id(keys.keys[0]).hex()}"
               f" in {where}")


COMMANDS = [webhook]
