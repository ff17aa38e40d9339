"""The many-run cache pre-check: which items already ran, found by one query for the batch.

Each item's cache key is computed exactly as ``DomainTracker.run`` has ``consist.Tracker.run``
compute it (named inputs, ``Path`` values in the config and the model's local imports are
identity inputs, hashed by content), so configs already in the store never leave the driver and
write no new row, on every executor. A run whose outputs are missing or changed is not a hit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from trackyard import _queries
from trackyard._consist.identity import checksum_of, code_digest, config_hash, no_inputs_hash
from trackyard._consist.tracker import resolve_uri
from trackyard._deps import environment_changes, model_code, verify, warn_batch
from trackyard._layout import DEPS, METRICS, SOURCES_DIR, STAMP
from trackyard._model import code_identity, model_identity, wrap_model
from trackyard._outcome import Runner, RunOutcome
from trackyard._outcomes import Outcomes
from trackyard._provenance import code_dependencies, config_inputs, input_identity
from trackyard._store import Store
from trackyard._validate import decode_metric


class Keyed(Protocol):
    """An item of a batch: a run name, its config, its inputs (if any)."""

    @property
    def name(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def inputs(self) -> dict[str, Any] | None: ...


def cache_keys(runner: Runner, fn: Callable[..., Any], items: Sequence[Keyed]) -> dict[str, str]:
    """Each item's consist config hash, computed exactly as ``Tracker.run`` does."""
    wired = runner.wiring
    base: list[Any] = [*wired.identity_inputs, *model_identity(fn)]
    code = code_dependencies(
        model_code(fn),
        wired.code_dependencies,
        manifests=runner.workspace / SOURCES_DIR / "keys",
        checksum=checksum_of(runner.consist),
    )
    epoch = wired.cache_epoch or runner.settings.cache_epoch
    keys: dict[str, str] = {}
    for item in items:
        config, files = config_inputs(item.config, run=item.name, untracked=wired.untracked_config)
        keys[item.name] = config_hash(
            runner.consist,
            config,
            [*base, *files, *input_identity(item.inputs or {}), *code],
            model=wired.model if wired.model is not None else item.name,
            year=getattr(item, "year", None),  # a single call (trackyard why) may set them
            iteration=getattr(item, "iteration", None),
            cache_epoch=epoch,
        )
    return keys


def precheck(
    runner: Runner,
    fn: Callable[..., Any],
    items: Sequence[Keyed],
    keys: Mapping[str, str],
    unrecorded: set[str] | None = None,
) -> Outcomes:
    """Outcomes of the items whose config already ran (``keys`` from ``cache_keys``), kept
    compactly (``Outcomes``).

    ``unrecorded``, when given, receives the cache keys that no completed row of the store
    has at all, whatever its code or inputs (consist's own lookup, which can only match a row
    with the call's config hash, would find nothing for them either)."""
    if not keys:
        return Outcomes()
    # The mode DomainTracker.run chooses (a model without a source file falls back to its source).
    code = code_digest(
        runner.consist, code_identity(fn, runner.wiring.code_identity), wrap_model(fn)
    )
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    no_inputs = no_inputs_hash(runner.consist)
    store = Store.of(runner.settings)
    plain = sorted({keys[i.name] for i in items if i.name in keys and not i.inputs})
    named = sorted({keys[i.name] for i in items if i.name in keys and i.inputs})
    for input_hash, hashes in ((no_inputs, plain), (None, named)):
        if not hashes:
            continue
        for row in _queries.executed_runs(store, code, input_hash, hashes):
            found.setdefault(row.config_hash, (row.id, _as_mapping(row.meta)))  # newest first
    if unrecorded is not None:
        wanted = sorted(set(keys.values()) - set(found))
        if wanted:
            unrecorded.update(set(wanted) - _queries.recorded_config_hashes(store, wanted))
    if not found:
        return Outcomes()
    outputs: dict[str, dict[str, Path]] = {}
    checksum = checksum_of(runner.consist)
    stale, changed = _refused(runner, found.values(), checksum)
    ran = sorted({r for r, _ in found.values()})
    for run_id, key, uri, recorded in _queries.output_uris(store, ran):
        path = resolve_uri(runner.consist, uri)
        outputs.setdefault(run_id, {})[key] = path
        if not path.exists() or (recorded and checksum(path) != recorded):
            stale.add(run_id)  # run for real: DomainTracker.run records why it runs again
    hits = Outcomes()
    for item in items:
        match = found.get(keys.get(item.name, ""))
        if match is not None and match[0] not in stale:
            run_id, meta = match
            hits[item.name] = RunOutcome(
                run_id=run_id,
                name=item.name,
                status="completed",
                cache_hit=True,
                cache_source=run_id,
                metrics={k: decode_metric(v) for k, v in (meta.get(METRICS) or {}).items()},
                outputs=outputs.get(run_id, {}),
                config=item.config,
                environment_changed=changed.get(run_id, {}),
            )
    return hits


def _refused(
    runner: Runner, found: Iterable[tuple[str, Mapping[str, Any]]], checksum: Callable[[Path], str]
) -> tuple[set[str], dict[str, dict[str, tuple[str | None, str | None]]]]:
    """Recorded runs whose modules or undeclared inputs changed (they run again, and
    ``DomainTracker.run`` records why), and the environment changes of the others; under
    ``on_environment_change="rerun"`` those run again too, under ``"warn"`` one warning
    names them."""
    stale: set[str] = set()
    changed: dict[str, dict[str, tuple[str | None, str | None]]] = {}
    for run_id, meta in found:
        deps = (meta.get(STAMP) or {}).get(DEPS)
        if verify(deps, checksum) is not None:
            stale.add(run_id)
        elif env := environment_changes(deps):
            changed[run_id] = env
    policy = runner.settings.on_environment_change
    if changed and policy == "rerun":
        return stale | set(changed), {}
    if changed and policy == "warn":
        warn_batch(runner.domain_name, changed)
    return stale, changed


def _as_mapping(meta: Any) -> Mapping[str, Any]:
    if isinstance(meta, Mapping):
        return meta
    if isinstance(meta, str):
        loaded = json.loads(meta)
        return loaded if isinstance(loaded, Mapping) else {}
    return {}
