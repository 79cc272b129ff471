"""The public event feed for integrations (CRM-1): call offered, ringing, answered, ended.

Only these four PUBLIC events leave the system, each as a stable JSON document described by
``docs/events/<type>.schema.json`` (JSON Schema draft 2020-12); configuration and other
internal events never do. :func:`public_event` maps a domain event of a call to its public
form; the ``id`` of a public event is the notification id of the domain event in the log, so
consumers resume with ``after=<last id>``.

Two ways out, the same JSON:

- pull: ``GET /events?after=N[&limit=M]`` on the controller's HTTP server
  (:func:`feed_page`), authorised by ``Authorization: Bearer <secret of a webhook>`` and
  limited to that webhook's enterprise;
- push: :class:`WebhookDelivery` (run by ``pbx serve``'s projection worker) POSTs every event,
  in log order, one at a time, to each webhook, signed ``X-Pbx-Signature: sha256=<hex>``
  (HMAC-SHA256 of the exact body with the webhook's secret). A webhook's position is tracked
  in the store (``projection_tracking``, name ``webhook:<id>``) and moved only after a 2xx
  answer: nothing is lost across restarts. Delivery is at least once: a crash between a 2xx
  answer and the position's move repeats that one event, so a consumer drops an ``id`` it has
  seen. A failed POST is retried with exponential backoff (0.5 s doubling up to 60 s), and
  after ``max_failures`` failed tries of one event a ``WebhookDeliveryFailing`` event is
  recorded (retries go on).

Secrets are stored sealed (``sk:v1:...``, see :func:`esl_controller.personal.seal_secret`)
with a key outside the database; :func:`active_webhooks` opens them for signing and for the
Bearer check only. A secret whose key is gone is never used: that webhook gets nothing (no
unsigned POST) and its token is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import gevent
import gevent.event
from sqlalchemy import Engine

from esl_controller.personal import (  # privacy: numbers are sealed in events
    open_secret,
    opened_event,
)
from projections.tracking import (
    _POSITION_SELECT,
    _TRACKING_INSERT,
    _TRACKING_MOVE,
    TRACKING_METADATA,
    make_engine,
)

log = logging.getLogger(__name__)

FEED_VERSION = 1
CALL = "esl_controller.domain.calls:Call"
PUBLIC_TYPES: dict[str, str] = {  # domain event -> public event type
    "CallOffered": "call.offered",
    "CallAlerting": "call.ringing",
    "CallAnswered": "call.answered",
    "CallEnded": "call.ended",
}
FEED_TOPICS: tuple[str, ...] = tuple(f"{CALL}.{name}" for name in PUBLIC_TYPES)
SIGNATURE_HEADER = "X-Pbx-Signature"
DEFAULT_MAX_FAILURES = 5
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 60.0
POST_TIMEOUT = 10.0
PAGE_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Offer:
    """What every public event of a call repeats: who called whom, in which enterprise."""

    enterprise_id: str | None
    enterprise: str | None
    caller_number: str | None
    caller_user: str | None
    callee_number: str
    callee_user: str | None
    direction: str


class OfferCache:
    """The offer of each call, read once from the call's own events (bounded)."""

    def __init__(self, app: Any, size: int = 10000) -> None:
        self.app = app
        self.size = size
        self._offers: OrderedDict[UUID, Offer] = OrderedDict()

    def get(self, call_id: UUID) -> Offer | None:
        offer = self._offers.get(call_id)
        if offer is not None:
            return offer
        offered: Any = None
        withheld = False
        target: str | None = None
        for stored in self.app.events.get(call_id):
            e = opened_event(self.app, stored)  # privacy: sealed outsiders' numbers opened
            name = type(e).__name__
            if name == "CallOffered":
                offered = e
            elif name == "CallerNumberWithheld":
                withheld = True
            elif name == "CallRouted" and target is None:
                target = e.target_user
        if offered is None:
            return None
        names = {ent.id: ent.name for ent in self.app.directory().enterprises.values()}
        offer = Offer(
            str(offered.enterprise_id) if offered.enterprise_id else None,
            names.get(offered.enterprise_id),
            None if withheld or not offered.caller else offered.caller,
            offered.caller_user,
            offered.destination,
            target,
            offered.direction,
        )
        self._offers[call_id] = offer
        while len(self._offers) > self.size:
            self._offers.popitem(last=False)
        return offer


def public_event(position: int, event: Any, offers: OfferCache) -> dict[str, Any] | None:
    """The public form of one domain event (None: not a public event)."""
    kind = PUBLIC_TYPES.get(type(event).__name__)
    if kind is None:
        return None
    offer = offers.get(event.originator_id)
    if offer is None:
        return None
    doc: dict[str, Any] = {
        "type": kind,
        "version": FEED_VERSION,
        "id": position,
        "call_id": str(event.originator_id),
        "enterprise_id": offer.enterprise_id,
        "enterprise": offer.enterprise,
        "timestamp": event.timestamp.isoformat(),
        "caller": {"number": offer.caller_number, "user": offer.caller_user},
        "callee": {"number": offer.callee_number, "user": offer.callee_user},
        "direction": offer.direction,
    }
    if kind == "call.ringing":
        doc["ringing"] = list(event.targets)
    elif kind == "call.answered":
        doc["user"] = event.by
        doc["answered_at"] = event.at.isoformat()
    elif kind == "call.ended":
        doc.update(outcome=event.outcome, cause=event.cause,
                   duration_seconds=round(float(event.duration), 3),
                   talk_seconds=round(float(event.talk), 3), ended_at=event.at.isoformat())
    return doc


def feed_page(app: Any, after: int, limit: int = PAGE_LIMIT, enterprise_id: str | None = None,
              offers: OfferCache | None = None) -> tuple[list[dict[str, Any]], int]:
    """Public events after notification ``after`` (of one enterprise, or all) and the
    position to ask from next time."""
    offers = offers or OfferCache(app)
    batch = app.notifications(after, limit, FEED_TOPICS)
    found: list[dict[str, Any]] = []
    for n in batch:
        doc = public_event(n.id, opened_event(app, app.mapper.to_domain_event(n)), offers)
        if doc is not None and (enterprise_id is None or doc["enterprise_id"] == enterprise_id):
            found.append(doc)
    return found, (batch[-1].id if batch else after)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


# -- push ------------------------------------------------------------------------------------
@dataclass
class WebhookView:
    id: UUID
    url: str
    enterprise_id: str | None
    secret: str | None
    max_failures: int
    start: int = 0  # the log position when it was added: delivery begins after it
    generation: int = 0  # how often it was added again: each time a new tracked position
    unreadable: bool = False  # its sealed secret cannot be opened: nothing is sent unsigned


def active_webhooks(app: Any) -> list[WebhookView]:
    """The webhooks in force (folded from their events)."""
    hooks: dict[UUID, WebhookView] = {}
    topics = [f"esl_controller.domain.webhooks:Webhook.{n}"
              for n in ("WebhookAdded", "WebhookRemoved", "WebhookReinstated",
                        "WebhookSecretResealed")]
    for _pos, e in app.events_after(0, topics):
        name = type(e).__name__
        if name == "WebhookAdded":
            hooks[e.originator_id] = WebhookView(
                e.originator_id, e.url, str(e.enterprise_id) if e.enterprise_id else None,
                e.secret, e.max_failures, e.start)
        elif name == "WebhookRemoved":
            hooks.pop(e.originator_id, None)
        elif name == "WebhookReinstated":
            added = app.events.get(e.originator_id, lte=1)
            first = next(iter(added))
            hooks[e.originator_id] = WebhookView(
                e.originator_id, first.url,
                str(first.enterprise_id) if first.enterprise_id else None,
                e.secret, e.max_failures, e.start, e.originator_version)
        elif name == "WebhookSecretResealed" and e.originator_id in hooks:
            hooks[e.originator_id].secret = e.secret
    for hook in hooks.values():  # sealed at rest (sk:v1:...): opened for signing only
        sealed = hook.secret
        hook.secret = open_secret(app, sealed)
        if sealed and hook.secret is None:
            log.error("webhook %s: its secret cannot be opened (secrets key gone?): "
                      "not delivered, pull refused", hook.url)
            hook.unreadable = True
    return list(hooks.values())


Poster = Callable[[str, bytes, dict[str, str]], int]


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST; the HTTP status (0 when the server could not be reached)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        log.info("webhook %s unreachable: %s", url, exc)
        return 0


class WebhookDelivery:
    """Delivers the feed to every webhook, in order, at least once, from its tracked
    position. Run :meth:`run` in a greenlet; :meth:`stop` ends it."""

    def __init__(self, app: Any, engine: Engine | None = None, post: Poster = http_post,
                 backoff_first: float = BACKOFF_FIRST, backoff_max: float = BACKOFF_MAX) -> None:
        self.app = app
        self.engine = engine if engine is not None else make_engine(app.db_url)
        TRACKING_METADATA.create_all(self.engine, checkfirst=True)
        self.post = post
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.offers = OfferCache(app)
        self._stopped = gevent.event.Event()
        self._workers: dict[UUID, gevent.Greenlet] = {}

    # tracking: one row per webhook in projection_tracking
    @staticmethod
    def _name(hook: WebhookView) -> str:
        return f"webhook:{hook.id}" + (f":{hook.generation}" if hook.generation else "")

    def position(self, hook: WebhookView) -> int:
        with self.engine.begin() as conn:
            row = conn.execute(_POSITION_SELECT, {"p_name": self._name(hook)}).first()
            if row is None:  # a new webhook: the events after it was added
                conn.execute(_TRACKING_INSERT, {"name": self._name(hook),
                                                "position": hook.start})
                return hook.start
            return int(row.position)

    def _move(self, hook: WebhookView, start: int, end: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(_TRACKING_MOVE, {"p_name": self._name(hook), "p_start": start,
                                          "p_end": end})

    def run(self, poll_interval: float = 0.2) -> None:
        """Start a worker per webhook in force; pick up added and removed ones."""
        self._stopped.clear()
        while not self._stopped.is_set():
            try:
                hooks = {h.id: h for h in active_webhooks(self.app)}
            except Exception:
                log.exception("webhooks: cannot read the webhooks")
                hooks = {}
            for hid, worker in list(self._workers.items()):
                if hid not in hooks or worker.dead:
                    worker.kill(block=False)
                    del self._workers[hid]
            for hid, hook in hooks.items():
                if hid not in self._workers and not hook.unreadable:
                    self._workers[hid] = gevent.spawn(self._deliver_forever, hook,
                                                      poll_interval)
            self._stopped.wait(max(poll_interval, 1.0))
        # let a POST in flight finish and its position move: no repeat after a restart
        gevent.joinall(list(self._workers.values()), timeout=POST_TIMEOUT)
        gevent.killall(list(self._workers.values()), timeout=2)
        self._workers.clear()

    def stop(self) -> None:
        self._stopped.set()

    def _deliver_forever(self, hook: WebhookView, poll_interval: float) -> None:
        while not self._stopped.is_set():
            try:
                sent = self.deliver_once(hook)
            except Exception:
                log.exception("webhook %s: delivery failed", hook.url)
                sent = 0
            if not sent:
                self._stopped.wait(poll_interval)

    def deliver_once(self, hook: WebhookView) -> int:
        """Deliver the next page of events (retrying each until it is taken); how many
        notifications the position moved over."""
        start = self.position(hook)
        docs, end = feed_page(self.app, start, PAGE_LIMIT, hook.enterprise_id, self.offers)
        at = start
        for doc in docs:
            if self._stopped.is_set() or not self._deliver(hook, doc):
                return at - start  # stopped while retrying
            self._move(hook, at, doc["id"])
            at = doc["id"]
        if end > at:
            self._move(hook, at, end)  # the events of other enterprises, skipped
        return end - start

    def _deliver(self, hook: WebhookView, doc: dict[str, Any]) -> bool:
        body = encode(doc)
        headers = {"Content-Type": "application/json", "X-Pbx-Event": doc["type"],
                   "X-Pbx-Event-Id": str(doc["id"])}
        if hook.secret:
            headers[SIGNATURE_HEADER] = sign(hook.secret, body)
        delay = self.backoff_first
        attempts = 0
        while not self._stopped.is_set():
            status = self.post(hook.url, body, headers)
            attempts += 1
            if 200 <= status < 300:
                return True
            log.warning("webhook %s: event %s answered %s (try %d)", hook.url, doc["id"],
                        status, attempts)
            if attempts == hook.max_failures:
                self._report(hook, doc["id"], attempts, f"HTTP {status}" if status else
                             "unreachable")
            self._stopped.wait(delay)
            delay = min(delay * 2, self.backoff_max)
        return False

    def _report(self, hook: WebhookView, position: int, attempts: int, error: str) -> None:
        from esl_controller.domain.webhooks import Webhook

        try:
            webhook: Webhook = self.app.repository.get(hook.id)
            webhook.failing(position, attempts, error)
            self.app.save(webhook)
        except Exception:
            log.exception("webhook %s: could not record the failures", hook.url)


def schema_names() -> Sequence[str]:
    return tuple(PUBLIC_TYPES.values())


# -- pull ------------------------------------------------------------------------------------
def bearer_hook(hooks: Sequence[WebhookView], token: str) -> WebhookView | None:
    """The webhook whose (opened) secret is ``token``. Every secret is compared, each in
    constant time over SHA-256 digests, so neither the time nor the length tells anything."""
    wanted = hashlib.sha256(token.encode()).digest()
    found: WebhookView | None = None
    for hook in hooks:
        if not hook.secret:
            continue
        if hmac.compare_digest(hashlib.sha256(hook.secret.encode()).digest(), wanted):
            found = found or hook
    return found if token else None


def pull(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``GET /events?after=N[&limit=M]`` with ``Authorization: Bearer <webhook secret>``:
    ``{"events": [...], "next": P}``; ask again with ``after=P``."""
    from urllib.parse import parse_qs

    token = str(environ.get("HTTP_AUTHORIZATION", "")).removeprefix("Bearer ").strip()
    hook = bearer_hook(active_webhooks(app), token)
    if hook is None:
        log.warning("feed: refused pull from %s (no or unknown token)",
                    environ.get("REMOTE_ADDR"))
        return "401 Unauthorized", {"error": "a webhook's secret is needed as Bearer token"}
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    try:
        after = int(query.get("after", ["0"])[0])
        limit = int(query.get("limit", [str(PAGE_LIMIT)])[0])
    except ValueError:
        return "400 Bad Request", {"error": "after and limit are whole numbers"}
    if after < 0 or not 1 <= limit <= PAGE_LIMIT:
        return "400 Bad Request", {"error": f"after >= 0, 1 <= limit <= {PAGE_LIMIT}"}
    docs, nxt = feed_page(app, after, limit, hook.enterprise_id)
    return "200 OK", {"events": docs, "next": nxt}
