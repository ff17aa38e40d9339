"""The conformance checks, as plain functions shared by ``DomainConformance`` and ``doctor``.

Each check raises :class:`ConformanceFailure` (an ``AssertionError``) with a message that names
the domain, the verb and what to fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard._layout import DOMAIN, STAMP
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
    """The tracker builds through the registry, is a ``DomainTracker`` of the right domain."""
    infos = [i for i in registry.available_domains() if i.name == domain]
    if not infos:
        raise _fail(f"domain {domain!r} is not discoverable through entry points")
    tracker = registry.get_tracker(domain, workspace=workspace, **dict(options))
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
