"""The key store on its own: keys verify, revoke at once, and the file is the owner's only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from segmentum.app.keys import KEYS_FILE, KeyStore, KeyStoreError


def test_the_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create("read")
    # key hashes and the session-signing secret: a file to guard like a password file
    assert stat.S_IMODE(os.stat(tmp_path / KEYS_FILE).st_mode) == 0o600
    os.chmod(tmp_path / KEYS_FILE, 0o644)
    store.revoke(store.list()[0].key_id)  # any write puts it back
    assert stat.S_IMODE(os.stat(tmp_path / KEYS_FILE).st_mode) == 0o600


def test_keys_verify_until_revoked_and_only_with_their_secret(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    record, key = store.create("score", name="web form")
    assert store.verify(key) == record
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert store.verify(wrong) is None and store.verify("sgm_nonsense") is None
    store.revoke(record.key_id)
    assert store.verify(key) is None and store.active(record.key_id) is None
    with pytest.raises(KeyStoreError, match="unknown scope"):
        store.create("root")
    with pytest.raises(KeyStoreError, match="no key with id"):
        store.revoke("000000000000")


def test_serve_warns_when_the_key_file_is_shared_or_tracked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readable by others, or in git: ``segmentum serve`` says so (and how to fix it)."""
    import shutil
    import subprocess

    import uvicorn
    from typer.testing import CliRunner

    from segmentum.app.keys import key_file_warnings
    from segmentum.cli.main import app

    (tmp_path / "segmentum.toml").write_text(
        '[project]\nname = "keys"\n\n[sources.survey]\npath = "s.csv"\nbasis = ["q1", "q2"]\n',
        encoding="utf-8",
    )
    assert key_file_warnings(tmp_path) == []  # no key file yet
    KeyStore(tmp_path).create("read")
    assert key_file_warnings(tmp_path) == []  # owner-only, no git
    os.chmod(tmp_path / KEYS_FILE, 0o644)
    (shared,) = key_file_warnings(tmp_path)
    assert "mode 0644" in shared and f"chmod 600 {tmp_path / KEYS_FILE}" in shared
    os.chmod(tmp_path / KEYS_FILE, 0o600)
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the tracked-file check cannot be exercised")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", KEYS_FILE], check=True)
    (tracked,) = key_file_warnings(tmp_path)
    assert "tracked by git" in tracked and f"git rm --cached {KEYS_FILE}" in tracked

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: served.append(a))
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "segmentum.toml")])
    output = " ".join((result.output + (result.stderr if result.stderr_bytes else "")).split())
    assert result.exit_code == 0 and served, output
    assert f"Warning: {tmp_path / KEYS_FILE} is tracked by git" in output, output
