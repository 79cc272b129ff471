"""Click-to-call (OPT-5, "bel-me-nu"): a web link that makes the exchange call the visitor and
connect them to an employee.

A link belongs to one user; its token is shown once when the link is made and only its
SHA-256 is stored (a 256-bit random token needs no slow hash: it cannot be guessed, only
stolen, and the hash makes a stolen log useless). Every attempt through the web endpoint,
good or bad, is one ``ClickToCallAttempted`` event.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

TOKEN_PREFIX = "c2c_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


class ClickToCallLink(Aggregate):
    """One "call me" link of a user."""

    @staticmethod
    def create_id(enterprise_id: UUID, token_hash: str) -> UUID:
        return uuid5(enterprise_id, "click-to-call:" + token_hash)

    @event("ClickToCallLinkAdded")
    def __init__(self, enterprise_id: UUID, extension: str, token_hash: str, label: str,
                 expires: datetime | None, created: datetime) -> None:
        self.enterprise_id = enterprise_id
        self.extension = extension
        self.token_hash = token_hash
        self.label = label
        self.expires = expires
        self.created = created
        self.revoked = False

    @event("ClickToCallLinkRevoked")
    def revoke(self) -> None:
        self.revoked = True


class ClickToCallAttempt(Aggregate):
    """One request to ``POST /click-to-call`` (its id is new for every attempt)."""

    @event("ClickToCallAttempted")
    def __init__(self, link_id: UUID | None, enterprise_id: UUID | None, visitor: str,
                 status: int, outcome: str, reason: str, remote: str, at: datetime) -> None:
        self.link_id = link_id
        self.enterprise_id = enterprise_id
        self.visitor = visitor
        self.status = status
        self.outcome = outcome
        self.reason = reason
        self.remote = remote
        self.at = at
