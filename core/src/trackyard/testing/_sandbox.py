"""Registries for tests: in-process plugins without installing anything, or a chosen few
installed plugins only. Both are real ``trackyard.Registry`` objects."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from trackyard._discovery import DOMAIN_GROUP, PLUGIN_GROUP, Claim, DomainInfo, normalize
from trackyard.hookspecs import hookimpl
from trackyard.policy import Verdict
from trackyard.registry import Registry
from trackyard.tracker import DomainTracker

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


@dataclass(frozen=True)
class _Distribution:
    name: str
    version: str


@dataclass(frozen=True)
class InProcessEntryPoint:
    """An entry point whose target is an object already in memory (no distribution installed)."""

    name: str
    value: str
    group: str
    dist: _Distribution
    target: object = field(compare=False)

    def load(self) -> object:
        return self.target


def _installed(group: str) -> Iterable[EntryPoint]:
    from importlib_metadata import entry_points

    return entry_points(group=group)


def class_plugin(name: str, cls: type[DomainTracker]) -> types.ModuleType:
    """A plugin module that registers ``cls`` as domain ``name`` (for tests)."""
    module = types.ModuleType(f"trackyard_inprocess_{name}")

    @hookimpl
    def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
        register(name, cls)

    module.register_domains = register_domains  # type: ignore[attr-defined]
    return module


def _workers(claim: Claim) -> Callable[..., Any]:
    """Worker processes rebuild installed domains through the default registry; an in-process
    one exists in this process only, so ``run_many`` refuses to send it to workers."""
    from trackyard._workers import sandbox_refusal
    from trackyard.registry import get_tracker

    if isinstance(claim.entry_point, InProcessEntryPoint):
        return sandbox_refusal(claim.name)
    return get_tracker


def _admit_in_process(ep: EntryPoint, verdict: Verdict) -> Verdict:
    """In-process plugins skip the location and ownership checks of the plugin policy (they
    have no files: the test itself handed the objects over). Installed plugins, and allow/deny
    lists, are judged exactly as by ``trackyard.Registry``."""
    if verdict.status == "untrusted" and isinstance(ep, InProcessEntryPoint):
        return Verdict()
    return verdict


class PluginSandbox:
    """Register in-process plugins, then use [`registry`][trackyard.testing.PluginSandbox.registry]
    (or [`get_tracker`][trackyard.testing.PluginSandbox.get_tracker]) as usual.

    ``add("traffic", TrafficTracker)`` registers a tracker class; ``add("traffic", module)``
    registers a plugin module (anything with ``@trackyard.hookimpl`` functions);
    ``add("org", module, group="trackyard.plugins")`` a cross-cutting plugin.
    """

    def __init__(self, *, include_installed: bool = False) -> None:
        self.include_installed = include_installed
        self._entry_points: list[InProcessEntryPoint] = []
        self._registry: Registry | None = None
        self.on_change: Callable[[Registry], None] | None = None

    def add(
        self,
        name: str,
        plugin: object,
        *,
        group: str = DOMAIN_GROUP,
        distribution: str | None = None,
        version: str = "0.0.0",
    ) -> None:
        if group not in (DOMAIN_GROUP, PLUGIN_GROUP):
            raise ValueError(f"group must be {DOMAIN_GROUP!r} or {PLUGIN_GROUP!r}, got {group!r}")
        if isinstance(plugin, type) and issubclass(plugin, DomainTracker):
            plugin = class_plugin(name, plugin)
        dist = _Distribution(distribution or f"inprocess-{name}", version)
        value = getattr(plugin, "__name__", type(plugin).__name__)
        self._entry_points.append(InProcessEntryPoint(name, value, group, dist, plugin))
        self._registry = None
        if self.on_change is not None:
            self.on_change(self.registry)

    def _read(self, group: str) -> list[Any]:
        found: list[Any] = [ep for ep in self._entry_points if ep.group == group]
        if self.include_installed:
            found.extend(_installed(group))
        return found

    @property
    def registry(self) -> Registry:
        """A fresh [`trackyard.Registry`][] over the plugins added so far."""
        if self._registry is None:
            reader = cast("Callable[[str], Iterable[EntryPoint]]", self._read)
            self._registry = Registry(
                entry_points=reader, review=_admit_in_process, workers=_workers
            )
        return self._registry

    def get_tracker(self, name: str, **options: Any) -> DomainTracker:
        return self.registry.get_tracker(name, **options)

    def available_domains(self) -> list[DomainInfo]:
        return self.registry.available_domains()


def isolated_registry(*names: str) -> Registry:
    """A registry that sees only the installed plugins named (by domain, entry-point name or
    distribution); an unknown name raises ``LookupError`` listing what is installed."""
    wanted = {normalize(n) for n in names}
    seen: set[str] = set()
    everything = {g: list(_installed(g)) for g in (DOMAIN_GROUP, PLUGIN_GROUP)}
    for eps in everything.values():
        for ep in eps:
            for key in (ep.name, ep.dist.name if ep.dist else ""):
                if normalize(key) in wanted:
                    seen.add(normalize(key))
    missing = wanted - seen
    if missing:
        installed = sorted({ep.name for eps in everything.values() for ep in eps})
        raise LookupError(
            f"no installed plugin named {sorted(missing)}; installed: {', '.join(installed)}"
        )

    def read(group: str) -> list[EntryPoint]:
        return [
            ep
            for ep in everything[group]
            if normalize(ep.name) in wanted or (ep.dist and normalize(ep.dist.name) in wanted)
        ]

    return Registry(entry_points=read)
