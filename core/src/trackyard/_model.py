"""Wrapping a user model for consist, and naming models so other processes can import them.

* ``wrap_model`` splits a model's returned dict into outputs and metrics, checks the
  outputs, and records the metrics in the run's metadata;
* ``code_identity`` and ``model_identity`` decide what of the model's code is in the
  cache key;
* ``function_reference`` / ``resolve_callable`` turn a model into ``"module:qualname"``
  and back: the one ``module:attr`` resolver of trackyard.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from trackyard._capture import Capture, watching
from trackyard._consist import active
from trackyard._layout import METRICS
from trackyard._validate import check_metric_name, encode_metric
from trackyard.errors import ConfigValidationError, OutputLocationError, OutputMissingError
from trackyard.wiring import CodeIdentity

# --- running a model inside consist -------------------------------------------------------------


def split_result(
    value: Any, metrics: dict[str, float | str], declared: tuple[str, ...] = ()
) -> Any:
    """Separate a model's returned metrics from its outputs.

    A returned dict may mix outputs (paths, or DataFrames, written to the run's folder as
    parquet) and scalar metrics (numbers). A bare DataFrame is the single declared output.
    Anything else is returned to consist unchanged.
    """
    if hasattr(value, "to_parquet") and len(declared) == 1:
        value = {declared[0]: value}
    if not isinstance(value, Mapping):
        return value

    outputs: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, (str, Path)):
            outputs[key] = Path(item)
        elif hasattr(item, "to_parquet"):
            path = active.output_path(key, "parquet")
            item.to_parquet(path)
            outputs[key] = path
        elif isinstance(item, (int, float)) or hasattr(item, "__float__"):
            metrics[check_metric_name(key)] = encode_metric(key, item)
        else:
            raise TypeError(
                f"model returned {type(item).__name__} for {key!r}; return paths or "
                "DataFrames for outputs and numbers for metrics"
            )
    return outputs or None


def _returned(outputs: Any, declared: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(outputs, Mapping):
        return dict(outputs)
    if isinstance(outputs, (str, Path)) and len(declared) == 1:
        return {declared[0]: outputs}
    if isinstance(outputs, (list, tuple)):
        return dict(zip(declared, outputs, strict=False))
    return {}


_PARALLEL: ContextVar[str | None] = ContextVar("trackyard_parallel_executor", default=None)


@contextlib.contextmanager
def in_parallel_worker(executor: str) -> Iterator[None]:
    """Runs inside happen in a worker of a parallel sweep (``executor``: its name), beside
    other runs of the same sweep: outputs written outside the run folder are refused."""
    token = _PARALLEL.set(executor)
    try:
        yield
    finally:
        _PARALLEL.reset(token)


def own_outputs(outputs: Any, declared: tuple[str, ...], fn: Any = None) -> Any:
    """Copy every returned output that lies outside the run's own folder into it.

    A model may write where its config tells it (a shared folder that the next run
    overwrites); the run records, and a cache hit serves, the copy in the run's own folder
    (``consist.output_dir()``), which no other run writes. The original is left in place.
    In a parallel sweep's worker such an output is refused (``OutputLocationError``): another
    run of the sweep may have overwritten the file before it is copied, so no copy is safe.
    """
    import shutil

    returned = _returned(outputs, declared)
    if not returned:
        return outputs
    home = active.output_dir().resolve()
    owned: dict[str, Any] = {}
    for key, value in returned.items():
        if not isinstance(value, (str, Path)) or not Path(value).exists():
            owned[key] = value
            continue
        source = Path(value).resolve()
        if source.is_relative_to(home):
            owned[key] = Path(value)
            continue
        executor = _PARALLEL.get()
        if executor is not None:
            raise OutputLocationError(
                f"model {getattr(fn, '__qualname__', fn)!r} returned output {key!r} at "
                f"{str(value)!r}, outside its run folder, in a {executor!r} sweep: another run "
                "of the sweep may overwrite that file before it is copied into the run, which "
                f"would then keep the wrong data; write it to consist.output_path({key!r}) "
                "(the run's own folder), or run this sweep with executor='serial'"
            )
        target = home / (key + ("" if source.is_dir() else source.suffix))
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
        owned[key] = target
    if isinstance(outputs, Mapping):
        return owned
    if isinstance(outputs, (list, tuple)) and len(owned) == len(outputs):
        return type(outputs)(owned.values())
    return next(iter(owned.values())) if len(owned) == 1 and len(declared) == 1 else outputs


def check_outputs(fn: Callable[..., Any], outputs: Any, declared: tuple[str, ...]) -> None:
    """Raise ``OutputMissingError`` (inside the run, so consist records it ``failed``) when a
    returned path does not exist or a declared output was neither returned nor logged."""

    returned = _returned(outputs, declared)
    where = f"model {getattr(fn, '__qualname__', fn)!r}"
    for key, value in returned.items():
        if isinstance(value, (str, Path)) and not Path(value).exists():
            raise OutputMissingError(
                f"{where} returned output {key!r} = {str(value)!r}, which does not exist; "
                "write the file before returning it (consist.output_path(key) gives its path)"
            )
    logged = active.logged_outputs()
    missing = [k for k in declared if k not in returned and k not in logged]
    if missing:
        raise OutputMissingError(
            f"{where} did not produce declared output(s) {missing}; return them (a dict of "
            f"key -> path or DataFrame) or log them with consist.log_output"
        )


def wrap_model(
    fn: Callable[..., Any],
    declared: tuple[str, ...] = (),
    on_ran: Callable[[Capture], None] | None = None,
) -> Callable[..., Any]:
    """Wrap ``fn`` so its metrics land in the run's metadata; code identity still sees ``fn``.

    What ``fn`` imports and reads while it runs is watched (``_capture``) and handed to
    ``on_ran`` inside the run, once the outputs are checked.
    """

    @functools.wraps(fn)
    def model(*args: Any, **kwargs: Any) -> Any:
        metrics: dict[str, float | str] = {}
        with watching() as seen:
            value = fn(*args, **kwargs)
        outputs = split_result(value, metrics, declared)
        check_outputs(fn, outputs, declared)
        outputs = own_outputs(outputs, declared, fn)
        if metrics:
            logged = dict(active.meta().get(METRICS) or {})
            active.set_meta(**{METRICS: {**logged, **metrics}})
        if on_ran is not None:
            on_ran(seen)
        return outputs

    return model


def model_reference(fn: Callable[..., Any]) -> str:
    """``"module:qualname"`` of the function ``fn`` wraps (for records; not checked)."""
    target = inspect.unwrap(fn)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}:{getattr(target, '__qualname__', repr(target))}"


def accepted_kwargs(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords ``fn`` declares (all of them when it takes ``**kwargs``): consist passes
    every runtime keyword, and one ``fn`` does not declare fails the run."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


# --- what of the model is in the cache key ------------------------------------------------------


def code_identity(fn: Callable[..., Any], requested: CodeIdentity | None) -> CodeIdentity:
    """The code identity mode for ``fn``; explain the fix when its code cannot be identified.

    consist hashes the file that defines the model. A model defined in ``python -c``, stdin or
    ``exec`` has no such file: its own source (``callable_source``) is used when Python can still
    read it (a notebook cell, an IPython session), else the run is refused before anything is
    written.
    """
    mode: CodeIdentity = requested or "callable_module"
    if mode != "callable_module":
        return mode
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    filename = code.co_filename if code is not None else inspect.getsourcefile(target)
    if filename and Path(filename).is_file():
        return mode
    try:
        inspect.getsource(target)
    except (OSError, TypeError):
        raise ConfigValidationError(
            f"model {getattr(target, '__qualname__', target)!r} was defined in {filename!r} "
            "(python -c, stdin or exec), so its code cannot be identified: consist keys the "
            "cache on the file that defines the model. Move the function into a .py module "
            "and import it from there"
        ) from None
    return "callable_source"


def model_identity(fn: Callable[..., Any]) -> tuple[tuple[str, Path], ...]:
    """An identity input naming the model function itself.

    consist's code identity hashes the FILE that defines the model, not which function in it
    runs: two models in one module, called with the same config under the same model name,
    would share a cache key and one would be served the other's results. The label
    ``model:<module>.<qualname>`` (pointing at that file) keeps them apart.
    """
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    filename = code.co_filename if code is not None else None
    if not filename or not Path(filename).is_file():
        return ()
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"
    return ((f"model:{name}", Path(filename)),)


# --- "module:qualname" references ---------------------------------------------------------------


def _import_attr(reference: str) -> Any:
    """The object ``"package.module:attr.path"`` names (ImportError / AttributeError)."""
    module, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def resolve_callable(value: Any, *, option: str = "model", domain: str | None = None) -> Any:
    """``value`` itself when callable, else the callable ``"package.module:function"`` names.

    ``option`` (and ``domain``) name the setting in the ``ConfigValidationError`` raised when
    the reference is malformed, does not import, or is not callable.
    """
    if callable(value):
        return value
    what = f"option {option!r}" + (f" of domain {domain!r}" if domain else "")
    if not isinstance(value, str) or ":" not in value or value.endswith(":"):
        raise ConfigValidationError(
            f"{what} must be a callable or 'package.module:function', got {value!r}"
        )
    try:
        target = _import_attr(value)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigValidationError(
            f"{what}: cannot import {value!r}: {exc}; give a callable or 'package.module:function'"
        ) from exc
    if not callable(target):
        raise ConfigValidationError(f"{what}: {value!r} is not callable, got {target!r}")
    return target


def main_is_importable() -> bool:
    """Whether worker processes can import this process's ``__main__``: run by module name
    (``python -m``) or from a file that exists (not standard input, ``-c``, a notebook or an
    interactive session)."""
    import multiprocessing.process
    import os
    import sys

    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return False
    where = getattr(multiprocessing.process, "ORIGINAL_DIR", None) or os.getcwd()
    return os.path.isfile(os.path.join(where, path))


def function_reference(fn: Callable[..., Any]) -> str:
    """``"module:qualname"`` of a module-level function that worker processes can import;
    ``ExecutorError`` (before anything runs) for any other."""
    from trackyard.errors import ExecutorError

    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    label = getattr(fn, "__qualname__", repr(fn))
    fix = "define the model as a top-level function in an importable module (package.module:fn)"
    if module == "__main__" and not main_is_importable():
        raise ExecutorError(
            f"model {label!r} is defined in __main__ (a script read from standard input, "
            "python -c, an interactive session or a notebook), which worker processes cannot "
            "import; move the model into a module (a .py file on sys.path or in your plugin "
            "package) and import it from there, or use executor='serial'"
        )
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ExecutorError(
            f"model {label!r} (module {module!r}) cannot be sent to worker processes; {fix}"
        )
    reference = f"{module}:{qualname}"
    try:
        target = _import_attr(reference)
    except (ImportError, AttributeError) as exc:
        raise ExecutorError(
            f"model {reference} is not importable by reference ({exc}); {fix}"
        ) from exc
    if target is not fn:
        raise ExecutorError(f"{reference} does not refer to the model passed in; {fix}")
    return reference
