"""Re-create consist's JSON run snapshots from the store, for rows that lost theirs.

The snapshots (``run_dir/consist_runs/<run id>.json``) are what a damaged store is rebuilt
from: a DB row without one is unprotected, and a rebuild would lose it. While the store is
readable, ``recreate`` writes each such run's snapshot from its rows, as consist writes
one (a ``ConsistRecord`` dumped to JSON, written atomically): the run row (its metrics and
plugin set are in ``meta``), and its input and output artifacts.

What the store does not keep cannot come back: the snapshot's ``config`` dict (the store keeps
the run's config hash and signature, which is what its cache identity needs) and the
``facet``. A re-created snapshot records ``meta.trackyard.snapshot_recreated`` (when) so a
reader knows its ``config`` is empty for that reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trackyard._layout import SNAPSHOT_DIR, STAMP
from trackyard._store import Store

__all__ = ["RECREATED", "recreate"]

RECREATED = "snapshot_recreated"


def _records(db_path: Path, run_ids: Sequence[str]) -> list[Any]:
    """consist's ``ConsistRecord`` of each run in ``run_ids``, read from the store's rows."""
    from consist.models.artifact import Artifact
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
            return records
    finally:
        engine.dispose()


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def recreate(store: Store, run_ids: Sequence[str], errors: list[str]) -> list[str]:
    """Write the snapshot of each run in ``run_ids`` from the store's rows; the ids written.
    An error line per run that could not be is appended to ``errors``."""
    if not run_ids:
        return []
    try:
        records = store.retry(
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
        safe = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in str(record.run.id))
        try:
            _write_atomic(
                store.run_dir / SNAPSHOT_DIR / f"{safe}.json", record.model_dump_json(indent=2)
            )
        except OSError as exc:
            errors.append(f"{record.run.id}: its snapshot could not be written ({exc})")
            continue
        done.append(str(record.run.id))
    return done
