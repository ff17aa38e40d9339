"""Discovery, lazy loading, broken plugins, conflicts and pins."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from trackyard import Registry
from trackyard.errors import (
    ConfigValidationError,
    DomainConflictError,
    PluginLoadError,
    TrackyardError,
    UnknownDomainError,
)

FakeDist = Callable[..., Path]
HEAVY = (
    "consist",
    "pandas",
    "duckdb",
    "sqlalchemy",
    "pluggy",
    "trackyard_simulation",
    "trackyard_calibration",
)


def _modules_after(code: str, cwd: Path) -> list[str]:
    probe = (
        f"import sys\n{code}\n"
        "import json\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_and_listing_import_no_plugin_and_no_consist(workdir: Path) -> None:
    """`import trackyard`, listing and explaining import no plugin, consist, pluggy or DB."""
    code = "import trackyard; trackyard.available_domains(); trackyard.explain('calibration')"
    assert _modules_after(code, workdir) == []


def test_facade_names_load_on_first_use(workdir: Path) -> None:
    """Every name in trackyard.__all__ resolves, is listed by dir(), and __all__ is sorted."""
    import trackyard

    assert trackyard.__all__ == sorted(trackyard.__all__)
    assert set(trackyard.__all__) <= set(dir(trackyard))
    for name in trackyard.__all__:
        assert getattr(trackyard, name) is not None
    with pytest.raises(AttributeError, match="module 'trackyard' has no attribute 'nope'"):
        trackyard.nope  # noqa: B018


def test_loading_calibration_does_not_import_simulation(workdir: Path) -> None:
    """Building the calibration tracker imports its plugin but never the simulation plugin."""
    loaded = _modules_after("import trackyard; trackyard.get_tracker('calibration')", workdir)
    assert "trackyard_calibration" in loaded
    assert "consist" in loaded
    assert not any(m.startswith("trackyard_simulation") for m in loaded)


def test_first_party_domains_come_from_real_entry_points(workdir: Path) -> None:
    """The editable-installed first-party plugins are listed with their distribution metadata."""
    infos = {i.name: i for i in Registry().available_domains()}
    assert infos["calibration"].distribution == "trackyard-calibration"
    assert infos["calibration"].entry_point == "trackyard_calibration.plugin"
    assert infos["simulation"].distribution == "trackyard-simulation"
    assert infos["simulation"].status == "available"
    assert infos["simulation"].error is None


def test_loaded_status_after_building(workdir: Path) -> None:
    """A built domain is listed as loaded, the others stay available."""
    registry = Registry()
    registry.get_tracker("calibration")
    status = {i.name: i.status for i in registry.available_domains()}
    assert status["calibration"] == "loaded"
    assert status["simulation"] == "available"


@pytest.mark.parametrize(
    ("source", "kind", "text"),
    [
        ("import no_such_module_xyz\n", "ModuleNotFoundError", "no_such_module_xyz"),
        ("raise RuntimeError('database offline')\n", "RuntimeError", "database offline"),
        ("def broken(:\n", "SyntaxError", "invalid syntax"),
        ("import sys\nsys.exit(3)\n", "SystemExit", "3"),
        ("1 / 0\n", "ZeroDivisionError", "division by zero"),
    ],
)
def test_broken_plugin_is_contained(
    workdir: Path, fake_dist: FakeDist, source: str, kind: str, text: str
) -> None:
    """A plugin whose import raises is listed as broken and other domains still build."""
    fake_dist(
        "acme-broken",
        {"trackyard.domains": {"broken": "{mod}broken"}},
        {"{mod}broken": source},
    )
    registry = Registry()
    assert {i.name: i.status for i in registry.available_domains()}["broken"] == "available"
    with pytest.raises(PluginLoadError, match=kind) as info:
        registry.get_tracker("broken")
    message = str(info.value)
    assert "domain 'broken'" in message
    assert "distribution 'acme-broken'" in message
    assert text in message
    assert type(info.value.__cause__).__name__ == kind
    broken = {i.name: i for i in registry.available_domains()}["broken"]
    assert broken.status == "broken"
    assert broken.error == message
    assert registry.get_tracker("calibration").domain_name == "calibration"


def test_unknown_domain_suggests_close_match(workdir: Path) -> None:
    """A misspelt name raises UnknownDomainError (a LookupError) listing names and a suggestion."""
    with pytest.raises(UnknownDomainError) as info:
        Registry().get_tracker("calibraton")
    assert isinstance(info.value, LookupError)
    message = str(info.value)
    assert message.startswith("no domain named 'calibraton' is installed (installed domains: ")
    assert "calibration" in message and "simulation" in message
    assert message.endswith("Did you mean 'calibration'?")


def test_unknown_domain_without_close_match_has_no_suggestion(workdir: Path) -> None:
    """A name far from every installed one gets no suggestion."""
    with pytest.raises(UnknownDomainError) as info:
        Registry().get_tracker("zzz")
    assert "Did you mean" not in str(info.value)


def _conflict(fake_dist: FakeDist, tracker_module: Callable[..., str], first_prepend: bool) -> None:
    for dist, prepend in (("acme-cal", first_prepend), ("zeta-cal", not first_prepend)):
        fake_dist(
            dist,
            {"trackyard.domains": {"twin": "{mod}twin"}},
            {"{mod}twin": tracker_module("twin")},
            prepend=prepend,
        )


@pytest.mark.parametrize("first_prepend", [True, False], ids=["acme-first", "zeta-first"])
def test_conflict_names_every_claimant_whatever_the_order(
    workdir: Path, fake_dist: FakeDist, tracker_module: Callable[..., str], first_prepend: bool
) -> None:
    """Two distributions claiming a name raise the same DomainConflictError in either order."""
    _conflict(fake_dist, tracker_module, first_prepend)
    registry = Registry()
    with pytest.raises(DomainConflictError) as info:
        registry.get_tracker("twin")
    message = str(info.value)
    assert message.splitlines()[0] == "domain 'twin' is provided by 2 distributions:"
    lines = message.splitlines()
    assert lines[1].startswith("  - acme-cal 1.0 (twin = fake")
    assert lines[2].startswith("  - zeta-cal 1.0 (twin = fake")
    assert "[tool.trackyard.providers] twin = " in message
    assert 'TRACKYARD_PROVIDERS="twin=<distribution>"' in message
    statuses = [
        (i.distribution, i.status) for i in registry.available_domains() if i.name == "twin"
    ]
    assert statuses == [("acme-cal", "conflict"), ("zeta-cal", "conflict")]


def test_conflict_resolved_by_environment_pin(
    workdir: Path,
    fake_dist: FakeDist,
    tracker_module: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TRACKYARD_PROVIDERS chooses the claimant, and explain() says why."""
    _conflict(fake_dist, tracker_module, True)
    monkeypatch.setenv("TRACKYARD_PROVIDERS", "twin=zeta-cal")
    registry = Registry()
    tracker = registry.get_tracker("twin")
    assert tracker._provenance["distribution"] == "zeta-cal"
    explanation = registry.explain("twin")
    assert explanation.winner is not None and explanation.winner.distribution == "zeta-cal"
    assert "chosen by the pin twin = 'zeta-cal' in environment TRACKYARD_PROVIDERS" in str(
        explanation
    )
    loser = next(i for i in registry.available_domains() if i.distribution == "acme-cal")
    assert loser.status == "disabled"


def test_conflict_resolved_by_pyproject_pin(
    workdir: Path, fake_dist: FakeDist, tracker_module: Callable[..., str]
) -> None:
    """[tool.trackyard.providers] in the nearest pyproject.toml chooses the claimant."""
    _conflict(fake_dist, tracker_module, False)
    (workdir / "pyproject.toml").write_text('[tool.trackyard.providers]\ntwin = "acme_cal"\n')
    registry = Registry()
    assert registry.get_tracker("twin")._provenance["distribution"] == "acme-cal"
    assert "[tool.trackyard.providers]" in registry.explain("twin").reason


def test_pin_to_a_distribution_that_does_not_provide_the_domain(
    workdir: Path,
    fake_dist: FakeDist,
    tracker_module: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pin naming a non-claimant is a ConfigValidationError naming the pin and claimants."""
    _conflict(fake_dist, tracker_module, True)
    monkeypatch.setenv("TRACKYARD_PROVIDERS", "twin=nobody")
    with pytest.raises(
        ConfigValidationError, match="pinned to distribution 'nobody'.*acme-cal, zeta-cal"
    ):
        Registry().get_tracker("twin")


def test_malformed_providers_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TRACKYARD_PROVIDERS value without '=' is rejected with the expected form."""
    monkeypatch.setenv("TRACKYARD_PROVIDERS", "calibration")
    with pytest.raises(ConfigValidationError, match="expected 'domain=distribution"):
        Registry().get_tracker("calibration")


def test_explain_single_provider_imports_nothing(workdir: Path) -> None:
    """explain() names the provider and the reason without loading it."""
    registry = Registry()
    text = str(registry.explain("simulation"))
    assert text.splitlines()[0] == "domain 'simulation':"
    assert "* trackyard-simulation" in text
    assert "the only installed distribution that provides it" in text


def test_errors_share_one_base() -> None:
    """Every trackyard error is a TrackyardError, so one except clause catches them all; the
    warnings it defines are UserWarnings (shown by default, filtered as users expect)."""
    from trackyard import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        base = UserWarning if issubclass(cls, Warning) else TrackyardError
        assert issubclass(cls, base), name
    assert [n for n in errors.__all__ if issubclass(getattr(errors, n), Warning)] == [
        "BundlePluginSetWarning",
        "EnvironmentChangedWarning",
    ]
