"""``RunCall`` and ``RunOutcome``: what a run was asked to do and what it produced; ``Runner``:
what the many-run engine needs of a tracker.

Public as ``trackyard.RunCall`` / ``trackyard.RunOutcome`` (and ``trackyard.tracker``); defined
here, below ``tracker``, so the many-run engine can build outcomes without importing it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trackyard.settings import Settings
from trackyard.wiring import Wiring


@dataclass(frozen=True)
class RunCall:
    """What a verb asked consist to run; passed to the run observer hooks."""

    domain: str
    name: str
    model: str | None
    config: Mapping[str, Any]
    inputs: Mapping[str, Any]
    wiring: Wiring
    year: int | None = None
    iteration: int | None = None


@dataclass(frozen=True)
class RunOutcome:
    """The result of one run: executed or served from cache.

    ``metrics`` are the run's own, or, for a cache hit, those of the run it reused
    (``cache_source``). ``outputs`` maps each output key to its file in the run's own folder.
    ``environment_changed``: for a cache hit, each distribution the model used whose version
    differs from the one recorded, as ``{name: (recorded, current)}`` (``{}``: unchanged).
    ``rerun_reason``: why a matching recorded run was not served and the call executed (a
    module or file it used changed, its outputs are gone...), else ``None``.
    """

    run_id: str
    name: str
    status: str
    cache_hit: bool
    cache_source: str | None
    metrics: Mapping[str, float | None]
    outputs: Mapping[str, Path]
    config: Mapping[str, Any] = field(default_factory=dict)
    environment_changed: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    rerun_reason: str | None = None
    result: Any = field(default=None, repr=False, compare=False)

    def output(self, key: str) -> Path:
        """The path of output ``key``; ``KeyError`` names the keys that exist."""
        try:
            return self.outputs[key]
        except KeyError:
            raise KeyError(
                f"run {self.run_id} has no output {key!r}; outputs: {sorted(self.outputs)}"
            ) from None


class Runner(Protocol):
    """A domain tracker as the many-run engine sees it (``DomainTracker`` is one).

    Declared here so that ``_sweep``, ``_shards`` and ``_precheck`` never import ``tracker``,
    which sits above them.
    """

    settings: Settings
    wiring: Wiring
    # Builds the domain's tracker again in a worker process (None: built by hand, serial only).
    worker_builder: Callable[..., Runner] | None

    @property
    def consist(self) -> Any: ...
    @property
    def workspace(self) -> Path: ...
    @property
    def domain_name(self) -> str: ...
    def run(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        config: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> RunOutcome: ...
