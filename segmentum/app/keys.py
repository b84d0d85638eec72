"""API keys: created, listed and revoked by ``segmentum keys``, checked by ``segmentum serve``.

Keys live in ``keys.sqlite`` in the project folder, beside the run catalogue. SQLite in WAL
mode, not the DuckDB catalogue: DuckDB admits one writing process at a time, and keys are
created and revoked from another process while the server runs. The server only reads,
so a revoked key is refused on the very next request.

A key is ``sgm_<key id>_<secret>``; only a salted SHA-256 of the secret is stored. The
secret has 256 bits of entropy, so a slow KDF (which protects low-entropy passwords from
guessing) would add no safety while costing every request milliseconds; the compare is
constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from segmentum.data.errors import SegmentumError

__all__ = [
    "KEYS_FILE",
    "SCOPES",
    "ApiKey",
    "KeyStore",
    "KeyStoreError",
    "key_file_warnings",
    "scope_allows",
]

KEYS_FILE = "keys.sqlite"
#: ``read``: pages, runs, segments, downloads; ``score``: the scoring API;
#: ``admin``: everything.
SCOPES: tuple[str, ...] = ("read", "score", "admin")
_KEY_PATTERN = re.compile(r"^sgm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS downloads (
    at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    file TEXT NOT NULL,
    rows INTEGER
);
"""


class KeyStoreError(SegmentumError):
    """A key store problem the user can fix (unknown key id, bad scope, unreadable file)."""


def scope_allows(granted: str, needed: str) -> bool:
    """``admin`` may do everything; otherwise a key may do what its scope names."""
    return granted == "admin" or granted == needed


def key_file_warnings(project_dir: Path | str) -> list[str]:
    """Why the project's ``keys.sqlite`` may have left its owner's hands: others may read or
    write it (its mode), or git tracks it (so every clone carries the keys). Empty when
    neither, or when there is no key file yet. ``segmentum serve`` prints these."""
    path = Path(project_dir) / KEYS_FILE
    if not path.is_file():
        return []
    out = []
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        out.append(
            f"{path} is readable or writable by others than its owner (mode {mode:04o}); it "
            "holds the key hashes and the session-signing secret. Run `chmod 600 "
            f"{path}`, and revoke and recreate the keys if others may have copied it."
        )
    if _tracked_by_git(path):
        out.append(
            f"{path} is tracked by git, so every clone carries the keys. Run `git rm --cached "
            f"{KEYS_FILE}`, add it to .gitignore, and revoke and recreate the keys "
            "(`segmentum keys revoke`, `segmentum keys create`)."
        )
    return out


def _tracked_by_git(path: Path) -> bool:
    """Whether ``path`` is in a git index (``git ls-files --error-unmatch``); False without git
    or outside a repository."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return False
    try:
        done = subprocess.run(
            [git, "-C", str(path.parent), "ls-files", "--error-unmatch", "--", path.name],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("ascii")).digest()


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    scope: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStore:
    """The project's key file.

    Writes open and close their own connection. Reads (a key check on every request) reuse
    one connection per thread: in autocommit mode each query is its own read transaction,
    so a key revoked by another process is seen by the very next one; the connection is
    reopened when the file is replaced (its inode changes), so a deleted or restored store
    is never read through a stale handle.
    """

    def __init__(self, project_dir: Path | str):
        self.path = Path(project_dir) / KEYS_FILE
        self._local = threading.local()

    def _open(self, write: bool = False) -> sqlite3.Connection:
        try:
            if write:
                # the file is a secret (key hashes, the session-signing key): owner only;
                # SQLite gives its -wal and -shm files the same permissions. Created here
                # only when missing: closing any other descriptor of an open SQLite file
                # would drop this process's locks on it (POSIX advisory locks).
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                os.chmod(self.path, 0o600)
            return sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise KeyStoreError(f"{self.path}: cannot open the key store ({exc})") from exc

    def _reader(self) -> sqlite3.Connection:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise KeyStoreError(
                f"{self.path}: no API keys yet. Create one with `segmentum keys create --scope read`."
            ) from None
        ident = (st.st_dev, st.st_ino)
        cached: tuple[tuple[int, int], sqlite3.Connection] | None = getattr(
            self._local, "reader", None
        )
        if cached is not None and cached[0] == ident:
            return cached[1]
        if cached is not None:
            cached[1].close()
        con = self._open()
        self._local.reader = (ident, con)
        return con

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        con = self._open(write=True) if write else self._reader()
        try:
            if write:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
            yield con
        except sqlite3.DatabaseError as exc:
            if not write:
                self._local.reader = None
                con.close()
            raise KeyStoreError(
                f"{self.path}: the key store cannot be used ({exc}). Restore it from a "
                "backup, or delete it and create new keys."
            ) from exc
        finally:
            if write:
                con.close()

    def ensure(self) -> None:
        """Create the file and its tables if they are missing."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect(write=True):
            pass

    def create(self, scope: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key: its record and the key string, which is shown once and never stored."""
        if scope not in SCOPES:
            raise KeyStoreError(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}.")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = ApiKey(key_id, name or f"{scope} key", scope, _now(), None)
        with self._connect(write=True) as con:
            con.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key_id, record.name, scope, salt, _digest(salt, secret), record.created_at),
            )
        return record, f"sgm_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, newest first, revoked ones included."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT key_id, name, scope, created_at, revoked_at FROM keys "
                "ORDER BY created_at DESC, key_id"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id (the part after ``sgm_``); revoking twice is harmless."""
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
            row = con.execute(
                "SELECT key_id, name, scope, created_at, revoked_at FROM keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise KeyStoreError(
                f"no key with id {key_id!r} in {self.path}; `segmentum keys list` shows the ids."
            )
        return ApiKey(*row)

    def verify(self, token: str) -> ApiKey | None:
        """The active key a presented token belongs to, or None (unknown, wrong, revoked)."""
        match = _KEY_PATTERN.match(token.strip())
        if match is None or not self.path.exists():
            return None
        key_id, secret = match.groups()
        return self._check(key_id, secret)

    def active(self, key_id: str) -> ApiKey | None:
        """The key with this id if it is still active (a session cookie names its key)."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute(
                "SELECT key_id, name, scope, created_at, revoked_at FROM keys "
                "WHERE key_id = ? AND revoked_at IS NULL",
                (key_id,),
            ).fetchone()
        return None if row is None else ApiKey(*row)

    def _check(self, key_id: str, secret: str) -> ApiKey | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT key_id, name, scope, created_at, revoked_at, salt, digest FROM keys "
                "WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            _digest(b"\0" * 16, secret)  # the same work for an unknown id
            return None
        ok = hmac.compare_digest(_digest(row[5], secret), row[6])
        if not ok or row[4] is not None:
            return None
        return ApiKey(*row[:5])

    def secret(self, name: str) -> bytes:
        """A server-side secret (the session-cookie signing key), created on first use and
        kept in the store so sessions survive a restart and agree across workers."""
        with self._connect(write=True) as con:
            con.execute(
                "INSERT OR IGNORE INTO secrets VALUES (?, ?)", (name, secrets.token_bytes(32))
            )
            (value,) = con.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(value)

    def log_download(self, key_id: str, run_id: str, file: str, rows: int | None) -> None:
        """Record who downloaded which audience file of which run."""
        with self._connect(write=True) as con:
            con.execute(
                "INSERT INTO downloads VALUES (?, ?, ?, ?, ?)", (_now(), key_id, run_id, file, rows)
            )

    def downloads(self) -> list[tuple[str, str, str, str, int | None]]:
        """The download log, oldest first."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            return con.execute("SELECT * FROM downloads ORDER BY at").fetchall()
