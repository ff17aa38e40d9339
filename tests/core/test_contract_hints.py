"""Issue 13, the plugin author's mistakes: a typo gets "did you mean", a missing @hookimpl a
warning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trackyard import Registry
from trackyard.errors import PluginContractError, UnknownDomainError

FakeDist = Callable[..., Path]
Source = Callable[..., str]


def _domain(fake_dist: FakeDist, source: str) -> None:
    fake_dist("acme-dist", {"trackyard.domains": {"acme": "{mod}plugin"}}, {"{mod}plugin": source})


def test_hook_name_typo_says_did_you_mean(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A hookimpl named 'befor_run' fails with a "did you mean 'before_run'" line."""
    _domain(
        fake_dist, tracker_module("acme", "\n@hookimpl\ndef befor_run(domain, call):\n    pass\n")
    )
    with pytest.raises(PluginContractError) as info:
        Registry().get_tracker("acme")
    assert str(info.value).splitlines()[-1] == (
        "Did you mean hook 'before_run' instead of 'befor_run'?"
    )


def test_wrong_argument_name_says_did_you_mean(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A hookimpl argument 'cal' of before_run fails with "did you mean 'call'"."""
    _domain(
        fake_dist, tracker_module("acme", "\n@hookimpl\ndef before_run(domain, cal):\n    pass\n")
    )
    with pytest.raises(PluginContractError) as info:
        Registry().get_tracker("acme")
    assert str(info.value).splitlines()[-1] == (
        "Hook 'before_run' has no argument 'cal': did you mean 'call'? (its arguments: "
        "domain, call)"
    )


def test_hook_named_function_without_hookimpl_warns(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A module-level before_run without @hookimpl is a warning naming it and the decorator."""
    _domain(fake_dist, tracker_module("acme", "\ndef before_run(domain, call):\n    pass\n"))
    with pytest.warns(UserWarning) as caught:
        Registry().get_tracker("acme", workspace=workdir / "ws")
    assert [str(w.message) for w in caught if "hookimpl" in str(w.message)] == [
        "domain 'acme' from distribution 'acme-dist': function 'before_run' is named like the hook 'before_run' "
        "but is not decorated with @trackyard.hookimpl, so trackyard never calls it; add "
        "@hookimpl above it (or rename it)"
    ]


def test_distribution_without_entry_point_is_named(workdir: Path, fake_dist: FakeDist) -> None:
    """'transit' unknown while acme-transit is installed without an entry point: say so."""
    fake_dist("acme-transit", {}, {"{mod}plugin": "x = 1\n"})
    with pytest.raises(UnknownDomainError) as info:
        Registry().get_tracker("transit")
    message = str(info.value)
    assert message.startswith("no domain named 'transit' is installed (installed domains: ")
    assert message.endswith(
        "Installed 'acme-transit' 1.0 looks like it meant to provide it but declares no entry "
        'point for it: add transit = "<package>.plugin" to its '
        '[project.entry-points."trackyard.domains"] table in pyproject.toml, then reinstall it '
        "(pip install -e FOLDER or trackyard install FOLDER): entry points are written only at "
        "install time."
    )


def test_tracker_verbs_lists_class_verbs_and_hook_verbs(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """tracker.verbs holds the class's own verb 'go' first, then a register_verbs verb."""
    extra = (
        "\ndef shout(tracker, *, text: str) -> str:\n    return text.upper()\n"
        "\n@hookimpl\ndef register_verbs(domain, register):\n    register('shout', shout)\n"
    )
    _domain(fake_dist, tracker_module("acme", extra))
    tracker = Registry().get_tracker("acme", workspace=workdir / "ws")
    assert list(tracker.verbs) == ["go", "shout"]
    assert tracker.verbs["shout"](text="hi") == "HI"
