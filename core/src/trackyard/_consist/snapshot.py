"""Re-create consist's JSON run snapshots from the store, for rows that lost theirs.

The snapshots (``run_dir/consist_runs/<run id>.json``) are what a damaged store is rebuilt
from: a DB row without one is unprotected, and a rebuild would lose it. While the store is
readable, ``recreate`` writes each such run's snapshot from its rows, as consist writes
one (a ``ConsistRecord`` dumped to JSON, written atomically): the run row (its metrics and
plugin set are in ``meta``), and its input and output artifacts.

What the store does not keep cannot come back: the snapshot's ``config`` dict (the store keeps
the run's config hash and signature, which is what its cache identity needs) and the
``facet``. A re-created snapshot records ``meta.trackyard.snapshot_recreated`` (when) so a
reader knows its ``config`` is empty for that reason. It carries the store's content rows of
its artifacts (``contents``), as every run's snapshot does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trackyard._consist import contents
from trackyard._layout import STAMP
from trackyard._store import Store

__all__ = ["RECREATED", "recreate"]

RECREATED = "snapshot_recreated"


def _records(db_path: Path, run_ids: Sequence[str]) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """consist's ``ConsistRecord`` of each run in ``run_ids``, read from the store's rows, and
    the store's content rows of their artifacts (``contents``)."""
    from consist.models.artifact import Artifact, ArtifactContent
    from consist.models.run import ConsistRecord, Run, RunArtifactLink
    from sqlalchemy.pool import NullPool
    from sqlmodel import Session, col, create_engine, select

    engine = create_engine(
        f"duckdb:///{db_path}", poolclass=NullPool, connect_args={"read_only": True}
    )
    try:
        with Session(engine) as session:
            runs = session.exec(select(Run).where(col(Run.id).in_(list(run_ids)))).all()
            linked = session.exec(
                select(RunArtifactLink.run_id, RunArtifactLink.direction, Artifact)
                .join(Artifact, col(Artifact.id) == col(RunArtifactLink.artifact_id))
                .where(col(RunArtifactLink.run_id).in_(list(run_ids)))
            ).all()
            records = []
            for run in runs:
                mine = [(d, a) for rid, d, a in linked if rid == run.id]
                records.append(
                    ConsistRecord(
                        run=run,
                        inputs=[a for d, a in mine if d == "input"],
                        outputs=[a for d, a in mine if d == "output"],
                    )
                )
            hashes = sorted({str(a.hash) for _, _, a in linked if a.hash})
            found = session.exec(
                select(ArtifactContent).where(col(ArtifactContent.content_hash).in_(hashes))
            ).all()
            rows = [(c.id, c.content_hash, c.driver, c.created_at, c.meta) for c in found]
            return records, rows
    finally:
        engine.dispose()


def _text(record: Any, content: list[tuple[Any, ...]]) -> str:
    """The snapshot of ``record`` as consist writes it, with the store's content rows of its
    artifacts under trackyard's own key."""
    payload = json.loads(record.model_dump_json())
    rows = contents.rows_for(
        contents.keys_of(payload), lambda hashes: [r for r in content if r[1] in hashes]
    )
    return json.dumps(contents.with_rows(payload, rows), indent=2)


def recreate(store: Store, run_ids: Sequence[str], errors: list[str]) -> list[str]:
    """Write the snapshot of each run in ``run_ids`` from the store's rows; the ids written.
    An error line per run that could not be is appended to ``errors``."""
    if not run_ids:
        return []
    try:
        records, content = store.retry(
            lambda: _records(store.db_path, run_ids), what="re-creating run snapshots"
        )
    except Exception as exc:
        errors.extend(
            f"{r}: its snapshot could not be re-created ({type(exc).__name__}: {exc})"
            for r in run_ids
        )
        return []
    done = []
    when = datetime.now(UTC).isoformat(timespec="seconds")
    for record in records:
        meta = dict(record.run.meta or {})
        meta[STAMP] = {**(meta.get(STAMP) or {}), RECREATED: when}
        record.run.meta = meta
        try:
            contents.write_atomic(
                contents.snapshot_path(store.run_dir, str(record.run.id)), _text(record, content)
            )
        except OSError as exc:
            errors.append(f"{record.run.id}: its snapshot could not be written ({exc})")
            continue
        done.append(str(record.run.id))
    return done
