"""Sweeps in flight: the small record every ``run_many`` keeps in the workspace while it runs.

A sweep's driver (the process that called ``run_many``) writes
``<workspace>/inflight/<id>.json`` when it starts and keeps it current as results land; the
live view (``trackyard serve``) and scripts read it to say how many configs are done, failed
and remaining. One record per progress count: a ``run_many`` that draws its own bar has one;
several ``run_many`` calls sharing one ``ProgressBar`` (a calibration's batches, a verb's
sweep) share one record whose ``total`` is the bar's (the whole search, not one batch).

```json
{"format": 1, "id": "20261207T194021-4242-1a2b3c4d", "domain": "calibration",
 "label": "calibrate (grid)", "model": "models:run", "executor": "processes",
 "total": 6, "done": 2, "cached": 0, "failed": 0, "running": 2,
 "started_at": "2026-12-07T19:40:21.5+00:00", "updated_at": "2026-12-07T19:40:25.1+00:00",
 "host": "box", "pid": 4242, "pid_started": "1234567"}
```

``done`` counts configs finished without error (``cached`` of them served from the cache),
``failed`` those that raised; ``remaining`` is ``total - done - failed``. ``pid_started`` is the
driver's start time as the kernel counts it (Linux; ``null`` elsewhere), so a pid reused by
another process is not taken for the driver.

Crash safety: every write goes to a temporary file renamed over the record (a reader never
sees half a record); writes are throttled to one per ``INTERVAL`` seconds, a change inside
the interval being written by a timer at its end (so the record is at most ``INTERVAL`` behind
and never stays behind). The record is removed when the sweep ends, normally, by an exception
or by Ctrl-C (and at interpreter exit for a bar never closed). A driver killed outright leaves
it behind: readers then see ``ended (driver gone)``, and ``trackyard doctor --fix``
(``trackyard.reconcile``) removes it. Writing it never fails a sweep: a workspace where it
cannot be written simply has no record.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trackyard._layout import INFLIGHT_DIR
from trackyard._store import pid_alive

__all__ = ["INTERVAL", "Recorder", "SweepState", "read_all", "remove_ended"]

FORMAT = 1
INTERVAL = 0.5  # seconds between two writes of one record, at most
IN_FLIGHT = "in flight"
DRIVER_GONE = "ended (driver gone)"
NOT_CHECKED = "in flight (driver on another host, not checked)"
_COUNTS = ("total", "done", "cached", "failed", "running")


def process_started(pid: int) -> str | None:
    """When process ``pid`` started, in the kernel's clock ticks since boot (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the whole line


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Recorder:
    """Keeps one sweep's record current (``start``, ``update``, ``close``); thread-safe."""

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self._record = record
        self._lock = threading.Lock()
        self._written = 0.0  # time.monotonic() of the last write
        self._timer: threading.Timer | None = None
        self._closed = False

    @classmethod
    def start(
        cls, workspace: Path, *, domain: str, label: str, model: str, executor: str, total: int
    ) -> Recorder | None:
        """Write a new record of a sweep of ``total`` configs now; None when it cannot be."""
        pid = os.getpid()
        ident = f"{time.strftime('%Y%m%dT%H%M%S')}-{pid}-{uuid.uuid4().hex[:8]}"
        record: dict[str, Any] = {
            "format": FORMAT,
            "id": ident,
            "domain": domain,
            "label": label,
            "model": model,
            "executor": executor,
            **dict.fromkeys(_COUNTS, 0),
            "total": total,
            "started_at": _now(),
            "updated_at": _now(),
            "host": socket.gethostname(),
            "pid": pid,
            "pid_started": process_started(pid),
        }
        recorder = cls(workspace / INFLIGHT_DIR / f"{ident}.json", record)
        try:
            recorder.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        with recorder._lock:
            if not recorder._write():
                return None
        _OPEN.add(recorder)
        return recorder

    def update(self, counts: Mapping[str, int]) -> None:
        """New counts (``done``, ``cached``, ``failed``, ``running``): written now, or by the end
        of the interval when the last write is more recent than ``INTERVAL``."""
        with self._lock:
            if self._closed:
                return
            for key in ("done", "cached", "failed", "running"):
                if key in counts:
                    self._record[key] = int(counts[key])
            wait = self._written + INTERVAL - time.monotonic()
            if wait <= 0:
                self._write()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed:
                self._write()

    def _write(self) -> bool:
        """Write the record (under the lock): a temporary file renamed over it."""
        self._record["updated_at"] = _now()
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(self._record), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)
            return False
        finally:
            self._written = time.monotonic()
        return True

    def close(self) -> None:
        """The sweep has ended: remove its record (idempotent)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.path.unlink(missing_ok=True)
        _OPEN.discard(self)


_OPEN: set[Recorder] = set()


@atexit.register
def _close_open() -> None:
    """At interpreter exit, remove the records this process still holds (a bar never closed);
    a forked child leaves its parent's alone."""
    for recorder in list(_OPEN):
        if recorder._record["pid"] == os.getpid():
            recorder.close()


# --- readers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepState:
    """One record as read, with whether its driver still runs (``state``)."""

    path: Path
    record: Mapping[str, Any]
    state: str  # IN_FLIGHT, DRIVER_GONE or NOT_CHECKED

    @property
    def in_flight(self) -> bool:
        return self.state != DRIVER_GONE

    def count(self, key: str) -> int:
        value = self.record.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def remaining(self) -> int:
        return max(0, self.count("total") - self.count("done") - self.count("failed"))

    def seconds_since(self, key: str, now: float | None = None) -> float | None:
        """Seconds since the record's ``started_at`` / ``updated_at`` (None when unreadable)."""
        try:
            then = datetime.fromisoformat(str(self.record.get(key))).timestamp()
        except ValueError:
            return None
        return max(0.0, (time.time() if now is None else now) - then)


def _state(record: Mapping[str, Any]) -> str:
    pid = record.get("pid")
    if record.get("host") != socket.gethostname():
        return NOT_CHECKED
    if not isinstance(pid, int) or not pid_alive(pid):
        return DRIVER_GONE
    started = record.get("pid_started")
    if started is not None and process_started(pid) not in (None, started):
        return DRIVER_GONE  # the pid now belongs to another process
    return IN_FLIGHT


def read_all(workspace: Path) -> list[SweepState]:
    """Every sweep record of ``workspace``, oldest first; unreadable files are skipped."""
    folder = workspace / INFLIGHT_DIR
    found = []
    for path in sorted(folder.glob("[!.]*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            found.append(SweepState(path, record, _state(record)))
    return sorted(found, key=lambda s: str(s.record.get("started_at")))


def remove_ended(workspace: Path) -> list[SweepState]:
    """Remove the records whose driver is gone (and temporary files a killed driver left);
    returns the records removed."""
    removed = []
    for sweep in read_all(workspace):
        if not sweep.in_flight:
            sweep.path.unlink(missing_ok=True)
            removed.append(sweep)
    folder = workspace / INFLIGHT_DIR
    for temporary in folder.glob(".*.tmp") if folder.is_dir() else []:
        pid = temporary.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not pid_alive(int(pid)):
            temporary.unlink(missing_ok=True)
    return removed
