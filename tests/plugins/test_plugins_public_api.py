"""First-party plugins reach the core only through the public API."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# trackyard.report: the public building blocks of report sections (docs/reports.md).
ALLOWED = {"trackyard", "trackyard.errors", "trackyard.report", "trackyard.testing"}


def test_plugins_import_only_public_trackyard_modules() -> None:
    """No plugin module imports trackyard internals (trackyard._x, trackyard.registry, ...)."""
    offenders = []
    sources = sorted((ROOT / "plugins").glob("*/src/**/*.py"))
    assert len(sources) >= 8
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [
                f"{source.relative_to(ROOT)}: {name}"
                for name in names
                if name.split(".")[0] == "trackyard" and name not in ALLOWED
            ]
    assert offenders == []
