"""What the store holds that consist's run snapshots lack, kept in them so a rebuild is exact.

consist's snapshot of a run gives each artifact's content hash, driver and content id, but not
the ``artifact_content`` row itself (its ``created_at`` is in the store only, and when several
stores recorded the same bytes, a sweep's worker shards or an imported bundle, the row the
store kept may be another store's), nor when its config facet row and flattened keys were
recorded. Once consist has written a run's last snapshot, trackyard adds them under the
snapshot's own key:

```text
{"run": ..., "inputs": [...], "outputs": [...], "config": ..., "facet": ...,
 "trackyard": {"artifact_content": [{"id", "content_hash", "driver", "created_at", "meta"}],
               "config_facet": {"id", "created_at"},
               "run_config_kv": {"<key>": "<created_at>"}}}
```

(timestamps as ISO 8601 with their UTC offset, to the microsecond). consist ignores the key
when it reads a snapshot; trackyard's own rewrites of a snapshot keep it. The values are
written where the run is recorded, and corrected wherever another store's rows win:

* ``keep_run``: after each run, from the store the run is recorded in (consist's own
  connection, inside the run's batch: one or two queries and one atomic rewrite);
* ``merged``: after a worker's shard is merged, the runs whose shard content row or facet row
  lost to the main store's (recorded earlier elsewhere) get the main store's;
* ``keep_all``: after an import (the importing store keeps its own rows for bytes or a facet
  it had); ``snapshot.recreate`` writes the content rows into the snapshots it re-creates.

The snapshot is rewritten atomically (a temporary file renamed over it): a crash leaves the
previous whole snapshot, which a rebuild restores with approximated values (``approximated``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from trackyard._consist.schema import (
    CONTENT_ROWS_SQL,
    FACET_TIMES_SQL,
    SHARD_CONTENT_CONFLICTS_SQL,
)
from trackyard._layout import SNAPSHOT_DIR
from trackyard._store import Store, connect

__all__ = [
    "KEY",
    "approximated",
    "facet_times",
    "ROWS",
    "keep",
    "keep_all",
    "keep_run",
    "kept",
    "keys_of",
    "merged",
    "recorded",
    "write_atomic",
]

KEY = "trackyard"  # the snapshot's top-level key that trackyard owns
ROWS = "artifact_content"  # under it: the store's content rows of the run's artifacts
FACET = "config_facet"  # {"id", "created_at"}: the run's config facet row's
KV = "run_config_kv"  # {"<key>": created_at}: the run's flattened facet keys'
FACET_ID = "config_facet_id"  # consist's run meta key naming the run's facet

Row = dict[str, Any]
Lookup = Callable[[Sequence[str]], list[tuple[Any, ...]]]  # content hashes -> CONTENT_ROWS_SQL


def keys_of(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (content hash, driver) of every input and output of a parsed snapshot, in order."""
    keys: dict[tuple[str, str], None] = {}
    for direction in ("inputs", "outputs"):
        for artifact in payload.get(direction) or []:
            if artifact.get("hash") and artifact.get("driver"):
                keys[(str(artifact["hash"]), str(artifact["driver"]))] = None
    return list(keys)


def recorded(payload: Mapping[str, Any]) -> list[Row] | None:
    """The content rows a snapshot carries; None for one written before they were kept."""
    own = payload.get(KEY)
    rows = own.get(ROWS) if isinstance(own, Mapping) else None
    return rows if isinstance(rows, list) else None


def _row(values: tuple[Any, ...]) -> Row:
    content_id, content_hash, driver, created, meta = values
    if isinstance(meta, str):
        meta = json.loads(meta)
    return {
        "id": str(content_id),
        "content_hash": str(content_hash),
        "driver": str(driver),
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
        "meta": meta,
    }


def rows_for(keys: Iterable[tuple[str, str]], lookup: Lookup) -> list[Row]:
    """The store's rows of ``keys``, through ``lookup`` (in the order of ``keys``)."""
    wanted = list(keys)
    if not wanted:
        return []
    found = {(str(r[1]), str(r[2])): _row(r) for r in lookup(sorted({h for h, _ in wanted}))}
    return [found[key] for key in wanted if key in found]


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def with_rows(payload: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
    """``payload`` carrying ``rows`` under its own key (other keys there kept)."""
    own = payload.get(KEY)
    payload[KEY] = {**(own if isinstance(own, Mapping) else {}), ROWS: rows}
    return payload


def _time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def facet_times(payload: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The recorded ``created_at`` of a snapshot's config facet row and of each of its
    flattened keys (None and ``{}`` when not recorded)."""
    own = payload.get(KEY)
    own = own if isinstance(own, Mapping) else {}
    facet = own.get(FACET)
    kv = own.get(KV)
    meta = (payload.get("run") or {}).get("meta") or {}
    if not isinstance(facet, Mapping) or facet.get("id") != meta.get(FACET_ID):
        return None, {}
    return str(facet["created_at"]), dict(kv) if isinstance(kv, Mapping) else {}


def approximated(payload: Mapping[str, Any]) -> bool:
    """Whether restoring this snapshot approximates rows: it has content rows or a config
    facet that it does not record (written before trackyard kept them)."""
    facet_id = ((payload.get("run") or {}).get("meta") or {}).get(FACET_ID)
    return bool(
        (recorded(payload) is None and keys_of(payload))
        or (facet_id and isinstance(payload.get("facet"), dict) and not facet_times(payload)[0])
    )


def _facet_record(payload: Mapping[str, Any], con: Any) -> dict[str, Any]:
    """The store's ``created_at`` of the run's facet row and keys, as the snapshot keeps them."""
    run = payload.get("run") or {}
    facet_id = (run.get("meta") or {}).get(FACET_ID)
    if not facet_id:
        return {}
    con.execute(FACET_TIMES_SQL, {"facet": str(facet_id), "run": str(run.get("id"))})
    found: list[tuple[Any, ...]] = con.fetchall()
    facet = [_time(t) for kind, _, t in found if kind == "facet"]
    if not facet:
        return {}
    kv = {str(k): _time(t) for kind, k, t in found if kind == "kv"}
    return {FACET: {"id": str(facet_id), "created_at": facet[0]}, KV: kv}


def keep(path: Path, con: Any, payload: dict[str, Any] | None = None) -> bool:
    """Record the store's content rows and facet timestamps of the snapshot at ``path``
    (``payload``: the snapshot already parsed), read on ``con`` (a DuckDB connection or a
    DB-API cursor of one), in it; False when it already carried exactly those."""
    if payload is None:
        payload = json.loads(path.read_text(encoding="utf-8"))
    text = kept(payload, con)
    if text is None:
        return False
    write_atomic(path, text)
    return True


def kept(payload: dict[str, Any], con: Any) -> str | None:
    """The snapshot ``payload`` (parsed) as text, recording the store's content rows and facet
    timestamps read on ``con`` (``payload`` is updated); None when it already carried exactly
    those."""
    mine = {ROWS: rows_for(keys_of(payload), connection_lookup(con)), **_facet_record(payload, con)}
    own = payload.get(KEY)
    own = dict(own) if isinstance(own, Mapping) else {}
    new = {**{k: v for k, v in own.items() if k not in (ROWS, FACET, KV)}, **mine}
    if new == own:
        return None
    payload[KEY] = new
    return json.dumps(payload, indent=2)


def keep_all(store: Store, paths: Sequence[Path]) -> None:
    """Record ``store``'s rows in each snapshot of ``paths`` (after an import: the importing
    store kept its own row for bytes or a facet it already had); one connection."""

    def read() -> None:
        with connect(store.db_path, read_only=True) as con:
            for path in paths:
                keep(path, con)

    store.retry(read, what="reading content rows")


def snapshot_path(run_dir: Path, run_id: str) -> Path:
    """Where consist writes the snapshot of ``run_id`` (its name made safe as consist does)."""
    safe = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in run_id)
    return run_dir / SNAPSHOT_DIR / f"{safe}.json"


def connection_lookup(con: Any) -> Lookup:
    """``Lookup`` on a DuckDB connection (or a DB-API cursor of one)."""

    def lookup(hashes: Sequence[str]) -> list[tuple[Any, ...]]:
        con.execute(CONTENT_ROWS_SQL, {"hashes": list(hashes)})  # a cursor returns None
        rows: list[tuple[Any, ...]] = con.fetchall()
        return rows

    return lookup


def keep_run(consist_tracker: Any, run_id: str) -> None:
    """After a run: its snapshot records the content rows of the store it is recorded in,
    read on consist's own connection (the run's batch keeps it open)."""
    db = getattr(getattr(consist_tracker, "metadata_store", None), "db", None)
    engine = getattr(db, "engine", None)
    if engine is None:
        return
    path = snapshot_path(Path(consist_tracker.run_dir), run_id)
    raw = engine.raw_connection()
    try:
        keep(path, raw.cursor())
    finally:
        raw.close()  # back to the batch's pool


def merged(con: Any, run_dir: Path) -> list[str]:
    """After a shard was merged on ``con`` (the shard still attached): the runs whose content
    row in the shard lost to the main store's now record the main store's rows; their ids."""
    runs = sorted(str(r[0]) for r in con.execute(SHARD_CONTENT_CONFLICTS_SQL).fetchall())
    done = []
    for run_id in runs:
        path = snapshot_path(run_dir, run_id)
        if path.is_file() and keep(path, con):
            done.append(run_id)
    return done
