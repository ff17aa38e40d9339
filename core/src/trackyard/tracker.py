"""``DomainTracker``: the base class a domain plugin subclasses.

A domain tracker owns one ``consist.Tracker``, fixes the wiring every run needs, and exposes
domain verbs. Verbs are plain methods that call :meth:`DomainTracker.run`, which applies the
merged wiring on every call. consist is imported only when a tracker is built or used.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from trackyard import _query
from trackyard._validate import check_config, check_run_name, decode_metric, encode_metric
from trackyard.errors import (
    ConfigValidationError,
    OutputMissingError,
    PluginContractError,
    StoreUnavailableError,
)
from trackyard.settings import NoOptions, Settings
from trackyard.wiring import CodeIdentity, Wiring

if TYPE_CHECKING:
    from consist import Tracker
    from consist.models.run import Run

    from trackyard.parallel import ManyResult

__all__ = ["DomainTracker", "RankedRun", "RunCall", "RunOutcome"]

RankedRun = _query.RankedRun


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
    """

    run_id: str
    name: str
    status: str
    cache_hit: bool
    cache_source: str | None
    metrics: Mapping[str, float | None]
    outputs: Mapping[str, Path]
    config: Mapping[str, Any] = field(default_factory=dict)
    result: Any = field(default=None, repr=False, compare=False)

    def output(self, key: str) -> Path:
        """The path of output ``key``; ``KeyError`` names the keys that exist."""
        try:
            return self.outputs[key]
        except KeyError:
            raise KeyError(
                f"run {self.run_id} has no output {key!r}; outputs: {sorted(self.outputs)}"
            ) from None


class RunObserver(Protocol):
    """What the registry gives a tracker so that plugin hooks observe every run."""

    def before_run(self, call: RunCall) -> None: ...
    def after_run(self, call: RunCall, outcome: RunOutcome) -> None: ...
    def run_failed(self, call: RunCall, error: BaseException) -> None: ...


class _NoObserver:
    def before_run(self, call: RunCall) -> None:
        pass

    def after_run(self, call: RunCall, outcome: RunOutcome) -> None:
        pass

    def run_failed(self, call: RunCall, error: BaseException) -> None:
        pass


def _split_result(value: Any, metrics: dict[str, float | str]) -> Any:
    """Separate a model's returned metrics from its outputs.

    A returned dict may mix outputs (paths, or DataFrames, written to the run's folder as
    parquet) and scalar metrics (numbers). Anything else is returned to consist unchanged.
    """
    if not isinstance(value, Mapping):
        return value
    import consist

    outputs: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, (str, Path)):
            outputs[key] = Path(item)
        elif hasattr(item, "to_parquet"):
            path = Path(consist.output_path(key, "parquet"))
            item.to_parquet(path)
            outputs[key] = path
        elif isinstance(item, (int, float)) or hasattr(item, "__float__"):
            metrics[_query.check_metric_name(key)] = encode_metric(key, item)
        else:
            raise TypeError(
                f"model returned {type(item).__name__} for {key!r}; return paths or "
                "DataFrames for outputs and numbers for metrics"
            )
    return outputs or None


def _check_outputs(fn: Callable[..., Any], outputs: Any, declared: tuple[str, ...]) -> None:
    """Raise ``OutputMissingError`` (inside the run, so consist records it ``failed``) when a
    returned path does not exist or a declared output was neither returned nor logged."""
    import consist

    returned: dict[str, Any] = {}
    if isinstance(outputs, Mapping):
        returned = dict(outputs)
    elif isinstance(outputs, (str, Path)) and len(declared) == 1:
        returned = {declared[0]: outputs}
    elif isinstance(outputs, (list, tuple)):
        returned = dict(zip(declared, outputs, strict=False))
    where = f"model {getattr(fn, '__qualname__', fn)!r}"
    for key, value in returned.items():
        if isinstance(value, (str, Path)) and not Path(value).exists():
            raise OutputMissingError(
                f"{where} returned output {key!r} = {str(value)!r}, which does not exist; "
                "write the file before returning it (consist.output_path(key) gives its path)"
            )
    record = consist.current_consist()
    logged = {a.key for a in (record.outputs if record is not None else [])}
    missing = [k for k in declared if k not in returned and k not in logged]
    if missing:
        raise OutputMissingError(
            f"{where} did not produce declared output(s) {missing}; return them (a dict of "
            f"key -> path or DataFrame) or log them with consist.log_output"
        )


def _wrap_model(fn: Callable[..., Any], declared: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Wrap ``fn`` so its metrics land in the run's metadata; code identity still sees ``fn``."""

    @functools.wraps(fn)
    def model(*args: Any, **kwargs: Any) -> Any:
        import consist

        metrics: dict[str, float | str] = {}
        outputs = _split_result(fn(*args, **kwargs), metrics)
        _check_outputs(fn, outputs, declared)
        if metrics:
            run = consist.current_run()
            logged = dict(((run.meta or {}).get("metrics") or {}) if run else {})
            consist.log_meta(metrics={**logged, **metrics})
        return outputs

    return model


def _code_identity(fn: Callable[..., Any], requested: CodeIdentity | None) -> CodeIdentity:
    """The code identity mode for ``fn``; explain the fix when its code cannot be identified.

    consist hashes the file that defines the model. A model defined in ``python -c``, stdin or
    ``exec`` has no such file: its own source (``callable_source``) is used when Python can still
    read it (a notebook cell, an IPython session), else the run is refused before anything is
    written.
    """
    mode: CodeIdentity = requested or "callable_module"
    if mode != "callable_module":
        return mode
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    filename = code.co_filename if code is not None else inspect.getsourcefile(target)
    if filename and Path(filename).is_file():
        return mode
    try:
        inspect.getsource(target)
    except (OSError, TypeError):
        raise ConfigValidationError(
            f"model {getattr(target, '__qualname__', target)!r} was defined in {filename!r} "
            "(python -c, stdin or exec), so its code cannot be identified: consist keys the "
            "cache on the file that defines the model. Move the function into a .py module "
            "and import it from there"
        ) from None
    return "callable_source"


class _WriteFailureWatch(logging.Handler):
    """Notices the warnings consist logs when it swallows a failed DB write during a run.

    consist logs "Database sync failed" and the like from its persistence layer and carries
    on; seeing such a warning (from this thread) is what makes ``run`` pay for a read-back of
    the run's row. When the root logger drops warnings, nothing can be seen, and every run is
    read back.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._thread = threading.get_ident()
        self._failed = False
        self._blind = not logging.getLogger().isEnabledFor(logging.WARNING)
        logging.getLogger().addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        path = record.pathname.replace("\\", "/")
        if record.thread == self._thread and "/consist/" in path:
            self._failed = self._failed or path.endswith(("persistence.py", "db_runtime.py"))

    @property
    def suspect(self) -> bool:
        return self._failed or self._blind

    def close(self) -> None:
        logging.getLogger().removeHandler(self)
        super().close()


def model_identity(fn: Callable[..., Any]) -> tuple[tuple[str, Path], ...]:
    """An identity input naming the model function itself.

    consist's code identity hashes the FILE that defines the model, not which function in it
    runs: two models in one module, called with the same config under the same model name,
    would share a cache key and one would be served the other's results. The label
    ``model:<module>.<qualname>`` (pointing at that file) keeps them apart.
    """
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    filename = code.co_filename if code is not None else None
    if not filename or not Path(filename).is_file():
        return ()
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"
    return ((f"model:{name}", Path(filename)),)


def _accepted_kwargs(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


class DomainTracker:
    """Base class of every domain tracker.

    Subclasses set ``wiring`` (their fixed run wiring), optionally ``Options`` (a dataclass of
    domain options, validated by ``get_tracker``), override :meth:`setup` instead of
    ``__init__``, and write verbs that call :meth:`run`. Build trackers with
    ``trackyard.get_tracker(name)``, not by calling the class.
    """

    wiring: Wiring = Wiring()
    Options: ClassVar[type] = NoOptions

    def __init__(
        self,
        *,
        settings: Settings,
        consist: Tracker,
        wiring: Wiring,
        provenance: Mapping[str, str] | None = None,
        observer: RunObserver | None = None,
        verbs: Sequence[tuple[str, str, Callable[..., Any]]] = (),
    ) -> None:
        """Built by the registry. ``verbs`` are the (plugin, verb name, function) triples that
        plugins registered through ``register_verbs``, in call order; each is checked (a public
        identifier that shadows no method or earlier verb) and bound to this tracker."""
        self.settings = settings
        self.options: Any = settings.options
        self.wiring = wiring
        self._consist = consist
        self._observer: RunObserver = observer or _NoObserver()
        self._provenance = {"domain": settings.domain, **(provenance or {})}
        self._current: dict[str, Any] = {}
        self._active: Any = None
        self._verbs: dict[str, Callable[..., Any]] = {}
        for plugin, name, fn in verbs:
            self._add_verb(name, fn, plugin)
        consist.on_run_start(self._stamp_run)
        self.setup()

    # --- extension points -------------------------------------------------------------------

    def setup(self) -> None:
        """Called once the tracker is built; override it instead of ``__init__``."""

    # --- plumbing -----------------------------------------------------------------------------

    @property
    def domain_name(self) -> str:
        return self.settings.domain

    @property
    def consist(self) -> Tracker:
        """The ``consist.Tracker`` this domain tracker owns, for direct consist calls
        (``get_run``, ``find_runs``, ``run_query``, ``scenario``...)."""
        return self._consist

    @property
    def tracker(self) -> Tracker:
        """The old name of :attr:`consist`, kept working for code written against 0.1."""
        return self._consist

    @property
    def workspace(self) -> Path:
        return self.settings.workspace

    @property
    def verbs(self) -> Mapping[str, Callable[..., Any]]:
        """Verbs added by plugins through ``register_verbs``, bound to this tracker."""
        return dict(self._verbs)

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

    def _stamp_run(self, run: Run) -> None:
        """Stamp provenance on every run as it starts (hits included), before it is written.

        A cache hit also gets the reused run's metrics, which consist has in memory
        (``current_consist.cached_run``): hits then report their metrics without a query, and
        a later hit that consist matches against an earlier hit finds them there too, so no
        chain of hits is ever walked. Hit rows stay out of rankings (they have
        ``cache_source``). A reused run without metrics gives ``{}``.
        """
        meta = run.meta if run.meta is not None else {}
        meta["trackyard"] = {**self._provenance, **self._current}
        if meta.get("cache_source") and meta.get("metrics") is None:
            cached = getattr(self._consist.current_consist, "cached_run", None)
            if cached is not None and (cached.meta or {}).get("metrics") is not None:
                meta["metrics"] = dict(cached.meta["metrics"])
            elif cached is not None and not (cached.meta or {}).get("cache_source"):
                meta["metrics"] = {}  # the executing run recorded none
        run.meta = meta

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
    ) -> RunOutcome:
        """Run ``fn`` once through consist with this domain's wiring applied.

        ``fn`` may return a dict mixing output paths (or DataFrames) and scalar metrics. Outputs
        always go to consist's per-run folder; nothing here lets a caller pick a shared one.
        ``parent_run_id`` links the run to a header run (a consist scenario); it is not part of
        the cache key.
        """
        from consist import CacheOptions, ExecutionOptions

        check_run_name(name)
        config = check_config(config)
        wired = self.wiring.merge(wiring) if wiring is not None else self.wiring
        for label, value in (inputs or {}).items():
            if isinstance(value, (str, os.PathLike)) and not Path(value).exists():
                raise ConfigValidationError(
                    f"input {label!r} of run {name!r} does not exist: {value}; check the path"
                )
        code_identity = _code_identity(fn, wired.code_identity)
        for label, path in wired.identity_inputs:
            if not path.exists():
                raise ConfigValidationError(
                    f"identity input {label!r} of domain {self.domain_name!r} does not exist: "
                    f"{path}"
                )
        call = RunCall(
            domain=self.domain_name,
            name=name,
            model=wired.model,
            config=config,
            inputs=dict(inputs or {}),
            wiring=wired,
            year=year,
            iteration=iteration,
        )
        self._observer.before_run(call)
        runtime = _accepted_kwargs(fn, {**wired.runtime_kwargs, **(runtime_kwargs or {})})
        self._current = {"run_name": name, "pid": os.getpid(), "host": socket.gethostname()}
        writes = _WriteFailureWatch()
        try:
            result = self._consist.run(
                fn=_wrap_model(fn, tuple(wired.outputs)),
                name=name,
                model=wired.model,
                config=config,
                inputs=dict(inputs) if inputs else None,
                identity_inputs=[*wired.identity_inputs, *model_identity(fn)] or None,
                outputs=list(wired.outputs) or None,
                tags=list(dict.fromkeys((*wired.tags, *tags))) or None,
                facet={**wired.facets, **(facets or {})} or None,
                year=year,
                iteration=iteration,
                parent_run_id=parent_run_id,
                cache_options=CacheOptions(
                    cache_epoch=wired.cache_epoch or self.settings.cache_epoch,
                    code_identity=code_identity,
                ),
                execution_options=ExecutionOptions(runtime_kwargs=runtime or None),
            )
        except Exception as error:
            self._observer.run_failed(call, error)
            raise
        except BaseException as interrupt:  # KeyboardInterrupt, SystemExit inside the model
            self._end_interrupted(interrupt)
            raise
        finally:
            self._current = {}
            writes.close()
        outcome = self._outcome(name, config, result)
        if writes.suspect:
            self._check_recorded(outcome)
        self._observer.after_run(call, outcome)
        return outcome

    def _end_interrupted(self, interrupt: BaseException) -> None:
        """Close the run an interrupt left open: recorded ``failed`` and flagged interrupted,
        so this tracker accepts further runs and the config is never served from cache."""
        record = getattr(self._consist, "current_consist", None)
        if record is None:
            return
        meta = dict(record.run.meta or {})
        meta["trackyard"] = {**meta.get("trackyard", {}), "interrupted": type(interrupt).__name__}
        record.run.meta = meta
        try:
            self._consist.end_run(
                status="failed",
                error=RuntimeError(f"interrupted by {type(interrupt).__name__}"),
            )
        except Exception as exc:
            interrupt.add_note(f"trackyard could not close the interrupted run: {exc}")

    def _check_recorded(self, outcome: RunOutcome) -> None:
        """consist swallows DB write failures; make sure the run's row really is there."""
        from trackyard._store import lock_timeout, recorded_status, recovery_hint

        db_path = getattr(self._consist, "db_path", None)
        if not db_path:
            return
        status = recorded_status(self._consist, Path(db_path), outcome.run_id, lock_timeout())
        if status != outcome.status:
            raise StoreUnavailableError(
                f"run {outcome.run_id} ({outcome.name!r}) finished {outcome.status!r} and its "
                f"JSON snapshot was written, but the store {db_path} "
                + ("has no row for it" if status is None else f"records it as {status!r}")
                + f" (another process held the DB?); {recovery_hint(self.workspace)}"
            )

    def run_many(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        executor: Any = "serial",
        max_workers: int | None = None,
        progress: bool | None = None,
    ) -> ManyResult:
        """Run ``fn`` once per ``(run name, config[, inputs])`` item, with this domain's wiring.

        Configs already in the store are found by ONE cache query and never run again (their
        outcome reuses the recorded run; no new row is written). ``executor``: ``"serial"``
        (a loop over :meth:`run`), ``"processes"`` (``max_workers`` local processes, default
        the core count) or a ``dask.distributed.Client``; each worker records into its own
        shard, merged into this store as results arrive. An exception in one run is recorded
        in ``failures`` and the others go on. See ``docs/scaling.md``.
        """
        from trackyard.parallel import run_many

        return run_many(
            self, fn, items, executor=executor, max_workers=max_workers, progress=progress
        )

    def _outcome(self, name: str, config: Mapping[str, Any], result: Any) -> RunOutcome:
        run = result.run
        meta = run.meta or {}
        source = meta.get("cache_source") if result.cache_hit else None
        metrics = meta.get("metrics")
        if source and metrics is None:
            metrics = self.metrics(source)
        outputs = {key: Path(result.output_path(key)) for key in result.outputs}
        return RunOutcome(
            run_id=run.id,
            name=name,
            status=str(run.status),
            cache_hit=bool(result.cache_hit),
            cache_source=source,
            metrics={k: decode_metric(v) for k, v in (metrics or {}).items()},
            outputs=outputs,
            config=config,
            result=result,
        )

    # --- queries ------------------------------------------------------------------------------

    def metrics(self, run_id: str) -> dict[str, float | None]:
        """The metrics recorded by run ``run_id`` (or by the run a cache hit reused)."""
        run = self._consist.get_run(run_id)
        if run is None:
            raise LookupError(f"no run {run_id!r} in {self.settings.db_path}")
        meta = run.meta or {}
        if meta.get("metrics") is None and meta.get("cache_source"):
            return self.metrics(meta["cache_source"])
        return {k: decode_metric(v) for k, v in (meta.get("metrics") or {}).items()}

    def top_k(self, metric: str, k: int = 5, order: str = "asc") -> list[RankedRun]:
        """The ``k`` best executed runs of this domain by ``metric`` (``asc``: smallest first).

        Runs without the metric, or with NaN, come last in both orders. Invalid metric names,
        orders and ``k`` raise ``QueryValidationError`` before any SQL runs.
        """
        from trackyard._store import lock_timeout

        db_path = getattr(self._consist, "db_path", None)
        return _query.top_k(
            self._consist,
            self.domain_name,
            metric,
            k,
            order,
            db_path=Path(db_path) if db_path else None,
            timeout=lock_timeout(),
        )

    # --- context manager ----------------------------------------------------------------------

    def __enter__(self) -> DomainTracker:
        import consist

        self._active = consist.use_tracker(self._consist)
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
