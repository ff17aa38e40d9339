"""Sweeps and calibrations in flight: the overview's live table and ``GET /api/sweeps``.

Read from the records every ``run_many`` keeps in the workspace (``trackyard._inflight``) and
from the shard folders of parallel sweeps, on every request (a few small files and a liveness
check of each driver; never the store), so a killed driver shows as ended at the next poll.
"""

from __future__ import annotations

from typing import Any

from trackyard._inflight import SweepState
from trackyard._report_elements import Section, Table
from trackyard.report._render import render_section
from trackyard.serve._state import Reader

TITLE = "Sweeps and calibrations in flight"
COLUMNS = [
    "domain", "sweep", "progress", "from cache", "running now", "executor", "started",
    "last change", "driver", "state",
]  # fmt: skip
NONE = "No sweep or calibration in flight."
ENDED_NOTE = (
    "A sweep whose driver is gone was stopped (killed) before it could remove its record; its "
    "finished runs are in the store. `trackyard doctor --fix` removes the record and merges "
    "what its workers left."
)


def ago(seconds: float | None) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago`` (empty when unknown)."""
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def progress(sweep: SweepState) -> str:
    """``2 done / 1 failed / 3 remaining``."""
    return (
        f"{sweep.count('done')} done / {sweep.count('failed')} failed / {sweep.remaining} remaining"
    )


def _text(sweep: SweepState, key: str) -> str:
    return str(sweep.record.get(key, ""))


def _row(sweep: SweepState) -> list[Any]:
    return [
        _text(sweep, "domain"),
        _text(sweep, "label"),
        progress(sweep),
        sweep.count("cached"),
        sweep.count("running") if sweep.in_flight else 0,
        _text(sweep, "executor"),
        ago(sweep.seconds_since("started_at")),
        ago(sweep.seconds_since("updated_at")),
        f"{_text(sweep, 'host')} pid {_text(sweep, 'pid')}",
        sweep.state,
    ]


def section_html(reader: Reader) -> str:
    """The overview's live section: every sweep in flight, then the shards of parallel
    sweeps still in the workspace. Every value is escaped (``render_section``)."""
    sweeps = reader.inflight()
    items: list[Any] = []
    if sweeps:
        items.append(Table(TITLE, COLUMNS, [_row(s) for s in sweeps]))
        if any(not s.in_flight for s in sweeps):
            items.append(ENDED_NOTE)
    else:
        items.append(NONE)
    shards = reader.sweeps()
    if shards:
        items.append(
            Table(
                "Shards of parallel sweeps",
                ["sweep folder", "tasks running", "tasks ended, not merged yet"],
                [[s.name, s.running, s.ended] for s in shards],
            )
        )
    return render_section(Section("Many-run sweeps", items), "trackyard")


def sweep_json(sweep: SweepState) -> dict[str, Any]:
    """One sweep for ``GET /api/sweeps``."""
    record = sweep.record
    age = sweep.seconds_since("started_at")
    changed = sweep.seconds_since("updated_at")
    return {
        "id": _text(sweep, "id"),
        "domain": _text(sweep, "domain"),
        "label": _text(sweep, "label"),
        "model": _text(sweep, "model"),
        "executor": _text(sweep, "executor"),
        "total": sweep.count("total"),
        "done": sweep.count("done"),
        "cached": sweep.count("cached"),
        "failed": sweep.count("failed"),
        "remaining": sweep.remaining,
        "running": sweep.count("running") if sweep.in_flight else 0,
        "started_at": record.get("started_at"),
        "updated_at": record.get("updated_at"),
        "age": None if age is None else round(age, 3),
        "since_update": None if changed is None else round(changed, 3),
        "host": _text(sweep, "host"),
        "pid": sweep.count("pid"),
        "state": sweep.state,
        "in_flight": sweep.in_flight,
    }
