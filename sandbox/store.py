"""Durable state of the sandbox: one SQLite file under the data folder.

Every request runs in its own transaction, so several processes (a `sandbox
serve`, an embedded server inside a job, a `sandbox submit`) can share one
folder and see each other's writes. Nothing is kept only in memory.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import sqlite3
import string
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from workspace.private import make_private_dirs

DB_NAME = "sandbox.db"
# Written by `sandbox seed` into the data folder it creates: what tells `sandbox
# reset` (and `sandbox seed` itself) that the folder is a sandbox, not a person's.
MARKER_NAME = ".hoithao-sandbox"
# SQLite's side files beside a database (WAL mode, or a rollback journal).
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")

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


def create_private_file(path: Path) -> bool:
    """Create an empty file mode 0600 whatever the umask, if there is none;
    True when this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True


def _tighten(path: Path) -> None:
    """A sandbox file made before files were private: mode 0600 (when it is ours)."""
    try:
        if path.exists() and not path.is_symlink() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except PermissionError:
        pass


def is_marked_sandbox(folder: Path) -> bool:
    """`folder` holds the marker `sandbox seed` writes (a regular file, not a link)."""
    marker = Path(folder) / MARKER_NAME
    return marker.is_file() and not marker.is_symlink()


def write_marker(folder: Path) -> Path:
    """Mark `folder` as a sandbox (mode 0600): what wrote it and when."""
    marker = Path(folder) / MARKER_NAME
    create_private_file(marker)
    marker.write_text(
        "Thư mục này là một sandbox của hoithao, do `python run.py sandbox seed` tạo lúc "
        f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')}.\n"
        "`python run.py sandbox reset --data <thư mục này>` xoá toàn bộ thư mục.\n", encoding="utf-8")
    return marker


def seed_refusal(folder: Path) -> str | None:
    """Why `sandbox seed` must not write into `folder` (one Vietnamese sentence),
    or None: a folder that does not exist yet, or an empty one, is fine."""
    folder = Path(folder)
    if (folder / DB_NAME).exists():
        return (f"Thư mục {folder} đã có sandbox: dùng thư mục khác, hoặc chạy "
                f"`python run.py sandbox reset --data {folder}` để làm lại từ đầu.")
    if not folder.exists():
        return None
    if not folder.is_dir():
        return f"{folder} là một tệp, không phải thư mục: chọn một thư mục mới hoặc trống cho --data."
    if is_marked_sandbox(folder):
        return (f"Thư mục {folder} chứa một sandbox chưa tạo xong: chạy `python run.py sandbox reset "
                f"--data {folder}` rồi tạo lại.")
    if any(folder.iterdir()):
        return (f"Thư mục {folder} đã có tệp và không phải sandbox nên không ghi gì vào đó: chọn một "
                f"thư mục mới hoặc trống cho --data (vd. --data sandbox-data).")
    return None


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
        make_private_dirs(self.data_dir)
        self.path = self.data_dir / DB_NAME
        # Names, addresses and letters live here: mode 0600 from the first byte.
        # SQLite gives its -wal/-shm/-journal files the database's own mode.
        if not create_private_file(self.path):
            for path in (self.path, *(self.path.with_name(DB_NAME + s) for s in SIDE_SUFFIXES)):
                _tighten(path)
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
