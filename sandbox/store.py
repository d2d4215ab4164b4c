"""Durable state of the sandbox: one SQLite file under the data folder.

Every request runs in its own transaction, so several processes (a `sandbox
serve`, an embedded server inside a job, a `sandbox submit`) can share one
folder and see each other's writes. Nothing is kept only in memory.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import string
import threading
import time
from pathlib import Path
from typing import Any, Iterator

DB_NAME = "sandbox.db"

_CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS request_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    api TEXT NOT NULL,
    method_id TEXT,
    http_method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    principal TEXT,
    kind TEXT,
    units INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS request_log_quota ON request_log(api, principal, ts);
CREATE INDEX IF NOT EXISTS request_log_ts ON request_log(ts);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# API modules add their own tables here (see `register_schema`).
_SCHEMAS: list[str] = [_CORE_SCHEMA]

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def register_schema(sql: str) -> None:
    """Add DDL (idempotent, `IF NOT EXISTS`) run whenever a store is opened."""
    if sql not in _SCHEMAS:
        _SCHEMAS.append(sql)


def new_id(length: int = 44, alphabet: str = _ID_ALPHABET) -> str:
    """An opaque random id shaped like Google's (Drive ids are 33-44 chars);
    it starts with a letter or digit so it never reads as a command-line option."""
    first = secrets.choice(string.ascii_letters + string.digits)
    return first + "".join(secrets.choice(alphabet) for _ in range(length - 1))


class Store:
    """The sandbox's database: one connection per thread, explicit transactions."""

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self._local = threading.local()
        # executescript commits on its own, so the DDL runs outside a transaction
        conn = self._conn()
        for sql in _SCHEMAS:
            conn.executescript(sql)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                   check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """All-or-nothing unit of work; a write transaction takes the lock up front
        so two processes never interleave a read-modify-write."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- settings shared by every process over this folder -----------------
    def get_settings(self) -> dict[str, Any]:
        rows = self._conn().execute("SELECT key, value FROM settings").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def set_settings(self, **values: Any) -> None:
        with self.transaction() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM settings WHERE key = ?", (key,))
                else:
                    db.execute("INSERT INTO settings(key, value) VALUES (?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               (key, json.dumps(value)))

    # -- request log --------------------------------------------------------
    def log_request(self, *, api: str, method_id: str | None, http_method: str,
                    path: str, status: int, principal: str | None, kind: str | None,
                    units: int = 1) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO request_log(ts, api, method_id, http_method, path, status, principal,"
                " kind, units) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), api, method_id, http_method, path, status, principal, kind, units))

    def used_in_last_minute(self, api: str, principal: str, kind: str) -> int:
        """Quota units `principal` spent on `api` (`kind`: read/write/units) in 60 s."""
        column = "SUM(units)" if kind == "units" else "COUNT(*)"
        where = "" if kind == "units" else " AND kind = ?"
        args: tuple[Any, ...] = (api, principal, time.time() - 60) + (() if kind == "units" else (kind,))
        row = self._conn().execute(
            f"SELECT COALESCE({column}, 0) FROM request_log WHERE api = ? AND principal = ?"
            f" AND ts > ? AND status != 429{where}", args).fetchone()
        return int(row[0])

    def requests(self, since_seq: int = 0) -> list[dict[str, Any]]:
        """The request log after `since_seq`, oldest first (for tests and benchmarks)."""
        rows = self._conn().execute(
            "SELECT * FROM request_log WHERE seq > ? ORDER BY seq", (since_seq,)).fetchall()
        return [dict(r) for r in rows]

    def last_request_seq(self) -> int:
        row = self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM request_log").fetchone()
        return int(row[0])

    def next_counter(self, db: sqlite3.Connection, name: str) -> int:
        """A strictly increasing integer, shared by all processes (call inside a transaction)."""
        db.execute("INSERT INTO counters(name, value) VALUES (?, 1) "
                   "ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
        return int(db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])
