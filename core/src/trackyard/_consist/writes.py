"""A run's store writes after its model returned, in one transaction (issue 23, goal 1).

consist commits each of its store operations on its own: after a trivial model returns, the
run's content row, its artifact rows and links, and the run's end (status, metadata) are three
transactions, each a DuckDB commit (a write-ahead-log sync, ~2-5 ms here). Inside a run's batch
(``session.batch``: the pooled engine), ``grouped`` puts them in ONE transaction: once the
model has returned (``open_armed``, called by ``session.lock_free``'s wrapper on the run's
thread), consist's operations share a session bound to one connection in an open transaction
(consist's ``DatabaseManager._session_ctx``, which its ``session_scope`` reuses), joined with
SQLAlchemy's ``join_transaction_mode="rollback_only"``: consist's ``session.commit()`` flushes
its statements but leaves the transaction open; ``grouped`` commits it when
``Tracker.run`` has returned (or raised), before trackyard reports the run.

What does not change: the rows (the same ORM statements, in the same order); a run reported
stored is stored (the commit comes before the report, and a failed commit raises); consist's
JSON snapshot of the run's end is written before the commit, as before; the store is free
while a model runs (the run's start is committed before the model, no connection is held
during it). A kill -9 between the model's return and the commit leaves the run as one killed
while its model ran (its start recorded, ``running``), which ``reconcile`` handles as before,
rather than with some of its end rows. Should consist roll the shared session back (a failed
statement), the run's end rows are gone: the run is then read back (``lost``), and consist's
in-memory content rows, which may name rows never committed, are forgotten. A store that
cannot be connected to (locked, damaged) is left to consist's own operations, which retry
and report it as before.

The run's JSON snapshots (``install_writer``, ``Group.snapshot``): consist writes a run's
snapshot four times per run, each time to the run's file and to ``consist.json`` (the latest
run), and trackyard then rewrote the run's file with the store's content rows
(``contents.keep_run``). Inside a trackyard run the latest-run file is written once, with
the run's last snapshot; the snapshot consist writes once the model returned, while the run
is still ``running``, is written only if nothing supersedes it before the commit (the end's
snapshot does, and is written before the commit, as consist orders it); and the end's
snapshot carries the content rows, read in the group's transaction. The files a run leaves
are byte for byte those of before; four file writes per run instead of nine, and no re-read.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from trackyard._consist import contents

__all__ = ["Group", "grouped", "install_writer", "open_armed"]

RUNNING = "running"  # consist's status of a run in progress
LATEST = "consist.json"  # consist's snapshot of the latest run, next to the runs' folders


def _db(consist_tracker: Any) -> Any:
    store = getattr(consist_tracker, "metadata_store", None)
    return getattr(store, "db", None)


class Group:
    """One run's end writes on one connection and transaction; ``lost``: consist rolled the
    transaction back, so the run's end rows were not stored."""

    def __init__(self, consist_tracker: Any) -> None:
        self._tracker = consist_tracker
        self._db = _db(consist_tracker)
        self._pending: tuple[Any, Callable[[Any], None]] | None = None  # a deferred snapshot
        self.kept: str | None = None  # the run whose final snapshot carries the content rows
        self._connection: Any = None
        self._transaction: Any = None
        self._session: Any = None
        self._token: Any = None
        self.lost = False

    def open(self) -> None:
        """Share one session in an open transaction with consist's operations from now on;
        nothing outside a batch, or when consist already shares a session (a caller's
        ``session_scope``)."""
        db = self._db
        engine = getattr(db, "engine", None)
        shared = getattr(db, "_session_ctx", None)
        if self._connection is not None or shared is None or shared.get() is not None:
            return
        if engine is None or not getattr(engine.pool, "_trackyard_batch", False):
            return
        from sqlmodel import Session

        try:
            connection = engine.connect()
        except Exception:  # locked or damaged: consist's own operations retry and report it
            return
        try:
            transaction = connection.begin()
            session = Session(bind=connection, join_transaction_mode="rollback_only")
        except BaseException:
            connection.close()
            raise
        self._connection, self._transaction, self._session = connection, transaction, session
        self._token = shared.set(session)

    def close(self) -> None:
        """Write a deferred snapshot, then commit what consist wrote (raises when the store
        refuses); the connection goes back to the batch's pool."""
        if self._connection is None:
            return
        pending, self._pending = self._pending, None
        shared = self._db._session_ctx
        try:
            shared.reset(self._token)
        except ValueError:  # set in another context: consist's own sessions from now on
            shared.set(None)
        try:
            if pending is not None:  # the snapshot goes first, as consist has it
                pending[1](pending[0])
            self._session.close()  # rollback_only: leaves the transaction to us
            if self._transaction.is_active:
                self._transaction.commit()
            else:
                self.lost = True
        except BaseException:
            self.lost = True
            raise
        finally:
            if self.lost:
                self._forget_contents()
            connection, self._connection = self._connection, None
            connection.close()

    def snapshot(self, record: Any, write: Callable[[Any], None]) -> None:
        """consist writes the run's JSON snapshot (``write``: its own writer, the run's file
        and the ``consist.json`` of the latest run). Inside the run (``grouped``) the latest-run
        file is written with the run's last snapshot only; once the model returned, a snapshot
        of the run still running is written only if no later one comes before the commit (the
        next one, the run's end, is written before it), and the run's end carries the store's
        content rows (``contents``: what trackyard adds after the run otherwise), read in the
        transaction they are written in."""
        run = record.run
        if str(run.status) == RUNNING:
            if self._connection is not None:
                self._pending = (record, write)
            else:
                contents.write_atomic(self._path(run.id), record.model_dump_json(indent=2))
            return
        self._pending = None
        if self._connection is None or not self._write_final(record):
            write(record)

    def _path(self, run_id: str) -> Path:
        return contents.snapshot_path(Path(self._tracker.run_dir), str(run_id))

    def _write_final(self, record: Any) -> bool:
        """The run's last snapshot as trackyard keeps it (content rows recorded), and the
        latest-run file as consist writes it; False when consist's own writer should."""
        latest = Path(self._tracker.run_dir) / LATEST
        text = record.model_dump_json(indent=2)
        final = contents.kept(json.loads(text), self._connection.connection.cursor())
        if final is None:
            return False
        contents.write_atomic(self._path(record.run.id), final)
        contents.write_atomic(latest, text)
        self.kept = str(record.run.id)
        return True

    def _forget_contents(self) -> None:
        """consist keeps the content rows it wrote or found in memory; some may not be
        stored now."""
        cache = getattr(self._db, "_artifact_content_cache", None)
        lock = getattr(self._db, "_artifact_content_cache_lock", None)
        if cache is not None and lock is not None:
            with lock:
                cache.clear()


# The group of the run in progress on this thread (``grouped``), opened by ``open_armed``.
_ARMED: ContextVar[Group | None] = ContextVar("trackyard_write_group", default=None)


@contextlib.contextmanager
def grouped(consist_tracker: Any) -> Iterator[Group]:
    """Inside the block (one ``Tracker.run``), consist's writes after ``open_armed`` share
    one transaction, committed when the block ends, however it ends."""
    group = Group(consist_tracker)
    token = _ARMED.set(group)
    try:
        yield group
    except BaseException as error:
        _ARMED.reset(token)
        try:
            group.close()
        except Exception as exc:  # the run's own error is what the caller needs to see
            logging.getLogger("trackyard").warning("the run's end was not stored: %s", exc)
            error.add_note(f"trackyard could not store the run's end: {exc}")
        raise
    _ARMED.reset(token)
    group.close()


def open_armed() -> None:
    """The model of this thread's run returned: its remaining writes share one transaction."""
    group = _ARMED.get()
    if group is not None:
        group.open()


def install_writer(consist_tracker: Any) -> None:
    """Route the run snapshots consist writes for ``consist_tracker`` through the run's group
    (``Group.snapshot``) while a trackyard run of it is in progress; consist's own writer
    otherwise (its ``ProvenanceWriter._write_record_json``, replaced on the instance)."""
    writer: Any = getattr(consist_tracker, "persistence", None)
    original = getattr(writer, "_write_record_json", None)
    if original is None or getattr(original, "_trackyard", False):
        return

    def write(record: Any) -> None:
        group = _ARMED.get()
        if group is None or group._tracker is not consist_tracker:
            original(record)
        else:
            group.snapshot(record, original)

    write._trackyard = True  # type: ignore[attr-defined]
    writer._write_record_json = write
