"""The package tree in docs/writing-a-plugin.md is the one ``trackyard new-plugin`` writes:
rendered here from a real scaffold and compared (print it with ``python -m
tests.docs.test_scaffold_tree`` to paste it)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from trackyard.cli._scaffold import write_plugin

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"
COLUMN = 40

# What each file is for, by its path in the package (a new scaffold file needs a line here).
NOTES = {
    ".gitignore": "",
    "README.md": "",
    "pyproject.toml": "distribution trackyard-traffic, the entry point",
    "src/trackyard_traffic/__init__.py": "",
    "src/trackyard_traffic/model.py": "the model each run executes",
    "src/trackyard_traffic/plugin.py": "the hooks trackyard calls (kept light)",
    "src/trackyard_traffic/py.typed": "",
    "src/trackyard_traffic/start.txt": "a small input file for run_from's example",
    "src/trackyard_traffic/tracker.py": "TrafficTracker and its verbs run_once, run_from, sweep",
    "tests/test_traffic_conformance.py": "DomainConformance for 'traffic', and model tests",
}


def _line(prefix: str, name: str, note: str) -> str:
    text = prefix + name
    return f"{text.ljust(COLUMN)}# {note}" if note else text


def render() -> str:
    """The tree of a fresh ``trackyard new-plugin traffic``, with the notes above."""
    with tempfile.TemporaryDirectory() as tmp:
        root, _ = write_plugin("traffic", Path(tmp) / "trackyard-traffic")
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert sorted(NOTES) == files, f"notes for {sorted(set(files) ^ set(NOTES))}"
    top = [f for f in files if "/" not in f]
    package = [f for f in files if f.startswith("src/")]
    tests = [f for f in files if f.startswith("tests/")]
    lines = ["trackyard-traffic/"]
    lines += [_line("├── ", f, NOTES[f]) for f in top]
    lines.append("├── src/trackyard_traffic/")
    for index, f in enumerate(package):
        branch = "└── " if index == len(package) - 1 else "├── "
        lines.append(_line("│   " + branch, f.rsplit("/", 1)[1], NOTES[f]))
    for index, f in enumerate(tests):
        branch = "└── " if index == len(tests) - 1 else "├── "
        lines.append(_line(branch, f, NOTES[f]))
    return "\n".join(lines)


def test_the_documented_tree_is_the_scaffold() -> None:
    """Every file new-plugin writes is in the documented tree, and nothing else."""
    expected = f"```text\n{render()}\n```"
    assert expected in DOC.read_text(encoding="utf-8"), f"replace the tree with:\n{expected}"


if __name__ == "__main__":
    print(render())
