"""The consist run in progress: helpers that work only inside a model's run.

consist's module-level ``output_path``, ``output_dir``, ``current_consist``, ``current_run`` and
``log_meta`` (public API) act on the run active in this thread. consist is imported on first
call: these run only inside a consist run, where it is loaded anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["log_meta", "logged_outputs", "meta", "output_dir", "output_path"]


def output_path(key: str, ext: str) -> Path:
    """Where the active run's output ``key`` goes (``consist.output_path``)."""
    import consist

    return Path(consist.output_path(key, ext))


def output_dir() -> Path:
    """The active run's own folder (``consist.output_dir``)."""
    import consist

    return Path(consist.output_dir())


def logged_outputs() -> set[str]:
    """The keys of the outputs the active run logged so far (``consist.log_output``)."""
    import consist

    record = consist.current_consist()
    return {a.key for a in (record.outputs if record is not None else [])}


def meta() -> dict[str, Any]:
    """The active run's metadata so far (``{}`` outside a run)."""
    import consist

    run = consist.current_run()
    return dict((run.meta or {}) if run is not None else {})


def log_meta(**values: Any) -> None:
    """Record top-level keys in the active run's metadata (``consist.log_meta``)."""
    import consist

    consist.log_meta(**values)
