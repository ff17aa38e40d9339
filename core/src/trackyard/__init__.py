"""trackyard: a plugin framework for domain trackers built on consist.

The public API is what this module exports. ``import trackyard`` and listing domains import
neither consist nor any plugin module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trackyard import errors
from trackyard.hookspecs import hookimpl
from trackyard.parallel import ManyResult
from trackyard.registry import DomainInfo, Explanation, Registry, default_registry
from trackyard.settings import Settings
from trackyard.tracker import DomainTracker, RankedRun, RunCall, RunOutcome
from trackyard.wiring import Wiring

if TYPE_CHECKING:
    from trackyard.recovery import AuditReport, ReconcileReport, audit, reconcile

__version__ = "0.1.0"

# Recovery is for repair tools, not every import: loaded on first use (keeps listing light).
_LAZY = {"AuditReport", "ReconcileReport", "audit", "reconcile"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from trackyard import recovery

        return getattr(recovery, name)
    raise AttributeError(f"module 'trackyard' has no attribute {name!r}")


__all__ = [
    "AuditReport",
    "ReconcileReport",
    "DomainInfo",
    "DomainTracker",
    "Explanation",
    "ManyResult",
    "RankedRun",
    "Registry",
    "RunCall",
    "RunOutcome",
    "Settings",
    "Wiring",
    "__version__",
    "available_domains",
    "audit",
    "available_plugins",
    "errors",
    "explain",
    "get_tracker",
    "hookimpl",
    "plugin_set_fingerprint",
    "reconcile",
]


def available_domains() -> list[DomainInfo]:
    """Every installed claim on a domain name with its status, from entry-point metadata only.

    Status is ``available`` until the plugin is loaded (``loaded``) or fails (``broken``);
    ``conflict`` when several distributions claim the name and no pin chooses; ``disabled`` for
    a claimant a pin did not choose.
    """
    return default_registry().available_domains()


def available_plugins() -> list[DomainInfo]:
    """Every installed cross-cutting plugin (entry-point group ``trackyard.plugins``)."""
    return default_registry().available_plugins()


def explain(name: str) -> Explanation:
    """Which distribution provides ``name``, every other claimant, and why; imports nothing."""
    return default_registry().explain(name)


def get_tracker(name: str, *, workspace: Any = None, **options: Any) -> DomainTracker:
    """Build the tracker of domain ``name``.

    Imports only the plugin that provides ``name`` (plus cross-cutting plugins), validates it,
    resolves settings (keywords > environment > pyproject.toml > defaults) and returns a
    ``DomainTracker`` owning a consist ``Tracker`` on ``workspace`` (default ``./.trackyard``).

    Raises ``UnknownDomainError``, ``DomainConflictError``, ``PluginLoadError``,
    ``PluginContractError`` or ``ConfigValidationError``.
    """
    return default_registry().get_tracker(name, workspace=workspace, **options)


def plugin_set_fingerprint() -> str:
    """sha256 of the plugins in use (sorted domain, distribution, version, entry point).

    Every run records it in ``meta["trackyard"]["plugin_set"]``; compare it with a workspace's
    runs to see whether they were made with the same plugins. Imports no plugin code.
    """
    return default_registry().plugin_set_fingerprint()
