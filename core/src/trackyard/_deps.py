"""What a run used: the code keyed before it runs, what it was seen to use, and the checks a
cache hit must pass.

* ``model_code`` is the model's code known before it runs (``_codeset.code_files``);
* ``check_loaded`` raises ``StaleCodeError`` when a module of that code changed on disk
  since this process loaded it (the process would run old code under the new key);
* ``record`` turns what a run was seen to import and read (``_capture``) into the run's
  dependency record, ``run.meta["trackyard"]["deps"]``:

  ```text
      {"modules": {"<module>": {"path": "...", "sha256": "..."}},  # the project's code used
       "undeclared_inputs": {"<absolute path>": "<sha256>"},       # files read, not declared
       "environment": {"<distribution>": "<version>"}}              # other distributions used
  ```

* ``verify`` says why a recorded run cannot be served now (a module or an undeclared
  input changed), and ``environment_changes`` which distributions changed version.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackyard import _capture, _codeset
from trackyard._codeset import CodeFile
from trackyard.errors import EnvironmentChangedWarning, StaleCodeError

__all__ = [
    "ModelCode",
    "check_loaded",
    "describe_changes",
    "environment_changes",
    "environment_policy",
    "model_code",
    "record",
    "undeclared_message",
    "verify",
    "warn_batch",
]

Checksum = Callable[[Path], str]
MODULES = "modules"
UNDECLARED = "undeclared_inputs"
ENVIRONMENT = "environment"

# Modules each model module was seen to import while it ran, in this process: a lazy import
# of a module already loaded raises no audit event, so later runs still list it.
_SEEN: dict[str, dict[str, Path]] = {}
# Content of a loaded module's file when trackyard first keyed it (modules loaded before
# trackyard was imported, whose load it could not observe).
_FIRST_LOOK: dict[str, str] = {}


@dataclass(frozen=True)
class ModelCode:
    """A model's code as keyed before it runs."""

    module: str
    files: tuple[CodeFile, ...]
    imports: frozenset[str] = frozenset()  # top-level names of other modules it imports
    distribution: tuple[str, str] | None = None
    seen: Mapping[str, Path] = field(default_factory=dict)


def model_code(fn: Callable[..., Any]) -> ModelCode:
    """The files keyed as ``fn``'s code: its distribution's files and its project's modules
    that it imports, transitively (see ``_codeset``). A model defined in a script is keyed
    with the script; one defined where no file holds it (a notebook cell, ``python -c``)
    with the project modules its globals hold."""
    target = inspect.unwrap(fn)
    name = getattr(target, "__module__", None) or ""
    path = _codeset.module_file(sys.modules.get(name))
    seen = dict(_SEEN.get(name, {}))
    if path is None:
        files, imports = _held_code(getattr(target, "__globals__", {}))
        return ModelCode(name, tuple(files), frozenset(imports), None, seen)
    files, imports = _codeset.code_files(name, path)
    dist = None if name == "__main__" else _codeset.distribution_of_module(name, path)
    return ModelCode(name, tuple(files), frozenset(imports), dist, seen)


def _held_code(namespace: Mapping[str, Any]) -> tuple[list[CodeFile], set[str]]:
    """The code of the project modules (under the current folder, not installed) that a
    namespace holds: modules, and the modules that define the functions, classes and other
    objects in it."""
    root = Path.cwd().resolve()
    installed = _codeset.installed_roots()
    files: dict[str, CodeFile] = {}
    imports: set[str] = set()
    for value in list(namespace.values()):
        owner = (
            value
            if inspect.ismodule(value)
            else sys.modules.get(str(getattr(value, "__module__", "") or ""))
        )
        path = _codeset.module_file(owner)
        if owner is None or path is None or owner.__name__ == "__main__":
            continue
        if not path.is_relative_to(root) or str(path).startswith(installed):
            imports.add(owner.__name__.partition(".")[0])
            continue
        found, more = _codeset.code_files(owner.__name__, path)
        files.update((f.label, f) for f in found)
        imports |= more
    return sorted(files.values(), key=lambda f: f.label), imports


def _code_modules(code: ModelCode) -> dict[str, Path]:
    """Module name -> file of the project's modules in ``code`` (keyed or seen)."""
    found = {f.label[5:]: f.path for f in code.files if f.label.startswith("code:")}
    found.update(code.seen)
    return found


def _module_name(file: CodeFile) -> str | None:
    """The module a keyed ``.py`` file is (``code:<module>``; ``dist:<name>:<a/b.py>``)."""
    if file.label.startswith("code:"):
        return file.label[5:]
    if file.label.startswith("dist:") and file.path.suffix == ".py":
        relative = file.label.split(":", 2)[2].removesuffix(".py").removesuffix("/__init__")
        return relative.replace("/", ".")
    return None


def _loaded_from(name: str, path: Path) -> bool:
    module = sys.modules.get(name)
    return module is not None and _codeset.module_file(module) == path


def check_loaded(code: ModelCode, checksum: Checksum) -> None:
    """Raise ``StaleCodeError`` when a module of ``code`` that this process has loaded was
    changed on disk since: the call would run the old code under the new code's key."""
    modules = {n: f.path for f in code.files if (n := _module_name(f)) is not None}
    modules.update(code.seen)
    stale: list[tuple[str, Path]] = []
    for name, path in sorted(modules.items()):
        if not _loaded_from(name, path):
            continue
        changed = _capture.changed_since_loaded(str(path))
        if changed is not None:
            if changed:
                stale.append((name, path))
            continue
        digest = checksum(path) if path.exists() else ""
        if _FIRST_LOOK.setdefault(str(path), digest) != digest:
            stale.append((name, path))
    if stale:
        raise StaleCodeError(_stale_message(code.module, stale))


def _stale_message(model: str, stale: list[tuple[str, Path]]) -> str:
    name, path = stale[0]
    more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
    return (
        f"module {name!r} used by model module {model!r} was changed on disk ({path}) after "
        f"this process loaded it{more}: running now would execute the old code and store its "
        "result under the new code's cache key; restart the interpreter (or notebook kernel), "
        f"or importlib.reload() the changed module and the modules that import from it, then "
        "call again"
    )


def record(
    code: ModelCode,
    capture: _capture.Capture,
    *,
    declared: Iterable[Path],
    run_folder: Path | None,
    checksum: Checksum,
) -> dict[str, Any]:
    """The dependency record of a run that executed ``code`` and did what ``capture`` saw."""
    seen = _SEEN.setdefault(code.module, {})
    modules: dict[str, Path] = {}
    tops = set(code.imports)
    keyed_paths = {f.path for f in code.files}
    for name in sorted(capture.modules):
        module = sys.modules.get(name)
        path = _codeset.module_file(module)
        if path is None or _codeset.is_stdlib(path):
            continue
        if path in keyed_paths or _codeset.distribution_of_module(name, path) is None:
            modules[name] = seen[name] = path
        else:
            tops.add(name.partition(".")[0])
    modules.update({n: p for n, p in _code_modules(code).items() if n not in modules})
    own = code.distribution[0] if code.distribution else None
    return {
        MODULES: {
            name: {"path": str(path), "sha256": checksum(path)}
            for name, path in sorted(modules.items())
            if path.exists()
        },
        UNDECLARED: _undeclared(
            capture.reads - capture.writes, declared, run_folder, keyed_paths, checksum
        ),
        ENVIRONMENT: _codeset.environment(sorted(tops), own),
    }


def _undeclared(
    reads: Iterable[str],
    declared: Iterable[Path],
    run_folder: Path | None,
    code: set[Path],
    checksum: Checksum,
) -> dict[str, str]:
    """Regular files read that are neither declared inputs (or inside a declared folder),
    code, in the run's folder, nor part of the interpreter or an installed package. (A file
    the run also wrote is its own state, a log or a counter, not an input: ``reads`` come
    without them.)"""
    skip = [p.resolve() for p in declared]
    if run_folder is not None:
        skip.append(run_folder.resolve())
    installed = (*_codeset.installed_roots(), *_system_roots())
    found: dict[str, str] = {}
    for text in sorted(reads):
        path = Path(text).resolve()
        if not path.is_file() or str(path).startswith(installed) or path in code:
            continue
        if path.suffix in {".py", ".pyc", ".so", ".pth"}:
            continue
        if any(path == s or path.is_relative_to(s) for s in skip):
            continue
        found[str(path)] = checksum(path)
    return found


@functools.cache
def _system_roots() -> tuple[str, ...]:
    """Folders whose files are the machine's and the user's tools' settings, not a model's
    data: reads there (a library's config, a font cache, mime types) are not inputs."""
    home = Path.home()
    roots = [
        sys.prefix,
        sys.base_prefix,
        "/etc",
        "/usr",
        "/proc",
        "/sys",
        "/dev",
        "/run",
        os.environ.get("XDG_CACHE_HOME") or str(home / ".cache"),
        os.environ.get("XDG_CONFIG_HOME") or str(home / ".config"),
    ]
    return tuple(str(Path(r).resolve()) + os.sep for r in roots)


def verify(deps: Mapping[str, Any] | None, checksum: Checksum) -> str | None:
    """Why a run with dependency record ``deps`` cannot be served now, or ``None``."""
    if not deps:
        return None
    for name, entry in sorted((deps.get(MODULES) or {}).items()):
        path = Path(entry.get("path", ""))
        if not path.is_file():
            return f"module {name!r} ({path}) that the run used is gone"
        if checksum(path) != entry.get("sha256"):
            return f"module {name!r} ({path}) that the run used was changed"
    for text, digest in sorted((deps.get(UNDECLARED) or {}).items()):
        path = Path(text)
        if not path.is_file():
            return f"file {text} that the run read (undeclared input) is gone"
        if checksum(path) != digest:
            return f"file {text} that the run read (undeclared input) was changed"
    return None


def environment_changes(deps: Mapping[str, Any] | None) -> dict[str, tuple[str | None, str | None]]:
    """``{distribution: (recorded version, current version)}`` for each distribution whose
    version differs from the one recorded (``None``: not installed)."""
    recorded = dict((deps or {}).get(ENVIRONMENT) or {})
    if not recorded:
        return {}
    now = _codeset.recorded_environment_now(recorded)
    return {n: (v, now[n]) for n, v in sorted(recorded.items()) if now[n] != v}


def describe_changes(changed: Mapping[str, tuple[str | None, str | None]]) -> str:
    """``"numpy 1.26.4 -> 2.0.0, scipy 1.13.0 -> not installed"``."""
    return ", ".join(
        f"{name} {old or 'not installed'} -> {new or 'not installed'}"
        for name, (old, new) in sorted(changed.items())
    )


def environment_policy(
    policy: str,
    name: str,
    source: str | None,
    changed: Mapping[str, tuple[str | None, str | None]],
) -> str | None:
    """Apply ``on_environment_change`` to a hit whose environment ``changed``: the reason to
    execute again (``"rerun"``), else ``None`` after a one-line warning (``"warn"``)."""
    text = describe_changes(changed)
    if policy == "rerun":
        return f"the environment changed since run {source} ({text})"
    if policy == "warn":
        warnings.warn(
            EnvironmentChangedWarning(
                f"run {name!r} was served from cache (run {source}), recorded under another "
                f'environment: {text}; set on_environment_change = "rerun" to execute it '
                'again, or "serve" to silence this'
            ),
            stacklevel=4,
        )
    return None


def undeclared_message(name: str, code: ModelCode, files: Mapping[str, str]) -> str:
    """The ``UndeclaredInputError`` of a run that read ``files`` without declaring them."""
    first = next(iter(files))
    more = f" (and {len(files) - 1} more: {', '.join(list(files)[1:4])})" if len(files) > 1 else ""
    return (
        f"run {name!r} (model module {code.module!r}) read {first}{more}, which is neither an "
        "input, a pathlib.Path in its config, code nor in its run folder, and strict_inputs is "
        "on: its content would not be in the cache key. Pass it as inputs={'<label>': path} "
        "or as a pathlib.Path in the config (both key its content), list it in "
        "Wiring.code_dependencies if it is code, or turn strict_inputs off"
    )


def warn_batch(
    domain: str, changed: Mapping[str, Mapping[str, tuple[str | None, str | None]]]
) -> None:
    """One ``EnvironmentChangedWarning`` for the cache hits of a batch (``changed``: run id
    -> its environment changes)."""
    merged: dict[str, tuple[str | None, str | None]] = {}
    for changes in changed.values():
        merged.update(changes)
    warnings.warn(
        EnvironmentChangedWarning(
            f"{len(changed)} cached run(s) of domain {domain!r} served in this batch were "
            f"recorded under another environment: {describe_changes(merged)}; set "
            'on_environment_change = "rerun" to execute them again, or "serve" to silence this'
        ),
        stacklevel=5,
    )
