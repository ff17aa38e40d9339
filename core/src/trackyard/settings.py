"""``Settings``: where a domain tracker keeps its provenance, and its domain options.

Resolution, highest first: keyword arguments to ``get_tracker`` > environment
(``TRACKYARD_WORKSPACE``, ``TRACKYARD_DB_PATH``, ``TRACKYARD_RUN_DIR``, ``TRACKYARD_CACHE_EPOCH``)
> ``[tool.trackyard.domains.<name>]`` > ``[tool.trackyard]`` in the nearest ``pyproject.toml``
that has a ``[tool.trackyard]`` table (searched from the current folder upwards) > defaults
(workspace ``./.trackyard``; ``runs/`` and ``provenance.duckdb`` inside it).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackyard._layout import DB_FILE, DEFAULT_WORKSPACE, RUNS_DIR
from trackyard._settings_schema import check_project_table, found, unknown_key
from trackyard.errors import ConfigValidationError

CORE_KEYS = (
    "workspace",
    "db_path",
    "run_dir",
    "cache_epoch",
    "strict_inputs",
    "on_environment_change",
)
ENVIRONMENT_CHOICES = ("serve", "warn", "rerun")
ENV_VARS = {
    "workspace": "TRACKYARD_WORKSPACE",
    "db_path": "TRACKYARD_DB_PATH",
    "run_dir": "TRACKYARD_RUN_DIR",
    "cache_epoch": "TRACKYARD_CACHE_EPOCH",
    "strict_inputs": "TRACKYARD_STRICT_INPUTS",
    "on_environment_change": "TRACKYARD_ON_ENVIRONMENT_CHANGE",
}


@dataclass(frozen=True)
class NoOptions:
    """The options of a domain that declares none."""


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one domain tracker.

    ``options`` is an instance of the tracker class's ``Options`` dataclass. ``sources`` says
    where each value came from (``"keyword"``, ``"environment TRACKYARD_WORKSPACE"``,
    ``"/path/pyproject.toml [tool.trackyard]"``, ``"default"``).

    ``strict_inputs``: a file the model reads without declaring it fails the run instead of
    being recorded as an undeclared input. ``on_environment_change``: what a cache hit does
    when the distributions its model used changed version since it ran (``"serve"``,
    ``"warn"``: serve it with an
    [`EnvironmentChangedWarning`][trackyard.errors.EnvironmentChangedWarning], ``"rerun"``:
    execute again).
    """

    domain: str
    workspace: Path
    db_path: Path
    run_dir: Path
    cache_epoch: int = 1
    options: Any = field(default_factory=NoOptions)
    sources: Mapping[str, str] = field(default_factory=dict)
    strict_inputs: bool = False
    on_environment_change: str = "warn"


@dataclass(frozen=True)
class ProjectConfig:
    """The ``[tool.trackyard]`` table of the nearest ``pyproject.toml`` (empty when none)."""

    path: Path | None
    table: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.path} [tool.trackyard]"


def _find_project_config(start: Path) -> ProjectConfig:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        import tomllib  # only once a file is found: listing from a bare folder never pays it

        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigValidationError(
                f"cannot read {candidate}: {exc}; save it as UTF-8, fix it or run from another "
                "folder"
            ) from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigValidationError(
                f"cannot read {candidate}: {exc}; fix the file or run from another folder"
            ) from exc
        table = data.get("tool", {}).get("trackyard")
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigValidationError(
                f"{candidate} [tool.trackyard]: expected a table, found {found(table)}"
            )
        check_project_table(candidate, table)
        return ProjectConfig(candidate, table)
    return ProjectConfig(None, {})


USER_CONFIG_ENV = "TRACKYARD_CONFIG"
USER_CONFIG_KEYS = ("strict", "trusted_paths")


@dataclass(frozen=True)
class UserConfig:
    """The ``[plugins]`` table of the user's own config file (empty when there is none).

    Trust comes from here, never from a file in the project folder: see docs/trust.md."""

    path: Path
    table: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.path} [plugins]"


def user_config_path(environ: Mapping[str, str]) -> Path:
    """``$TRACKYARD_CONFIG`` (absolute or ``~``: a relative one is refused), else
    ``$XDG_CONFIG_HOME/trackyard/config.toml`` (default ``~/.config/trackyard/config.toml``)."""
    if environ.get(USER_CONFIG_ENV):
        path = Path(environ[USER_CONFIG_ENV]).expanduser()
        if not path.is_absolute():
            raise ConfigValidationError(
                f"environment {USER_CONFIG_ENV} {environ[USER_CONFIG_ENV]!r} is relative; write "
                "an absolute path (or one starting with ~), so that it never means a file in "
                "the current folder"
            )
        return path
    base = Path(environ.get("XDG_CONFIG_HOME") or "~/.config").expanduser()
    if not base.is_absolute():  # the XDG rule: a relative value is ignored (never the cwd)
        base = Path("~/.config").expanduser()
    return base.absolute() / "trackyard" / "config.toml"


def user_config(environ: Mapping[str, str] | None = None) -> UserConfig:
    """Read the user's config file (see ``user_config_path``); a missing file is empty."""
    path = user_config_path(os.environ if environ is None else environ)
    if not path.is_file():
        return UserConfig(path, {})
    import tomllib  # only once the file exists (see _find_project_config)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigValidationError(
            f"cannot read {path}: {exc}; fix the file (UTF-8 TOML)"
        ) from exc
    table = data.get("plugins", {})
    if not isinstance(table, dict):
        raise ConfigValidationError(f"{path}: [plugins] must be a table")
    unknown = sorted(set(table) - set(USER_CONFIG_KEYS))
    if unknown:
        raise unknown_key(f"{path} [plugins]", unknown[0], USER_CONFIG_KEYS)
    return UserConfig(path, table)


def project_config() -> ProjectConfig:
    """The project configuration seen from the current folder (read afresh on every call)."""
    return _find_project_config(Path.cwd())


def option_fields(options_cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The fields of a domain's ``Options`` dataclass, by name."""
    return {f.name: f for f in dataclasses.fields(options_cls)}


def _coerce(domain: str, name: str, value: Any, annotation: Any, source: str) -> Any:
    """Check a value against a simple annotation; convert str to Path and int to float."""
    if annotation is Path:
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise ConfigValidationError(
            f"option {name!r} of domain {domain!r} must be a path (a string), got "
            f"{found(value)} (from {source})"
        )
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and not (
        isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    ):
        raise ConfigValidationError(
            f"option {name!r} of domain {domain!r} must be {annotation.__name__}, "
            f"got {type(value).__name__} {value!r} (from {source})"
        )
    return value


def _relative_to(base: Path | None, value: Any) -> Path:
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path


_Layer = tuple[str, Mapping[str, Any], Path | None]  # (source, values, folder paths are under)


def resolve_settings(
    domain: str,
    options_cls: type,
    kwargs: Mapping[str, Any],
    project: ProjectConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve a domain's settings from keywords, environment, pyproject and defaults."""
    project = project if project is not None else project_config()
    environ = os.environ if environ is None else environ
    fields_ = option_fields(options_cls)
    layers = _layers(domain, kwargs, project, environ)
    _check_keys(domain, layers, sorted((*CORE_KEYS, *fields_)))
    hints = typing.get_type_hints(options_cls) if fields_ else {}
    values, sources = _merge(layers, {n for n in fields_ if hints.get(n) is Path})
    workspace, db_path, run_dir = _locations(values, sources)
    cache_epoch = _cache_epoch(values, sources)
    strict_inputs, on_environment_change = _run_policies(values, sources)
    options = _options(domain, options_cls, fields_, hints, values, sources)
    return Settings(
        domain=domain,
        workspace=workspace,
        db_path=db_path,
        run_dir=run_dir,
        cache_epoch=cache_epoch,
        options=options,
        sources=sources,
        strict_inputs=strict_inputs,
        on_environment_change=on_environment_change,
    )


def _layers(
    domain: str, kwargs: Mapping[str, Any], project: ProjectConfig, environ: Mapping[str, str]
) -> list[_Layer]:
    """Where values come from, highest first: keywords, environment, the domain's table, the
    core keys of ``[tool.trackyard]``."""
    domains_table = project.table.get("domains", {})
    domain_table = domains_table.get(domain, {}) if isinstance(domains_table, dict) else {}
    base_dir = project.path.parent if project.path else None
    return [
        ("keyword", kwargs, None),
        *[
            (f"environment {var}", {key: environ[var]}, None)
            for key, var in ENV_VARS.items()
            if environ.get(var)
        ],
        (f"{project.path} [tool.trackyard.domains.{domain}]", domain_table, base_dir),
        (project.label, {k: v for k, v in project.table.items() if k in CORE_KEYS}, base_dir),
    ]


def _check_keys(domain: str, layers: list[_Layer], valid: list[str]) -> None:
    for source, layer, _ in layers:
        unknown = sorted(set(layer) - set(valid))
        if unknown:
            raise ConfigValidationError(
                f"unknown option {unknown[0]!r} for domain {domain!r} (from {source}); "
                f"valid options: {', '.join(valid)}"
            )


def _merge(layers: list[_Layer], path_options: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Every key's value from its highest layer, and that layer's name."""
    path_keys = {"workspace", "db_path", "run_dir"} | path_options
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer, base in reversed(layers):
        for key, value in layer.items():
            if key in path_keys and isinstance(value, (str, os.PathLike)):
                # A relative path in pyproject.toml is relative to that file's folder.
                value = _relative_to(base, value)
            values[key] = value
            sources[key] = source
    return values, sources


def _locations(values: Mapping[str, Any], sources: dict[str, str]) -> tuple[Path, Path, Path]:
    """The workspace, store and run folder (absolute), defaults under the workspace."""
    workspace = Path(values.get("workspace") or DEFAULT_WORKSPACE).absolute()
    sources.setdefault("workspace", "default")
    db_path = Path(values.get("db_path") or workspace / DB_FILE).absolute()
    sources.setdefault("db_path", "default")
    run_dir = Path(values.get("run_dir") or workspace / RUNS_DIR).absolute()
    sources.setdefault("run_dir", "default")
    for key, path in (("workspace", workspace), ("db_path", db_path), ("run_dir", run_dir)):
        _check_path_characters(key, path, sources[key])
    return workspace, db_path, run_dir


def _check_path_characters(key: str, path: Path, source: str) -> None:
    """Refuse at once a path no store can live at: a NUL (no file system takes it) or a
    backslash (DuckDB reads it as a folder separator, and the failure looked like a lock)."""
    text = str(path)
    if "\0" in text:
        raise ConfigValidationError(
            f"{key} {text!r} holds a NUL character, which no file name may hold; fix the "
            f"path (from {source})"
        )
    if "\\" in text:
        raise ConfigValidationError(
            f"{key} {text} holds a backslash, which the store (DuckDB) reads as a folder "
            f"separator; use a path without backslashes (from {source})"
        )


def _cache_epoch(values: Mapping[str, Any], sources: dict[str, str]) -> int:
    raw_epoch = values.get("cache_epoch", 1)
    try:
        cache_epoch = int(raw_epoch)
        if isinstance(raw_epoch, bool) or cache_epoch < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigValidationError(
            f"cache_epoch must be a positive integer, got {raw_epoch!r} "
            f"(from {sources.get('cache_epoch')})"
        ) from None
    sources.setdefault("cache_epoch", "default")
    return cache_epoch


def _options(
    domain: str,
    options_cls: type,
    fields_: Mapping[str, dataclasses.Field[Any]],
    hints: Mapping[str, Any],
    values: Mapping[str, Any],
    sources: dict[str, str],
) -> Any:
    """The domain's ``Options`` instance from the resolved values (checked and converted)."""
    domain_values: dict[str, Any] = {}
    for name in fields_:
        if name in values:
            domain_values[name] = _coerce(
                domain, name, values[name], hints.get(name), sources[name]
            )
        else:
            sources[name] = "default"
    try:
        return options_cls(**domain_values)
    except TypeError as exc:
        missing = [
            n
            for n, f in fields_.items()
            if n not in domain_values
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise ConfigValidationError(
            f"domain {domain!r} requires option(s) {', '.join(missing)}; pass them to "
            f"get_tracker() or set them in [tool.trackyard.domains.{domain}]"
        ) from exc


def _run_policies(values: Mapping[str, Any], sources: dict[str, str]) -> tuple[bool, str]:
    """``strict_inputs`` (a boolean, or 1/0, true/false, yes/no, on/off) and
    ``on_environment_change`` (one of ``ENVIRONMENT_CHOICES``)."""
    raw = values.get("strict_inputs", False)
    text = str(raw).strip().lower()
    if isinstance(raw, bool) or text in {"1", "0", "true", "false", "yes", "no", "on", "off", ""}:
        strict = raw if isinstance(raw, bool) else text in {"1", "true", "yes", "on"}
    else:
        raise ConfigValidationError(
            f"strict_inputs must be true or false, got {raw!r} "
            f"(from {sources.get('strict_inputs')})"
        )
    choice = str(values.get("on_environment_change", "warn")).strip().lower()
    if choice not in ENVIRONMENT_CHOICES:
        raise ConfigValidationError(
            f"on_environment_change must be one of {', '.join(ENVIRONMENT_CHOICES)}, got "
            f"{values.get('on_environment_change')!r} (from {sources.get('on_environment_change')})"
        )
    sources.setdefault("strict_inputs", "default")
    sources.setdefault("on_environment_change", "default")
    return strict, choice


def store_location(
    domain: str,
    workspace: Path | None = None,
    project: ProjectConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The store (``db_path``) a tracker of ``domain`` would use (see ``store_settings``)."""
    return store_settings(domain, workspace, project, environ).db_path


def store_settings(
    domain: str,
    workspace: Path | None = None,
    project: ProjectConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The core settings a tracker of ``domain`` would use, resolved like
    ``resolve_settings`` from the core keys alone, so that reading recorded runs needs
    neither the domain's plugin nor its options (``--workspace`` plays the keyword). A bad
    value in any layer is refused as ``resolve_settings`` refuses it."""
    project = project if project is not None else project_config()
    environ = os.environ if environ is None else environ
    kwargs = {"workspace": workspace} if workspace is not None else {}
    layers: list[_Layer] = [
        (source, {k: v for k, v in layer.items() if k in CORE_KEYS}, base)
        for source, layer, base in _layers(domain, kwargs, project, environ)
    ]
    values, sources = _merge(layers, set())
    ws, db_path, run_dir = _locations(values, sources)
    epoch = _cache_epoch(values, sources)
    strict, choice = _run_policies(values, sources)
    return Settings(domain, ws, db_path, run_dir, epoch, NoOptions(), sources, strict, choice)
