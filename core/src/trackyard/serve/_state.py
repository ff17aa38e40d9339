"""What the live view reads, and how: never holding the store.

Every read opens a short-lived read-only connection through the store layer (``_store.Store``)
with the request's lock budget, and closes it. Results are kept per page with the store's
signature (size and modification time of the DB, its WAL and the snapshot folder): while the
signature is unchanged a page is answered from memory without touching the DB; when the store
stays locked past the budget, the last result is answered with its age.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from trackyard import _queries
from trackyard._inflight import SweepState, read_all
from trackyard._layout import DONE_SUFFIX, SHARDS_DIR, SNAPSHOT_DIR, TEMPLATE_DB, WAL_SUFFIX
from trackyard._store import Store
from trackyard.errors import StoreUnavailableError
from trackyard.report._data import RunRecord, reading_once, records_in, remember_configs
from trackyard.settings import NoOptions, Settings, resolve_settings

if TYPE_CHECKING:
    from trackyard.registry import Registry
    from trackyard.tracker import DomainTracker

T = TypeVar("T")
MAX_KEPT = 2000  # pages and answers kept in memory


@dataclass(frozen=True)
class Fresh(Generic[T]):
    """A value read from the store, when it was read, and why it is old (``None``: current)."""

    value: T
    read_at: float
    stale: str | None = None
    version: str = ""  # the store's signature when it was read

    @property
    def age(self) -> float:
        """Seconds since the value was read."""
        return max(0.0, time.time() - self.read_at)


class Busy(Exception):
    """The store stayed locked past the budget and nothing was read from it before."""


@dataclass(frozen=True)
class Sweep:
    """A many-run sweep in flight: tasks running in shards and ended but not merged yet."""

    name: str
    running: int
    ended: int


OLDER = "older:"  # prefixes the signature of an answer built on older ones: never current


class Reader:
    """The live view's one way into a workspace (thread-safe: reads are serialised)."""

    def __init__(
        self, workspace: Path | None, registry: Registry, budget: float, min_interval: float = 1.0
    ) -> None:
        self.registry = registry
        self.min_interval = min_interval
        kwargs = {} if workspace is None else {"workspace": workspace}
        self.settings: Settings = resolve_settings(
            "serve", NoOptions, kwargs, environ=registry.environ
        )
        self.store = Store(self.settings.db_path, self.settings.run_dir, budget)
        self._lock = threading.RLock()
        self._cache: dict[Hashable, tuple[str, Fresh[object]]] = {}
        self._older = False  # an answer older than the store was given inside this read
        self._trackers: dict[str, DomainTracker | None] = {}
        remember_configs()

    def signature(self) -> str:
        """Changes whenever anything is written to the store or a snapshot is added."""
        parts = []
        db = self.store.db_path
        for path in (db, Path(f"{db}{WAL_SUFFIX}"), self.store.run_dir / SNAPSHOT_DIR):
            try:
                st = os.stat(path)
            except OSError:
                parts.append("-")
                continue
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        return "/".join(parts)

    def _current(self, kept: tuple[str, Fresh[object]], sig: str) -> bool:
        """Whether a kept answer may be given again: the store is unchanged, or it was read
        less than ``min_interval`` ago (a sweep changes the store's files many times a second;
        polling pages then read it at most once a second each, and never race the writer)."""
        return kept[0] == sig or time.time() - kept[1].read_at < self.min_interval

    def _given(self, kept: tuple[str, Fresh[object]], sig: str) -> Fresh[object]:
        """A kept answer given again; noted when it is older than the store (see ``read``)."""
        if kept[0] != sig:
            self._older = True
        return kept[1]

    def read(self, key: Hashable, fn: Callable[[], T]) -> Fresh[T]:
        """``fn()`` once per store signature; the last value, marked stale, when the store
        stays locked past the budget (``Busy`` when there is none)."""
        sig = self.signature()
        kept = self._cache.get(key)
        if kept is not None and self._current(kept, sig):
            return self._given(kept, sig)  # type: ignore[return-value]
        with self._lock:
            kept = self._cache.get(key)
            if kept is not None and self._current(kept, sig):
                return self._given(kept, sig)  # type: ignore[return-value]
            outer, self._older = self._older, False
            try:
                with reading_once():
                    value = fn()
            except StoreUnavailableError as exc:
                if kept is None:
                    raise Busy(str(exc)) from exc
                old = kept[1]
                return Fresh(old.value, old.read_at, str(exc), old.version)  # type: ignore[arg-type]
            finally:
                # An answer built on an inner answer older than the store (kept under the
                # once-a-second rule) must not carry today's signature: a page showing it
                # would then never ask again once the store stops changing.
                older, self._older = self._older, outer or self._older
            if older:
                sig = OLDER + sig
            fresh: Fresh[T] = Fresh(value, time.time(), None, sig)
            if len(self._cache) >= MAX_KEPT:  # requests naming many runs cannot grow it forever
                self._cache.clear()
            self._cache[key] = (sig, fresh)  # type: ignore[assignment]
            return fresh

    # --- what pages and the API read (call inside ``read``) --------------------------------

    def domains(self) -> dict[str, int]:
        """Runs per domain in the store (empty before the first run)."""
        if not self.store.db_path.is_file():
            return {}
        return _queries.report_domains(self.store.db_path, self.store.timeout)

    def records_fresh(self, domain: str) -> Fresh[list[RunRecord]]:
        """Every run of ``domain``, oldest first (read at most once a second while the store
        changes; the same list for the API, the pages and the plugins' sections)."""
        return self.read(("records", domain), functools.partial(records_in, self.settings, domain))

    def records(self, domain: str) -> list[RunRecord]:
        """``records_fresh``'s runs, for a page being built: when only old ones could be
        read, ``StoreUnavailableError`` lets the page fall back on its own last version."""
        fresh = self.records_fresh(domain)
        if fresh.stale is not None:
            raise StoreUnavailableError(fresh.stale)
        return fresh.value

    def sharing(self, domain: str, records: list[RunRecord]) -> AbstractContextManager[None]:
        """Within the block, plugins asking for ``domain``'s runs get ``records``."""
        return reading_once({(str(self.settings.db_path), domain): records})

    def tracker(self, domain: str) -> DomainTracker | None:
        """The domain's tracker (for its plugins' sections), built once; None when its plugin
        is not installed."""
        if domain not in self._trackers:
            installed = {d.name for d in self.registry.available_domains()}
            self._trackers[domain] = (
                self.registry.get_tracker(domain, workspace=self.settings.workspace)
                if domain in installed
                else None
            )
        return self._trackers[domain]

    def warm(self) -> None:
        """Build each domain's tracker and read its runs once (importing consist and the
        plugins takes seconds), so the first page a user opens is quick. Errors are left for
        the page that needs the data to show."""
        try:
            present = self.read("domains", self.domains).value
            for domain in present:
                with self._lock:
                    self.tracker(domain)
                self.records(domain)
        except Exception:  # warming is best effort: the pages report their own errors
            pass

    def inflight(self) -> list[SweepState]:
        """The records of the workspace's sweeps in flight (and of those whose driver is gone),
        read now: a few small files, never the store."""
        return read_all(self.settings.workspace)

    def sweeps(self) -> list[Sweep]:
        """Many-run sweeps whose shards are still in the workspace."""
        root = self.settings.workspace / SHARDS_DIR
        found = []
        for sweep in sorted(root.iterdir()) if root.is_dir() else []:
            if not sweep.is_dir() or sweep.name == TEMPLATE_DB:
                continue
            shards = list(sweep.glob("*/*.duckdb"))
            ended = sum(1 for p in shards if Path(f"{p}{DONE_SUFFIX}").exists())
            if shards:
                found.append(Sweep(sweep.name, len(shards) - ended, ended))
        return found
