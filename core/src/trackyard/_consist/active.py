"""The consist run in progress: helpers that work only inside a model's run.

consist's module-level ``output_path``, ``output_dir``, ``current_consist`` and ``current_run``
(public API) act on the run active in this thread. consist is imported on first
call: these run only inside a consist run, where it is loaded anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["logged_outputs", "meta", "output_dir", "output_path", "set_meta"]


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


def set_meta(**values: Any) -> None:
    """Set top-level keys of the active run's metadata in memory; consist writes them with the
    run's end (``consist.log_meta`` writes the run's row and snapshot at once: ~40 ms, and a
    write the store-release timer of a long model can race)."""
    import consist

    run = consist.current_run()
    if run is not None:
        run.meta = {**(run.meta or {}), **values}
