"""Docstrings are Markdown with mkdocstrings cross-references (docs/architecture.md,
"Docstrings"), in the core and in the first-party plugins alike: no reST role (`:meth:`) and
no reST code-block marker (a line ending in `::`) in any docstring, and no Sphinx `#:` comment
(mkdocstrings reads the docstring under an assignment, never that comment), so whatever the API
reference renders reads as written."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "core" / "src",
    ROOT / "plugins" / "simulation" / "src",
    ROOT / "plugins" / "calibration" / "src",
]
ROLE = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|exc|data|obj|const|ref|term|doc):`")


def _docstrings(path: Path) -> Iterator[tuple[int, str]]:
    """Every docstring of a module: of the module, classes and functions, and the string
    under an assignment (an attribute docstring, which mkdocstrings renders too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        body = getattr(node, "body", None)
        for statement in body if isinstance(body, list) else []:
            if (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                yield statement.lineno, statement.value.value


def _problems(path: Path) -> list[str]:
    found = [
        f"{path.name}:{number}: Sphinx '#:' comment (write a docstring under the assignment)"
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if text.lstrip().startswith("#:")
    ]
    for line, doc in _docstrings(path):
        found += [f"{path.name}:{line}: reST role {m.group(0)}" for m in ROLE.finditer(doc)]
        found += [
            f"{path.name}:{line}: reST '::' ends {text.strip()!r}"
            for text in doc.splitlines()
            if text.rstrip().endswith("::")
        ]
    return found


def test_the_collector_reads_the_docstrings() -> None:
    """The walk finds the docstrings of the public API (an empty walk would prove nothing)."""
    tracker = ROOT / "core" / "src" / "trackyard" / "tracker.py"
    assert any("Base class of every domain tracker" in doc for _, doc in _docstrings(tracker))


def test_a_rest_docstring_is_reported(tmp_path: Path) -> None:
    """The check names the file and line of a '#:' comment, a reST role and a trailing '::'."""
    module = tmp_path / "example.py"
    module.write_text(
        '#: old\nX = 1\n"""Use :meth:`run`, as here::\n\n    run()\n"""\n', encoding="utf-8"
    )
    assert _problems(module) == [
        "example.py:1: Sphinx '#:' comment (write a docstring under the assignment)",
        "example.py:3: reST role :meth:`",
        "example.py:3: reST '::' ends 'Use :meth:`run`, as here::'",
    ]


def test_docstrings_use_markdown_markup() -> None:
    """Cross-references are written [`name`][trackyard.X] and examples as fenced blocks, in
    every module of the core and the first-party plugins."""
    files = sorted(path for source in SOURCES for path in source.rglob("*.py"))
    found = [
        f"{path.relative_to(ROOT).parent}/{problem}"
        for path in files
        for problem in _problems(path)
    ]
    assert found == [], "reST markup in docstrings:\n" + "\n".join(found)
