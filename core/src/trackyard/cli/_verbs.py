"""A domain tracker's verbs, read from type-annotated signatures, and parsing values for them.

Verbs are the public methods a tracker class defines itself (anything below ``DomainTracker`` in
its class hierarchy) plus the verbs plugins register through ``register_verbs``.
"""

from __future__ import annotations

import inspect
import json
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard._depth import check_key_depth, check_text_depth
from trackyard._discovery import suggest
from trackyard.errors import ConfigValidationError
from trackyard.tracker import DomainTracker


@dataclass(frozen=True)
class Verb:
    """One verb: its name, the callable, its parameters and their resolved annotations."""

    name: str
    fn: Callable[..., Any]
    signature: inspect.Signature
    hints: Mapping[str, Any]
    doc: str
    source: str

    def describe(self) -> str:
        params = [
            _param_text(p, self.hints.get(p.name, p.annotation))
            for p in self.signature.parameters.values()
        ]
        return f"{self.name}({', '.join(params)})"


def _type_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("collections.abc.", "")


def _param_text(param: inspect.Parameter, annotation: Any) -> str:
    text = f"{param.name}: {_type_name(annotation)}"
    if param.default is not inspect.Parameter.empty:
        text += f" = {param.default!r}"
    return text


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    target = inspect.unwrap(getattr(fn, "func", fn))
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: fall back to the raw ones
        return dict(getattr(target, "__annotations__", {}))


def class_verbs(cls: type[DomainTracker]) -> dict[str, tuple[Callable[..., Any], str]]:
    """Public methods defined by ``cls`` or its bases below ``DomainTracker``, except overrides
    of the base class's own methods (``setup``)."""
    out: dict[str, tuple[Callable[..., Any], str]] = {}
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, DomainTracker) or klass is DomainTracker:
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            if hasattr(DomainTracker, name):  # an override of a base hook such as setup()
                continue
            out[name] = (member, klass.__qualname__)
    return dict(sorted(out.items()))


def tracker_verbs(tracker: DomainTracker) -> dict[str, Verb]:
    """Every verb of a built tracker: class methods, then plugin-registered verbs."""
    out: dict[str, Verb] = {}
    for name, (fn, owner) in class_verbs(type(tracker)).items():
        bound = getattr(tracker, name)
        out[name] = Verb(
            name, bound, inspect.signature(bound), _hints(fn), inspect.getdoc(fn) or "", owner
        )
    for name, fn in sorted(tracker.verbs.items()):
        if name in out:
            continue  # a class verb, described above
        func = getattr(fn, "func", fn)
        out[name] = Verb(
            name,
            fn,
            inspect.signature(fn),
            _hints(fn),
            inspect.getdoc(func) or "",
            f"plugin verb {getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}",
        )
    return out


def declared_verbs(
    cls: type[DomainTracker], registered: list[tuple[str, str, Callable[..., Any]]]
) -> dict[str, Verb]:
    """The verbs ``tracker_verbs`` lists for a tracker of ``cls`` with the plugin verbs
    ``registered`` ((plugin, name, function) triples), read without building the tracker."""

    def unbound(fn: Callable[..., Any]) -> inspect.Signature:
        sig = inspect.signature(fn)
        return sig.replace(parameters=list(sig.parameters.values())[1:])  # drop the tracker

    out: dict[str, Verb] = {}
    for name, (fn, owner) in class_verbs(cls).items():
        out[name] = Verb(name, fn, unbound(fn), _hints(fn), inspect.getdoc(fn) or "", owner)
    for _plugin, name, fn in sorted(registered, key=lambda r: r[1]):
        out[name] = Verb(
            name,
            fn,
            unbound(fn),
            _hints(fn),
            inspect.getdoc(fn) or "",
            f"plugin verb {getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}",
        )
    return out


def get_verb(tracker: DomainTracker, name: str) -> Verb:
    return pick_verb(tracker.domain_name, tracker_verbs(tracker), name)


def pick_verb(domain: str, verbs: Mapping[str, Verb], name: str) -> Verb:
    """``verbs[name]``, or the error naming the domain's verbs and the closest one."""
    if name not in verbs:
        close = suggest(name, verbs)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigValidationError(
            f"domain {domain!r} has no verb {name!r} (verbs: {', '.join(verbs) or 'none'}).{hint}"
        )
    return verbs[name]


# --- values -------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _structured(raw: str) -> Any:
    """JSON first, then a TOML inline value (``{a = 1}``, ``[1, 2]``, ``'text'``)."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    return tomllib.loads(f"value = {raw}")["value"]


def _loose(raw: str) -> Any:
    """A value without a useful annotation: JSON/TOML when it parses, else the text itself."""
    try:
        return _structured(raw)
    except ValueError:
        return raw


def _file_value(raw: str) -> Any:
    """``@PATH`` as a ``pathlib.Path`` (``~`` expanded), ``@@text`` as the text ``@text``;
    ``None`` for any other text."""
    if raw.startswith("@@"):
        return raw[1:]
    if raw.startswith("@") and len(raw) > 1:
        return Path(os.path.expanduser(raw[1:]))
    return None


def _set_value(raw: str, annotation: Any) -> Any:
    """A ``--set`` value: ``@PATH`` is a path wherever a ``Path`` fits (not for a ``str``
    parameter, which takes the text as it stands), else parsed by ``annotation``."""
    marked = _file_value(raw) if annotation is not str else None
    if isinstance(marked, Path):
        return check_value(marked, annotation)
    return parse_text(raw if marked is None else marked, annotation)


def parse_text(raw: str, annotation: Any) -> Any:
    """Parse command-line text for a parameter annotated ``annotation``; ``ValueError`` if bad."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return _loose(raw)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and raw.strip().lower() in {"none", "null"}:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return parse_text(raw, arg)
            except (ValueError, TypeError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is typing.Literal:
        for choice in args:
            if str(choice) == raw:
                return choice
        raise ValueError(f"expected one of {', '.join(map(repr, args))}")
    if annotation is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError("expected true or false")
    if annotation is int:
        return int(raw)
    if annotation is float:
        return float(raw)
    if annotation is str:
        return raw
    if annotation is Path or (isinstance(annotation, type) and issubclass(annotation, Path)):
        return Path(raw)
    container = origin or annotation
    if container in (dict, list, tuple, set, Mapping) or (
        isinstance(container, type) and issubclass(container, (Mapping, list, tuple))
    ):
        value = _structured(raw)
        return check_value(value, annotation)
    return _loose(raw)


def check_value(value: Any, annotation: Any) -> Any:
    """Check an already-typed value (from TOML) against ``annotation``; ``TypeError`` if bad."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return check_value(value, arg)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"expected {_type_name(annotation)}, got {type(value).__name__}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"expected one of {', '.join(map(repr, args))}")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is Path and isinstance(value, str):
        return Path(value)
    container = origin or annotation
    if container is Mapping:
        container = dict
    if isinstance(container, type):
        if container is int and isinstance(value, bool):
            raise TypeError("expected int, got bool")
        if container is tuple and isinstance(value, list):
            return tuple(value)
        if container is Path and isinstance(value, Path):
            return value
        if not isinstance(value, container):
            raise TypeError(f"expected {_type_name(annotation)}, got {type(value).__name__}")
    return value


def _parameter(verb: Verb, name: str, domain: str) -> inspect.Parameter:
    params = verb.signature.parameters
    if name not in params or params[name].kind in (
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    ):
        raise ConfigValidationError(
            f"verb {domain}.{verb.name} has no parameter {name!r} "
            f"(parameters: {', '.join(params) or 'none'}); usage: {verb.describe()}"
        )
    return params[name]


def _bad(verb: Verb, name: str, raw: Any, exc: Exception) -> ConfigValidationError:
    annotation = _type_name(verb.hints.get(name, inspect.Parameter.empty))
    return ConfigValidationError(
        f"bad value {raw!r} for parameter {name!r} of verb {verb.name} "
        f"(expected {annotation}): {exc}"
    )


def build_arguments(
    verb: Verb, domain: str, file_values: Mapping[str, Any], settings: list[str]
) -> dict[str, Any]:
    """Keyword arguments for ``verb`` from a TOML file's values and ``--set key=value`` items.

    ``--set`` wins over the file. ``--set config.seed=3`` sets one key inside a dict parameter.
    ``--set config.data=@contacts.csv`` passes a ``pathlib.Path`` (an input file, hashed by
    content); ``@@`` starts a value with a literal ``@``.
    Every missing required parameter and every bad value is an error naming the parameter.
    """
    kwargs: dict[str, Any] = {}
    for name, value in file_values.items():
        _parameter(verb, name, domain)
        try:
            kwargs[name] = check_value(value, verb.hints.get(name, inspect.Parameter.empty))
        except (TypeError, ValueError) as exc:
            raise _bad(verb, name, value, exc) from None
    for item in settings:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigValidationError(
                f"--set {item!r}: expected key=value, e.g. --set run_name=baseline"
            )
        shown = key if len(key) <= 40 else key[:37] + "..."
        check_key_depth(key, f"--set {shown}")
        check_text_depth(raw, f"--set {shown}")
        name, dot, subkey = key.partition(".")
        _parameter(verb, name, domain)
        annotation = verb.hints.get(name, inspect.Parameter.empty)
        if dot:
            current = kwargs.get(name) or {}
            if not isinstance(current, dict):
                raise ConfigValidationError(
                    f"--set {key}=...: parameter {name!r} of verb {verb.name} is not a table"
                )
            node = current = dict(current)
            *parents, leaf = subkey.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            marked = _file_value(raw)
            node[leaf] = _loose(raw) if marked is None else marked
            try:
                kwargs[name] = check_value(current, annotation)
            except (TypeError, ValueError) as exc:
                raise _bad(verb, name, key, exc) from None
            continue
        try:
            kwargs[name] = _set_value(raw, annotation)
        except (TypeError, ValueError) as exc:
            raise _bad(verb, name, raw, exc) from None
    missing = [
        p.name
        for p in verb.signature.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and p.name not in kwargs
    ]
    if missing:
        raise ConfigValidationError(
            f"verb {domain}.{verb.name} needs {', '.join(repr(m) for m in missing)}; pass "
            f"--set {missing[0]}=VALUE or put it in --config FILE.toml; usage: {verb.describe()}"
        )
    return kwargs


def _location(value: Any, target: str, where: str) -> str | None:
    """The ``--set`` key (``config.data``) at which ``value`` holds the string ``target``."""
    if value == target:
        return where
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _location(item, target, f"{where}.{key}")
            if found is not None:
                return found
    return None


def command_line_hint(error: ConfigValidationError, kwargs: Mapping[str, Any]) -> str | None:
    """For a refused config string naming a file (``error.path_string``) that came from these
    verb arguments: how to pass that file with ``--set`` instead."""
    if error.path_string is None:
        return None
    given, named = error.path_string
    for name, value in kwargs.items():
        where = _location(value, given, name)
        if where is not None:
            return (
                f"pass it as a file with --set {where}=@{named} "
                "(a value starting with @ is a path, hashed by content)"
            )
    return None
