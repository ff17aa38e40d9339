"""Every ```python block in docs/*.md and README.md runs, on its own, as a script in a fresh
temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"]:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.name}:{line}", match.group(1)))
    return found


BLOCKS = _blocks()


def test_the_docs_have_python_snippets() -> None:
    """The collector finds the docs' Python blocks (an empty collection would prove nothing)."""
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[bid for bid, _ in BLOCKS])
def test_doc_snippet_runs(code: str, tmp_path: Path) -> None:
    """The snippet runs to completion as a script in an empty folder."""
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
