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


def _fail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


Recorded = list[tuple[str, dict[str, Any], bool]]  # (verb, kwargs, returns one run)


def check_domain(registry: Any, name: str, distribution: str) -> DomainReport:
    """Build the domain's tracker in a temporary workspace, then run every check of the list
    ``DomainConformance`` runs too (``trackyard.testing._catalog.CHECKS``), in its order: the
    per-verb checks on every verb, the others once."""
    from trackyard.testing._catalog import CHECKS

    report = DomainReport(name, distribution)
    with tempfile.TemporaryDirectory(prefix="trackyard-doctor-") as tmp:
        tracker = _build(report, registry, name, Path(tmp))
        if tracker is None:
            return report
        recorded: Recorded | None = None
        for check in CHECKS:
            if check.key == "builds":
                continue
            if check.per_verb:
                if recorded is None:
                    recorded = _check_verbs(report, tracker, Path(tmp))
                continue
            _DOMAIN_STEPS[check.key](report, registry, tracker, recorded or [])
    return report


def _check_wiring(report: DomainReport, registry: Any, tracker: Any, recorded: Recorded) -> None:
    from trackyard.testing import _checks

    _attempt(report, _row("wiring"), _checks.check_wiring_declared, tracker)


def _check_light_import(
    report: DomainReport, registry: Any, tracker: Any, recorded: Recorded
) -> None:
    """Importing the plugin's entry-point module imports no heavy library (measured)."""
    from trackyard.testing._light import check_light_import

    label = _row("light_import")
    try:
        detail = check_light_import(registry, tracker.domain_name)
    except Exception as exc:
        report.checks.append(Check(label, "FAIL", _fail(exc)))
        return
    report.checks.append(Check(label, "ok", detail))


def _check_report_sections(
    report: DomainReport, registry: Any, tracker: Any, recorded: Recorded
) -> None:
    """Every plugin's report sections for the domain render (after the verbs recorded runs)."""
    from trackyard.testing import _checks

    label = _row("report_sections")
    try:
        drawn = _checks.check_report_sections(registry, tracker)
    except Exception as exc:
        report.checks.append(Check(label, "FAIL", _fail(exc)))
        return
    report.checks.append(Check(label, "ok", f"{drawn} section(s) drawn"))


def _row(key: str, verb: str = "") -> str:
    from trackyard.testing._catalog import CHECKS

    (check,) = [c for c in CHECKS if c.key == key]
    return check.doctor_row.format(verb=verb)


def _build(report: DomainReport, registry: Any, name: str, tmp: Path) -> Any:
    """The domain's tracker on ``tmp``, or None (the failure recorded in ``report``)."""
    from trackyard.testing import _checks

    try:
        tracker = _checks.build(registry, name, tmp, {})
    except Exception as exc:
        report.checks.append(Check(_row("builds"), "FAIL", _fail(exc)))
        return None
    report.checks.append(Check(_row("builds"), "ok", type(tracker).__qualname__))
    return tracker


def _call_verb(
    report: DomainReport, label: str, verb: Verb, declared: Mapping[str, Any] | None
) -> tuple[dict[str, Any], Any] | None:
    """Call ``verb`` with its declared example (or invented arguments): (kwargs, result), or
    None when it could not be called or raised (recorded as a skip or a failure)."""
    try:
        kwargs = verb_arguments(verb, declared)
    except LookupError as exc:
        report.checks.append(Check(label, "skip", f"{exc}; declare examples"))
        return None
    try:
        return kwargs, verb.fn(**kwargs)
    except (TrackyardError, ValueError) as exc:
        if declared is not None:
            report.checks.append(Check(label, "FAIL", _fail(exc)))
        else:  # a clean refusal of invented arguments is correct behaviour
            report.checks.append(
                Check(label, "skip", f"rejected invented arguments ({exc}); declare examples")
            )
    except Exception as exc:
        report.checks.append(Check(label, "FAIL", _fail(exc)))
    return None


def _check_verbs(report: DomainReport, tracker: Any, tmp: Path) -> Recorded:
    return [
        found
        for verb_name, verb in tracker_verbs(tracker).items()
        if (found := _check_verb(report, tracker, verb_name, verb, tmp)) is not None
    ]


def _check_verb(
    report: DomainReport, tracker: Any, verb_name: str, verb: Verb, tmp: Path
) -> tuple[str, dict[str, Any], bool] | None:
    """Call one verb and run the per-verb checks on the runs it returns (outputs and wiring
    first: when that fails the others are not run). Returns (verb, kwargs, whether it returns
    one run) when it recorded runs, else None."""
    from trackyard.testing import _checks
    from trackyard.testing._catalog import CHECKS

    label = _row("outputs", verb_name)
    examples: Mapping[str, Mapping[str, Any]] = getattr(type(tracker), "examples", None) or {}
    called = _call_verb(report, label, verb, examples.get(verb_name))
    if called is None:
        return None
    kwargs, result = called
    outcomes = _checks.outcomes_in(result)
    if not outcomes:
        report.checks.append(Check(label, "ok", "returns no runs (a query)"))
        return None
    context = _VerbContext(tracker, verb_name, kwargs, outcomes, tmp / "inputs")
    for check in (c for c in CHECKS if c.per_verb):
        step = _VERB_STEPS[check.key]
        passed = _attempt(report, check.doctor_row.format(verb=verb_name), step, context)
        if not passed and check.key == "outputs":  # no run to check further
            return None
    return verb_name, kwargs, isinstance(result, RunOutcome)


@dataclass
class _VerbContext:
    tracker: Any
    verb: str
    kwargs: dict[str, Any]
    outcomes: list[RunOutcome]
    scratch: Path


def _verb_steps() -> dict[str, Any]:
    from trackyard.testing import _checks

    return {
        "outputs": lambda c: _checks.check_outputs_and_wiring(c.tracker, c.verb, c.outcomes),
        "cache_hit": lambda c: _checks.check_cache_hit(c.tracker, c.verb, c.kwargs, c.outcomes),
        "input_change": lambda c: _checks.check_input_change_runs_again(
            c.tracker, c.verb, c.kwargs, c.scratch
        ),
        "metrics": lambda c: _checks.check_metrics(c.tracker, c.verb, c.outcomes),
    }


def _check_model_error(
    report: DomainReport, registry: Any, tracker: Any, recorded: Recorded
) -> None:
    """A model error fails the run, checked on the first verb that returns one run (it lets
    the model's error through); many-run verbs have their own check."""
    from trackyard.testing import _checks

    singles = [r for r in recorded if r[2]]
    if not singles:
        why = "no verb returns one run" if recorded else "no verb recorded a run"
        report.checks.append(Check(_row("model_error", "(one-run)"), "skip", why))
        return
    verb_name, kwargs, _ = singles[0]
    _attempt(
        report,
        _row("model_error", verb_name),
        _checks.check_model_error,
        tracker,
        verb_name,
        kwargs,
    )


def _check_many_model_error(
    report: DomainReport, registry: Any, tracker: Any, recorded: Recorded
) -> None:
    """A model error in a many-run verb (a sweep, a search) is a failed item: checked on the
    first verb that records several runs and calls ``run_many`` (``_many_error``)."""
    from trackyard.testing import _many_error

    many = {verb: kwargs for verb, kwargs, single in recorded if not single}
    tried: list[str] = []
    try:
        checked = _many_error.check_many_model_error(tracker, many, tried) if many else None
    except Exception as exc:
        report.checks.append(Check(_row("many_model_error", tried[-1]), "FAIL", _fail(exc)))
        return
    if checked is None:
        why = "no verb calls self.run_many" if many else "no verb records several runs"
        report.checks.append(Check(_row("many_model_error", "(many-run)"), "skip", why))
    else:
        report.checks.append(Check(_row("many_model_error", checked), "ok"))


# The doctor step of every check in the catalog (``builds`` is the build above); a check the
# catalog adds without a step here fails tests/kit/test_check_catalog.py.
_DOMAIN_STEPS: dict[str, Any] = {
    "wiring": _check_wiring,
    "light_import": _check_light_import,
    "report_sections": _check_report_sections,
    "model_error": _check_model_error,
    "many_model_error": _check_many_model_error,
}
_VERB_STEPS: dict[str, Any] = _verb_steps()


def doctor_steps() -> set[str]:
    """The keys of the catalog checks doctor runs (for the test that compares the lists)."""
    return {"builds", *_DOMAIN_STEPS, *_VERB_STEPS}


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
    found = _workspace_store(workspace)
    if found is None:
        return None
    ws, where = found
    report = DomainReport("workspace", str(ws))
    if fix:
        report.checks.append(_reconcile_check(ws, where))
    audit, audited = _store_audit_check(ws, where)
    report.checks.append(audit)
    if not audited:  # the audit itself raised: nothing else is checked
        return report
    report.checks.append(_outputs_check(ws, where, fix))
    report.checks.append(_undeclared_check(where["db_path"]))
    report.checks.append(_plugin_set_check(ws, where))
    report.checks.append(_sweeps_check(ws))
    return report


def _sweeps_check(ws: Path) -> Check:
    """The workspace's sweeps in flight (their records), and those a killed driver left."""
    from trackyard import _inflight

    found = _inflight.read_all(ws)
    if not found:
        return Check("sweeps in flight", "ok", "none")

    def text(sweep: _inflight.SweepState) -> str:
        r = sweep.record
        return (
            f"{r.get('id')} ({r.get('domain')} {r.get('label')}: {sweep.count('done')} done / "
            f"{sweep.count('failed')} failed / {sweep.remaining} remaining)"
        )

    flying = [text(s) for s in found if s.in_flight]
    gone = [text(s) for s in found if not s.in_flight]
    parts = [f"{len(flying)} in flight: {', '.join(flying)}"] if flying else []
    if gone:
        parts.append(
            f"{len(gone)} left by a driver that is gone (killed): {', '.join(gone)}; "
            "`trackyard doctor --fix` removes their records"
        )
    return Check("sweeps in flight", "warn" if gone else "ok", "; ".join(parts))


def _workspace_store(workspace: Path | None) -> tuple[Path, dict[str, Path]] | None:
    """The workspace folder and its store's ``db_path`` / ``run_dir``, or None without one."""
    from trackyard import recovery
    from trackyard.errors import StoreUnavailableError

    try:
        ws, store = recovery.resolve_store(workspace)
    except StoreUnavailableError:
        return None
    if not (store.db_path.exists() or store.run_dir.is_dir()):
        return None
    return ws, {"db_path": store.db_path, "run_dir": store.run_dir}


def _reconcile_check(ws: Path, where: dict[str, Path]) -> Check:
    from trackyard import recovery

    try:
        changes = recovery.reconcile(ws, **where)
    except Exception as exc:
        return Check("reconcile", "FAIL", _fail(exc))
    return Check("reconcile", "ok" if changes.ok else "FAIL", str(changes))


def _store_audit_check(ws: Path, where: dict[str, Path]) -> tuple[Check, bool]:
    """The store against its snapshots, and whether the audit ran (False: it raised)."""
    from trackyard import recovery

    try:
        found = recovery.audit(ws, **where)
    except Exception as exc:
        return Check("store audit", "FAIL", _fail(exc)), False
    hint = "" if found.ok else "\nrun `trackyard doctor --fix` to repair it from the snapshots"
    return Check("store audit", "ok" if found.ok else "FAIL", str(found) + hint), True


def _outputs_check(ws: Path, where: dict[str, Path], fix: bool) -> Check:
    from trackyard import recovery

    try:
        outputs = recovery.audit_outputs(ws, **where, fix=fix)
    except Exception as exc:
        return Check("run outputs", "FAIL", _fail(exc))
    hint = (
        ""
        if outputs.ok
        else "\nrun `trackyard doctor --fix` to mark them so they are never served as hits"
    )
    return Check("run outputs", "ok" if outputs.ok else "FAIL", str(outputs) + hint)


def _plugin_set_check(ws: Path, where: dict[str, Path]) -> Check:
    """The plugin sets the workspace's runs recorded against the installed one."""
    import trackyard
    from trackyard import recovery

    installed = trackyard.plugin_set_fingerprint()
    recorded = recovery.recorded_plugin_sets(ws, **where)
    other = {fp: n for fp, n in recorded.items() if fp != installed}
    if not recorded:
        return Check("plugin set", "skip", "no run records a plugin set yet")
    if not other:
        return Check(
            "plugin set", "ok", f"all {sum(recorded.values())} runs used the installed set"
        )
    listed = ", ".join(f"{fp[:12]} ({n} runs)" for fp, n in other.items())
    return Check(
        "plugin set",
        "warn",
        f"runs were recorded with other plugin sets: {listed}; installed set is "
        f"{installed[:12]}. Restore the recorded set from its lock with "
        "`trackyard install -r LOCK` to reproduce them exactly",
    )


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
