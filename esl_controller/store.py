"""Where the event log lives: one SQLite file by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

DEFAULT_DB_PATH = Path("var") / "pbx.sqlite"
SQLITE_BUSY_TIMEOUT = float(os.environ.get("PBX_SQLITE_BUSY_TIMEOUT", "2.0"))


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


def sqlite_connect() -> sqlite3.Connection:
    """Connection creator for SQLite files (a short busy timeout: never stall the hub long).

    Used through eventsourcing-sqlalchemy's SQLALCHEMY_CONNECTION_CREATOR_TOPIC; the
    database path comes from PBX_SQLITE_PATH, set by :func:`application_env`.
    """
    conn = sqlite3.connect(
        os.environ["PBX_SQLITE_PATH"], timeout=SQLITE_BUSY_TIMEOUT, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def application_env(url: str) -> dict[str, str]:
    """eventsourcing environment for the given store URL."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
        "SQLALCHEMY_URL": url,
    }
    path = sqlite_path(url)
    if path is not None:
        os.environ["PBX_SQLITE_PATH"] = str(path)
        env["SQLALCHEMY_CONNECTION_CREATOR_TOPIC"] = "esl_controller.store:sqlite_connect"
    return env
