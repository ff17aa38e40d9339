"""The conformance checks, as plain functions shared by ``DomainConformance`` and ``doctor``.

Each check raises ``ConformanceFailure`` (an ``AssertionError``) with a message that names
the domain, the verb and what to fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard._layout import DB_FILE, DOMAIN, RUNS_DIR, STAMP
from trackyard._queries import last_status
from trackyard._store import Store
from trackyard.tracker import DomainTracker, RunOutcome

if TYPE_CHECKING:
    from trackyard.registry import Registry


class ConformanceFailure(AssertionError):
    """A domain plugin does not behave as the trackyard contract requires."""


class ConformanceModelError(RuntimeError):
    """The error the model-error check injects; it must reach the caller unchanged."""


def _fail(message: str) -> ConformanceFailure:
    return ConformanceFailure(message)


def build(
    registry: Registry, domain: str, workspace: Path, options: Mapping[str, Any]
) -> DomainTracker:
    """The tracker builds through the registry, is a ``DomainTracker`` of the right domain.

    Every store setting (workspace, ``db_path``, ``run_dir``) points into ``workspace``, so
    that no check run reaches a store the user configured (``TRACKYARD_DB_PATH``, settings).
    """
    infos = [i for i in registry.available_domains() if i.name == domain]
    if not infos:
        raise _fail(f"domain {domain!r} is not discoverable through entry points")
    store = {"db_path": Path(workspace) / DB_FILE, "run_dir": Path(workspace) / RUNS_DIR}
    tracker = registry.get_tracker(domain, workspace=workspace, **{**store, **dict(options)})
    if not isinstance(tracker, DomainTracker):
        raise _fail(f"get_tracker({domain!r}) returned {type(tracker).__name__}")
    if tracker.domain_name != domain:
        raise _fail(f"get_tracker({domain!r}) built a tracker for {tracker.domain_name!r}")
    if Path(tracker.workspace).resolve() != Path(workspace).resolve():
        raise _fail(f"domain {domain!r} ignored workspace={workspace}")
    return tracker


def check_wiring_declared(tracker: DomainTracker) -> None:
    """The merged wiring names a model and at least one output key."""
    wiring = tracker.wiring
    if not wiring.model:
        raise _fail(
            f"domain {tracker.domain_name!r} declares no model name in its wiring; set "
            "wiring = Wiring(model=...) on the tracker class"
        )
    if not wiring.outputs:
        raise _fail(
            f"domain {tracker.domain_name!r} declares no output keys in its wiring; set "
            "Wiring(outputs=(...)) so every run records them"
        )


def outcomes_in(value: Any) -> list[RunOutcome]:
    """Every ``RunOutcome`` in a verb's result (the result itself, or inside lists/records)."""
    if isinstance(value, RunOutcome):
        return [value]
    found: list[RunOutcome] = []
    if isinstance(value, Mapping):
        items: Any = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return []
    for item in items:
        found.extend(outcomes_in(item))
    return found


def call_verb(tracker: DomainTracker, verb: str, kwargs: Mapping[str, Any]) -> list[RunOutcome]:
    """Call ``verb`` and return the runs it recorded; it must record at least one."""
    fn: Callable[..., Any] | None = getattr(tracker, verb, None)
    if fn is None or not callable(fn):
        raise _fail(f"domain {tracker.domain_name!r} has no verb {verb!r}")
    outcomes = outcomes_in(fn(**dict(kwargs)))
    if not outcomes:
        raise _fail(
            f"verb {tracker.domain_name}.{verb} returned no RunOutcome; a verb that records "
            "runs must return the RunOutcome of self.run(...) (or a result holding them)"
        )
    return outcomes


def check_outputs_and_wiring(tracker: DomainTracker, verb: str, outcomes: list[RunOutcome]) -> None:
    """Each run completed, has every declared output as a file, and carries the wiring."""
    declared = set(tracker.wiring.outputs)
    for outcome in outcomes:
        where = f"verb {tracker.domain_name}.{verb}, run {outcome.run_id}"
        if outcome.status != "completed":
            raise _fail(f"{where}: status {outcome.status!r}, expected 'completed'")
        missing = declared - set(outcome.outputs)
        if missing:
            raise _fail(f"{where}: declared output(s) {sorted(missing)} were not recorded")
        for key, path in outcome.outputs.items():
            if not Path(path).exists():
                raise _fail(f"{where}: output {key!r} points at a missing file {path}")
        run = tracker.consist.get_run(outcome.run_id)
        if run is None:
            raise _fail(f"{where}: the run is not in the provenance database")
        if tracker.wiring.model and run.model_name != tracker.wiring.model:
            raise _fail(
                f"{where}: recorded model {run.model_name!r}, wiring says "
                f"{tracker.wiring.model!r}; call self.run(...) so the wiring is applied"
            )
        missing_tags = set(tracker.wiring.tags) - set(run.tags or [])
        if missing_tags:
            raise _fail(f"{where}: wiring tags {sorted(missing_tags)} were not applied")
        stamp = (run.meta or {}).get(STAMP) or {}
        if stamp.get(DOMAIN) != tracker.domain_name:
            raise _fail(f"{where}: run metadata does not name domain {tracker.domain_name!r}")


def _digest(path: Path) -> str:
    path = Path(path)
    if path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.is_file())
        return hashlib.sha256(
            b"".join(p.relative_to(path).as_posix().encode() + p.read_bytes() for p in parts)
        ).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_cache_hit(
    tracker: DomainTracker, verb: str, kwargs: Mapping[str, Any], first: list[RunOutcome]
) -> None:
    """Repeating the verb with the same arguments is a cache hit with the same outputs."""
    again = call_verb(tracker, verb, kwargs)
    if len(again) != len(first):
        raise _fail(f"verb {tracker.domain_name}.{verb}: {len(first)} runs, then {len(again)}")
    for before, after in zip(first, again, strict=True):
        where = f"verb {tracker.domain_name}.{verb} repeated with the same arguments"
        if not after.cache_hit:
            raise _fail(
                f"{where} was not a cache hit (run {after.run_id}); keep everything that "
                "varies between calls out of the config, or make the model deterministic"
            )
        if set(after.outputs) != set(before.outputs):
            raise _fail(
                f"{where}: outputs {sorted(after.outputs)} differ from {sorted(before.outputs)}"
            )
        for key in before.outputs:
            if _digest(after.outputs[key]) != _digest(before.outputs[key]):
                raise _fail(f"{where}: output {key!r} has different content")
        if dict(after.metrics) != dict(before.metrics):
            raise _fail(f"{where}: metrics {after.metrics} differ from {before.metrics}")
        check_outputs_in_source_run(tracker, verb, after)


def check_outputs_in_source_run(tracker: DomainTracker, verb: str, hit: RunOutcome) -> None:
    """A hit's outputs live in the folder of the run that produced them (``cache_source``),
    where no other run writes, never in a folder shared between runs."""
    source = hit.cache_source or hit.run_id
    run_dir = Path(tracker.settings.run_dir).resolve()
    for key, path in hit.outputs.items():
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(run_dir) or source not in resolved.parts:
            raise _fail(
                f"verb {tracker.domain_name}.{verb}: the cache hit's output {key!r} is {path}, "
                f"outside the folder of run {source} that produced it, where another run can "
                "overwrite it; return the output from the model (trackyard copies it into the "
                "run's folder) or write it to consist.output_path(key)"
            )


def _files_in(value: Any) -> list[Path]:
    """Files an argument names: ``Path`` values and strings naming an existing file."""
    if isinstance(value, Path):
        return [value] if value.is_file() else []
    if isinstance(value, str):
        try:
            return [Path(value)] if len(value) < 4096 and Path(value).is_file() else []
        except (OSError, ValueError):
            return []
    if isinstance(value, Mapping):
        return [f for item in value.values() for f in _files_in(item)]
    if isinstance(value, (list, tuple)):
        return [f for item in value for f in _files_in(item)]
    return []


def _substitute(value: Any, old: Path, new: Path) -> Any:
    if isinstance(value, Path) and value == old:
        return new
    if isinstance(value, str) and value == str(old):
        return str(new)
    if isinstance(value, Mapping):
        return {k: _substitute(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, old, new) for v in value]
    if isinstance(value, tuple):
        return tuple(_substitute(v, old, new) for v in value)
    return value


def check_input_change_runs_again(
    tracker: DomainTracker, verb: str, kwargs: Mapping[str, Any], scratch: Path
) -> int:
    """For each file the verb's arguments name: a copy (in ``scratch``) with one byte changed
    makes the verb run again instead of serving the old result. Returns how many files were
    checked; the caller's files are never modified."""
    files = list(dict.fromkeys(_files_in(dict(kwargs))))
    for index, original in enumerate(files):
        copy = Path(scratch) / f"input-{index}{original.suffix}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        data = bytearray(original.read_bytes())
        copy.write_bytes(bytes(data))
        changed = _substitute(dict(kwargs), original, copy)
        call_verb(tracker, verb, changed)
        if data:
            data[-1] = (data[-1] + 1) % 256
        else:
            data = bytearray(b"\n")
        copy.write_bytes(bytes(data))
        stale = [o for o in call_verb(tracker, verb, changed) if o.cache_hit]
        if stale:
            raise _fail(
                f"verb {tracker.domain_name}.{verb}: after one byte of its input file "
                f"{original.name} changed, run {stale[0].run_id} was served from cache; "
                "declare the file with self.run(..., inputs={'label': path}) (or pass a "
                "pathlib.Path in the config) so its content is in the cache key"
            )
    return len(files)


def check_metrics(tracker: DomainTracker, verb: str, outcomes: list[RunOutcome]) -> None:
    """Runs record at least one metric, readable back and rankable with ``top_k``."""
    named = [o for o in outcomes if o.metrics]
    if not named:
        raise _fail(
            f"verb {tracker.domain_name}.{verb} recorded no metrics; return numbers from the "
            "model (e.g. {'rmse': 0.3, ...}) so runs can be ranked"
        )
    for outcome in named:
        if dict(tracker.metrics(outcome.run_id)) != dict(outcome.metrics):
            raise _fail(f"run {outcome.run_id}: metrics read back differ from the outcome")
        for metric in outcome.metrics:
            ranked = tracker.top_k(metric, k=len(outcomes) + 5, order="asc")
            if outcome.run_id not in {r.run_id for r in ranked}:
                raise _fail(
                    f"run {outcome.run_id} of verb {tracker.domain_name}.{verb} is missing "
                    f"from top_k({metric!r})"
                )


def model_error_target(
    tracker: DomainTracker, verbs: Mapping[str, Mapping[str, Any]]
) -> tuple[str, Mapping[str, Any]] | None:
    """The verb the model-error check uses (the rule doctor applies too): the first verb that
    returns ONE run; None when no verb does (many-run verbs, which record a model's error as
    a failed item and go on, have their own check: ``_many_error``)."""
    for verb, kwargs in verbs.items():
        if isinstance(getattr(tracker, verb)(**dict(kwargs)), RunOutcome):
            return verb, kwargs
    return None


def check_model_error(tracker: DomainTracker, verb: str, kwargs: Mapping[str, Any]) -> None:
    """A model that raises: the caller gets the original exception; the run is ``failed``."""
    original_run = tracker.run
    error = ConformanceModelError(f"injected by the conformance check of {verb}")

    def broken_model(*args: Any, **kw: Any) -> Any:
        raise error

    def run_with_broken_model(fn: Callable[..., Any], **options: Any) -> RunOutcome:
        return original_run(broken_model, **options)

    tracker.run = run_with_broken_model  # type: ignore[method-assign]
    try:
        getattr(tracker, verb)(**dict(kwargs))
    except ConformanceModelError as raised:
        if raised is not error:
            raise _fail(f"verb {tracker.domain_name}.{verb} re-raised a different error") from None
    except Exception as other:
        raise _fail(
            f"verb {tracker.domain_name}.{verb}: a model error surfaced as "
            f"{type(other).__name__}: {other}, not as the model's own exception"
        ) from other
    else:
        raise _fail(
            f"verb {tracker.domain_name}.{verb} swallowed the model's error; let it propagate"
        )
    finally:
        del tracker.run
    status = last_status(Store.of(tracker.settings), tracker.domain_name) or "no run"
    if status != "failed":
        raise _fail(
            f"verb {tracker.domain_name}.{verb}: after a model error the run is {status!r}, "
            "expected 'failed'"
        )


def check_report_sections(registry: Registry, tracker: DomainTracker) -> int:
    """Every plugin's ``report_sections`` for the domain returns sections that render (no
    error box); returns how many sections were drawn."""
    from trackyard.report._build import plugin_parts  # the report renders only when checked
    from trackyard.report._render import render_section

    drawn = 0
    for plugin, section in plugin_parts(registry, tracker.domain_name, tracker):
        if isinstance(section, str):
            raise _fail(f"plugin {plugin!r}: report_sections failed: {section}")
        html = render_section(section, plugin)
        if 'class="error-box"' in html:
            raise _fail(f"plugin {plugin!r}: report section does not render: {html}")
        drawn += 1
    return drawn
