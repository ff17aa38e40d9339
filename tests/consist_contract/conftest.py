"""Fixtures for the consist contract tests: a real consist Tracker on a real DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def consist_tracker(tmp_path: Path) -> Iterator[Any]:
    """A consist ``Tracker`` as trackyard builds it (per-run folders), on ``tmp_path/ws``."""
    from consist import Tracker

    from trackyard._consist.tracker import run_subdir

    ws = tmp_path / "ws"
    ws.mkdir()
    tracker = Tracker(
        run_dir=ws / "runs", db_path=ws / "provenance.duckdb", run_subdir_fn=run_subdir
    )
    yield tracker
    db = tracker.metadata_store.db
    if db is not None:
        db.engine.dispose()
