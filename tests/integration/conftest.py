"""Fixtures for the integration tests (defined in tests/integration/calls.py)."""

from tests.integration.calls import controller, inbound, pbx

__all__ = ["controller", "inbound", "pbx"]
