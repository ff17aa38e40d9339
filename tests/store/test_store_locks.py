"""A lock is never called damage: whichever file DuckDB could not lock, the error names that
file and the process holding it, and says the store is not damaged.

DuckDB's words for a lock conflict are the only way to tell it from a failed read (both are an
``IOException``), so the first test pins them: it fails when a DuckDB release changes them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import trackyard
from trackyard._store import Store, lock_conflict
from trackyard.errors import StoreCorruptError, StoreUnavailableError

HOLD = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE IF NOT EXISTS "
    "t (x INT)'); print('held', flush=True); sys.stdin.readline()"
)


@contextlib.contextmanager
def _held(path: Path) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield holder
    finally:
        holder.communicate("done\n", timeout=30)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    ws = tmp_path / "ws"
    ws.mkdir()
    db = ws / "provenance.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE run (id VARCHAR)")
    return Store(db, ws / "runs", timeout=0.5)


def test_duckdb_names_the_locked_file_and_its_holder(tmp_path: Path) -> None:
    """The words ``lock_conflict`` reads: DuckDB's error when another process holds a file."""
    db = tmp_path / "held.duckdb"
    with _held(db) as holder:
        with pytest.raises(duckdb.IOException) as raised:
            duckdb.connect(str(db))
        conflict = lock_conflict(raised.value)
        assert conflict is not None, str(raised.value)
        assert conflict.file == db
        assert conflict.pid == holder.pid
        assert conflict.holder().startswith(f"process {holder.pid} (python")


def test_a_locked_store_is_named_with_its_holder_not_called_damaged(store: Store) -> None:
    with _held(store.db_path) as holder, pytest.raises(StoreUnavailableError) as raised:
        store.query("SELECT count(*) FROM run", what="the sweep's cache pre-check")
    message = str(raised.value)
    assert message.startswith(
        f"the sweep's cache pre-check: the store {store.db_path} stayed locked by process "
        f"{holder.pid} (python"
    ), message
    assert message.endswith(
        "it is locked, not damaged: retry when it is free, or raise TRACKYARD_LOCK_TIMEOUT"
    )
    assert "damaged (" not in message


def test_a_locked_shard_is_named_not_the_store(store: Store, tmp_path: Path) -> None:
    """A merge that cannot open a worker's shard (still held by the worker) names the shard
    and the worker, and never calls the main store damaged."""
    shard = tmp_path / "shard-1.duckdb"
    with _held(shard) as holder, pytest.raises(StoreUnavailableError) as raised:
        store.write(
            lambda con: con.execute(f"ATTACH '{shard}' AS shard (READ_ONLY)"),
            what="merging shard shard-1.duckdb",
        )
    message = str(raised.value)
    assert message.startswith(
        f"merging shard shard-1.duckdb: {shard} (used with the store {store.db_path}) stayed "
        f"locked by process {holder.pid}"
    ), message
    assert not isinstance(raised.value, StoreCorruptError)


def test_damage_is_still_damage(store: Store) -> None:
    """The other side: a store whose blocks are garbage is refused as damaged at once."""
    size = store.db_path.stat().st_size
    with open(store.db_path, "r+b") as fh:
        fh.write(os.urandom(size))
    with pytest.raises(StoreCorruptError, match=r"is damaged .* Move it aside"):
        store.query("SELECT count(*) FROM run", what="reading")


LOCK_ODD_FILE = (
    "import fcntl, sys; f = open(sys.argv[1], 'r+b'); fcntl.lockf(f, fcntl.LOCK_EX); "
    "print('held', flush=True); sys.stdin.readline()"
)


def test_a_store_being_written_by_another_process_is_not_called_truncated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose size is not yet a whole number of blocks while another process holds it
    (DuckDB creating or growing it; here a process holding the same POSIX lock DuckDB takes,
    since DuckDB cannot be stopped mid-write on purpose) is in use: opening it waits, then
    names the holder. Once nobody holds it, the same size is truncation."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "0.5")
    ws = tmp_path / "ws"
    ws.mkdir()
    db = ws / "provenance.duckdb"
    db.write_bytes(b"\0" * (3 * 4096 + 1000))
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_ODD_FILE, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreUnavailableError) as raised:
            trackyard.get_tracker("simulation", workspace=ws)
    finally:
        holder.communicate("done\n", timeout=30)
    assert not isinstance(raised.value, StoreCorruptError)
    assert str(raised.value) == (
        f"opening: the store {db} stayed locked by process {holder.pid} for 0.5 s while it was "
        f"being written ({3 * 4096 + 1000} bytes so far); it is locked, not damaged: retry when "
        "it is free, or raise TRACKYARD_LOCK_TIMEOUT"
    )
    with pytest.raises(StoreCorruptError, match=r"is truncated \(13288 bytes"):
        trackyard.get_tracker("simulation", workspace=ws)
