"""The schema of ``[tool.trackyard]`` in ``pyproject.toml``: allowed keys and their types.

Checked as soon as the table is read, so a wrong value is one ``ConfigValidationError`` naming
the file, the table and key, what was expected and what was found (with "did you mean" for a
misspelt key), never a ``TypeError`` somewhere later. Domain option keys other than the core
ones are checked against the domain's ``Options`` when its tracker is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trackyard.errors import ConfigValidationError

__all__ = ["TABLE_KEYS", "check_project_table", "found", "unknown_key"]

_Check = tuple[str, Callable[[Any], bool]]  # (what is expected, whether a value is it)

_PATH: _Check = ("a string (a path)", lambda v: isinstance(v, str))
_INT: _Check = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
_BOOL: _Check = ("a boolean", lambda v: isinstance(v, bool))
_STR: _Check = ("a string", lambda v: isinstance(v, str))
_TABLE: _Check = ("a table", lambda v: isinstance(v, dict))
_NAMES: _Check = (
    "a list of strings",
    lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
)

CORE: dict[str, _Check] = {
    "workspace": _PATH,
    "db_path": _PATH,
    "run_dir": _PATH,
    "cache_epoch": _INT,
    "strict_inputs": _BOOL,
    "on_environment_change": _STR,
}
TABLE_KEYS = (*CORE, "providers", "domains", "plugins")
_TOP: dict[str, _Check] = {**CORE, "providers": _TABLE, "domains": _TABLE, "plugins": _TABLE}
_PLUGINS: dict[str, _Check] = {"allow": _NAMES, "deny": _NAMES, "strict": _BOOL}
_TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", dict: "table"}


def found(value: Any) -> str:
    """A value as the error shows it: its TOML type, then the value (``integer 5``)."""
    kind = _TOML_TYPES.get(type(value), "array" if isinstance(value, list) else "value")
    text = repr(value)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def unknown_key(where: str, key: str, valid: list[str] | tuple[str, ...]) -> ConfigValidationError:
    """The error for an unknown ``key`` in ``where``, with the closest valid key, if any."""
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" did you mean {close[0]!r}?" if close else ""
    return ConfigValidationError(
        f"{where} unknown key {key!r};{hint} valid keys: {', '.join(valid)}"
    )


def _check(where: str, table: Mapping[str, Any], schema: Mapping[str, _Check], open_: bool) -> None:
    for key, value in table.items():
        if key not in schema:
            if open_:
                continue
            raise unknown_key(where, key, list(schema))
        expected, ok = schema[key]
        if not ok(value):
            raise ConfigValidationError(f"{where} {key}: expected {expected}, found {found(value)}")


def check_project_table(path: Path, table: Mapping[str, Any]) -> None:
    """Check ``[tool.trackyard]`` of ``path`` and its sub-tables against the schema."""
    _check(f"{path} [tool.trackyard]", table, _TOP, open_=False)
    plugins = {k: v for k, v in table.get("plugins", {}).items() if k != "trusted_paths"}
    _check(f"{path} [tool.trackyard.plugins]", plugins, _PLUGINS, open_=False)  # trusted_paths:
    # refused by the policy with its own reason (a folder cannot vouch for itself)
    providers = table.get("providers", {})
    dist: _Check = ("a string (a distribution)", lambda v: isinstance(v, str))
    _check(f"{path} [tool.trackyard.providers]", providers, dict.fromkeys(providers, dist), False)
    domains = table.get("domains", {})
    _check(f"{path} [tool.trackyard.domains]", domains, dict.fromkeys(domains, _TABLE), False)
    for name, domain_table in domains.items():
        _check(f"{path} [tool.trackyard.domains.{name}]", domain_table, CORE, open_=True)
