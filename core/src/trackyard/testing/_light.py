"""The light-import check: importing a plugin's entry-point module imports none of the heavy
libraries (consist, pandas, duckdb, sqlalchemy), so ``trackyard info``, ``domains`` and every
command that loads plugins stay fast. Measured in a fresh interpreter with ``-X importtime``,
whose nesting names the chain of imports that pulled a heavy one in."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

from trackyard.testing._checks import ConformanceFailure

if TYPE_CHECKING:
    from trackyard.registry import Registry

HEAVY = ("consist", "pandas", "duckdb", "sqlalchemy")
_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|( *)([\w.]+)$")


def _parsed(stderr: str) -> list[tuple[int, int, str]]:
    """(depth, cumulative microseconds, module) per ``-X importtime`` line, in its order
    (a module's imports are listed before it, one level deeper)."""
    rows = []
    for line in stderr.splitlines():
        found = _LINE.match(line.rstrip())
        if found:
            rows.append((len(found.group(2)) // 2, int(found.group(1)), found.group(3)))
    return rows


def _chain(rows: list[tuple[int, int, str]], index: int) -> list[str]:
    """The modules whose import led to ``rows[index]``, outermost first."""
    depth, _, name = rows[index]
    chain = [name]
    for later_depth, _, later in rows[index + 1 :]:
        if later_depth < depth:
            chain.append(later)
            depth = later_depth
    return list(reversed(chain))


def check_light_import(registry: Registry, domain: str) -> str:
    """Importing the domain's entry-point module in a fresh interpreter imports no heavy
    library; returns how long the import took. An in-process (``PluginSandbox``) plugin has no
    module to import and is not measured."""
    claim = registry.choose(domain)
    if not hasattr(claim.entry_point, "module"):
        return "not measured: an in-process plugin"
    module = claim.value.split(":")[0].strip()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = _parsed(done.stderr)
    if done.returncode != 0:
        raise ConformanceFailure(f"importing plugin module {module!r} failed: {done.stderr}")
    seconds = next((total for depth, total, name in rows if name == module and depth == 0), 0)
    for index, (_, _, name) in enumerate(rows):
        if name.split(".")[0] in HEAVY:
            chain = _chain(rows, index)
            # up to the first heavy module: what follows is that library's own imports
            first = next(i for i, m in enumerate(chain) if m.split(".")[0] in HEAVY)
            shown = " -> ".join(chain[: first + 1])
            raise ConformanceFailure(
                f"importing plugin module {module!r} imports {chain[first]} "
                f"({seconds / 1e6:.2f} s in all): {shown}. Keep the plugin module light: import "
                "the model (and consist, pandas, duckdb, sqlalchemy) inside the verbs that run "
                "it, not at the top of the modules the entry point imports"
            )
    return f"{seconds / 1e6:.2f} s, no heavy library"
