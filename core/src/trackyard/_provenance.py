"""What of a run's world goes into its cache key, and whether a cache hit's files still hold.

* ``config_inputs`` finds the files a config names: a ``pathlib.Path`` is hashed by
  content; a string naming an existing file or folder (``named_file``: also through ``~``,
  ``$VAR`` and ``file:`` URIs, or a bare name of a file in the current folder) is refused (its
  content would not be in the key) unless the domain lists its key in
  ``Wiring.untracked_config``;
* ``input_identity`` keys ``inputs={"label": path}`` on the files' content;
* ``code_dependencies`` lists the model's code (``_deps.model_code``: the files of the
  distribution that provides it and the project modules it imports, transitively), plus the
  wiring's ``code_dependencies``;
* ``distribution_of`` names the installed distribution that provides the model;
* ``stale_outputs`` says why a cache hit's outputs cannot be served (missing, changed).

Everything here becomes consist ``identity_inputs`` (label, path): consist hashes their content
into the config hash, so the same key is computed by ``Tracker.run`` and by the many-run
pre-check.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from trackyard._deps import ModelCode
from trackyard.errors import ConfigValidationError

__all__ = [
    "code_dependencies",
    "config_inputs",
    "distribution_of",
    "input_identity",
    "named_file",
    "plain_config",
    "stale_outputs",
]

IdentityInput = tuple[str, Path]


# --- files a config names -----------------------------------------------------------------------


def _walk(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    yield where, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}[{index}]")


def _expanded(text: str) -> str:
    """``text`` as a reader that expands it would open it: a ``file:`` URI as its local path,
    then ``~`` and ``$VAR``/``${VAR}`` expanded (unset variables are left as they stand)."""
    if text[:5].lower() == "file:":
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            return text  # a file on another host: not this machine's file
        text = url2pathname(parts.path)
    return os.path.expandvars(os.path.expanduser(text))


def named_file(text: str) -> str | None:
    """The existing file or folder ``text`` names, or ``None`` for any other string.

    A path-like string (a separator or a file suffix, and a letter or digit: not ``"/"``,
    ``"."`` or a bare word) names what exists at it after ``~``, ``$VAR`` and ``file:`` URIs
    are expanded; a bare word names a file (never a folder) of that name in the current folder.
    """
    if not text or len(text) > 4096 or "\n" in text or "\0" in text:
        return None
    if not any(c.isalnum() for c in text):
        return None
    try:
        path = _expanded(text)
        if os.sep in path or Path(path).suffix or path != text:
            return path if os.path.exists(path) else None
        return path if os.path.isfile(path) else None
    except (OSError, ValueError):
        return None


def plain_config(config: Any) -> Any:
    """``config`` with every ``pathlib.Path`` turned into its string (what the model receives
    and what is validated as JSON)."""
    return _plain(config)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def config_inputs(
    config: Mapping[str, Any], *, run: str, untracked: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[IdentityInput]]:
    """The config with ``Path`` values as strings, and the files it names as identity inputs.

    A ``pathlib.Path`` anywhere in the config is an input: its content is hashed (label
    ``config:<where>``). A string naming an existing file or folder raises
    ``ConfigValidationError``: hashing every such string would also hash log files and output
    folders, and keying on the string alone serves stale results when the file changes.
    Top-level keys in ``untracked`` are left alone (a log the model appends to).
    """
    found: list[IdentityInput] = []
    for key, value in config.items():
        if key in untracked:
            continue
        for where, item in _walk(value, str(key)):
            if isinstance(item, Path):
                if not item.exists():
                    raise ConfigValidationError(
                        f"config value {where!r} of run {run!r} is the path {str(item)!r}, which "
                        "does not exist; a Path in a config is an input file, hashed by content"
                    )
                found.append((f"config:{where}", item))
            elif isinstance(item, str) and (named := named_file(item)) is not None:
                raise _plain_string_error(where, key, run, item, named)
    return _plain(dict(config)), found


def _plain_string_error(
    where: str, key: object, run: str, given: str, named: str
) -> ConfigValidationError:
    """The refusal of config string ``given`` (at ``where``), which names ``named``."""
    resolved = os.path.abspath(named)
    shown = repr(given) if resolved == given else f"{given!r} (which resolves to {resolved!r})"
    problem = (
        f"config value {where!r} of run {run!r} names the existing "
        f"{'folder' if os.path.isdir(named) else 'file'} {shown} as a plain string, "
        "so its content would not be in the cache key and an edited file would be "
        "served the old result"
    )
    error = ConfigValidationError(
        f"{problem}; pass it as inputs={{{key!r}: path}} or as a "
        "pathlib.Path in the config (both hash its content), or list "
        f"{key!r} in Wiring.untracked_config if the model does not read it"
    )
    error.path_string, error.problem = (given, named), problem
    return error


def input_identity(inputs: Mapping[str, Any]) -> list[IdentityInput]:
    """``inputs={"label": path}`` as identity inputs ``input:<label>``, hashed by content
    (other values, such as consist artifacts, are keyed by consist itself)."""
    return [
        (f"input:{label}", Path(value))
        for label, value in inputs.items()
        if isinstance(value, (str, os.PathLike))
    ]


# --- code identity ------------------------------------------------------------------------------


def code_dependencies(
    code: ModelCode,
    extra: tuple[Path, ...] = (),
    *,
    manifests: Path,
    checksum: Callable[[Path], str],
) -> list[IdentityInput]:
    """The model's code as identity inputs: ONE manifest of every code file's label and
    content hash (``_deps.model_code``: its distribution's files, ``dist:<name>:<file>``, and
    the project modules it imports, ``code:<module>``), kept content-addressed in
    ``manifests`` and labelled ``codeset:<module>``, so consist hashes one small file however
    many modules the model has; and the wiring's extra code dependencies (``code:<path>``)."""
    found: list[IdentityInput] = []
    digests = code_digests(code, checksum)
    if digests:
        text = "".join(f"{label}\t{entry['sha256']}\n" for label, entry in digests.items())
        found.append((f"{CODESET}{code.module}", _manifest(manifests, text)))
    for dependency in extra:
        if not dependency.exists():
            raise ConfigValidationError(
                f"code dependency {str(dependency)!r} (Wiring.code_dependencies) does not exist; "
                "list the files the model runs or reads as code"
            )
        found.append((f"code:{dependency}", dependency))
    return found


CODESET = "codeset:"  # the label of a model's code manifest


def code_digests(code: ModelCode, checksum: Callable[[Path], str]) -> dict[str, dict[str, str]]:
    """``{label: {"path", "sha256"}}`` of every file of the model's code, sorted by label."""
    return {
        f.label: {"path": str(f.path), "sha256": checksum(f.path)}
        for f in sorted(code.files, key=lambda f: f.label)
        if f.path.is_file()
    }


def _manifest(folder: Path, text: str) -> Path:
    import hashlib

    target = folder / f"{hashlib.sha256(text.encode()).hexdigest()}.txt"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return target


def distribution_of(code: ModelCode) -> str | None:
    """``"name==version"`` of the installed distribution providing the model."""
    return None if code.distribution is None else "==".join(code.distribution)


# --- what a cache hit checks --------------------------------------------------------------------


def stale_outputs(result: Any, checksum: Callable[[Path], str]) -> str | None:
    """Why the outputs of cache hit ``result`` cannot be served, or ``None`` when they can.

    Every output must exist and hash to what consist recorded (``checksum`` is consist's own
    file hash); a hit whose files are gone or were changed is never returned.
    """
    for key, artifact in sorted((result.outputs or {}).items()):
        path = Path(result.output_path(key))
        if not path.exists():
            return f"output {key!r} ({path}) of run {artifact.run_id} is missing"
        recorded = getattr(artifact, "hash", None)
        if recorded and checksum(path) != recorded:
            return f"output {key!r} ({path}) of run {artifact.run_id} was changed"
    return None
