"""Merging a sweep's shard stores into the main store.

``Merger`` copies a shard's rows into the main store on one DuckDB connection (ATTACH and
``INSERT OR IGNORE`` per table, in one ``_store.transaction``), and falls back to consist's own
merge (``DatabaseMaintenance.merge``, what ``consist db merge --conflict skip`` runs) for a
shard whose tables differ from the main store's. ``close_interrupted`` marks the runs a
killed worker left ``running`` as failed first. After a merge, the snapshots of the shard's
runs whose content rows lost to the main store's record the main store's (``contents``). The
caller may pass ``on_merged``, run on the merging connection (the shard ATTACHed as ``shard``)
in a transaction of its own right after the rows arrived: the metrics index keeps itself in
step there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackyard._consist import contents
from trackyard._consist.schema import (
    ATTACH_SHARD_SQL,
    DERIVED_PREFIX,
    MARK_INTERRUPTED_SQL,
    MARK_TRANSFER_FAILED_SQL,
    SHARD_OUTPUTS_SQL,
    TABLE_COLUMNS_SQL,
    copy_table_sql,
)
from trackyard._store import Store, connect, transaction

__all__ = ["Merger", "close_interrupted", "mark_failed", "shard_outputs"]


def close_interrupted(shard: Path) -> None:
    """Mark runs a killed worker left ``running`` as failed, so they merge as failures."""
    import duckdb  # heavy (~0.2 s): only when there is a shard to fix

    with contextlib.suppress(duckdb.Error), connect(shard) as con:
        con.execute(MARK_INTERRUPTED_SQL)


def shard_outputs(shard: Path) -> list[tuple[str, str, str, str | None]]:
    """Every output a shard recorded: (run id, key, location relative to the run folder,
    SHA-256 or None)."""
    with connect(shard, read_only=True) as con:
        rows = con.execute(SHARD_OUTPUTS_SQL).fetchall()
    return [(str(r), str(k), str(u), None if h is None else str(h)) for r, k, u, h in rows]


def mark_failed(shard: Path, error: str) -> None:
    """Record every run of ``shard`` as failed, with ``error`` as its message."""
    import json

    with connect(shard) as con:
        con.execute(MARK_TRANSFER_FAILED_SQL, {"patch": json.dumps({"error": error})})


# --- merging ------------------------------------------------------------------------------------


def _merge_db(path: Path) -> Any:
    """A consist ``DatabaseManager`` that opens shards without re-running schema set-up.

    ``DatabaseMaintenance.merge`` (what ``consist db merge`` calls) opens the shard with the
    class of the main DB; schema set-up costs ~0.45 s per open and the shard is already set up.
    """
    from consist.core.persistence import DatabaseManager  # heavy; only when merging

    class _NoSetup(DatabaseManager):
        def __init__(self, db_path: str, **kwargs: Any) -> None:
            kwargs.setdefault("skip_schema_init", True)
            super().__init__(db_path, **kwargs)

    return _NoSetup(str(path))


class Merger:
    """Merges shard DBs into the main store, skipping rows it already holds.

    Equivalent to ``consist db merge SHARD --conflict skip`` for our shards, which are copies
    of a template made by the same consist (so every table has the main store's columns and
    primary keys) and hold no ingested ``global_tables``: one DuckDB connection that ATTACHes
    the shard and runs ``INSERT OR IGNORE`` per table in one transaction (~30 ms, against
    ~200 ms for consist's merge, which opens ~30 connections; on 2 cores the driver's merges
    compete with the workers for CPU). A shard with anything else goes through consist's
    merge. Every access goes through the store layer (``_store.Store``): lock conflicts on the
    main store are waited for within ``TRACKYARD_LOCK_TIMEOUT``; ``last_error`` says why the
    latest merge failed.
    """

    def __init__(self, store: Store, on_merged: Callable[[Any], None] | None = None) -> None:
        self._store = store
        self._on_merged = on_merged
        self._maintenance: Any = None
        self.last_error: str | None = None

    def merge(self, shard: Path, attempts: int = 3) -> bool:
        """Merge ``shard``; True when done. Runs already in the main store are skipped.

        Each attempt waits out lock conflicts within the lock budget; a failed attempt is
        retried ``attempts`` times. False (with ``last_error`` set) when it still failed: the
        shard must then be kept, it holds rows the store lacks.
        """
        if not shard.is_file():
            return True
        for attempt in range(attempts):
            try:
                if not self._store.write(
                    lambda con: self._merge_sql(con, shard), what=f"merging shard {shard.name}"
                ):
                    self._store.retry(
                        lambda: self._consist_merge(shard), what=f"merging shard {shard.name}"
                    )
                    self._store.write(
                        lambda con: self._kept_contents(con, shard),
                        what=f"merging shard {shard.name}",
                    )
                self.last_error = None
                return True
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.2 * (attempt + 1))
        return False

    def _consist_merge(self, shard: Path) -> None:
        if self._maintenance is None:
            from consist.core.maintenance import DatabaseMaintenance  # heavy; only when needed

            self._maintenance = DatabaseMaintenance(
                db=_merge_db(self._store.db_path), run_dir=self._store.run_dir
            )
        self._maintenance.merge(shard, conflict="skip", include_snapshots=False)

    def _kept_contents(self, con: Any, shard: Path) -> None:
        """After consist's merge: the snapshots record the main store's content rows."""
        con.execute(ATTACH_SHARD_SQL, {"path": str(shard)})
        contents.merged(con, self._store.run_dir)
        self._after(con)

    def _merge_sql(self, con: Any, shard: Path) -> bool:
        """The one-connection merge; False (nothing written) when the shard needs consist's."""
        con.execute(ATTACH_SHARD_SQL, {"path": str(shard)})
        tables = self._copyable_tables(con)
        if tables is None:
            return False
        with transaction(con):
            for table, columns in sorted(tables.items()):
                con.execute(copy_table_sql(table, columns))
        # A content row the main store already had wins over the shard's: the snapshots of
        # the shard's runs then record the main store's (a rebuild restores what it held).
        contents.merged(con, self._store.run_dir)
        self._after(con)
        return True

    def _after(self, con: Any) -> None:
        """``on_merged`` in a transaction of its own, once the rows are in: what it derives
        (the metrics index) is caught up later if it fails, the merge is never undone."""
        if self._on_merged is None:
            return
        import duckdb

        with contextlib.suppress(duckdb.Error), transaction(con):
            self._on_merged(con)

    @staticmethod
    def _copyable_tables(con: Any) -> dict[str, list[str]] | None:
        """The shard's tables and columns, or None when one differs from the main store's;
        trackyard's derived tables (the metrics index) are left out."""
        columns: dict[tuple[str, str, str], list[str]] = {}
        for db, schema, table, column in con.execute(TABLE_COLUMNS_SQL).fetchall():
            key = ("shard" if db == "shard" else "main", schema, table)
            columns.setdefault(key, []).append(column)
        shard_tables = {
            (s, t): c
            for (d, s, t), c in columns.items()
            if d == "shard" and not t.startswith(DERIVED_PREFIX)  # derived: never copied
        }
        if any(
            schema != "main" or columns.get(("main", schema, table)) != cols
            for (schema, table), cols in shard_tables.items()
        ):
            return None
        return {table: cols for (_schema, table), cols in shard_tables.items()}
