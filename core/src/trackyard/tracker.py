"""``DomainTracker``: the base class a domain plugin subclasses.

A domain tracker owns one ``consist.Tracker``, fixes the wiring every run needs, and exposes
domain verbs. Verbs are plain methods that call ``DomainTracker.run``, which applies the
merged wiring on every call. consist is imported only when a tracker is built or used.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from trackyard import _queries, _sweep, _why
from trackyard._consist import session
from trackyard._consist.identity import checksum_of, one_hash_per_file
from trackyard._consist.run import Engine, NoObserver, RunObserver
from trackyard._deps import check_loaded, model_code
from trackyard._layout import CACHE_SOURCE, METRICS, SOURCES_DIR
from trackyard._model import code_identity, resolve_callable
from trackyard._outcome import RunCall, RunOutcome
from trackyard._provenance import code_dependencies, config_inputs, input_identity
from trackyard._queries import RankedRun
from trackyard._store import Store, check_writable, lock_timeout
from trackyard._sweep import ManyResult, ProgressBar
from trackyard._validate import (
    check_config,
    check_inputs_exist,
    check_run_name,
    decode_metric,
    worker_count,
)
from trackyard._why import Difference, WhyReport
from trackyard.errors import ConfigValidationError, PluginContractError
from trackyard.settings import NoOptions, Settings
from trackyard.wiring import CodeIdentity, Wiring

if TYPE_CHECKING:
    from trackyard._consist.tracker import ConsistTracker

__all__ = [
    "Difference",
    "DomainTracker",
    "ManyResult",
    "ProgressBar",
    "RankedRun",
    "RunCall",
    "RunOutcome",
    "WhyReport",
]


class DomainTracker:
    """Base class of every domain tracker.

    Subclasses set [`wiring`][trackyard.DomainTracker.wiring] (their fixed run
    [`Wiring`][trackyard.Wiring]), optionally [`Options`][trackyard.DomainTracker.Options] (a
    dataclass of domain options, validated by [`get_tracker`][trackyard.get_tracker]), override
    [`setup`][trackyard.DomainTracker.setup] instead of ``__init__``, and write verbs that call
    [`run`][trackyard.DomainTracker.run]. Build trackers with
    [`trackyard.get_tracker(name)`][trackyard.get_tracker], not by calling the class; its
    resolved [`Settings`][trackyard.Settings] are ``settings``.
    """

    wiring: Wiring = Wiring()
    Options: ClassVar[type] = NoOptions

    def __init__(
        self,
        *,
        settings: Settings,
        consist: ConsistTracker,
        wiring: Wiring,
        provenance: Mapping[str, str] | None = None,
        observer: RunObserver | None = None,
        verbs: Sequence[tuple[str, str, Callable[..., Any]]] = (),
        worker_builder: Callable[..., Any] | None = None,
    ) -> None:
        """Built by the registry. ``verbs`` are the (plugin, verb name, function) triples that
        plugins registered through [`register_verbs`][trackyard.hookspecs.register_verbs], in
        call order; each is checked (a public
        identifier that shadows no method or earlier verb) and bound to this tracker.
        ``worker_builder`` (a module-level function, so it pickles) builds this domain's
        tracker again in a worker process of [`run_many`][trackyard.DomainTracker.run_many]:
        [`trackyard.get_tracker`][]."""
        self.settings = settings
        self.options: Any = settings.options
        self.wiring = wiring
        self._consist = consist
        self._observer: RunObserver = observer or NoObserver()
        self._provenance = {"domain": settings.domain, **(provenance or {})}
        self.worker_builder = worker_builder
        self._active: Any = None
        self._verbs: dict[str, Callable[..., Any]] = {}
        for plugin, name, fn in verbs:
            self._add_verb(name, fn, plugin)
        self._engine = Engine(
            consist,
            settings=settings,
            provenance=self._provenance,
            observer=self._observer,
            metrics=self.metrics,
        )
        self.setup()

    # --- extension points -------------------------------------------------------------------

    def setup(self) -> None:
        """Called once the tracker is built; override it instead of ``__init__``."""

    # --- plumbing -----------------------------------------------------------------------------

    @property
    def domain_name(self) -> str:
        """The domain this tracker was built for (its entry-point name)."""
        return self.settings.domain

    @property
    def consist(self) -> ConsistTracker:
        """The ``consist.Tracker`` this domain tracker owns, for direct consist calls
        (``get_run``, ``find_runs``, ``run_query``, ``scenario``...)."""
        return self._consist

    @property
    def tracker(self) -> ConsistTracker:
        """The old name of [`consist`][trackyard.DomainTracker.consist], kept working for code
        written against 0.1."""
        return self._consist

    @property
    def workspace(self) -> Path:
        """The resolved workspace folder (``settings.workspace``)."""
        return self.settings.workspace

    @property
    def verbs(self) -> Mapping[str, Callable[..., Any]]:
        """Every verb, bound to this tracker: the public methods the tracker class (and its
        bases below [`DomainTracker`][trackyard.DomainTracker]) defines, sorted, then the verbs
        plugins added through [`register_verbs`][trackyard.hookspecs.register_verbs], in
        registration order."""
        own: dict[str, Callable[..., Any]] = {}
        for klass in reversed(type(self).__mro__):
            if not issubclass(klass, DomainTracker) or klass is DomainTracker:
                continue
            for name, member in vars(klass).items():
                if name.startswith("_") or not inspect.isfunction(member):
                    continue
                if hasattr(DomainTracker, name):  # an override of the base API, e.g. setup()
                    continue
                own[name] = getattr(self, name)
        return {**dict(sorted(own.items())), **self._verbs}

    def _add_verb(self, name: str, fn: Callable[..., Any], plugin: str) -> None:
        if not name.isidentifier() or name.startswith("_"):
            raise PluginContractError(
                f"plugin {plugin!r} registered verb {name!r} for domain {self.domain_name!r}; "
                "verb names must be public identifiers"
            )
        if hasattr(type(self), name) or name in self._verbs:
            raise PluginContractError(
                f"plugin {plugin!r} registered verb {name!r} for domain {self.domain_name!r}, "
                "which already exists on the tracker; choose another name"
            )
        self._verbs[name] = functools.partial(fn, self)

    def __getattr__(self, name: str) -> Any:
        verbs = self.__dict__.get("_verbs", {})
        if name in verbs:
            return verbs[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute or verb {name!r}")

    # --- helpers for verbs --------------------------------------------------------------------

    def resolve_callable(self, value: Any, *, option: str = "model") -> Callable[..., Any]:
        """``value`` if callable, else the function ``"package.module:function"`` names (for
        model options); [`ConfigValidationError`][trackyard.errors.ConfigValidationError] names
        the option and this domain."""
        found: Callable[..., Any] = resolve_callable(value, option=option, domain=self.domain_name)
        return found

    @staticmethod
    def check_config(config: Any, what: str = "config") -> dict[str, Any]:
        """Check a config as [`run`][trackyard.DomainTracker.run] does (plain JSON, at most 32
        levels deep and 1 MB), so that a verb can refuse bad input before its first run; ``what``
        names it in the [`ConfigValidationError`][trackyard.errors.ConfigValidationError]."""
        return check_config(config, what)

    @staticmethod
    def worker_count(executor: Any = "serial", max_workers: int | None = None) -> int:
        """How many runs to hand [`run_many`][trackyard.DomainTracker.run_many]'s ``executor`` at
        once: ``max_workers`` when given, else 1 (``"serial"``), the core count (``"processes"``)
        or the Dask cluster's workers. Checks both first
        ([`ConfigValidationError`][trackyard.errors.ConfigValidationError])."""
        return worker_count(executor, max_workers)

    @staticmethod
    def progress_bar(total: int, progress: bool | None = None, label: str = "sweep") -> ProgressBar:
        """A [`ProgressBar`][trackyard.tracker.ProgressBar] for ``total`` runs, to pass as
        ``run_many(progress=...)`` to several batches counted on one bar; ``progress=None``
        draws it only on a terminal."""
        return ProgressBar(total, progress, label)

    # --- running ------------------------------------------------------------------------------

    def run(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        config: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        year: int | None = None,
        iteration: int | None = None,
        tags: tuple[str, ...] | list[str] = (),
        facets: Mapping[str, Any] | None = None,
        wiring: Wiring | None = None,
        runtime_kwargs: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        strict: bool = False,
    ) -> RunOutcome:
        """Run ``fn`` once through consist with this domain's wiring applied.

        ``fn`` may return a dict mixing output paths (or DataFrames) and scalar metrics. Outputs
        end up in the run's own folder (one written elsewhere is copied in), and a cache hit is
        served only when its recorded outputs still exist with the recorded content; else the
        call runs again and records why (``strict=True``:
        [`StaleOutputError`][trackyard.errors.StaleOutputError] instead).
        Named ``inputs`` reach the model as paths; they, ``pathlib.Path`` values in the config
        and the model's local imports are in the cache key by content (see
        ``docs/provenance.md``). ``parent_run_id`` links the run to a header run (a consist
        scenario); it is not part of the cache key. Returns the run's
        [`RunOutcome`][trackyard.RunOutcome].
        """
        check_run_name(name)
        wired = self.wiring.merge(wiring) if wiring is not None else self.wiring
        plain, config_files = (
            config_inputs(config, run=name, untracked=wired.untracked_config)
            if isinstance(config, Mapping)
            else (config, [])
        )
        call = RunCall(
            domain=self.domain_name,
            name=name,
            model=wired.model,
            config=check_config(plain),
            inputs=dict(inputs or {}),
            wiring=wired,
            year=year,
            iteration=iteration,
        )
        mode = self._check_call(fn, call)
        code = model_code(fn)
        with one_hash_per_file(self._consist):  # each file hashed once per call
            checksum = checksum_of(self._consist)
            check_loaded(code, checksum)
            identity = [
                *config_files,
                *input_identity(call.inputs),
                *code_dependencies(
                    code, wired.code_dependencies, manifests=self._manifests, checksum=checksum
                ),
            ]
            if _why.dry_running():  # `trackyard why DOMAIN VERB`: the key is known, nothing written
                raise _why.DryRun(self, fn, call, config, identity, code, mode)
            check_writable(self.settings)  # a read-only store: said before anything is written
            options: dict[str, Any] = {
                "tags": tags,
                "facets": facets,
                "parent_run_id": parent_run_id,
                "identity": identity,
                "record": self._engine.recorder(code, call, identity),
                "code": code,
            }
            self._observer.before_run(call)
            outcome = self._engine.run(fn, call, mode, dict(runtime_kwargs or {}), options, strict)
        self._observer.after_run(call, outcome)
        return outcome

    def _check_call(self, fn: Callable[..., Any], call: RunCall) -> CodeIdentity:
        """Before anything is written: every input and identity input exists and ``fn``'s code
        can be identified; returns the code identity mode."""
        check_inputs_exist(call.inputs, call.name)
        mode = code_identity(fn, call.wiring.code_identity)
        for label, path in call.wiring.identity_inputs:
            if not path.exists():
                raise ConfigValidationError(
                    f"identity input {label!r} of domain {self.domain_name!r} does not exist: "
                    f"{path}"
                )
        return mode

    @property
    def _manifests(self) -> Path:
        """Where the model code manifests live (content-addressed, shared by all runs)."""
        return self.workspace / SOURCES_DIR / "keys"

    def run_many(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        executor: Any = "serial",
        max_workers: int | None = None,
        progress: bool | ProgressBar | None = None,
    ) -> ManyResult:
        """Run ``fn`` once per ``(run name, config[, inputs])`` item, with this domain's wiring.

        Items, ``executor`` and ``max_workers`` are checked before anything runs
        ([`ConfigValidationError`][trackyard.errors.ConfigValidationError]). Configs already in
        the store are found by ONE cache query and never run again (their outcome reuses the
        recorded run; no new row is written). ``executor``: ``"serial"`` (a loop over
        [`run`][trackyard.DomainTracker.run]), ``"processes"`` (``max_workers`` local processes,
        default the core count) or a ``dask.distributed.Client``; each worker records into its
        own shard, merged into this store as results arrive. An exception in one run is recorded
        in [`failures`][trackyard.ManyResult.failures] and the others go on. ``progress``:
        ``None`` draws a bar only when stderr is a terminal; a
        [`progress_bar`][trackyard.DomainTracker.progress_bar] counts several batches on one
        bar. Returns a [`ManyResult`][trackyard.ManyResult] holding every outcome and failure.
        See ``docs/scaling.md``.
        """
        if _why.dry_running():
            raise ConfigValidationError(_why.BATCH_REFUSED)
        return _sweep.run_many(
            self, fn, items, executor=executor, max_workers=max_workers, progress=progress
        )

    def reuse_workers(self) -> contextlib.AbstractContextManager[None]:
        """A block within which ``run_many(..., executor="processes")`` calls keep their worker
        processes and hand them to the next call with the same ``max_workers`` (no start-up
        per batch: a search that asks a few trials at a time runs them all on the same
        workers); the workers exit when the block ends. Other executors are unaffected.

        ```python
        with tracker.reuse_workers():
            for batch in batches:
                tracker.run_many(model, batch, executor="processes", max_workers=2)
        ```
        """
        return _sweep.kept_workers()

    # --- queries ------------------------------------------------------------------------------

    def metrics(self, run_id: str) -> dict[str, float | None]:
        """The metrics recorded by run ``run_id`` (or by the run a cache hit reused)."""
        seen = {run_id}
        run = self._consist.get_run(run_id)
        if run is None:
            raise LookupError(f"no run {run_id!r} in {self.settings.db_path}")
        meta = run.meta or {}
        # A hit without metrics: follow its source (a store may hold a chain of hits) to the
        # run that executed, at most once per run.
        while meta.get(METRICS) is None and meta.get(CACHE_SOURCE) not in (None, *seen):
            source_id = meta[CACHE_SOURCE]
            seen.add(source_id)
            source = self._consist.get_run(source_id)
            if source is None:
                raise LookupError(f"no run {source_id!r} in {self.settings.db_path}")
            meta = source.meta or {}
        return {k: decode_metric(v) for k, v in (meta.get(METRICS) or {}).items()}

    def top_k(self, metric: str, k: int = 5, order: str = "asc") -> list[RankedRun]:
        """The ``k`` best executed runs of this domain by ``metric`` (``asc``: smallest first),
        each a [`RankedRun`][trackyard.RankedRun].

        Runs without the metric, or with NaN, come last in both orders. Invalid metric names,
        orders and ``k`` raise [`QueryValidationError`][trackyard.errors.QueryValidationError]
        before any SQL runs.
        """
        with session.released():
            return _queries.ranked_runs(self._store(), self.domain_name, metric, k, order)

    def _store(self) -> Store:
        """The store this tracker's consist writes to (a ``build_tracker`` hook may have put it
        somewhere other than ``settings.db_path``)."""
        db_path = getattr(self._consist, "db_path", None)
        if not db_path:
            return Store.of(self.settings)
        return Store(Path(db_path), self.settings.run_dir, lock_timeout())

    def explain_miss(self, run_id: str) -> dict[str, Any]:
        """consist's explanation of why run ``run_id`` was not served from cache (which
        component of its identity differed from the closest earlier run).

        Misses are not explained while they run unless ``TRACKYARD_EXPLAIN_MISSES=1`` (the
        explanation costs ~180 ms of queries per miss); this computes it on demand.
        """
        run = self._consist.get_run(run_id)
        if run is None:
            raise LookupError(f"no run {run_id!r} in {self.settings.db_path}")
        return session.explain(self._consist, run)

    def why(self, run_id: str) -> WhyReport:
        """Why run ``run_id`` executed instead of being served from cache, or, for a cache
        hit, which run executed it: the nearest earlier run of the same model (same cache
        key, else same run name, else the newest) and what differs, component by component
        ([`WhyReport.differences`][trackyard.WhyReport.differences]).
        [`UnknownRunError`][trackyard.errors.UnknownRunError] when the store has no such run."""
        with session.released():
            return _why.explain_run(self._store(), self.workspace, run_id)

    def would_hit(self, verb: str | Callable[..., Any], /, **arguments: Any) -> WhyReport:
        """Before running: would calling ``verb(**arguments)`` be served from cache?

        The verb (a name or a bound verb) is called in a dry run:
        [`run`][trackyard.DomainTracker.run] stops once the call's cache key is known, before
        anything is written, and the key is looked up as a hit would be (a recorded executed run,
        its outputs, the code and files it used, the environment). In the
        [`WhyReport`][trackyard.WhyReport], [`verdict`][trackyard.WhyReport.verdict] is
        ``would_hit`` or ``would_run``; when it would run,
        [`compared_to`][trackyard.WhyReport.compared_to] is the matching run that would be
        refused ([`reason`][trackyard.WhyReport.reason]) or the nearest recorded run, and
        [`differences`][trackyard.WhyReport.differences] what differs. Only
        the verb's first run is asked about; a verb that runs a batch
        ([`run_many`][trackyard.DomainTracker.run_many]) is refused."""
        fn = self._verb(verb)
        try:
            with _why.dry_run():
                fn(**arguments)
        except _why.DryRun as probe:
            with session.released():
                return _why.explain_call(self._store(), probe)
        raise ConfigValidationError(
            f"verb {getattr(fn, '__name__', verb)!r} of domain {self.domain_name!r} made no "
            "run, so there is no cache key to look up"
        )

    def diff(self, run_a: str, run_b: str) -> WhyReport:
        """What differs from run ``run_a`` to run ``run_b``, component by component (the
        comparison [`why`][trackyard.DomainTracker.why] makes; a
        [`WhyReport`][trackyard.WhyReport] with verdict ``diff``)."""
        with session.released():
            return _why.diff_runs(self._store(), self.workspace, run_a, run_b)

    def _verb(self, verb: str | Callable[..., Any]) -> Callable[..., Any]:
        if callable(verb):
            return verb
        verbs = self.verbs
        if verb not in verbs:
            raise ConfigValidationError(
                f"domain {self.domain_name!r} has no verb {verb!r} "
                f"(verbs: {', '.join(verbs) or 'none'})"
            )
        return verbs[verb]

    # --- context manager ----------------------------------------------------------------------

    def __enter__(self) -> DomainTracker:
        self._active = session.use_tracker(self._consist)
        self._active.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        active, self._active = self._active, None
        if active is not None:
            active.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} domain={self.domain_name!r} workspace={str(self.workspace)!r}>"
        )
