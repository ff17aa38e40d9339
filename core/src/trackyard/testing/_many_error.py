"""The conformance check of a model error inside a many-run verb (a sweep, a search).

A verb built on ``self.run_many`` records a model's error as a failed run and goes on (by
design: one bad config must not lose a sweep). The check calls each verb with
``self.run_many`` swapped for one that runs ``failing_model`` (which raises
``ConformanceModelError``) on the verb's own items, each config given one extra key so that
no item is served from an earlier run's cache; the first verb that calls ``run_many`` is
checked: every item must come back as a failure carrying the model's error, none as a run
or a cache hit, and the store's latest run of the domain must be ``failed``. A verb may raise
afterwards (a search with no successful trial), but its error must carry the model's (the
user must see why).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trackyard._queries import last_status
from trackyard._store import Store
from trackyard.testing._checks import ConformanceFailure, ConformanceModelError
from trackyard.tracker import DomainTracker, ManyResult

INJECTED = "injected by trackyard's conformance check of a many-run verb"
CHECK_KEY = "trackyard_conformance_check"  # the extra config key: every item misses the cache


def failing_model(*args: Any, **kwargs: Any) -> Any:
    """The model the check runs in place of the domain's (module-level, so that worker
    processes import it by reference)."""
    raise ConformanceModelError(INJECTED)


def _marked(item: Any, token: str) -> Any:
    """A ``(name, config[, inputs])`` item with the check's key added to its config."""
    if isinstance(item, (tuple, list)) and len(item) >= 2 and isinstance(item[1], Mapping):
        return (item[0], {**item[1], CHECK_KEY: token}, *item[2:])
    return item


def check_many_model_error(
    tracker: DomainTracker, verbs: Mapping[str, Mapping[str, Any]], tried: list[str] | None = None
) -> str | None:
    """Check the first of ``verbs`` that calls ``run_many`` (see the module's docstring);
    returns its name, or None when no verb runs many. ``tried``: each verb called is appended
    (the last one is the verb a failure is about)."""
    tried = [] if tried is None else tried
    original = tracker.run_many
    token = uuid.uuid4().hex
    results: list[ManyResult] = []

    def run_many_failing(fn: Callable[..., Any], items: Sequence[Any], **kw: Any) -> ManyResult:
        result = original(failing_model, [_marked(i, token) for i in items], **kw)
        results.append(result)
        return result

    tracker.run_many = run_many_failing  # type: ignore[method-assign]
    try:
        for verb, kwargs in verbs.items():
            tried.append(verb)
            _call(tracker, verb, kwargs, results)
            if results:
                _check_results(tracker, verb, results)
                return verb
    finally:
        del tracker.run_many
    return None


def _call(
    tracker: DomainTracker, verb: str, kwargs: Mapping[str, Any], results: list[ManyResult]
) -> None:
    try:
        getattr(tracker, verb)(**dict(kwargs))
    except ConformanceModelError:
        pass  # the model's own error, re-raised by the verb: allowed
    except Exception as other:
        if not results:
            raise  # the verb failed before running anything: another check says why
        if INJECTED in str(other):
            return  # e.g. a search with no successful trial, naming the trials' errors
        raise ConformanceFailure(
            f"verb {tracker.domain_name}.{verb}: after its runs failed with the model's error, "
            f"the verb raised {type(other).__name__}: {other}; a many-run verb records a "
            "model's error as a failed item (ManyResult.failures) and goes on, and an error "
            "it raises afterwards names the items' errors"
        ) from other


def _check_results(tracker: DomainTracker, verb: str, results: list[ManyResult]) -> None:
    where = f"verb {tracker.domain_name}.{verb}"
    served = [n for r in results for n, o in r.outcomes.items() if n not in r.failures]
    if served:
        raise ConformanceFailure(
            f"{where}: items {sorted(served)} came back as runs although their model raised; "
            "a many-run verb must not serve an item whose model failed"
        )
    failures = {n: m for r in results for n, m in r.failures.items()}
    wrong = {n: m for n, m in failures.items() if INJECTED not in m}
    if not failures or wrong:
        raise ConformanceFailure(
            f"{where}: a model error was not recorded as the item's failure "
            f"(failures: {wrong or failures}); pass run_many's failures on unchanged"
        )
    status = last_status(Store.of(tracker.settings), tracker.domain_name) or "no run"
    if status != "failed":
        raise ConformanceFailure(
            f"{where}: after a model error the latest run is {status!r}, expected 'failed'"
        )
