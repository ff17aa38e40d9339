"""The first-party plugins, the new-plugin scaffold, README.md and docs/ use only public names,
because they are what third-party plugin authors copy."""

from __future__ import annotations

import re
from pathlib import Path

import trackyard.tracker

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "core" / "src" / "trackyard" / "cli" / "templates"
SKIP_PARTS = {"__pycache__", ".venv", "build", "dist"}

# What only the core may use: private methods and helpers, the registry's internals, private
# modules (at any depth), and the old name of the consist handle (`.tracker`, now `.consist`).
PRIVATE_USES = {
    "a private run method": re.compile(r"\._run(?:_many)?\("),
    "the registry's private verb hook": re.compile(r"\b_add_verb\b"),
    "the registry's policy verdicts": re.compile(r"\b_verdicts?\b"),
    "the registry's cross-cutting plugins": re.compile(r"\b_cross_cutting\w*"),
    "a private registry attribute": re.compile(r"\bregistry\._\w"),
    "a private trackyard module": re.compile(r"\b(?:from|import) trackyard(?:\.\w+)*\._\w"),
}


def _consist_handle_uses() -> re.Pattern[str]:
    """``x.tracker.<consist Tracker method>``: the 0.1 spelling of ``x.consist.<method>``."""
    from consist import Tracker

    own = set(dir(trackyard.tracker))  # trackyard.tracker.DomainTracker is a module path
    names = sorted(n for n in dir(Tracker) if not n.startswith("_") and n not in own)
    return re.compile(r"\.tracker\.(?:" + "|".join(map(re.escape, names)) + r")\b")


def _sources() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for folder in (ROOT / "plugins", TEMPLATES):
        found += sorted(
            path
            for path in folder.rglob("*")
            if path.is_file()
            and not SKIP_PARTS & set(path.parts)
            and not any(part.endswith(".egg-info") for part in path.parts)
            and path.suffix in {".py", ".md", ".tmpl", ".toml", ".txt", ".cfg"}
        )
    return found


def _offences(path: Path, patterns: dict[str, re.Pattern[str]], root: Path = ROOT) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        f"{path.relative_to(root)}:{number}: {what}: {line.strip()}"
        for number, line in enumerate(lines, start=1)
        for what, pattern in patterns.items()
        if pattern.search(line)
    ]


def test_the_scan_covers_plugins_templates_readme_and_docs() -> None:
    """The scanned files include every place a plugin author copies code from."""
    scanned = {path.relative_to(ROOT).parts[0] for path in _sources()}
    names = {path.name for path in _sources()}
    assert {"README.md", "docs", "plugins", "core"} <= scanned
    assert {"authoring-api.md", "tracker.py.tmpl", "plugin.py"} <= names


def test_no_private_names_in_what_plugin_authors_read() -> None:
    """No file a plugin author reads or copies uses a private trackyard name or the old consist
    handle; each offence is listed as file:line."""
    patterns = {**PRIVATE_USES, "the old consist handle (use .consist)": _consist_handle_uses()}
    offences = [offence for path in _sources() for offence in _offences(path, patterns)]
    assert offences == [], "private names used:\n" + "\n".join(offences)


def test_the_scan_finds_each_kind_of_private_use(tmp_path: Path) -> None:
    """Each pattern catches the use it is written for (a pattern that matches nothing proves nothing)."""
    sample = tmp_path / "sample.md"
    sample.write_text(
        "outcome = tracker._run(model, name='a')\n"
        "many = tracker._run_many(model, items)\n"
        "tracker._add_verb('x', fn, 'p')\n"
        "registry._verdict(claim)\n"
        "plugins = registry_obj._cross_cutting()\n"
        "registry._loaded.clear()\n"
        "from trackyard._store import lock_timeout\n"
        "import trackyard.testing._checks\n"
        "rows = cal.tracker.run_query(query)\n",
        encoding="utf-8",
    )
    patterns = {**PRIVATE_USES, "old handle": _consist_handle_uses()}
    lines = [int(offence.split(":")[1]) for offence in _offences(sample, patterns, tmp_path)]
    assert sorted(set(lines)) == list(range(1, 10))


def test_public_spellings_pass_the_scan(tmp_path: Path) -> None:
    """Public spellings that look alike (module paths, .consist, a plugin's own _modules) pass."""
    sample = tmp_path / "sample.md"
    sample.write_text(
        "::: trackyard.tracker.DomainTracker\n"
        "from trackyard_traffic.tracker import TrafficTracker\n"
        "from trackyard_calibration._sweep import grid_items\n"
        "rows = cal.consist.run_query(query)\n"
        "outcome = self.run(model, name='a')\n",
        encoding="utf-8",
    )
    patterns = {**PRIVATE_USES, "old handle": _consist_handle_uses()}
    assert _offences(sample, patterns, tmp_path) == []
