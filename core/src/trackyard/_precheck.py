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
from trackyard._deps import environment_changes, model_code, verify, warn_batch
from trackyard._layout import DEPS, METRICS, SOURCES_DIR, STAMP
from trackyard._model import code_identity, model_identity, wrap_model
from trackyard._outcome import Runner, RunOutcome
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


def cache_keys(dt: Runner, fn: Callable[..., Any], items: Sequence[Keyed]) -> dict[str, str]:
    """Each item's consist config hash, computed exactly as ``Tracker.run`` does."""
    identity = dt.consist.identity
    wired = dt.wiring
    base: list[Any] = [*wired.identity_inputs, *model_identity(fn)]
    code = code_dependencies(
        model_code(fn),
        wired.code_dependencies,
        manifests=dt.workspace / SOURCES_DIR / "keys",
        checksum=identity.compute_file_checksum,
    )
    epoch = wired.cache_epoch or dt.settings.cache_epoch
    keys: dict[str, str] = {}
    for item in items:
        config, files = config_inputs(item.config, run=item.name, untracked=wired.untracked_config)
        identity_inputs = [*base, *files, *input_identity(item.inputs or {}), *code]
        if identity_inputs:
            config["__consist_hash_inputs__"] = identity.compute_hash_inputs_digests(
                identity_inputs
            )
        keys[item.name] = identity.compute_run_config_hash(
            config=identity.normalize_json(config),
            model=wired.model if wired.model is not None else item.name,
            year=getattr(item, "year", None),  # a single call (trackyard why) may set them
            iteration=getattr(item, "iteration", None),
            cache_epoch=epoch,
            cache_version=None,
        )
    return keys


def precheck(
    dt: Runner, fn: Callable[..., Any], items: Sequence[Keyed], keys: Mapping[str, str]
) -> dict[str, RunOutcome]:
    """Outcomes of the items whose config already ran (``keys`` from :func:`cache_keys`)."""
    if not keys:
        return {}
    identity = dt.consist.identity
    # The mode DomainTracker.run chooses (a model without a source file falls back to its source).
    code = identity.resolve_code_identity(
        mode=code_identity(fn, dt.wiring.code_identity), func=wrap_model(fn)
    ).digest
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    no_inputs = identity.compute_input_hash([])
    store = Store.of(dt.settings)
    plain = sorted({keys[i.name] for i in items if i.name in keys and not i.inputs})
    named = sorted({keys[i.name] for i in items if i.name in keys and i.inputs})
    for input_hash, hashes in ((no_inputs, plain), (None, named)):
        if not hashes:
            continue
        for run_id, config_hash, meta in _queries.executed_runs(store, code, input_hash, hashes):
            found.setdefault(config_hash, (run_id, _as_mapping(meta)))  # newest first
    if not found:
        return {}
    outputs: dict[str, dict[str, Path]] = {}
    checksum = identity.compute_file_checksum
    stale, changed = _refused(dt, found.values(), checksum)
    ran = sorted({r for r, _ in found.values()})
    for run_id, key, uri, recorded in _queries.output_uris(store, ran):
        path = Path(dt.consist.resolve_uri(uri))
        outputs.setdefault(run_id, {})[key] = path
        if not path.exists() or (recorded and checksum(path) != recorded):
            stale.add(run_id)  # run for real: DomainTracker.run records why it runs again
    hits: dict[str, RunOutcome] = {}
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
    dt: Runner, found: Iterable[tuple[str, Mapping[str, Any]]], checksum: Callable[[Path], str]
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
    policy = dt.settings.on_environment_change
    if changed and policy == "rerun":
        return stale | set(changed), {}
    if changed and policy == "warn":
        warn_batch(dt.domain_name, changed)
    return stale, changed


def _as_mapping(meta: Any) -> Mapping[str, Any]:
    if isinstance(meta, Mapping):
        return meta
    if isinstance(meta, str):
        loaded = json.loads(meta)
        return loaded if isinstance(loaded, Mapping) else {}
    return {}
