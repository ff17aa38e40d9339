"""The core default for ``build_tracker``: a consist Tracker on the workspace's own store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trackyard.errors import ConfigValidationError, StoreUnavailableError
from trackyard.settings import Settings

if TYPE_CHECKING:
    from consist import Tracker
    from consist.models.run import Run

SCHEMA_MARKER_SUFFIX = ".trackyard-schema"


def run_subdir(run: Run) -> str:
    """Every run gets its own output folder: ``<model>/<run id>`` (never shared across runs)."""
    return f"{run.model_name or 'run'}/{run.id}"


def check_locations(settings: Settings) -> None:
    """Refuse a workspace that is a file or a DB path that is a folder, before writing."""
    if settings.workspace.exists() and not settings.workspace.is_dir():
        raise ConfigValidationError(
            f"workspace {settings.workspace} is a file, not a folder; "
            "choose another workspace (TRACKYARD_WORKSPACE or workspace=...)"
        )
    if settings.db_path.is_dir():
        raise ConfigValidationError(
            f"db_path {settings.db_path} is a folder; point db_path at a .duckdb file"
        )
    if settings.run_dir.exists() and not settings.run_dir.is_dir():
        raise ConfigValidationError(f"run_dir {settings.run_dir} is a file, not a folder")


def default_tracker(settings: Settings) -> Tracker:
    """Create the workspace and a consist ``Tracker`` on it.

    Schema set-up (~0.6 s) is skipped when this store was already initialised by the same
    consist version, which a marker file beside the DB records.
    """
    import consist
    from consist import Tracker

    check_locations(settings)
    try:
        settings.workspace.mkdir(parents=True, exist_ok=True)
        settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the workspace {settings.workspace}: {exc}"
        ) from exc
    marker = Path(str(settings.db_path) + SCHEMA_MARKER_SUFFIX)
    version = str(consist.__version__)
    initialised = (
        settings.db_path.is_file()
        and settings.db_path.stat().st_size > 0
        and marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == version
    )
    tracker = Tracker(
        run_dir=settings.run_dir,
        db_path=settings.db_path,
        run_subdir_fn=run_subdir,
        db_skip_schema_init=initialised,
    )
    if not initialised:
        marker.write_text(version + "\n", encoding="utf-8")
    return tracker
