"""Restore consist's rows from its JSON run snapshots, in bulk.

A snapshot (``run_dir/consist_runs/<run id>.json``) carries a run's row, its input and output
artifacts and its config facet. From them this module rebuilds, for consist's own tables:

* ``run`` (with the metrics and plugin set kept in ``meta``), ``artifact``,
  ``run_artifact_link``: replaced (a restored run's rows are the snapshot's, as consist's
  ``merge`` would leave them; when two snapshots carry one artifact, the later one wins);
* ``artifact_content`` (one row per content hash and driver, from the artifacts' content ids)
  and ``config_facet`` (one row per facet id): added when missing, never replaced;
* ``run_config_kv``: a restored run's flattened facet keys, replaced, flattened by consist's
  own function (as consist does: no rows when the facet has more than 500 keys).

Column names, JSON columns and defaults are read from consist's models, so a missing key in an
older snapshot gets the value consist would have given it. Content rows are the ones the
snapshot records as the store held them (``contents``: trackyard adds them after each run);
a snapshot written before that gets them approximated from its artifacts (the content id, the
artifact's ``created_at``), and such rows never replace recorded ones. ``created_at`` of a
facet and its keys is the one the snapshot records too (older snapshots: the run's own).

Rows are built in Python and written through the store layer (``_store.Store.write``) on one
connection, in one ``_store.transaction``, a few ``INSERT ... SELECT`` statements over Arrow
tables: about a thousand times fewer statements than one ORM ``merge`` per object. When that
transaction fails, each run is retried in its own, so one bad snapshot costs only its own run.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trackyard._consist import contents
from trackyard._consist.schema import quote_identifier
from trackyard._store import Store, transaction
from trackyard.errors import StoreUnavailableError

__all__ = ["restore"]

Payload = dict[str, Any]  # a parsed snapshot
_MAX_KV_ROWS = 500  # consist's ConfigFacetManager.persist_facet: more keys, no kv rows


Convert = Callable[[Any], Any]


def _json(value: Any) -> str:
    return json.dumps(value)  # SQLAlchemy's JSON type: None is stored as 'null'


def _uuid(value: Any) -> str | None:
    if value is None:
        return None
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _time(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class _Table:
    """One of consist's tables: its columns (DB name, snapshot key, how a value is stored,
    its default), the key rows are deduplicated by, and how a restore writes it."""

    name: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]  # the snapshot's (the model's) key of each column
    converts: tuple[Convert | None, ...]
    defaults: tuple[Callable[[], Any], ...]
    key: tuple[int, ...]  # positions of the deduplication key (the primary key)
    replace_by: tuple[str, ...] | None  # delete rows matching these columns first; None: ignore

    def row(self, data: Mapping[str, Any], **fallback: Any) -> tuple[Any, ...]:
        """The column values of ``data`` (snapshot keys), as the ORM would have stored them."""
        values = []
        for key, convert, default in zip(self.keys, self.converts, self.defaults, strict=True):
            if key in data:
                value = data[key]
            elif key in fallback:
                value = fallback[key]
            else:
                value = default()
            values.append(value if convert is None else convert(value))
        return tuple(values)

    def key_of(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[i] for i in self.key)


def _table(model: Any, key: tuple[str, ...], replace_by: tuple[str, ...] | None) -> _Table:
    """The ``_Table`` of one of consist's SQLModel classes."""
    import sqlalchemy

    columns, keys, converts, defaults = [], [], [], []
    for attr in sqlalchemy.inspect(model).column_attrs:
        column = attr.columns[0]
        columns.append(str(column.name))
        keys.append(str(attr.key))
        kind = column.type
        convert: Convert | None = None
        if isinstance(kind, sqlalchemy.JSON):
            convert = _json
        elif type(kind).__name__ == "UUIDType":
            convert = _uuid
        elif isinstance(getattr(kind, "impl", kind), sqlalchemy.DateTime):
            convert = _time
        converts.append(convert)
        defaults.append(_default(model.model_fields.get(attr.key)))
    return _Table(
        name=str(model.__tablename__),
        columns=tuple(columns),
        keys=tuple(keys),
        converts=tuple(converts),
        defaults=tuple(defaults),
        key=tuple(columns.index(c) for c in key),
        replace_by=replace_by,
    )


def _default(info: Any) -> Callable[[], Any]:
    """The value consist's model gives a field the snapshot lacks (None when it has none)."""
    if info is None:
        return lambda: None
    if info.default_factory is not None:
        factory: Callable[[], Any] = info.default_factory
        return factory
    default = info.default
    return lambda: None if type(default).__name__ == "PydanticUndefinedType" else default


@dataclass(frozen=True)
class _Schema:
    run: _Table
    artifact: _Table
    content: _Table
    link: _Table
    facet: _Table
    kv: _Table

    @property
    def tables(self) -> tuple[_Table, ...]:
        return (self.run, self.artifact, self.content, self.link, self.facet, self.kv)


def _schema() -> _Schema:
    from consist.models.artifact import Artifact, ArtifactContent  # heavy; only when repairing
    from consist.models.config_facet import ConfigFacet
    from consist.models.run import Run, RunArtifactLink
    from consist.models.run_config_kv import RunConfigKV

    return _Schema(
        run=_table(Run, ("id",), ("id",)),
        artifact=_table(Artifact, ("id",), ("id",)),
        content=_table(ArtifactContent, ("content_hash", "driver"), None),
        link=_table(RunArtifactLink, ("run_id", "artifact_id"), ("run_id", "artifact_id")),
        facet=_table(ConfigFacet, ("id",), None),
        kv=_table(RunConfigKV, ("run_id", "facet_id", "namespace", "key"), ("run_id",)),
    )


@dataclass
class _Rows:
    """Rows per table, deduplicated by key (the later snapshot wins, as with ``merge``).
    ``exact``: keys of rows the snapshots recorded as the store held them (content rows),
    which win over rows approximated from an older snapshot."""

    by_table: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = field(default_factory=dict)
    exact: set[tuple[str, tuple[Any, ...]]] = field(default_factory=set)

    def add(self, table: _Table, row: tuple[Any, ...], *, exact: bool = False) -> None:
        key = table.key_of(row)
        rows = self.by_table.setdefault(table.name, {})
        kept = table.replace_by is None and key in rows  # added when missing: the first stays
        if kept and (not exact or (table.name, key) in self.exact):
            return  # ... unless it was approximated and this one is recorded
        rows[key] = row
        if exact:
            self.exact.add((table.name, key))

    def merge(self, schema: _Schema, other: _Rows) -> None:
        for table in schema.tables:
            for key, row in other.by_table.get(table.name, {}).items():
                self.add(table, row, exact=(table.name, key) in other.exact)


def _payload_rows(schema: _Schema, payload: Mapping[str, Any]) -> _Rows:
    """Every row one snapshot restores (raises on a snapshot that lacks what a row needs)."""
    rows = _Rows()
    run = payload["run"]
    run_id = str(run["id"])
    rows.add(schema.run, schema.run.row(run))
    for content in contents.recorded(payload) or []:
        rows.add(schema.content, schema.content.row(content), exact=True)
    for direction in ("input", "output"):
        for artifact in payload.get(f"{direction}s") or []:
            rows.add(schema.artifact, schema.artifact.row(artifact))
            if artifact.get("content_id") and artifact.get("hash"):  # approximated
                content = {
                    "id": artifact["content_id"],
                    "content_hash": artifact["hash"],
                    "driver": artifact["driver"],
                    "meta": {},
                }
                rows.add(schema.content, schema.content.row(content, **_created(artifact)))
            link = {"run_id": run_id, "artifact_id": artifact["id"], "direction": direction}
            rows.add(schema.link, schema.link.row(link))
    _facet_rows(schema, rows, payload)
    return rows


def _created(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"created_at": data["created_at"]} if data.get("created_at") else {}


def _facet_rows(schema: _Schema, rows: _Rows, payload: Mapping[str, Any]) -> None:
    """The config facet a run recorded (its id is in ``meta`` only when consist stored it),
    with the ``created_at`` the snapshot recorded (else the run's)."""
    run, facet = payload["run"], payload.get("facet")
    meta = run.get("meta") or {}
    facet_id = meta.get("config_facet_id")
    if not facet_id or not isinstance(facet, dict):
        return
    from consist.core.facet_common import flatten_facet_values  # consist's own flattening

    namespace = meta.get("config_facet_namespace") or run.get("model_name")
    version = meta.get("config_facet_schema_version")
    created = _created(run)
    facet_at, kv_at = contents.facet_times(payload)
    record = {
        "id": facet_id,
        "namespace": namespace,
        "schema_name": meta.get("config_facet_schema") or "dict",
        "schema_version": None if version is None else str(version),
        "facet_json": facet,
    }
    at = {"created_at": facet_at} if facet_at else created
    rows.add(schema.facet, schema.facet.row(record, **at), exact=facet_at is not None)
    flat = flatten_facet_values(facet_dict=facet, include_json_leaves=True)
    if len(flat) > _MAX_KV_ROWS:
        return
    for value in flat:
        kv = {
            "run_id": run["id"],
            "facet_id": facet_id,
            "namespace": namespace,
            "key": value.key_path,
            "value_type": value.value_type,
            "value_str": value.value_str,
            "value_num": value.value_num,
            "value_bool": value.value_bool,
            "value_json": value.value_json,
        }
        at = {"created_at": kv_at[value.key_path]} if value.key_path in kv_at else created
        rows.add(schema.kv, schema.kv.row(kv, **at))


# --- writing ------------------------------------------------------------------------------------


_ARROW_TYPES = {"BOOLEAN": "bool_", "INTEGER": "int64", "BIGINT": "int64", "FLOAT": "float64",
                "DOUBLE": "float64"}  # fmt: skip

_VIEW = "trackyard_restore_rows"  # the Arrow table of the rows being written

_TYPES_SQL = (
    "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
    "AND schema_name = 'main' AND table_name = ?"
)


def _write_table(con: Any, table: _Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write ``rows`` of ``table`` on ``con`` (inside the caller's transaction): replace rows
    with the same ``replace_by`` values, or add the rows whose key is missing."""
    import pyarrow as pa  # consist's dependency; only when repairing

    if not rows:
        return
    types = dict(con.execute(_TYPES_SQL, [table.name]).fetchall())
    names = list(table.columns)
    arrays = []
    for i, name in enumerate(names):
        kind = getattr(pa, _ARROW_TYPES.get(str(types.get(name, "")), "string"))()
        values = [r[i] for r in rows]
        if kind == pa.string():
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        arrays.append(pa.array(values, type=kind))
    con.register(_VIEW, pa.Table.from_arrays(arrays, names=names))  # replaces the previous
    target = f"main.{quote_identifier(table.name)}"
    columns = ", ".join(quote_identifier(c) for c in names)
    if table.replace_by is not None:
        match = " AND ".join(
            f"t.{quote_identifier(c)} = v.{quote_identifier(c)}" for c in table.replace_by
        )
        con.execute(f"DELETE FROM {target} t USING {_VIEW} v WHERE {match}")
        con.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {_VIEW}")
    else:
        con.execute(f"INSERT OR IGNORE INTO {target} ({columns}) SELECT {columns} FROM {_VIEW}")


def _write(con: Any, schema: _Schema, rows: _Rows) -> None:
    """All of ``rows`` in one transaction on ``con``."""
    import duckdb

    try:
        with transaction(con):
            for table in schema.tables:
                _write_table(con, table, list(rows.by_table.get(table.name, {}).values()))
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister(_VIEW)


def restore(
    store: Store, payloads: Sequence[Payload], errors: list[str], *, atomic: bool = False
) -> list[Payload]:
    """Restore the rows of ``payloads`` (parsed snapshots) into ``store``, in one transaction
    (or one per run when that fails). Returns the payloads restored; an error line per payload
    that could not be is appended to ``errors``. ``atomic`` (importing a bundle): all of them
    in one transaction or none, and any failure raises."""
    if not payloads:
        return []
    schema = _schema()
    if atomic:
        everything = _Rows()
        for payload in payloads:
            everything.merge(schema, _payload_rows(schema, payload))
        store.write(lambda con: _write(con, schema, everything), what="importing runs")
        return list(payloads)
    built: list[tuple[Payload, _Rows]] = []
    for payload in payloads:
        try:
            built.append((payload, _payload_rows(schema, payload)))
        except Exception as exc:
            errors.append(f"{_run_id(payload)}: could not restore ({type(exc).__name__}: {exc})")
    if not built:
        return []
    everything = _Rows()
    for _, rows in built:
        everything.merge(schema, rows)
    try:
        return store.write(lambda con: _all_or_each(con, schema, everything, built, errors),
                           what="restoring runs from their snapshots")  # fmt: skip
    except StoreUnavailableError as exc:
        errors.extend(
            f"{_run_id(p)}: could not restore ({type(exc).__name__}: {exc})" for p, _ in built
        )
        return []


def _all_or_each(
    con: Any,
    schema: _Schema,
    everything: _Rows,
    built: Iterable[tuple[Payload, _Rows]],
    errors: list[str],
) -> list[Payload]:
    try:
        _write(con, schema, everything)
        return [p for p, _ in built]
    except Exception:  # any failure: find the runs that cause it, one transaction each
        pass
    done = []
    for payload, rows in built:
        try:
            _write(con, schema, rows)
        except Exception as exc:
            errors.append(f"{_run_id(payload)}: could not restore ({type(exc).__name__}: {exc})")
            continue
        done.append(payload)
    return done


def _run_id(payload: Mapping[str, Any]) -> str:
    run = payload.get("run")
    return str(run.get("id")) if isinstance(run, Mapping) else "?"
