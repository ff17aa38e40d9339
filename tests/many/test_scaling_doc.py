"""docs/scaling.md: every python block runs as written in a fresh folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
RUNNER = """
import json, os, sys, tempfile
blocks = json.loads(sys.stdin.read())
for index, block in enumerate(blocks):
    folder = tempfile.mkdtemp(prefix=f"block{index}-", dir=os.getcwd())
    os.chdir(folder)
    exec(compile(block, f"scaling.md block {index}", "exec"), {"__name__": "__main__"})
    print(f"block {index} ok")
"""


def test_every_python_block_of_scaling_md_runs_in_a_fresh_folder(tmp_path: Path) -> None:
    """Each python block of the scaling guide runs, on its own, in an empty folder."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(blocks),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(" ok") == len(blocks)
    assert "4 evaluations: 0 ran, 4 from cache, 0 failed" in proc.stdout
