"""One base error per layer; names end in Error."""

from __future__ import annotations


class PbxError(Exception):
    """Base of every error this project raises on purpose."""


class ValidationError(PbxError):
    """Input that cannot be accepted (bad number, unknown enterprise, duplicate ...)."""


class NotFoundError(ValidationError):
    """A named thing (enterprise, user, call) does not exist."""


class StoreUnavailableError(PbxError):
    """The event store could not be reached or refused the write."""
