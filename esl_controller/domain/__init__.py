"""Aggregates and value objects. No I/O: no sockets, no gevent, no SQL, no click."""
