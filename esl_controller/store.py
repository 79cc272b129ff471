"""Where the event log lives: one SQLite file by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import sys
from pathlib import Path

DEFAULT_DB_PATH = Path("var") / "pbx.sqlite"
DEFAULT_BUSY_TIMEOUT = "1.0"  # seconds; sqlite3 waits block the gevent hub, keep it short


def default_url() -> str:
    return f"sqlite:///{DEFAULT_DB_PATH}"


def resolve_url(url: str | None) -> str:
    """The URL to use: the argument, else ``PBX_DB_URL``, else ``var/pbx.sqlite``.

    For a SQLite file the parent folder is created, so first use needs no setup.
    """
    chosen = url or os.environ.get("PBX_DB_URL") or default_url()
    if chosen.startswith("postgresql://"):
        chosen = "postgresql+psycopg://" + chosen[len("postgresql://") :]
    path = sqlite_path(chosen)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return chosen


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL, or None for other stores and memory."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url or "mode=memory" in url:
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


def views_url(url: str) -> str:
    """Where the SQL read models live.

    PostgreSQL: the same database. SQLite: a second file beside the log
    (``var/pbx-views.sqlite``), because SQLite has one writer per file and the projection
    worker must never make a call's append wait. Each read model's tracking position lives
    with its rows, so exactly-once still holds.
    """
    path = sqlite_path(url)
    if path is None:
        return url
    return f"sqlite:///{path.with_name(path.stem + '-views' + path.suffix)}"


def sqlite_connect(path: str) -> sqlite3.Connection:
    """A SQLite connection in WAL mode with a short busy timeout (never stall the hub long)."""
    timeout = float(os.environ.get("PBX_SQLITE_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT))
    conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a crash of the process; FULL also survives
    # power loss (an fsync per commit). Group commit keeps either affordable.
    synchronous = os.environ.get("PBX_SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if synchronous not in ("NORMAL", "FULL"):
        synchronous = "NORMAL"
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def _creator_topic(path: Path) -> str:
    """eventsourcing-sqlalchemy takes the connection creator as a topic (module:attribute).

    One creator per database file is registered on this module, so several stores in one
    process (tests, tools) each keep their own file.
    """
    name = "connect_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    module = sys.modules[__name__]
    if not hasattr(module, name):
        setattr(module, name, functools.partial(sqlite_connect, str(path)))
    return f"{__name__}:{name}"


def application_env(url: str) -> dict[str, str]:
    """eventsourcing environment for the given store URL."""
    env = {
        "PERSISTENCE_MODULE": "esl_controller.persistence:Factory",
        "SQLALCHEMY_URL": url,
    }
    path = sqlite_path(url)
    if path is not None:
        env["SQLALCHEMY_CONNECTION_CREATOR_TOPIC"] = _creator_topic(path)
    return env
