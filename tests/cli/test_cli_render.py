"""How `trackyard run` shows results: JSON-ready data and tables for nested records."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from trackyard import RunOutcome
from trackyard.cli._render import print_result, to_jsonable


@dataclass(frozen=True)
class Batch:
    """Shaped like a sweep result: outcomes by label plus counters."""

    outcomes: dict[str, RunOutcome] = field(default_factory=dict)
    ran: int = 0


def _outcome(run_id: str, value: float) -> RunOutcome:
    return RunOutcome(
        run_id=run_id,
        name=run_id,
        status="completed",
        cache_hit=False,
        cache_source=None,
        metrics={"rmse": value},
        outputs={"results": Path(f"/runs/{run_id}/results.parquet")},
        result=object(),
    )


def test_json_drops_live_objects_and_nan() -> None:
    """JSON output has paths as strings, NaN as null and no live consist objects."""
    data: Any = to_jsonable(Batch({"a": _outcome("run-a", math.nan)}, ran=1))
    assert data == {
        "outcomes": {
            "a": {
                "run_id": "run-a",
                "name": "run-a",
                "status": "completed",
                "cache_hit": False,
                "cache_source": None,
                "metrics": {"rmse": None},
                "outputs": {"results": "/runs/run-a/results.parquet"},
                "config": {},
                "environment_changed": {},
                "rerun_reason": None,
            }
        },
        "ran": 1,
    }


def test_records_inside_a_result_become_their_own_table() -> None:
    """A mapping of run outcomes inside a result is a table with one row per label."""
    console = Console(width=200, record=True, color_system=None)
    print_result(
        Batch({"a": _outcome("run-a", 0.5), "b": _outcome("run-b", 0.25)}, ran=2),
        as_json=False,
        console=console,
    )
    text = console.export_text()
    assert "outcomes │ 2 (below)" in text
    rows = [line for line in text.splitlines() if "run-a" in line or "run-b" in line]
    assert len(rows) == 2
    assert rows[0].split("│")[1].strip() == "a" and "rmse=0.5" in rows[0]
    assert rows[1].split("│")[1].strip() == "b" and "rmse=0.25" in rows[1]
