"""``trackyard why`` and ``trackyard diff``: what differs between two runs, component by
component, and whether a call not made yet would be served from cache.

A run is compared with another through what both recorded (``run.meta["trackyard"]``, see
``_layout``) and consist's JSON snapshot (the config): config keys (``a.b[0]``), keyed files by
label (``input:<label>``, ``config:<where>``, wiring identity inputs), code (project modules,
the model distribution's files, with a unified diff when both sources were kept, ``_sources``),
the model function, the model's distribution, the environment and undeclared inputs (``_deps``),
and the key's other parts (year, iteration, cache epoch).

The question before running (``explain_call``) is answered by a dry run of the verb:
``dry_run`` sets a context variable that ``DomainTracker.run`` checks once the call's
identity is computed and before anything is written; it raises ``DryRun`` carrying that
identity. The cache key is then computed as the many-run pre-check computes it
(``_precheck.cache_keys``), and a matching executed run is checked as a hit would be (its
outputs, the modules and files it used, the environment).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trackyard import _queries, _sources
from trackyard._codeset import recorded_environment_now
from trackyard._deps import (
    ENVIRONMENT,
    MODULES,
    UNDECLARED,
    ModelCode,
    describe_changes,
    environment_changes,
    verify,
)
from trackyard._layout import (
    CACHE_SOURCE,
    DEPS,
    DOMAIN,
    IDENTITY,
    MODEL_DIST,
    MODEL_REF,
    RERUN_REASON,
    RUN_NAME,
    SNAPSHOT_DIR,
    STAMP,
)
from trackyard._model import model_identity, model_reference, wrap_model
from trackyard._outcome import RunCall, Runner, RunOutcome
from trackyard._precheck import cache_keys
from trackyard._provenance import CODESET, distribution_of
from trackyard._store import Store
from trackyard.errors import UnknownRunError
from trackyard.settings import Settings
from trackyard.wiring import CodeIdentity, Wiring

__all__ = [
    "BATCH_REFUSED",
    "Difference",
    "DryRun",
    "WhyReport",
    "diff_runs",
    "dry_run",
    "dry_running",
    "explain_call",
    "explain_run",
]

BATCH_REFUSED = (
    "trackyard why DOMAIN VERB explains a verb that makes one run; this verb runs a batch "
    "(run_many), whose runs are each checked against the cache before anything runs: ask "
    "about one item with the verb that runs it, or run the batch (hits are not executed)"
)
Checksum = Callable[[Path], str]
HASH_INPUTS = "__consist_hash_inputs__"  # consist's identity digests inside a snapshot's config
_CODE_PREFIXES = ("code:", "dist:", "model:")
_CANDIDATES = 50  # recorded runs of the model looked at for the nearest one


@dataclass(frozen=True)
class Difference:
    """One part of a run's identity that differs between two runs.

    ``component``: ``config``, ``input`` (a keyed file: ``input:<label>``, ``config:<where>``
    or a wiring identity input), ``code`` (a project module, a file of the model's
    distribution, or the model's file), ``model`` (the model function), ``distribution`` (the
    distribution providing the model), ``environment`` (another distribution the model used),
    ``undeclared_input`` (a file the model read without declaring it) or ``run`` (year,
    iteration, cache epoch). ``key`` names it (``a.b[0]``, a label, a module, a distribution,
    a path); ``change`` is ``added``, ``removed`` or ``changed``; ``old`` and ``new`` are the
    values, content hashes (sha256) or versions (``None``: absent); ``path`` is the file, and
    ``diff`` a unified diff of a module's source when both texts were kept in the workspace.
    """

    component: str
    key: str
    change: str
    old: Any = None
    new: Any = None
    path: str | None = None
    diff: str | None = None


@dataclass(frozen=True)
class WhyReport:
    """Why a run executed or was served from cache, or whether a call would be.

    ``subject`` is the run explained (or ``"DOMAIN.VERB"`` for a call not made). ``verdict``:
    ``cache_hit`` (served from cache: ``compared_to`` is the run that executed),
    ``executed`` (no recorded run had its key: ``compared_to`` is the nearest earlier run of the
    same model), ``rerun`` (a run with its key existed and was refused: ``reason`` says why),
    ``first_run`` (no earlier run of the model to compare with), ``would_hit`` / ``would_run``
    (before running), ``diff`` (two runs compared). ``hit``: whether the run was (or the call
    would be) served from cache. ``differences`` lists what differs from ``compared_to``.
    """

    subject: str
    verdict: str
    hit: bool
    summary: str
    compared_to: str | None = None
    reason: str | None = None
    differences: tuple[Difference, ...] = ()


@dataclass(frozen=True)
class RunView:
    """What a comparison reads of one run (or of a call not made yet)."""

    run_id: str
    name: str | None
    domain: str | None
    model_name: str
    created_at: str
    config_hash: str | None
    git_hash: str | None
    key_parts: Mapping[str, Any]
    config: Mapping[str, Any] | None
    digests: Mapping[str, tuple[str | None, str]]  # label -> (path, sha256)
    deps: Mapping[str, Any] = field(default_factory=dict)
    model_ref: str | None = None
    model_dist: str | None = None
    cache_source: str | None = None
    rerun_reason: str | None = None
    status: str = "completed"


# --- the dry run ----------------------------------------------------------------------------------

_DRY_RUN: ContextVar[bool] = ContextVar("trackyard_dry_run", default=False)


def dry_running() -> bool:
    """Whether ``DomainTracker.run`` must stop once the call's key is known (raise DryRun)."""
    return _DRY_RUN.get()


@contextlib.contextmanager
def dry_run() -> Iterator[None]:
    """Within the block, ``DomainTracker.run`` raises ``DryRun`` instead of running."""
    token = _DRY_RUN.set(True)
    try:
        yield
    finally:
        _DRY_RUN.reset(token)


class DryRun(BaseException):
    """Raised by ``DomainTracker.run`` in a dry run, before anything is written, with what the
    call's cache key is made of. A ``BaseException``: a verb's ``except Exception`` must not
    turn the question into a run."""

    def __init__(
        self,
        tracker: Runner,
        fn: Callable[..., Any],
        call: RunCall,
        config: Mapping[str, Any] | None,
        identity: Sequence[tuple[str, Path]],
        code: ModelCode,
        mode: CodeIdentity,
    ) -> None:
        super().__init__(f"dry run of {call.domain}.{call.name}")
        self.tracker, self.fn, self.call, self.config = tracker, fn, call, config
        self.identity, self.code, self.mode = list(identity), code, mode


# --- reading runs ---------------------------------------------------------------------------------


def _snapshot_config(store: Store, run_id: str, meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """The config consist wrote in the run's JSON snapshot (``None`` when it is gone)."""
    folders = [store.run_dir]
    if isinstance(meta.get("_physical_run_dir"), str):
        folders.insert(0, Path(meta["_physical_run_dir"]))
    for folder in folders:
        try:
            data = json.loads((folder / SNAPSHOT_DIR / f"{run_id}.json").read_text("utf-8"))
        except (OSError, ValueError):
            continue
        config = data.get("config") if isinstance(data, Mapping) else None
        return dict(config) if isinstance(config, Mapping) else None
    return None


def _view(store: Store, row: Sequence[Any], *, with_config: bool = True) -> RunView:
    """A ``RunView`` of one row of ``_queries.run_row`` / ``_queries.model_runs``."""
    meta = json.loads(row[9] or "{}")
    stamp = meta.get(STAMP) or {}
    config = _snapshot_config(store, str(row[0]), meta) if with_config else None
    recorded = dict(meta.get("consist_hash_inputs") or (config or {}).get(HASH_INPUTS) or {})
    digests: dict[str, tuple[str | None, str]] = {
        k: (None, str(v)) for k, v in recorded.items() if not k.startswith(CODESET)
    }  # the code manifest's files are each in the stamp's identity
    for label, entry in (stamp.get(IDENTITY) or {}).items():
        digests[label] = (entry.get("path"), str(entry.get("sha256")))
    if config is not None:
        config.pop(HASH_INPUTS, None)
    return RunView(
        run_id=str(row[0]),
        name=stamp.get(RUN_NAME),
        domain=stamp.get(DOMAIN),
        model_name=str(row[2]),
        created_at=str(row[8]),
        config_hash=row[3],
        git_hash=row[4],
        key_parts={"year": row[6], "iteration": row[7], "cache_epoch": meta.get("cache_epoch")},
        config=config,
        digests=digests,
        deps=stamp.get(DEPS) or {},
        model_ref=stamp.get(MODEL_REF),
        model_dist=stamp.get(MODEL_DIST),
        cache_source=meta.get(CACHE_SOURCE),
        rerun_reason=stamp.get(RERUN_REASON),
        status=str(row[1]),
    )


def load_run(store: Store, workspace: Path, run_id: str) -> RunView:
    """The run ``run_id`` of ``store``; ``UnknownRunError`` names it and the workspace."""
    row = _queries.run_row(store, run_id) if store.db_path.is_file() else None
    if row is None:
        raise UnknownRunError(run_id, workspace, store.db_path)
    return _view(store, row)


# --- comparing ------------------------------------------------------------------------------------


def _flatten(value: Any, where: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(item, f"{where}.{key}" if where else str(key), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{where}[{index}]", out)
    else:
        out[where] = value


def flat_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b[0]": leaf}`` for every leaf of ``config`` (an empty table or list is a leaf)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        _flatten(value, str(key), out)
    return out


_ABSENT = object()


def _mapping_changes(
    component: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    paths: Mapping[str, str | None] | None = None,
) -> list[Difference]:
    """A difference for each key added, removed or whose value changed, in key order."""
    found = []
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if before == after:
            continue
        change = "added" if before is _ABSENT else "removed" if after is _ABSENT else "changed"
        found.append(
            Difference(
                component,
                key,
                change,
                None if before is _ABSENT else before,
                None if after is _ABSENT else after,
                (paths or {}).get(key),
            )
        )
    return found


def _config_changes(old: RunView, new: RunView) -> list[Difference]:
    if old.config is None or new.config is None:
        if old.config_hash == new.config_hash:
            return []
        missing = old.run_id if old.config is None else new.run_id
        return [Difference("config", "(config)", "unknown", path=f"no snapshot of run {missing}")]
    return _mapping_changes("config", flat_config(old.config), flat_config(new.config))


def _inputs(view: RunView) -> tuple[dict[str, str], dict[str, str | None]]:
    keyed = {k: v for k, v in view.digests.items() if not k.startswith(_CODE_PREFIXES)}
    return {k: sha for k, (_, sha) in keyed.items()}, {k: path for k, (path, _) in keyed.items()}


def _input_changes(old: RunView, new: RunView) -> list[Difference]:
    (before, old_paths), (after, new_paths) = _inputs(old), _inputs(new)
    return _mapping_changes("input", before, after, {**old_paths, **new_paths})


def _code_name(label: str) -> str | None:
    """The module a code label keys (``code:<module>``, ``dist:<dist>:<a/b.py>``), the label
    itself for other code files, ``None`` for the model label (compared on its own)."""
    if label.startswith("code:"):
        rest = label[5:]
        return label if "/" in rest or "\\" in rest else rest
    if label.startswith("dist:"):
        relative = label.split(":", 2)[-1]
        if relative.endswith(".py"):
            return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        return label
    return None


def _code(view: RunView) -> dict[str, tuple[str | None, str]]:
    """Module (or code file) -> (path, sha256): keyed code, then the modules the run used."""
    found: dict[str, tuple[str | None, str]] = {}
    for label, entry in view.digests.items():
        if (name := _code_name(label)) is not None:
            found[name] = entry
    for name, entry in (view.deps.get(MODULES) or {}).items():
        if entry.get("sha256"):
            found.setdefault(name, (entry.get("path"), str(entry["sha256"])))
    return found


def _source(workspace: Path, path: str | None, digest: str) -> str | None:
    """The text of a source whose sha256 is ``digest``: the workspace's kept copy, else the
    file on disk when it still has that content."""
    kept = _sources.load(workspace, digest)
    if kept is not None or not path:
        return kept
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return data.decode("utf-8", "replace") if hashlib.sha256(data).hexdigest() == digest else None


def _unified(
    workspace: Path, name: str, old: tuple[str | None, str], new: tuple[str | None, str]
) -> str | None:
    before, after = _source(workspace, *old), _source(workspace, *new)
    if before is None or after is None:
        return None
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{name} ({old[1][:12]})",
        tofile=f"{name} ({new[1][:12]})",
    )
    return "".join(lines) or None


def _code_changes(old: RunView, new: RunView, workspace: Path | None) -> list[Difference]:
    before, after = _code(old), _code(new)
    found = []
    for change in _mapping_changes(
        "code", {k: v[1] for k, v in before.items()}, {k: v[1] for k, v in after.items()}
    ):
        entry = after.get(change.key) or before[change.key]
        diff = None
        if change.change == "changed" and workspace is not None:
            diff = _unified(workspace, change.key, before[change.key], after[change.key])
        found.append(replace(change, path=entry[0], diff=diff))
    if not found and old.git_hash != new.git_hash and old.git_hash and new.git_hash:
        found.append(
            Difference(
                "code", f"model file ({new.model_ref})", "changed", old.git_hash, new.git_hash
            )
        )
    return found


def _deps_changes(old: RunView, new: RunView) -> list[Difference]:
    found = _mapping_changes(
        "environment", old.deps.get(ENVIRONMENT) or {}, new.deps.get(ENVIRONMENT) or {}
    )
    undeclared_old, undeclared_new = old.deps.get(UNDECLARED) or {}, new.deps.get(UNDECLARED) or {}
    for change in _mapping_changes("undeclared_input", undeclared_old, undeclared_new):
        found.append(replace(change, path=change.key))
    return found


def compare(old: RunView, new: RunView, workspace: Path | None = None) -> list[Difference]:
    """What differs from ``old`` to ``new``, component by component (``workspace``: where
    kept sources are found for the unified diffs of changed modules; ``None``: no diffs)."""
    found = _mapping_changes("run", old.key_parts, new.key_parts)
    found += _config_changes(old, new)
    found += _input_changes(old, new)
    found += _code_changes(old, new, workspace)
    found += _mapping_changes("model", {"function": old.model_ref}, {"function": new.model_ref})
    found += _mapping_changes("distribution", {"model": old.model_dist}, {"model": new.model_dist})
    return found + _deps_changes(old, new)


# --- why did this run (not) hit? -----------------------------------------------------------------


def _describe(view: RunView) -> str:
    return f"run {view.run_id}" + (f" ({view.name!r})" if view.name else "")


def _earlier(store: Store, view: RunView) -> RunView | None:
    """The recorded run ``view`` is best compared with: the newest earlier executed run of
    its model with the same key (the one a refused hit matched), else with the same run name,
    else the newest earlier one."""
    rows = _queries.model_runs(
        store, view.model_name, view.domain, before=view.run_id, limit=_CANDIDATES
    )
    if not rows:
        return None

    def rank(row: Sequence[Any]) -> tuple[bool, bool]:
        same_key = (row[3], row[4]) == (view.config_hash, view.git_hash)
        name = (json.loads(row[9] or "{}").get(STAMP) or {}).get(RUN_NAME)
        return (not same_key, name != view.name)

    best = min(rows, key=rank)  # min is stable: the newest among equals
    return _view(store, best)


def explain_run(store: Store, workspace: Path, run_id: str) -> WhyReport:
    """Why run ``run_id`` executed instead of being served from cache (or which run a hit
    reused): see ``WhyReport``."""
    view = load_run(store, workspace, run_id)
    subject = _describe(view)
    if view.cache_source:
        return WhyReport(
            view.run_id,
            "cache_hit",
            True,
            f"{subject} was served from cache: run {view.cache_source} executed it, and this "
            "run reused its outputs",
            compared_to=view.cache_source,
        )
    done = "executed" if view.status == "completed" else f"executed and {view.status}"
    earlier = _earlier(store, view)
    if earlier is None:
        return WhyReport(
            view.run_id,
            "first_run",
            False,
            f"{subject} {done}: it is the first completed run of model {view.model_name!r} in "
            f"domain {view.domain!r}; there is no earlier run to compare it with",
        )
    found = tuple(compare(earlier, view, workspace))
    if view.rerun_reason:
        summary = (
            f"{subject} {done} although a recorded run with its cache key existed: it was "
            f"not served because {view.rerun_reason}"
        )
        return WhyReport(
            view.run_id, "rerun", False, summary, earlier.run_id, view.rerun_reason, found
        )
    summary = (
        f"{subject} {done}: no recorded run had its cache key; the nearest earlier run of "
        f"model {view.model_name!r} is {_describe(earlier)}, created {earlier.created_at}: "
        + _count(found)
    )
    return WhyReport(view.run_id, "executed", False, summary, earlier.run_id, None, found)


def _count(found: Sequence[Difference]) -> str:
    if not found:
        return (
            "nothing recorded differs (the earlier run may have been invalidated, or the store "
            "busy when this one looked it up)"
        )
    parts = sorted({d.component for d in found})
    return f"{len(found)} difference(s), in {', '.join(parts)}"


def diff_runs(store: Store, workspace: Path, run_a: str, run_b: str) -> WhyReport:
    """What differs from run ``run_a`` to run ``run_b`` (verdict ``diff``)."""
    old, new = load_run(store, workspace, run_a), load_run(store, workspace, run_b)
    found = tuple(compare(old, new, workspace))
    summary = f"from {_describe(old)} to {_describe(new)}: " + (
        f"{len(found)} difference(s), in {', '.join(sorted({d.component for d in found}))}"
        if found
        else "nothing in their cache keys or recorded dependencies differs"
    )
    return WhyReport(new.run_id, "diff", False, summary, old.run_id, None, found)


# --- would this call hit? ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """A call as ``_precheck.cache_keys`` reads an item."""

    name: str
    config: dict[str, Any]
    inputs: dict[str, Any] | None
    year: int | None = None
    iteration: int | None = None


class _Wired:
    """The tracker with the call's own wiring (a verb may pass ``wiring=`` to ``run``), as
    ``_precheck.cache_keys`` reads it."""

    def __init__(self, tracker: Runner, wiring: Wiring) -> None:
        self._tracker = tracker
        self.settings: Settings = tracker.settings
        self.wiring = wiring
        self.worker_builder = tracker.worker_builder

    @property
    def consist(self) -> Any:
        return self._tracker.consist

    @property
    def workspace(self) -> Path:
        return self._tracker.workspace

    @property
    def domain_name(self) -> str:
        return self._tracker.domain_name

    def run(self, fn: Callable[..., Any], **kwargs: Any) -> RunOutcome:
        return self._tracker.run(fn, **kwargs)


def _call_view(probe: DryRun) -> RunView:
    """The call as a ``RunView``: its key computed as ``_precheck.cache_keys`` does."""
    tracker, call, wired = probe.tracker, probe.call, probe.call.wiring
    identity = tracker.consist.identity
    item = _Item(call.name, dict(probe.config or {}), dict(call.inputs), call.year, call.iteration)
    key = cache_keys(_Wired(tracker, wired), probe.fn, [item])[call.name]
    code = identity.resolve_code_identity(mode=probe.mode, func=wrap_model(probe.fn)).digest
    keyed = [*wired.identity_inputs, *model_identity(probe.fn), *probe.identity]
    digests = identity.compute_hash_inputs_digests(keyed)
    paths = {label: str(path) for label, path in keyed}
    return RunView(
        run_id="(this call)",
        name=call.name,
        domain=call.domain,
        model_name=wired.model if wired.model is not None else call.name,
        created_at="",
        config_hash=key,
        git_hash=code,
        key_parts={
            "year": call.year,
            "iteration": call.iteration,
            "cache_epoch": wired.cache_epoch or tracker.settings.cache_epoch,
        },
        config=dict(call.config),
        digests={label: (paths.get(label), str(d)) for label, d in digests.items()},
        model_ref=model_reference(probe.fn),
        model_dist=distribution_of(probe.code),
        status="not run",
    )


def _now(deps: Mapping[str, Any], checksum: Checksum) -> dict[str, Any]:
    """``deps`` (a run's dependency record) as the files and distributions are now."""
    modules = {}
    for name, entry in (deps.get(MODULES) or {}).items():
        path = Path(entry.get("path") or "")
        if path.is_file():
            modules[name] = {"path": str(path), "sha256": checksum(path)}
    undeclared = {t: checksum(Path(t)) for t in deps.get(UNDECLARED) or {} if Path(t).is_file()}
    recorded = dict(deps.get(ENVIRONMENT) or {})
    environment = {k: v for k, v in recorded_environment_now(recorded).items() if v is not None}
    return {MODULES: modules, UNDECLARED: undeclared, ENVIRONMENT: environment}


def _refusal(probe: DryRun, store: Store, run_id: str, meta: Mapping[str, Any]) -> str | None:
    """Why recorded run ``run_id`` would not be served to the call (as ``run`` checks a hit:
    outputs, the modules and files it used, the environment), or ``None``."""
    tracker = probe.tracker
    checksum = tracker.consist.identity.compute_file_checksum
    for rid, key, uri, recorded in _queries.output_uris(store, [run_id]):
        path = Path(tracker.consist.resolve_uri(uri))
        if not path.exists():
            return f"output {key!r} ({path}) of run {rid} is missing"
        if recorded and checksum(path) != recorded:
            return f"output {key!r} ({path}) of run {rid} was changed"
    deps = (meta.get(STAMP) or {}).get(DEPS)
    reason = verify(deps, checksum)
    changed = environment_changes(deps) if reason is None else {}
    if changed and tracker.settings.on_environment_change == "rerun":
        reason = (
            f"the environment changed since run {run_id} ({describe_changes(changed)}) and "
            'on_environment_change is "rerun"'
        )
    return reason


def _match(probe: DryRun, store: Store, call: RunView) -> tuple[str, Mapping[str, Any]] | None:
    """The newest executed completed run with the call's config, input and code hashes."""
    identity = probe.tracker.consist.identity
    inputs = None if probe.call.inputs else identity.compute_input_hash([])
    if call.config_hash is None or call.git_hash is None or not store.db_path.is_file():
        return None
    rows = _queries.executed_runs(store, call.git_hash, inputs, [call.config_hash])
    if not rows:
        return None
    meta = rows[0][2]
    return rows[0][0], json.loads(meta) if isinstance(meta, str) else dict(meta or {})


def _nearest(store: Store, call: RunView, checksum: Checksum) -> RunView | None:
    """The recorded run of the call's model with the fewest differences (then the same run
    name, then the newest), among the newest ``_CANDIDATES``."""
    if not store.db_path.is_file():
        return None
    rows = _queries.model_runs(store, call.model_name, call.domain, limit=_CANDIDATES)
    views = [_view(store, row) for row in rows]
    if not views:
        return None

    def rank(view: RunView) -> tuple[int, bool]:
        now = replace(call, deps=_now(view.deps, checksum))
        return (len(compare(view, now)), view.name != call.name)

    return min(views, key=rank)


def explain_call(store: Store, probe: DryRun) -> WhyReport:
    """Whether the call ``probe`` stopped would be served from cache, and if not, which
    recorded run is nearest and what differs (nothing is written)."""
    from trackyard._consist.identity import one_hash_per_file

    subject = f"{probe.call.domain}.{probe.call.name}"
    tracker = probe.tracker
    with one_hash_per_file(tracker.consist):
        checksum = tracker.consist.identity.compute_file_checksum
        call = _call_view(probe)
        match = _match(probe, store, call)
        if match is not None:
            return _matched(store, probe, call, match, checksum)
        nearest = _nearest(store, call, checksum)
        if nearest is None:
            return WhyReport(
                subject,
                "would_run",
                False,
                f"run {probe.call.name!r} would execute: no completed run of model "
                f"{call.model_name!r} is recorded in {store.db_path}",
            )
        found = tuple(
            compare(nearest, replace(call, deps=_now(nearest.deps, checksum)), tracker.workspace)
        )
    summary = (
        f"run {probe.call.name!r} would execute: no recorded run has its cache key; the "
        f"nearest recorded run is {_describe(nearest)}, created {nearest.created_at}: "
        + _count(found)
    )
    return WhyReport(subject, "would_run", False, summary, nearest.run_id, None, found)


def _matched(
    store: Store,
    probe: DryRun,
    call: RunView,
    match: tuple[str, Mapping[str, Any]],
    checksum: Checksum,
) -> WhyReport:
    """The answer when a recorded run has the call's key: a hit unless its checks fail."""
    run_id, meta = match
    subject = f"{probe.call.domain}.{probe.call.name}"
    reason = _refusal(probe, store, run_id, meta)
    deps = (meta.get(STAMP) or {}).get(DEPS) or {}
    if reason is None:
        changed = environment_changes(deps)
        found = tuple(
            Difference("environment", name, "changed", old, new)
            for name, (old, new) in changed.items()
        )
        note = (
            f"; it was recorded under another environment ({describe_changes(changed)}), "
            f"served under on_environment_change = {probe.tracker.settings.on_environment_change!r}"
            if changed
            else ""
        )
        summary = (
            f"run {probe.call.name!r} would be served from cache: run {run_id} has its cache "
            f"key, and its outputs and the code and files it used are unchanged{note}"
        )
        return WhyReport(subject, "would_hit", True, summary, run_id, None, found)
    recorded = load_run(store, probe.tracker.workspace, run_id)
    now = replace(call, deps=_now(deps, checksum))
    found = tuple(compare(recorded, now, probe.tracker.workspace))
    summary = (
        f"run {probe.call.name!r} would execute: run {run_id} has its cache key but would not "
        f"be served, because {reason}"
    )
    return WhyReport(subject, "would_run", False, summary, run_id, reason, found)
