"""No function in the core or a first-party plugin is over 60 code lines.

A long function is split into named steps that read as a list (httpx ``_client.py``:
``send`` -> ``_send_handling_auth`` -> ...). Lines are counted as
``/work/shared/tools/long_functions.py`` counts them: the ``def`` line to the last line, blank
lines, comment-only lines and the docstring left out; a nested function counts in its own
right and inside the function that holds it. Folders named ``tests``, ``templates``, ``.venv``
and ``bench`` are skipped (scaffolding templates are not code of the core).
"""

from __future__ import annotations

import ast
from pathlib import Path

LIMIT = 60
ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {"tests", "templates", ".venv", "bench"}


def _sources() -> list[Path]:
    roots = [ROOT / "core" / "src", *sorted((ROOT / "plugins").glob("*/src"))]
    return [
        path
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if not SKIPPED & set(path.relative_to(root).parts)
    ]


def code_lines(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Non-blank, non-comment lines of ``node``, its docstring excluded."""
    doc: set[int] = set()
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        doc = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    end = node.end_lineno or node.lineno
    return sum(
        1
        for number in range(node.lineno, end + 1)
        if number not in doc and (text := lines[number - 1].strip()) and not text.startswith("#")
    )


def long_functions(limit: int = LIMIT) -> list[str]:
    """``file:line function N lines`` for every function over ``limit`` code lines."""
    found = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = code_lines(lines, node)
                if count > limit:
                    where = path.relative_to(ROOT)
                    found.append(f"{where}:{node.lineno} {node.name} {count} lines")
    return found


def test_sources_are_found() -> None:
    """The walk sees the core and both first-party plugins (an empty walk passes nothing)."""
    names = {p.relative_to(ROOT).parts[:2] for p in _sources()}
    assert {("core", "src"), ("plugins", "calibration"), ("plugins", "simulation")} <= names


def test_counting_rule() -> None:
    """Docstring, blank and comment-only lines are not counted; the def line and code are."""
    source = (
        'def f(x):\n    """Doc\n    string."""\n\n    # note\n    y = x  # inline\n    return y\n'
    )
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert code_lines(source.splitlines(), node) == 3


def test_no_function_over_60_code_lines() -> None:
    found = long_functions()
    assert not found, (
        f"functions over {LIMIT} code lines (split them into named steps):\n" + "\n".join(found)
    )
