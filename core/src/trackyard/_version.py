"""The core's version; hatch reads it from here (``[tool.hatch.version]`` in core/pyproject.toml).

Modules that need the version import it from this module, never from the package facade.
"""

__version__ = "0.1.0"
"""The version of the trackyard core distribution (hatch reads it from this line)."""
