"""trackyard: a plugin framework for domain trackers built on consist.

The public API is what this module exports (``__all__``). Names are loaded on first use
(module ``__getattr__``), so ``import trackyard`` costs almost nothing and listing domains
imports neither pluggy, consist nor any plugin module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trackyard._version import __version__

if TYPE_CHECKING:
    from trackyard import errors
    from trackyard._discovery import DomainInfo, Explanation
    from trackyard._sweep import ManyResult
    from trackyard.bundles import ExportReport, ImportReport, export_runs, import_runs
    from trackyard.errors import EnvironmentChangedWarning, StaleCodeError
    from trackyard.hookspecs import hookimpl
    from trackyard.recovery import AuditReport, ReconcileReport, audit, reconcile
    from trackyard.registry import (
        Registry,
        available_domains,
        available_plugins,
        explain,
        get_tracker,
        plugin_set_fingerprint,
    )
    from trackyard.settings import Settings
    from trackyard.tracker import (
        Difference,
        DomainTracker,
        RankedRun,
        RunCall,
        RunOutcome,
        WhyReport,
    )
    from trackyard.wiring import Wiring

# Public name -> the module that defines it (``errors`` is the module itself).
_WHERE = {
    "AuditReport": "trackyard.recovery",
    "Difference": "trackyard.tracker",
    "DomainInfo": "trackyard._discovery",
    "DomainTracker": "trackyard.tracker",
    "EnvironmentChangedWarning": "trackyard.errors",
    "Explanation": "trackyard._discovery",
    "ExportReport": "trackyard.bundles",
    "ImportReport": "trackyard.bundles",
    "ManyResult": "trackyard._sweep",
    "RankedRun": "trackyard.tracker",
    "ReconcileReport": "trackyard.recovery",
    "Registry": "trackyard.registry",
    "RunCall": "trackyard.tracker",
    "RunOutcome": "trackyard.tracker",
    "Settings": "trackyard.settings",
    "StaleCodeError": "trackyard.errors",
    "WhyReport": "trackyard.tracker",
    "Wiring": "trackyard.wiring",
    "audit": "trackyard.recovery",
    "available_domains": "trackyard.registry",
    "available_plugins": "trackyard.registry",
    "errors": "trackyard.errors",
    "explain": "trackyard.registry",
    "export_runs": "trackyard.bundles",
    "get_tracker": "trackyard.registry",
    "hookimpl": "trackyard.hookspecs",
    "import_runs": "trackyard.bundles",
    "plugin_set_fingerprint": "trackyard.registry",
    "reconcile": "trackyard.recovery",
}

__all__ = [
    "AuditReport",
    "Difference",
    "DomainInfo",
    "DomainTracker",
    "EnvironmentChangedWarning",
    "Explanation",
    "ExportReport",
    "ImportReport",
    "ManyResult",
    "RankedRun",
    "ReconcileReport",
    "Registry",
    "RunCall",
    "RunOutcome",
    "Settings",
    "StaleCodeError",
    "WhyReport",
    "Wiring",
    "__version__",
    "audit",
    "available_domains",
    "available_plugins",
    "errors",
    "explain",
    "export_runs",
    "get_tracker",
    "hookimpl",
    "import_runs",
    "plugin_set_fingerprint",
    "reconcile",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'trackyard' has no attribute {name!r}")
    module = importlib.import_module(where)
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
