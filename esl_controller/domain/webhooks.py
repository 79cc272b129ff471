"""Webhook: a CRM (or any integration) receiving the public call event feed (CRM-1)."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

NAMESPACE = UUID("0b6c7f0e-58a4-4d3e-9c55-5a3c1d2e9f41")


class Webhook(Aggregate):
    """A URL the feed is POSTed to, for one enterprise or all.

    The signing secret is kept in the event sealed (``sk:v1:...``, AES-GCM with a key outside
    the database, see :mod:`esl_controller.personal`): HMAC-SHA256 needs the key itself, a hash
    of it could not sign. Webhooks added before sealing hold it in clear and still work.
    Listings show only its fingerprint.
    """

    @staticmethod
    def create_id(url: str, enterprise_id: UUID | None) -> UUID:
        return uuid5(NAMESPACE, f"webhook:{enterprise_id or '*'}:{url}")

    @event("WebhookAdded")
    def __init__(self, url: str, enterprise_id: UUID | None, secret: str | None,
                 max_failures: int, start: int) -> None:
        """``start``: the log position when it was added; delivery begins after it."""
        self.url = url
        self.start = start
        self.enterprise_id = enterprise_id
        self.secret = secret
        self.max_failures = max_failures
        self.removed = False
        self.failures_reported = 0

    @event("WebhookRemoved")
    def remove(self) -> None:
        self.removed = True

    @event("WebhookReinstated")
    def reinstate(self, secret: str | None, max_failures: int, start: int) -> None:
        """Added again: delivery begins after ``start`` (nothing of the removed time)."""
        self.removed = False
        self.start = start
        self.secret = secret
        self.max_failures = max_failures

    @event("WebhookSecretResealed")
    def reseal(self, secret: str) -> None:
        """The same secret sealed again under a new secrets key (``pbx webhook rekey``)."""
        self.secret = secret

    @event("WebhookDeliveryFailing")
    def failing(self, position: int, attempts: int, error: str) -> None:
        """Event ``position`` still not delivered after ``attempts`` tries (retries go on)."""
        self.failures_reported += 1
