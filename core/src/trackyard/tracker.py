"""``DomainTracker``: the base class a domain plugin subclasses.

A domain tracker owns one ``consist.Tracker``, fixes the wiring every run needs, and exposes
domain verbs. Verbs are plain methods that call :meth:`DomainTracker.run`, which applies the
merged wiring on every call. consist is imported only when a tracker is built or used.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from trackyard import _queries, _session, _sweep, _why
from trackyard._capture import Capture
from trackyard._deps import (
    MODULES,
    UNDECLARED,
    ModelCode,
    check_loaded,
    environment_changes,
    environment_policy,
    model_code,
    record,
    undeclared_message,
    verify,
)
from trackyard._hashing import one_hash_per_file
from trackyard._layout import (
    CACHE_SOURCE,
    DEPS,
    EXECUTOR_SOURCE,
    HOST,
    IDENTITY,
    INTERRUPTED,
    METRICS,
    MODEL_DIST,
    MODEL_REF,
    PID,
    RERUN_REASON,
    RUN_NAME,
    SOURCES_DIR,
    STAMP,
)
from trackyard._model import (
    accepted_kwargs,
    code_identity,
    model_identity,
    model_reference,
    resolve_callable,
    wrap_model,
)
from trackyard._outcome import RunCall, RunOutcome
from trackyard._provenance import (
    CODESET,
    code_dependencies,
    code_digests,
    config_inputs,
    distribution_of,
    input_identity,
    stale_outputs,
)
from trackyard._queries import RankedRun
from trackyard._sources import keep as keep_source
from trackyard._store import (
    LOCK_TIMEOUT_ENV,
    Store,
    disk_full,
    lock_timeout,
    recovery_hint,
    verify_store,
)
from trackyard._sweep import ManyResult, ProgressBar
from trackyard._validate import check_config, check_run_name, decode_metric, worker_count
from trackyard._why import Difference, WhyReport
from trackyard.errors import (
    ConfigValidationError,
    PluginContractError,
    StaleOutputError,
    StoreUnavailableError,
    UndeclaredInputError,
)
from trackyard.settings import NoOptions, Settings
from trackyard.wiring import CodeIdentity, Wiring

if TYPE_CHECKING:
    from consist import Tracker
    from consist.models.run import Run

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


def explain_misses_enabled() -> bool:
    """Whether ``TRACKYARD_EXPLAIN_MISSES`` asks for consist's cache-miss explanation on every
    miss (off by default: ~180 ms per miss)."""
    return os.environ.get(_session.EXPLAIN_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


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
        _session.explain_misses(consist, explain_misses_enabled())
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
        """The resolved workspace folder (``settings.workspace``)."""
        return self.settings.workspace

    @property
    def verbs(self) -> Mapping[str, Callable[..., Any]]:
        """Every verb, bound to this tracker: the public methods the tracker class (and its
        bases below ``DomainTracker``) defines, sorted, then the verbs plugins added through
        ``register_verbs``, in registration order."""
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

    def _stamp_run(self, run: Run) -> None:
        """Stamp provenance on every run as it starts (hits included), before it is written.

        A cache hit also gets the reused run's metrics, which consist has in memory
        (``current_consist.cached_run``): hits then report their metrics without a query, and
        a later hit that consist matches against an earlier hit finds them there too, so no
        chain of hits is ever walked. Hit rows stay out of rankings (they have
        ``cache_source``). A reused run without metrics gives ``{}``.

        consist names the row it matched as ``cache_source``, and it matches hit rows too:
        when that row is itself a hit, the new row names the run it reused instead, so
        ``cache_source`` is always the run that executed (no query).
        """
        meta = run.meta if run.meta is not None else {}
        meta[STAMP] = {**self._provenance, **self._current}
        cached = getattr(self._consist.current_consist, "cached_run", None)
        if meta.get(CACHE_SOURCE) and cached is not None:
            meta[CACHE_SOURCE] = self._executor_of(cached)
            meta[STAMP][EXECUTOR_SOURCE] = True
            # A hit carries what the executing run used, so a later hit matched against it
            # checks the same modules, files and environment.
            deps = ((cached.meta or {}).get(STAMP) or {}).get(DEPS)
            if deps is not None:
                meta[STAMP][DEPS] = deps
        if meta.get(CACHE_SOURCE) and meta.get(METRICS) is None:
            if cached is not None and (cached.meta or {}).get(METRICS) is not None:
                meta[METRICS] = dict(cached.meta[METRICS])
            elif cached is not None and not (cached.meta or {}).get(CACHE_SOURCE):
                meta[METRICS] = {}  # the executing run recorded none
        run.meta = meta
        # consist wrote the snapshot before calling this hook: write it again with the stamp,
        # so a run in flight names its process (reconcile leaves it alone while that lives).
        _session.flush_snapshot(self._consist)

    def _executor_of(self, cached: Run) -> str:
        """The run that executed, for a hit that consist matched against ``cached``: ``cached``
        itself, or the source it names (a hit stamped `source_executed` names its executor: no
        query); a hit written before may name an earlier hit, followed here (64 hops at most)."""
        meta = cached.meta or {}
        source = meta.get(CACHE_SOURCE)
        if not isinstance(source, str) or not source:
            return str(cached.id)
        if (meta.get(STAMP) or {}).get(EXECUTOR_SOURCE):
            return source
        seen = {str(cached.id), source}
        for _ in range(64):
            earlier = self._consist.get_run(source)
            following = (earlier.meta or {}).get(CACHE_SOURCE) if earlier is not None else None
            if not isinstance(following, str) or not following or following in seen:
                break
            source = following
            seen.add(source)
        return source

    # --- helpers for verbs --------------------------------------------------------------------

    def resolve_callable(self, value: Any, *, option: str = "model") -> Callable[..., Any]:
        """``value`` if callable, else the function ``"package.module:function"`` names (for
        model options); ``ConfigValidationError`` names the option and this domain."""
        found: Callable[..., Any] = resolve_callable(value, option=option, domain=self.domain_name)
        return found

    @staticmethod
    def check_config(config: Any, what: str = "config") -> dict[str, Any]:
        """Check a config as :meth:`run` does (plain JSON, at most 32 levels deep and 1 MB),
        so that a verb can refuse bad input before its first run; ``what`` names it in the
        ``ConfigValidationError``."""
        return check_config(config, what)

    @staticmethod
    def worker_count(executor: Any = "serial", max_workers: int | None = None) -> int:
        """How many runs to hand :meth:`run_many`'s ``executor`` at once: ``max_workers`` when
        given, else 1 (``"serial"``), the core count (``"processes"``) or the Dask cluster's
        workers. Checks both first (``ConfigValidationError``)."""
        return worker_count(executor, max_workers)

    @staticmethod
    def progress_bar(total: int, progress: bool | None = None, label: str = "sweep") -> ProgressBar:
        """A :class:`ProgressBar` for ``total`` runs, to pass as ``run_many(progress=...)`` to
        several batches counted on one bar; ``progress=None`` draws it only on a terminal."""
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
        call runs again and records why (``strict=True``: ``StaleOutputError`` instead).
        Named ``inputs`` reach the model as paths; they, ``pathlib.Path`` values in the config
        and the model's local imports are in the cache key by content (see
        ``docs/provenance.md``). ``parent_run_id`` links the run to a header run (a consist
        scenario); it is not part of the cache key.
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
            checksum = self._consist.identity.compute_file_checksum
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
            options: dict[str, Any] = {
                "tags": tags,
                "facets": facets,
                "parent_run_id": parent_run_id,
                "identity": identity,
                "record": self._recorder(code, call, identity),
                "code": code,
            }
            self._observer.before_run(call)
            outcome = self._run_checked(fn, call, mode, dict(runtime_kwargs or {}), options, strict)
        self._observer.after_run(call, outcome)
        return outcome

    def _run_checked(
        self,
        fn: Callable[..., Any],
        call: RunCall,
        mode: CodeIdentity,
        runtime: Mapping[str, Any],
        options: Mapping[str, Any],
        strict: bool,
    ) -> RunOutcome:
        """Run through consist; a hit that fails its checks (outputs, the code and files it
        used, the environment under ``on_environment_change="rerun"``) executes again."""
        result, suspect = self._call_consist(fn, call, mode, runtime, options)
        reason, changed = (
            self._refusal(call.name, result, strict) if result.cache_hit else (None, {})
        )
        if reason is not None:
            result, suspect = self._call_consist(fn, call, mode, runtime, options, rerun=reason)
            changed = {}
        outcome = self._outcome(call.name, call.config, result, changed, reason)
        if suspect:
            self._check_recorded(outcome)
        return outcome

    def _refusal(
        self, name: str, result: Any, strict: bool
    ) -> tuple[str | None, dict[str, tuple[str | None, str | None]]]:
        """Why cache hit ``result`` cannot be served (``None``: it can), and the distributions
        whose version changed since the run it reuses."""
        checksum = self._consist.identity.compute_file_checksum
        reason = stale_outputs(result, checksum)
        if reason is not None and strict:
            raise StaleOutputError(
                f"run {name!r} matched a cached run, but its {reason}; call again without "
                "strict=True to run it again, or run `trackyard doctor --workspace "
                f"{self.workspace} --fix` to stop serving it"
            )
        deps = ((result.run.meta or {}).get(STAMP) or {}).get(DEPS)
        reason = reason or verify(deps, checksum)
        changed = environment_changes(deps) if reason is None else {}
        if changed:
            reason = environment_policy(
                self.settings.on_environment_change,
                name,
                result.run.meta.get(CACHE_SOURCE),
                changed,
            )
        return reason, changed

    def _recorder(
        self, code: ModelCode, call: RunCall, identity: Sequence[tuple[str, Path]]
    ) -> Callable[[Capture], None]:
        """What runs inside the model's run once it returned: its dependency record (and, with
        ``strict_inputs``, the refusal of undeclared reads), stored in the run's metadata."""
        declared = [
            *(Path(v) for v in call.inputs.values() if isinstance(v, (str, os.PathLike))),
            *(path for _, path in identity),
            *(path for _, path in call.wiring.identity_inputs),
        ]
        consist_tracker, settings = self._consist, self.settings

        def record_run(capture: Capture) -> None:
            import consist  # loaded: this runs inside a consist run

            deps = record(
                code,
                capture,
                declared=declared,
                run_folder=Path(consist.output_dir()),
                checksum=consist_tracker.identity.compute_file_checksum,
            )
            if settings.strict_inputs and deps[UNDECLARED]:
                raise UndeclaredInputError(undeclared_message(call.name, code, deps[UNDECLARED]))
            run = consist.current_run()
            if run is not None:  # in memory: consist writes it with the run's end (log_meta
                meta = dict(run.meta or {})  # would write the row and snapshot now, ~40 ms)
                run.meta = {**meta, STAMP: {**(meta.get(STAMP) or {}), DEPS: deps}}
            for entry in deps[MODULES].values():
                keep_source(settings.workspace, Path(entry["path"]), entry["sha256"])

        return record_run

    def _check_call(self, fn: Callable[..., Any], call: RunCall) -> CodeIdentity:
        """Before anything is written: every input and identity input exists and ``fn``'s code
        can be identified; returns the code identity mode."""
        for label, value in call.inputs.items():
            if isinstance(value, (str, os.PathLike)) and not Path(value).exists():
                raise ConfigValidationError(
                    f"input {label!r} of run {call.name!r} does not exist: {value}; check the path"
                )
        mode = code_identity(fn, call.wiring.code_identity)
        for label, path in call.wiring.identity_inputs:
            if not path.exists():
                raise ConfigValidationError(
                    f"identity input {label!r} of domain {self.domain_name!r} does not exist: "
                    f"{path}"
                )
        return mode

    def _call_consist(
        self,
        fn: Callable[..., Any],
        call: RunCall,
        mode: CodeIdentity,
        runtime_kwargs: Mapping[str, Any],
        options: Mapping[str, Any],
        rerun: str | None = None,
    ) -> tuple[Any, bool]:
        """``consist.Tracker.run`` with the wiring applied; also whether a DB write was seen
        to fail (the run's row must then be read back). ``rerun``: why a cache hit was refused;
        the run then executes whatever the cache holds, and records the reason."""
        wired = call.wiring
        runtime = accepted_kwargs(fn, {**wired.runtime_kwargs, **runtime_kwargs})
        self._current = {
            RUN_NAME: call.name,
            PID: os.getpid(),
            HOST: socket.gethostname(),
            MODEL_REF: model_reference(fn),
            IDENTITY: self._identity_digests(options["identity"], options["code"]),
        }
        dist = distribution_of(options["code"])
        if dist is not None:
            self._current[MODEL_DIST] = dist
        if rerun is not None:
            self._current[RERUN_REASON] = rerun
        writes = _WriteFailureWatch()
        try:
            with _session.batch(self._consist):  # one connection for the run's bookkeeping
                result = self._run_consist(fn, call, mode, runtime, options, rerun)
        except Exception as error:
            self._observer.run_failed(call, error)
            full = disk_full(error, call.name, self.settings)
            if full is not None:
                raise full from error
            raise
        except BaseException as interrupt:  # KeyboardInterrupt, SystemExit inside the model
            self._end_interrupted(interrupt)
            raise
        finally:
            self._current = {}
            writes.close()
        return result, writes.suspect

    def _run_consist(
        self,
        fn: Callable[..., Any],
        call: RunCall,
        mode: CodeIdentity,
        runtime: Mapping[str, Any],
        options: Mapping[str, Any],
        rerun: str | None,
    ) -> Any:
        from consist import CacheOptions, ExecutionOptions  # heavy: only once a run starts

        wired = call.wiring
        return self._consist.run(
            fn=_session.lock_free(wrap_model(fn, tuple(wired.outputs), options["record"])),
            name=call.name,
            model=wired.model,
            config=dict(call.config),
            inputs=dict(call.inputs) or None,
            identity_inputs=[*wired.identity_inputs, *model_identity(fn), *options["identity"]]
            or None,
            outputs=list(wired.outputs) or None,
            tags=list(dict.fromkeys((*wired.tags, *options["tags"]))) or None,
            facet={**wired.facets, **(options["facets"] or {})} or None,
            year=call.year,
            iteration=call.iteration,
            parent_run_id=options["parent_run_id"],
            cache_options=CacheOptions(
                cache_mode="overwrite" if rerun is not None else None,
                cache_epoch=wired.cache_epoch or self.settings.cache_epoch,
                code_identity=mode,
            ),
            execution_options=ExecutionOptions(
                runtime_kwargs=runtime or None,
                input_binding="paths" if call.inputs else None,
            ),
        )

    def _end_interrupted(self, interrupt: BaseException) -> None:
        """Close the run an interrupt left open: recorded ``failed`` and flagged interrupted,
        so this tracker accepts further runs and the config is never served from cache."""
        record = getattr(self._consist, "current_consist", None)
        if record is None:
            return
        meta = dict(record.run.meta or {})
        meta[STAMP] = {**meta.get(STAMP, {}), INTERRUPTED: type(interrupt).__name__}
        record.run.meta = meta
        try:
            self._consist.end_run(
                status="failed",
                error=RuntimeError(f"interrupted by {type(interrupt).__name__}"),
            )
        except Exception as exc:
            interrupt.add_note(f"trackyard could not close the interrupted run: {exc}")

    def _identity_digests(
        self, identity: Sequence[tuple[str, Path]], code: ModelCode
    ) -> dict[str, Any]:
        """``{label: {"path", "sha256"}}`` of every keyed file, each code file on its own
        (``trackyard why`` compares them); consist's own digests, from this call's memo."""
        keyed: list[Any] = [(lb, path) for lb, path in identity if not lb.startswith(CODESET)]
        digests = self._consist.identity.compute_hash_inputs_digests(keyed)
        paths = {label: str(path) for label, path in keyed}
        found = {label: {"path": paths.get(label), "sha256": d} for label, d in digests.items()}
        checksum = self._consist.identity.compute_file_checksum
        return {**found, **code_digests(code, checksum)}

    @property
    def _manifests(self) -> Path:
        """Where the model code manifests live (content-addressed, shared by all runs)."""
        return self.workspace / SOURCES_DIR / "keys"

    def _outcome(
        self,
        name: str,
        config: Mapping[str, Any],
        result: Any,
        changed: Mapping[str, tuple[str | None, str | None]] | None = None,
        rerun: str | None = None,
    ) -> RunOutcome:
        run = result.run
        meta = run.meta or {}
        source = meta.get(CACHE_SOURCE) if result.cache_hit else None
        metrics = meta.get(METRICS)
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
            environment_changed=dict(changed or {}),
            rerun_reason=rerun,
            result=result,
        )

    def _check_recorded(self, outcome: RunOutcome) -> None:
        """consist swallows DB write failures; make sure the run's row really is there."""
        db_path = getattr(self._consist, "db_path", None)
        if not db_path:
            return
        with _session.released():
            status = _queries.recorded_status(Path(db_path), outcome.run_id, lock_timeout())
        if status != outcome.status:
            # Damage is its own error (StoreCorruptError), never blamed on another process.
            verify_store(Path(db_path), self.settings.run_dir, lock_timeout(), deep=True)
            raise StoreUnavailableError(
                f"run {outcome.run_id} ({outcome.name!r}) finished {outcome.status!r} and its "
                f"JSON snapshot was written, but the store {db_path} "
                + ("has no row for it" if status is None else f"records it as {status!r}")
                + " (the write was refused: another process held the DB past "
                + f"{LOCK_TIMEOUT_ENV}); {recovery_hint(self.settings)}"
            )

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
        (``ConfigValidationError``). Configs already in the store are found by ONE cache query
        and never run again (their outcome reuses the recorded run; no new row is written).
        ``executor``: ``"serial"`` (a loop over :meth:`run`), ``"processes"`` (``max_workers``
        local processes, default the core count) or a ``dask.distributed.Client``; each worker
        records into its own shard, merged into this store as results arrive. An exception in
        one run is recorded in ``failures`` and the others go on. ``progress``: ``None`` draws
        a bar only when stderr is a terminal; a :meth:`progress_bar` counts several batches on
        one bar. See ``docs/scaling.md``.
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

        >>> with tracker.reuse_workers():  # doctest: +SKIP
        ...     for batch in batches:
        ...         tracker.run_many(model, batch, executor="processes", max_workers=2)
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
        """The ``k`` best executed runs of this domain by ``metric`` (``asc``: smallest first).

        Runs without the metric, or with NaN, come last in both orders. Invalid metric names,
        orders and ``k`` raise ``QueryValidationError`` before any SQL runs.
        """
        with _session.released():
            return _queries.top_k(self._store(), self.domain_name, metric, k, order)

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
        return _session.explain(self._consist, run)

    def why(self, run_id: str) -> WhyReport:
        """Why run ``run_id`` executed instead of being served from cache, or, for a cache
        hit, which run executed it: the nearest earlier run of the same model (same cache
        key, else same run name, else the newest) and what differs, component by component
        (``WhyReport.differences``). ``UnknownRunError`` when the store has no such run."""
        with _session.released():
            return _why.explain_run(self._store(), self.workspace, run_id)

    def would_hit(self, verb: str | Callable[..., Any], /, **arguments: Any) -> WhyReport:
        """Before running: would calling ``verb(**arguments)`` be served from cache?

        The verb (a name or a bound verb) is called in a dry run: :meth:`run` stops once the
        call's cache key is known, before anything is written, and the key is looked up as a
        hit would be (a recorded executed run, its outputs, the code and files it used, the
        environment). ``verdict`` is ``would_hit`` or ``would_run``; when it would run,
        ``compared_to`` is the matching run that would be refused (``reason``) or the nearest
        recorded run, and ``differences`` what differs. Only the verb's first run is asked
        about; a verb that runs a batch (``run_many``) is refused."""
        fn = self._verb(verb)
        try:
            with _why.dry_run():
                fn(**arguments)
        except _why.DryRun as probe:
            with _session.released():
                return _why.explain_call(self._store(), probe)
        raise ConfigValidationError(
            f"verb {getattr(fn, '__name__', verb)!r} of domain {self.domain_name!r} made no "
            "run, so there is no cache key to look up"
        )

    def diff(self, run_a: str, run_b: str) -> WhyReport:
        """What differs from run ``run_a`` to run ``run_b``, component by component (the
        comparison :meth:`why` makes; verdict ``diff``)."""
        with _session.released():
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
