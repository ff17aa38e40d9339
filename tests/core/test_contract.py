"""The plugin contract: validation of hooks and registrations, and every hook's effect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trackyard import Registry, Wiring
from trackyard.errors import PluginContractError, PluginHookError

FakeDist = Callable[..., Path]
Source = Callable[..., str]


def _domain(fake_dist: FakeDist, source: str, name: str = "acme", dist: str = "acme-dist") -> None:
    fake_dist(dist, {"trackyard.domains": {name: "{mod}plugin"}}, {"{mod}plugin": source})


def test_unknown_hook_name_is_rejected(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A hookimpl whose name is not in the spec fails loading with PluginContractError."""
    extra = "\n@hookimpl\ndef register_domain(register):\n    pass\n"
    _domain(fake_dist, tracker_module("acme", extra))
    registry = Registry()
    with pytest.raises(PluginContractError, match="unknown hook 'register_domain'") as info:
        registry.get_tracker("acme")
    assert "domain 'acme' from distribution 'acme-dist'" in str(info.value)
    assert {i.name: i.status for i in registry.available_domains()}["acme"] == "broken"


def test_hookimpl_with_extra_argument_leaves_nothing_registered(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A hookimpl asking for an argument the spec lacks is rejected and registers nothing."""
    extra = (
        "\n@hookimpl\ndef default_wiring(domain, settings):\n    return None\n"
        "\n@hookimpl\ndef before_run(domain, call, colour):\n    pass\n"
    )
    _domain(fake_dist, tracker_module("acme", extra))
    registry = Registry()
    with pytest.raises(PluginContractError, match=r"Argument\(s\) \{'colour'\}"):
        registry.get_tracker("acme")
    # Nothing was kept half-registered: asking for the domain's hooks validates it afresh.
    with pytest.raises(PluginContractError, match=r"Argument\(s\) \{'colour'\}"):
        registry.hook_order("acme", "default_wiring")
    assert {i.name: i.status for i in registry.available_domains()}["acme"] == "broken"


def test_registering_a_non_tracker_class(workdir: Path, fake_dist: FakeDist) -> None:
    """Registering something that is not a DomainTracker subclass names the plugin."""
    source = (
        "from trackyard import hookimpl\n"
        "class NotATracker:\n    pass\n"
        "@hookimpl\ndef register_domains(register):\n    register('acme', NotATracker)\n"
    )
    _domain(fake_dist, source)
    with pytest.raises(
        PluginContractError, match="must be a trackyard.DomainTracker subclass"
    ) as info:
        Registry().get_tracker("acme")
    assert "plugin 'acme-dist:fake" in str(info.value)
    assert "for domain 'acme'" in str(info.value)


def test_registering_under_another_name(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A class registered under a name the distribution does not declare is refused."""
    _domain(fake_dist, tracker_module("calibration"))
    with pytest.raises(
        PluginContractError,
        match=r"registered domain 'calibration', but its distribution declares entry point\(s\) \['acme'\]",
    ):
        Registry().get_tracker("acme")


def test_registering_nothing(workdir: Path, fake_dist: FakeDist) -> None:
    """An entry point whose module registers no tracker under its name is refused."""
    _domain(fake_dist, "import trackyard\n")
    with pytest.raises(PluginContractError, match="registered no tracker under that name"):
        Registry().get_tracker("acme")


def test_raising_hook_is_reported_with_plugin_and_hook(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A hook that raises surfaces as PluginHookError naming the plugin and the hook."""
    extra = "\n@hookimpl\ndef default_wiring(domain, settings):\n    raise KeyError('oops')\n"
    _domain(fake_dist, tracker_module("acme", extra))
    with pytest.raises(
        PluginHookError, match="raised in hook 'default_wiring' for domain 'acme': KeyError"
    ) as info:
        Registry().get_tracker("acme")
    assert isinstance(info.value.__cause__, KeyError)


SITE_PLUGIN = """
from trackyard import Wiring, hookimpl

EVENTS = []

@hookimpl
def default_wiring(domain, settings):
    return Wiring(model="site_model", tags=("site",), facets={"org": "acme"})

@hookimpl
def register_verbs(domain, register):
    register("shout", lambda tracker, text: f"{tracker.domain_name}:{text.upper()}")

@hookimpl
def before_run(domain, call):
    EVENTS.append(("before", domain, call.name, call.model))

@hookimpl
def after_run(domain, call, outcome):
    EVENTS.append(("after", domain, call.name, outcome.cache_hit))

@hookimpl
def run_failed(domain, call, error):
    EVENTS.append(("failed", domain, call.name, str(error)))
"""


def test_cross_cutting_plugin_wiring_verbs_and_observers(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A trackyard.plugins plugin merges wiring last, adds verbs and observes every run."""
    own_wiring = (
        "\n@hookimpl\ndef default_wiring(domain, settings):\n"
        "    return Wiring(model='own_model', tags=('own',), facets={'org': 'own', 'team': 'x'})\n"
    )
    _domain(fake_dist, tracker_module("acme", own_wiring))
    fake_dist(
        "site-policy", {"trackyard.plugins": {"site": "{mod}site"}}, {"{mod}site": SITE_PLUGIN}
    )
    tracker = Registry().get_tracker("acme")
    assert tracker.wiring.model == "site_model"
    assert tracker.wiring.tags == ("acme", "own", "site")
    assert tracker.wiring.outputs == ("table",)
    assert tracker.wiring.facets == {"org": "acme", "team": "x"}
    assert tracker.shout("hi") == "acme:HI"
    assert "shout" in tracker.verbs
    import sys

    site = next(m for n, m in sys.modules.items() if n.endswith("site") and hasattr(m, "EVENTS"))
    outcome = tracker.go(name="first", config={"x": 1})
    assert outcome.result.run.model_name == "site_model"
    assert sorted(outcome.result.run.tags) == ["acme", "own", "site"]
    assert site.EVENTS == [
        ("before", "acme", "first", "site_model"),
        ("after", "acme", "first", False),
    ]


def test_verb_may_not_shadow_a_method(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A registered verb named like a tracker method is a PluginContractError."""
    extra = (
        "\n@hookimpl\ndef register_verbs(domain, register):\n"
        "    register('top_k', lambda tracker: None)\n"
    )
    _domain(fake_dist, tracker_module("acme", extra))
    with pytest.raises(
        PluginContractError, match="registered verb 'top_k' for domain 'acme', which already exists"
    ):
        Registry().get_tracker("acme")


def test_build_tracker_hook_points_domain_at_a_shared_store(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A cross-cutting build_tracker result is the consist Tracker the domain uses."""
    shared = workdir / "shared"
    site = f"""
from pathlib import Path
from trackyard import hookimpl

@hookimpl
def build_tracker(domain, settings):
    from consist import Tracker
    root = Path({str(shared)!r})
    root.mkdir(exist_ok=True)
    return Tracker(run_dir=root / "runs", db_path=root / "shared.duckdb")
"""
    _domain(fake_dist, tracker_module("acme"))
    fake_dist("site-store", {"trackyard.plugins": {"store": "{mod}store"}}, {"{mod}store": site})
    tracker = Registry().get_tracker("acme")
    outcome = tracker.go(name="one", config={"x": 2})
    assert (shared / "shared.duckdb").is_file()
    assert str(outcome.output("table")).startswith(str(shared / "runs"))
    assert not (workdir / ".trackyard" / "provenance.duckdb").exists()


def test_build_tracker_returning_wrong_type(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """build_tracker returning something other than a consist Tracker is refused."""
    extra = "\n@hookimpl\ndef build_tracker(domain, settings):\n    return 'not a tracker'\n"
    _domain(fake_dist, tracker_module("acme", extra))
    with pytest.raises(
        PluginContractError, match="returned str from build_tracker for domain 'acme'"
    ):
        Registry().get_tracker("acme")


def test_wiring_merge_rule() -> None:
    """Scalars: later non-None wins; sequences: concatenated without duplicates; maps: updated."""
    base = Wiring(
        model="a",
        outputs=("x",),
        tags=("t1",),
        identity_inputs=(("cfg", "/a"),),
        facets={"k": 1, "j": 1},
        cache_epoch=2,
    )
    top = Wiring(
        outputs=("y", "x"),
        tags=("t2",),
        identity_inputs=(("cfg", "/b"), ("more", "/c")),
        facets={"k": 2},
        code_identity="callable_source",
    )
    merged = base.merge(top)
    assert merged.model == "a"
    assert merged.outputs == ("x", "y")
    assert merged.tags == ("t1", "t2")
    assert merged.identity_inputs == (("cfg", Path("/b")), ("more", Path("/c")))
    assert merged.facets == {"k": 2, "j": 1}
    assert merged.cache_epoch == 2
    assert merged.code_identity == "callable_source"
    assert base.merge(Wiring(model="b")).model == "b"


def test_wiring_rejects_bad_output_keys() -> None:
    """Output keys must be identifiers; the message names the bad key."""
    with pytest.raises(TypeError, match="Wiring.outputs keys must be identifiers, got 'bad key'"):
        Wiring(outputs=("bad key",))


GATE_PLUGIN = """
from trackyard import hookimpl

@hookimpl
def before_run(domain, call):
    if call.config.get("x", 0) > 10:
        raise ValueError("x above 10 is not allowed here")

@hookimpl
def run_failed(domain, call, error):
    raise RuntimeError("pager unreachable")
"""


def test_before_run_can_veto_and_failing_observer_keeps_model_error(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """before_run raising aborts with nothing written; a failing run_failed only adds a note."""
    extra = """
def bad(config):
    raise ArithmeticError("model diverged")

Tracker.fail = lambda self, name: self.run(bad, name=name, config={})
"""
    _domain(fake_dist, tracker_module("acme", extra))
    fake_dist("site-gate", {"trackyard.plugins": {"gate": "{mod}gate"}}, {"{mod}gate": GATE_PLUGIN})
    tracker = Registry().get_tracker("acme")
    with pytest.raises(
        PluginHookError,
        match="raised in hook 'before_run' for domain 'acme': ValueError: x above 10",
    ):
        tracker.go(name="vetoed", config={"x": 11})
    from sqlalchemy import text

    assert tracker.consist.run_query(text("SELECT count(*) FROM run"))[0][0] == 0
    with pytest.raises(ArithmeticError, match="model diverged") as info:
        tracker.fail("diverges")
    assert any("pager unreachable" in note for note in info.value.__notes__)
