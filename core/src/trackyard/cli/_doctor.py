"""The checks behind ``trackyard doctor``: load, validate and exercise each domain plugin.

Verbs are called with the tracker class's ``examples`` (``{"verb": {kwargs}}``) when it declares
them, else with small invented arguments for their required parameters (short strings, empty
dicts); a verb that cleanly rejects invented arguments (a ``TrackyardError`` or ``ValueError``)
is skipped, not failed. Every domain is checked in its own temporary workspace.
"""

from __future__ import annotations

import inspect
import tempfile
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackyard import RunOutcome
from trackyard.cli._verbs import Verb, tracker_verbs
from trackyard.errors import TrackyardError


@dataclass
class Check:
    name: str
    status: str  # "ok", "FAIL", "warn" or "skip"; only FAIL fails doctor
    detail: str = ""


@dataclass
class DomainReport:
    domain: str
    distribution: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "FAIL" for c in self.checks)


_INVENTED: dict[Any, Any] = {str: "doctor", int: 1, float: 0.5, bool: False}


def _invent(param: inspect.Parameter, annotation: Any) -> Any:
    """A harmless value for a required parameter, or raise ``LookupError``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        return None
    if origin is typing.Literal:
        return args[0]
    container = origin or annotation
    if container in _INVENTED:
        return _INVENTED[container]
    if container in (dict, Mapping) or annotation is Any:
        return {}
    if container in (list, tuple):
        return []
    raise LookupError(f"cannot invent a value for parameter {param.name!r}")


def verb_arguments(verb: Verb, examples: Mapping[str, Any] | None) -> dict[str, Any]:
    if examples is not None:
        return dict(examples)
    out = {}
    for param in verb.signature.parameters.values():
        if param.default is inspect.Parameter.empty and param.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            out[param.name] = _invent(param, verb.hints.get(param.name, Any))
    return out


def _attempt(report: DomainReport, name: str, fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except Exception as exc:
        report.checks.append(Check(name, "FAIL", f"{type(exc).__name__}: {exc}"))
        return False
    report.checks.append(Check(name, "ok"))
    return True


def check_domain(registry: Any, name: str, distribution: str) -> DomainReport:
    from trackyard.testing import _checks

    report = DomainReport(name, distribution)
    with tempfile.TemporaryDirectory(prefix="trackyard-doctor-") as tmp:
        try:
            tracker = _checks.build(registry, name, Path(tmp), {})
        except Exception as exc:
            report.checks.append(Check("loads and builds", "FAIL", f"{type(exc).__name__}: {exc}"))
            return report
        report.checks.append(Check("loads and builds", "ok", type(tracker).__qualname__))
        _attempt(report, "wiring declared", _checks.check_wiring_declared, tracker)
        examples: Mapping[str, Mapping[str, Any]] = getattr(type(tracker), "examples", None) or {}
        recording: list[tuple[str, dict[str, Any]]] = []
        singles: list[tuple[str, dict[str, Any]]] = []
        for verb_name, verb in tracker_verbs(tracker).items():
            label = f"verb {verb_name}"
            declared = examples.get(verb_name)
            try:
                kwargs = verb_arguments(verb, declared)
            except LookupError as exc:
                report.checks.append(Check(label, "skip", f"{exc}; declare examples"))
                continue
            try:
                result = verb.fn(**kwargs)
            except (TrackyardError, ValueError) as exc:
                if declared is not None:
                    report.checks.append(Check(label, "FAIL", f"{type(exc).__name__}: {exc}"))
                else:  # a clean refusal of invented arguments is correct behaviour
                    report.checks.append(
                        Check(
                            label, "skip", f"rejected invented arguments ({exc}); declare examples"
                        )
                    )
                continue
            except Exception as exc:
                report.checks.append(Check(label, "FAIL", f"{type(exc).__name__}: {exc}"))
                continue
            outcomes = _checks.outcomes_in(result)
            if not outcomes:
                report.checks.append(Check(label, "ok", "returns no runs (a query)"))
                continue
            if not _attempt(
                report, label, _checks.check_outputs_and_wiring, tracker, verb_name, outcomes
            ):
                continue
            # The model-error check wants a verb that returns one run and so lets the model's
            # error through; many-run verbs (sweeps, searches) record failures and go on.
            single = isinstance(result, RunOutcome)
            recording.append((verb_name, kwargs))
            if single:
                singles.append((verb_name, kwargs))
            _attempt(
                report,
                f"{label}: repeat is a cache hit",
                _checks.check_cache_hit,
                tracker,
                verb_name,
                kwargs,
                outcomes,
            )
            _attempt(
                report,
                f"{label}: an edited input file runs again",
                _checks.check_input_change_runs_again,
                tracker,
                verb_name,
                kwargs,
                Path(tmp) / "inputs",
            )
            _attempt(
                report,
                f"{label}: metrics rankable",
                _checks.check_metrics,
                tracker,
                verb_name,
                outcomes,
            )
        if recording:
            verb_name, kwargs = (singles or recording)[0]
            _attempt(
                report,
                f"verb {verb_name}: model error fails the run",
                _checks.check_model_error,
                tracker,
                verb_name,
                kwargs,
            )
        else:
            report.checks.append(Check("runs recorded", "skip", "no verb recorded a run"))
    return report


def run_doctor(name: str | None) -> list[DomainReport]:
    """Check every discovered domain (or only ``name``); returns one report per claim."""
    from trackyard.registry import Registry

    registry = Registry()
    infos = registry.available_domains()
    if name is not None:
        infos = [i for i in infos if i.name == name]
        if not infos:
            raise registry.unknown_domain(name)
    reports = []
    for info in infos:
        if info.status == "disabled":  # a pin chose another claimant; that one is checked
            continue
        if info.status not in ("available", "loaded"):
            # broken, conflict, untrusted, incompatible...: reported, never imported here
            report = DomainReport(info.name, info.distribution)
            report.checks.append(Check("discovery", "FAIL", f"{info.status}: {info.error}"))
            reports.append(report)
            continue
        reports.append(check_domain(registry, info.name, info.distribution))
    return reports


def check_workspace(workspace: Path | None, fix: bool) -> DomainReport | None:
    """Audit a workspace's store against its JSON snapshots (repairing it with ``fix``) and
    compare the plugin set its runs recorded with the installed one. The store and run folder
    are those settings resolve for ``workspace`` (as ``get_tracker`` does). ``None`` when the
    workspace holds no store."""
    import trackyard
    from trackyard import recovery
    from trackyard.errors import StoreUnavailableError

    try:
        ws, store = recovery.resolve_store(workspace)
    except StoreUnavailableError:
        return None
    if not (store.db_path.exists() or store.run_dir.is_dir()):
        return None
    where = {"db_path": store.db_path, "run_dir": store.run_dir}
    report = DomainReport("workspace", str(ws))
    if fix:
        try:
            changes = recovery.reconcile(ws, **where)
        except Exception as exc:
            report.checks.append(Check("reconcile", "FAIL", f"{type(exc).__name__}: {exc}"))
        else:
            status = "FAIL" if changes.errors else "ok"
            report.checks.append(Check("reconcile", status, str(changes)))
    try:
        found = recovery.audit(ws, **where)
    except Exception as exc:
        report.checks.append(Check("store audit", "FAIL", f"{type(exc).__name__}: {exc}"))
        return report
    hint = "" if found.ok else "\nrun `trackyard doctor --fix` to repair it from the snapshots"
    report.checks.append(Check("store audit", "ok" if found.ok else "FAIL", str(found) + hint))
    try:
        outputs = recovery.audit_outputs(ws, **where, fix=fix)
    except Exception as exc:
        report.checks.append(Check("run outputs", "FAIL", f"{type(exc).__name__}: {exc}"))
    else:
        hint = (
            ""
            if outputs.ok
            else "\nrun `trackyard doctor --fix` to mark them so they are never served as hits"
        )
        status = "ok" if outputs.ok else "FAIL"
        report.checks.append(Check("run outputs", status, str(outputs) + hint))
    report.checks.append(_undeclared_check(store.db_path))
    installed = trackyard.plugin_set_fingerprint()
    recorded = recovery.recorded_plugin_sets(ws, **where)
    other = {fp: n for fp, n in recorded.items() if fp != installed}
    if not recorded:
        report.checks.append(Check("plugin set", "skip", "no run records a plugin set yet"))
    elif not other:
        report.checks.append(
            Check("plugin set", "ok", f"all {sum(recorded.values())} runs used the installed set")
        )
    else:
        listed = ", ".join(f"{fp[:12]} ({n} runs)" for fp, n in other.items())
        report.checks.append(
            Check(
                "plugin set",
                "warn",
                f"runs were recorded with other plugin sets: {listed}; installed set is "
                f"{installed[:12]}. Restore the recorded set from its lock with "
                "`trackyard install -r LOCK` to reproduce them exactly",
            )
        )
    return report


def _undeclared_check(db_path: Path) -> Check:
    """Runs that read files they did not declare (recorded and verified before every hit,
    but not in the key: declare them)."""
    from trackyard import _queries
    from trackyard._store import lock_timeout

    if not db_path.exists():
        return Check("undeclared inputs", "skip", "no store yet")
    try:
        found = _queries.undeclared_reads(db_path, lock_timeout())
    except Exception as exc:
        return Check("undeclared inputs", "FAIL", f"{type(exc).__name__}: {exc}")
    if not found:
        return Check("undeclared inputs", "ok", "no run read a file it did not declare")
    files = sorted({f for _, _, listed in found for f in listed})
    shown = "; ".join(
        f"{name} ({run_id}): {', '.join(listed)}" for run_id, name, listed in found[:5]
    )
    more = f"; and {len(found) - 5} more runs" if len(found) > 5 else ""
    return Check(
        "undeclared inputs",
        "warn",
        f"{len(found)} run(s) read {len(files)} file(s) they did not declare (verified before "
        f"every hit, but not in the cache key): {shown}{more}. Declare them as inputs= or as "
        "a pathlib.Path in the config, or set strict_inputs = true to refuse such reads",
    )
