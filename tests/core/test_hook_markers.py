"""pluggy's hookimpl markers: which are honoured (tryfirst, trylast, firstresult, wrapper=True)
and which are refused (hookwrapper=True, optionalhook=True), and the call order they act on.

The plugins are in-process modules handed to a real registry (``trackyard.testing``); the
trackers are built on real consist stores (DuckDB files) in the test's folder.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from trackyard import DomainTracker, Wiring, hookimpl
from trackyard.errors import PluginContractError, PluginHookError
from trackyard.testing import PluginSandbox, class_plugin

PLUGINS = "trackyard.plugins"


class AcmeTracker(DomainTracker):
    wiring = Wiring(model="acme_model", tags=("acme",))


def _module(name: str, *hooks: Callable[..., Any]) -> types.ModuleType:
    """A plugin module named ``name`` holding the given hookimpl functions."""
    module = types.ModuleType(name)
    for fn in hooks:
        setattr(module, fn.__name__, fn)
    return module


def _domain(*hooks: Callable[..., Any]) -> types.ModuleType:
    """The domain plugin of ``acme``: registers AcmeTracker, plus ``hooks``."""
    module = class_plugin("acme", AcmeTracker)
    module.__name__ = "acme_plugin"
    for fn in hooks:
        setattr(module, fn.__name__, fn)
    return module


def _verb_plugin(label: str, **marks: bool) -> Callable[..., None]:
    @hookimpl(**marks)
    def register_verbs(domain: str, register: Callable[..., None]) -> None:
        register(f"from_{label}", lambda tracker: label)

    return register_verbs


def _sandbox(domain: types.ModuleType, **cross: types.ModuleType) -> PluginSandbox:
    """A sandbox with domain ``acme`` and the cross-cutting plugins, one distribution each."""
    sandbox = PluginSandbox()
    sandbox.add("acme", domain, distribution="acme-dist")
    for dist, module in cross.items():
        sandbox.add(dist, module, group=PLUGINS, distribution=dist)
    return sandbox


def test_call_order_without_markers(workdir: Path) -> None:
    """Without markers the domain's plugin runs first, then cross-cutting plugins by name."""
    sandbox = _sandbox(
        _domain(_verb_plugin("own")),
        zzz=_module("zzz_site", _verb_plugin("zzz")),
        aaa=_module("aaa_site", _verb_plugin("aaa")),
    )
    tracker = sandbox.get_tracker("acme")
    assert list(tracker.verbs) == ["from_own", "from_aaa", "from_zzz"]
    assert sandbox.registry.hook_order("acme", "register_verbs") == [
        "acme-dist:acme_plugin",
        "aaa:aaa_site",
        "zzz:zzz_site",
    ]


def test_registration_order_does_not_depend_on_discovery_order(workdir: Path) -> None:
    """Plugins handed over in another order are still called in the documented order."""
    orders = []
    for names in (("aaa", "mmm", "zzz"), ("zzz", "aaa", "mmm"), ("mmm", "zzz", "aaa")):
        cross = {n: _module(f"{n}_site", _verb_plugin(n)) for n in names}
        tracker = _sandbox(_domain(_verb_plugin("own")), **cross).get_tracker("acme")
        orders.append(list(tracker.verbs))
    assert orders == [["from_own", "from_aaa", "from_mmm", "from_zzz"]] * 3


def test_tryfirst_cross_cutting_impl_runs_before_the_others(workdir: Path) -> None:
    """A tryfirst impl in a cross-cutting plugin runs before the domain's own and the others."""
    sandbox = _sandbox(
        _domain(_verb_plugin("own")),
        aaa=_module("aaa_site", _verb_plugin("aaa")),
        zzz=_module("zzz_site", _verb_plugin("zzz", tryfirst=True)),
    )
    assert list(sandbox.get_tracker("acme").verbs) == ["from_zzz", "from_own", "from_aaa"]


def test_trylast_impl_runs_after_the_others(workdir: Path) -> None:
    """A trylast impl runs after every other one; its default_wiring is merged last and wins."""

    @hookimpl(trylast=True)
    def default_wiring(domain: str) -> Wiring:
        return Wiring(model="from_aaa")

    @hookimpl
    def zzz_wiring(domain: str) -> Wiring:
        return Wiring(model="from_zzz")

    zzz = _module("zzz_site", _verb_plugin("zzz"))
    zzz.default_wiring = hookimpl(specname="default_wiring")(zzz_wiring)  # type: ignore[attr-defined]
    sandbox = _sandbox(
        _domain(_verb_plugin("own")),
        aaa=_module("aaa_site", _verb_plugin("aaa", trylast=True), default_wiring),
        zzz=zzz,
    )
    tracker = sandbox.get_tracker("acme")
    assert list(tracker.verbs) == ["from_own", "from_zzz", "from_aaa"]
    assert tracker.wiring.model == "from_aaa"


def test_build_tracker_firstresult_stops_at_the_first_tracker(workdir: Path) -> None:
    """build_tracker is firstresult: once a cross-cutting plugin returns a Tracker, the next
    cross-cutting plugin and the domain's own build_tracker are not called."""
    called: list[str] = []

    def build(label: str, store: str | None) -> Callable[..., Any]:
        @hookimpl
        def build_tracker(domain: str, settings: Any) -> Any:
            called.append(label)
            if store is None:
                return None
            from consist import Tracker

            root = workdir / store
            root.mkdir(exist_ok=True)
            return Tracker(run_dir=root / "runs", db_path=root / f"{store}.duckdb")

        return build_tracker

    sandbox = _sandbox(
        _domain(build("own", "own")),
        aaa=_module("aaa_site", build("aaa", None)),
        mmm=_module("mmm_site", build("mmm", "mmm")),
        zzz=_module("zzz_site", build("zzz", "zzz")),
    )
    tracker = sandbox.get_tracker("acme")
    assert called == ["aaa", "mmm"]
    assert Path(tracker.consist.db_path).name == "mmm.duckdb"


def test_domain_build_tracker_is_asked_after_cross_cutting_ones(workdir: Path) -> None:
    """The domain's own build_tracker is the fallback when every cross-cutting one passes."""
    called: list[str] = []

    @hookimpl
    def build_tracker(domain: str) -> None:
        called.append("own")

    @hookimpl
    def site_build(domain: str) -> None:
        called.append("site")

    site = _module("aaa_site")
    site.build_tracker = hookimpl(specname="build_tracker")(site_build)  # type: ignore[attr-defined]
    tracker = _sandbox(_domain(build_tracker), aaa=site).get_tracker("acme")
    assert called == ["site", "own"]
    assert Path(tracker.consist.db_path) == workdir / ".trackyard" / "provenance.duckdb"


def test_new_style_wrapper_wraps_the_call_and_may_change_the_result(workdir: Path) -> None:
    """A wrapper=True impl runs code before and after the other impls and sees and alters
    their results."""
    events: list[str] = []

    @hookimpl
    def default_wiring(domain: str) -> Wiring:
        events.append("own")
        return Wiring(tags=("own",))

    @hookimpl(wrapper=True)
    def site_wiring(domain: str) -> Generator[None, list[Wiring], list[Wiring]]:
        events.append("before")
        results = yield
        events.append(f"after {len(results)} result(s)")
        return [*results, Wiring(tags=("wrapped",))]

    site = _module("aaa_site")
    site.default_wiring = site_wiring  # type: ignore[attr-defined]
    tracker = _sandbox(_domain(default_wiring), aaa=site).get_tracker("acme")
    assert events == ["before", "own", "after 1 result(s)"]
    assert tracker.wiring.tags == ("acme", "own", "wrapped")


def test_old_style_hookwrapper_is_refused(workdir: Path) -> None:
    """hookwrapper=True fails loading with PluginContractError naming plugin, hook, marker."""

    @hookimpl(hookwrapper=True)
    def default_wiring(domain: str) -> Generator[None, Any, None]:
        yield

    sandbox = _sandbox(_domain(), aaa=_module("aaa_site", default_wiring))
    with pytest.raises(PluginContractError) as info:
        sandbox.get_tracker("acme")
    assert str(info.value) == (
        "plugin 'aaa:aaa_site' marks hook 'default_wiring' with hookwrapper=True, which "
        "trackyard refuses: old-style wrappers are deprecated by pluggy; write a new-style "
        "wrapper with @trackyard.hookimpl(wrapper=True), whose 'result = yield' gets the "
        "result itself"
    )
    assert {i.name: i.status for i in sandbox.registry.available_plugins()}["aaa"] == "broken"


def test_optionalhook_is_refused(workdir: Path) -> None:
    """optionalhook=True (an impl of a hook trackyard may not have) fails loading."""

    @hookimpl(optionalhook=True)
    def before_runs(domain: str) -> None:
        pass

    sandbox = _sandbox(_domain(before_runs))
    with pytest.raises(PluginContractError) as info:
        sandbox.get_tracker("acme")
    assert str(info.value) == (
        "plugin 'acme-dist:acme_plugin' marks hook 'before_runs' with optionalhook=True, which "
        "trackyard refuses: trackyard's hooks are fixed (trackyard.hookspecs), so a hookimpl "
        "must implement one of them; remove the marker"
    )


def test_raising_wrapper_is_reported_with_its_plugin(workdir: Path) -> None:
    """A wrapper that raises surfaces as PluginHookError naming the wrapper's plugin."""

    @hookimpl(wrapper=True)
    def register_verbs(domain: str) -> Generator[None, Any, Any]:
        yield
        raise RuntimeError("audit log unreachable")

    sandbox = _sandbox(_domain(_verb_plugin("own")), aaa=_module("aaa_site", register_verbs))
    with pytest.raises(PluginHookError) as info:
        sandbox.get_tracker("acme")
    assert str(info.value) == (
        "plugin 'aaa:aaa_site' raised in hook 'register_verbs' for domain 'acme': "
        "RuntimeError: audit log unreachable"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_wrapper_returning_a_wrong_type_is_a_contract_error(workdir: Path) -> None:
    """A build_tracker wrapper that replaces the result with a non-Tracker names its plugin."""

    @hookimpl(wrapper=True)
    def build_tracker(domain: str) -> Generator[None, Any, Any]:
        yield
        return "not a tracker"

    sandbox = _sandbox(_domain(), aaa=_module("aaa_site", build_tracker))
    with pytest.raises(PluginContractError) as info:
        sandbox.get_tracker("acme")
    assert str(info.value) == (
        "plugin 'aaa:aaa_site' returned str from build_tracker for domain 'acme'; "
        "return a consist.Tracker or None"
    )


def test_register_callback_errors_name_the_calling_plugin(workdir: Path) -> None:
    """A verb registered by a cross-cutting plugin that clashes is blamed on that plugin."""
    sandbox = _sandbox(
        _domain(_verb_plugin("own")),
        aaa=_module("aaa_site", _verb_plugin("own")),
    )
    with pytest.raises(PluginContractError) as info:
        sandbox.get_tracker("acme")
    assert str(info.value) == (
        "plugin 'aaa:aaa_site' registered verb 'from_own' for domain 'acme', which already "
        "exists on the tracker; choose another name"
    )
