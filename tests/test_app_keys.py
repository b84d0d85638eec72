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
