"""The run engine: one ``DomainTracker.run`` call executed through ``consist.Tracker.run``.

``Engine`` is what a ``DomainTracker`` hands a checked call to. Per call it

1. builds the call's run-start stamp (a closure over the call's facts: run name, pid, host,
   model reference, keyed files) and installs it for the call only (``Engine._stamping``):
   consist has no way to remove a run-start hook, so ONE hook is registered per tracker, and it
   calls the closure of the call in progress (between calls, runs started through the consist
   handle get the tracker's provenance only);
2. runs ``Tracker.run`` inside a session batch (``session.batch``: one connection for the
   run's bookkeeping) with the wiring applied (``Engine._execute``);
3. refuses a cache hit whose outputs, code, files or environment changed (the call then runs
   again, and records why);
4. closes a run that ``KeyboardInterrupt`` / ``SystemExit`` left open
   (``Engine._end_interrupted``);
5. reads the run's row back when consist may have swallowed a failed DB write
   (``WriteFailureWatch``, then ``Engine._check_recorded``).

consist 0.3.5 reports a failed DB write neither by an exception nor by a return value: its
persistence layer logs a warning and carries on. The log record's source file
(``persistence.py`` / ``db_runtime.py`` under a ``consist`` folder) is the only signal, so it is
the documented fallback here; when warnings are not logged at all, every run is read back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from trackyard import _queries
from trackyard._capture import Capture
from trackyard._consist import active, logs
from trackyard._consist.contents import keep_run
from trackyard._consist.identity import checksum_of, file_digests
from trackyard._consist.session import (
    EXPLAIN_ENV,
    batch,
    explain_misses,
    flush_snapshot,
    known_miss,
    lock_free,
    released,
    unexplained_miss,
)
from trackyard._consist.writes import grouped, install_writer
from trackyard._deps import (
    MODULES,
    UNDECLARED,
    ModelCode,
    environment_changes,
    environment_policy,
    record,
    undeclared_message,
    verify,
)
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
    STAMP,
)
from trackyard._model import accepted_kwargs, model_identity, model_reference, wrap_model
from trackyard._outcome import RunCall, RunOutcome
from trackyard._provenance import CODESET, code_digests, distribution_of, stale_outputs
from trackyard._sources import keep as keep_source
from trackyard._store import LOCK_TIMEOUT_ENV, disk_full, lock_timeout, recovery_hint, verify_store
from trackyard._validate import decode_metric
from trackyard.errors import StaleOutputError, StoreUnavailableError, UndeclaredInputError
from trackyard.settings import Settings
from trackyard.wiring import CodeIdentity

__all__ = [
    "Engine",
    "NoObserver",
    "RunObserver",
    "WriteFailureWatch",
    "explain_misses_enabled",
]

Stamp = Callable[[Any], None]  # called with consist's Run as it starts


def explain_misses_enabled() -> bool:
    """Whether ``TRACKYARD_EXPLAIN_MISSES`` asks for consist's cache-miss explanation on every
    miss (off by default: ~180 ms per miss)."""
    return os.environ.get(EXPLAIN_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class RunObserver(Protocol):
    """What the registry gives a tracker so that plugin hooks observe every run."""

    def before_run(self, call: RunCall) -> None: ...
    def after_run(self, call: RunCall, outcome: RunOutcome) -> None: ...
    def run_failed(self, call: RunCall, error: BaseException) -> None: ...


class NoObserver:
    """The observer of a tracker built without one: sees nothing."""

    def before_run(self, call: RunCall) -> None:
        pass

    def after_run(self, call: RunCall, outcome: RunOutcome) -> None:
        pass

    def run_failed(self, call: RunCall, error: BaseException) -> None:
        pass


class WriteFailureWatch(logging.Handler):
    """Notices the warnings consist logs when it swallows a failed DB write during a run.

    consist logs "Database sync failed" and the like from its persistence layer and carries
    on; seeing such a warning (from this thread) is what makes a run pay for a read-back of
    the run's row. When the root logger drops warnings, nothing can be seen, and every run is
    read back.
    """

    SOURCES = ("persistence.py", "db_runtime.py")  # consist's modules that log such failures

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._thread = threading.get_ident()
        self._failed = False
        self._blind = not logging.getLogger().isEnabledFor(logging.WARNING)
        logging.getLogger().addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        path = record.pathname.replace("\\", "/")
        if record.thread == self._thread and "/consist/" in path:
            self._failed = self._failed or path.endswith(self.SOURCES)

    @property
    def suspect(self) -> bool:
        return self._failed or self._blind

    def close(self) -> None:
        logging.getLogger().removeHandler(self)
        super().close()


class Engine:
    """Executes the calls of one domain tracker through its consist Tracker."""

    def __init__(
        self,
        consist_tracker: Any,
        *,
        settings: Settings,
        provenance: Mapping[str, str],
        observer: RunObserver,
        metrics: Callable[[str], dict[str, float | None]],
    ) -> None:
        self.consist = consist_tracker
        self._settings = settings
        self._provenance = provenance  # the tracker's own mapping
        self._observer = observer
        self._metrics = metrics
        self._stamp: Stamp = self._stamper({})
        self._started: str | None = None  # the id of the run this engine's call started
        consist_tracker.on_run_start(self._on_run_start)
        explain_misses(consist_tracker, explain_misses_enabled())
        install_writer(consist_tracker)

    # --- the run-start stamp ----------------------------------------------------------------

    def _on_run_start(self, run: Any) -> None:
        self._started = str(run.id)
        self._stamp(run)

    @contextlib.contextmanager
    def _stamping(self, stamp: Stamp) -> Iterator[None]:
        """``stamp`` is the run-start hook for the block (this call's runs), then the previous
        one again."""
        previous, self._stamp = self._stamp, stamp
        try:
            yield
        finally:
            self._stamp = previous

    def _stamper(self, fields: Mapping[str, Any], unexplained: bool = False) -> Stamp:
        """The run-start stamp of one call: provenance on every run as it starts (hits
        included), before it is written.

        A cache hit also gets the reused run's metrics, which consist has in memory
        (``current_consist.cached_run``): hits then report their metrics without a query, and
        a later hit that consist matches against an earlier hit finds them there too, so no
        chain of hits is ever walked. Hit rows stay out of rankings (they have
        ``cache_source``). A reused run without metrics gives ``{}``.

        consist names the row it matched as ``cache_source``, and it matches hit rows too:
        when that row is itself a hit, the new row names the run it reused instead, so
        ``cache_source`` is always the run that executed (no query).

        ``unexplained``: the run skipped consist's cache lookup (``known_misses``); its row
        records the miss as not explained, as a looked-up miss does.
        """
        consist_tracker, stamp = self.consist, {**self._provenance, **fields}
        executor_of = self._executor_of

        def stamp_run(run: Any) -> None:
            meta = run.meta if run.meta is not None else {}
            meta[STAMP] = dict(stamp)
            if unexplained:
                meta.update(unexplained_miss())
            cached = getattr(consist_tracker.current_consist, "cached_run", None)
            if meta.get(CACHE_SOURCE) and cached is not None:
                meta[CACHE_SOURCE] = executor_of(cached)
                meta[STAMP][EXECUTOR_SOURCE] = True
                _carry_from_cached(meta, cached.meta or {})
            run.meta = meta
            # consist wrote the snapshot before calling this hook: write it again with the
            # stamp, so a run in flight names its process (reconcile leaves it alone while
            # that lives).
            flush_snapshot(consist_tracker)

        return stamp_run

    def _executor_of(self, cached: Any) -> str:
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
            earlier = self.consist.get_run(source)
            following = (earlier.meta or {}).get(CACHE_SOURCE) if earlier is not None else None
            if not isinstance(following, str) or not following or following in seen:
                break
            source = following
            seen.add(source)
        return source

    # --- one call -----------------------------------------------------------------------------

    def run(
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
        result, suspect = self._call(fn, call, mode, runtime, options)
        reason, changed = (
            self._refusal(call.name, result, strict) if result.cache_hit else (None, {})
        )
        if reason is not None:
            result, suspect = self._call(fn, call, mode, runtime, options, rerun=reason)
            changed = {}
        outcome = self._outcome(call, result, changed, reason)
        if suspect:
            self._check_recorded(outcome)
        return outcome

    def _call(
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
        runtime = accepted_kwargs(fn, {**call.wiring.runtime_kwargs, **runtime_kwargs})
        skip = rerun is None and known_miss(self.consist, call.name)
        overwrite = rerun is not None or skip
        stamp = self._stamper(self._call_fields(fn, call, options, rerun), unexplained=skip)
        logs.route()  # also modules consist loaded since, or a plugin's own consist Tracker
        writes = WriteFailureWatch()
        try:
            with self._stamping(stamp), batch(self.consist):  # one connection per run
                self._started = None
                group = None
                try:
                    with grouped(self.consist) as group:  # the run's end: one commit
                        result = self._execute(fn, call, mode, runtime, options, overwrite)
                finally:
                    self._keep_contents(group.kept if group is not None else None)
        except Exception as error:
            self._observer.run_failed(call, error)
            full = disk_full(error, call.name, self._settings)
            if full is not None:
                raise full from error
            raise
        except BaseException as interrupt:  # KeyboardInterrupt, SystemExit inside the model
            self._end_interrupted(interrupt)
            raise
        finally:
            writes.close()
        return result, writes.suspect or (group is not None and group.lost)

    def _keep_contents(self, kept: str | None) -> None:
        """The run's snapshot records the store's content rows of its artifacts, so that a
        rebuild restores them exactly (``contents``). Only once consist wrote its last
        snapshot: a run an interrupt left open is written again when it is closed, and is
        then restored with approximated rows, as is one whose rows cannot be read now.
        ``kept``: the run whose last snapshot was written with them (``writes``)."""
        run_id, self._started = self._started, None
        record = getattr(self.consist, "current_consist", None)
        if run_id is None or run_id == kept:
            return
        if record is not None and str(record.run.id) == run_id:
            return
        try:
            keep_run(self.consist, run_id)
        except Exception as exc:  # the store or the file system refused: approximated later
            logging.getLogger("trackyard").debug("content rows of %s not kept: %s", run_id, exc)

    def _call_fields(
        self,
        fn: Callable[..., Any],
        call: RunCall,
        options: Mapping[str, Any],
        rerun: str | None,
    ) -> dict[str, Any]:
        """What this call adds to the stamp: run name, process, model, keyed files."""
        fields: dict[str, Any] = {
            RUN_NAME: call.name,
            PID: os.getpid(),
            HOST: socket.gethostname(),
            MODEL_REF: model_reference(fn),
            IDENTITY: self._identity_digests(options["identity"], options["code"]),
        }
        dist = distribution_of(options["code"])
        if dist is not None:
            fields[MODEL_DIST] = dist
        if rerun is not None:
            fields[RERUN_REASON] = rerun
        return fields

    def _execute(
        self,
        fn: Callable[..., Any],
        call: RunCall,
        mode: CodeIdentity,
        runtime: Mapping[str, Any],
        options: Mapping[str, Any],
        overwrite: bool,
    ) -> Any:
        from consist import CacheOptions, ExecutionOptions  # heavy: only once a run starts

        wired = call.wiring
        return self.consist.run(
            # Only the user's model runs lock-free: the wrapper's own consist calls (output
            # checks, the run's folder) must never race the timer that closes the batch
            # connection; metrics and the dependency record are set in memory (active.set_meta).
            fn=wrap_model(lock_free(fn), tuple(wired.outputs), options["record"]),
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
                cache_mode="overwrite" if overwrite else None,
                cache_epoch=wired.cache_epoch or self._settings.cache_epoch,
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
        record = getattr(self.consist, "current_consist", None)
        if record is None:
            return
        meta = dict(record.run.meta or {})
        meta[STAMP] = {**meta.get(STAMP, {}), INTERRUPTED: type(interrupt).__name__}
        record.run.meta = meta
        try:
            self.consist.end_run(
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
        keyed = [(lb, path) for lb, path in identity if not lb.startswith(CODESET)]
        digests = file_digests(self.consist, keyed)
        paths = {label: str(path) for label, path in keyed}
        found = {label: {"path": paths.get(label), "sha256": d} for label, d in digests.items()}
        return {**found, **code_digests(code, checksum_of(self.consist))}

    # --- after the call -----------------------------------------------------------------------

    def _refusal(
        self, name: str, result: Any, strict: bool
    ) -> tuple[str | None, dict[str, tuple[str | None, str | None]]]:
        """Why cache hit ``result`` cannot be served (``None``: it can), and the distributions
        whose version changed since the run it reuses."""
        checksum = checksum_of(self.consist)
        reason = stale_outputs(result, checksum)
        if reason is not None and strict:
            raise StaleOutputError(
                f"run {name!r} matched a cached run, but its {reason}; call again without "
                "strict=True to run it again, or run `trackyard doctor --workspace "
                f"{self._settings.workspace} --fix` to stop serving it"
            )
        deps = ((result.run.meta or {}).get(STAMP) or {}).get(DEPS)
        reason = reason or verify(deps, checksum)
        changed = environment_changes(deps) if reason is None else {}
        if changed:
            reason = environment_policy(
                self._settings.on_environment_change,
                name,
                result.run.meta.get(CACHE_SOURCE),
                changed,
            )
        return reason, changed

    def _outcome(
        self,
        call: RunCall,
        result: Any,
        changed: Mapping[str, tuple[str | None, str | None]] | None = None,
        rerun: str | None = None,
    ) -> RunOutcome:
        run = result.run
        meta = run.meta or {}
        source = meta.get(CACHE_SOURCE) if result.cache_hit else None
        metrics = meta.get(METRICS)
        if source and metrics is None:
            metrics = self._metrics(source)
        outputs = {key: Path(result.output_path(key)) for key in result.outputs}
        return RunOutcome(
            run_id=run.id,
            name=call.name,
            status=str(run.status),
            cache_hit=bool(result.cache_hit),
            cache_source=source,
            metrics={k: decode_metric(v) for k, v in (metrics or {}).items()},
            outputs=outputs,
            config=call.config,
            environment_changed=dict(changed or {}),
            rerun_reason=rerun,
            result=result,
        )

    def _check_recorded(self, outcome: RunOutcome) -> None:
        """consist swallows DB write failures; make sure the run's row really is there."""
        db_path = getattr(self.consist, "db_path", None)
        if not db_path:
            return
        with released():
            status = _queries.recorded_status(Path(db_path), outcome.run_id, lock_timeout())
        if status != outcome.status:
            # Damage is its own error (StoreCorruptError), never blamed on another process.
            verify_store(Path(db_path), self._settings.run_dir, lock_timeout(), deep=True)
            raise StoreUnavailableError(
                f"run {outcome.run_id} ({outcome.name!r}) finished {outcome.status!r} and its "
                f"JSON snapshot was written, but the store {db_path} "
                + ("has no row for it" if status is None else f"records it as {status!r}")
                + " (the write was refused: another process held the DB past "
                + f"{LOCK_TIMEOUT_ENV}); {recovery_hint(self._settings)}"
            )

    # --- inside the model's run ---------------------------------------------------------------

    def recorder(
        self, code: ModelCode, call: RunCall, identity: Sequence[tuple[str, Path]]
    ) -> Callable[[Capture], None]:
        """What runs inside the model's run once it returned: its dependency record (and, with
        ``strict_inputs``, the refusal of undeclared reads), stored in the run's metadata."""
        declared = [
            *(Path(v) for v in call.inputs.values() if isinstance(v, (str, os.PathLike))),
            *(path for _, path in identity),
            *(path for _, path in call.wiring.identity_inputs),
        ]
        consist_tracker, settings = self.consist, self._settings

        def record_run(capture: Capture) -> None:
            deps = record(
                code,
                capture,
                declared=declared,
                run_folder=active.output_dir(),
                checksum=checksum_of(consist_tracker),
            )
            if settings.strict_inputs and deps[UNDECLARED]:
                raise UndeclaredInputError(undeclared_message(call.name, code, deps[UNDECLARED]))
            stamp = dict(active.meta().get(STAMP) or {})
            active.set_meta(**{STAMP: {**stamp, DEPS: deps}})
            for entry in deps[MODULES].values():
                keep_source(settings.workspace, Path(entry["path"]), entry["sha256"])

        return record_run


def _carry_from_cached(meta: dict[str, Any], cached: Mapping[str, Any]) -> None:
    """A hit carries what the executing run used (so a later hit matched against it checks the
    same modules, files and environment) and its metrics (``{}`` when it recorded none)."""
    deps = (cached.get(STAMP) or {}).get(DEPS)
    if deps is not None:
        meta[STAMP][DEPS] = deps
    if meta.get(METRICS) is None:
        if cached.get(METRICS) is not None:
            meta[METRICS] = dict(cached[METRICS])
        elif not cached.get(CACHE_SOURCE):
            meta[METRICS] = {}  # the executing run recorded none
