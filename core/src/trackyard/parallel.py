"""Moved: the many-run engine is ``_sweep`` (with ``_shards`` and ``_precheck``).

Kept only because ``trackyard/__init__.py`` (owned by the registry work) still imports
``ManyResult`` from here; delete this file when that line becomes
``from trackyard._sweep import ManyResult``.
"""

from trackyard._sweep import ManyResult

__all__ = ["ManyResult"]
