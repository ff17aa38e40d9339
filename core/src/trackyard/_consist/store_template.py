"""The empty store a new workspace is born from: a per-user cache of consist's set-up.

consist's schema set-up of a new store (``DatabaseManager._init_schema``: its tables, the
compatibility columns, a view) costs 0.5-0.6 s, paid by every first ``get_tracker`` in a new
workspace. Its result depends only on the versions of the code that writes it, so the first
new store set up for a user is kept, empty, in the user's cache, and later new stores are
copies of it (a few milliseconds):

```text
    $TRACKYARD_CACHE_DIR            (else $XDG_CACHE_HOME/trackyard, else ~/.cache/trackyard;
                                     ~/Library/Caches/trackyard on macOS,
                                     %LOCALAPPDATA%\\trackyard\\cache on Windows)
      stores/<key>.duckdb           an initialised store with no rows
      stores/<key>.json             its manifest: the versions that made it, its sha256
```

``<key>`` names consist's and DuckDB's versions and a digest of every version in the
manifest (``versions``): consist, DuckDB, SQLAlchemy, duckdb_engine, SQLModel (they write the
schema's DDL and the file) and ``FORMAT`` (trackyard's own, raised when what is kept changes).

* ``place``: copy the template beside the new store, check the copy (manifest versions equal
  this process's, sha256 equal to the manifest's, DuckDB headers and catalogue whole), then
  rename it into place. Anything else (no template, other versions, damage, a leftover
  ``.wal`` where the store goes, an unwritable folder, a store that appeared there meanwhile)
  returns False: set it up normally. Never replaces an existing file.
* ``keep``: after consist set up a store that did not exist before, copy it into the cache
  (a temporary name, checked to hold no row, then renamed; the manifest last), so concurrent
  first makers each write a whole template and a reader that sees one's file and the other's
  manifest refuses the pair. Failures are ignored: the cache is an optimisation.

The caller (``tracker._open``) holds the store's set-up lock and writes the schema marker
afterwards, so no other trackyard process uses the store while it is being placed or kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import uuid
from pathlib import Path

from trackyard._dbfile import intact
from trackyard._layout import WAL_SUFFIX

CACHE_ENV = "TRACKYARD_CACHE_DIR"
STORES_DIR = "stores"
FORMAT = "1"  # raise when what a template holds, or how it is checked, changes
_LIBRARIES = ("consist", "duckdb", "sqlalchemy", "duckdb_engine", "sqlmodel")

log = logging.getLogger("trackyard.store")


def cache_dir() -> Path:
    """trackyard's per-user cache folder (``TRACKYARD_CACHE_DIR`` overrides it)."""
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / "trackyard" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "trackyard"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "trackyard"


def versions() -> dict[str, str]:
    """The versions that decide an empty store's bytes (the libraries are loaded by now:
    the caller has just imported consist)."""
    import importlib

    found = {"trackyard-template": FORMAT}
    for name in _LIBRARIES:
        found[name] = str(getattr(importlib.import_module(name), "__version__", "unknown"))
    return found


def template_path(current: dict[str, str]) -> Path:
    """``stores/<key>.duckdb`` in the cache for these versions."""
    digest = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:12]
    name = f"consist-{current['consist']}-duckdb-{current['duckdb']}-{digest}.duckdb"
    return cache_dir() / STORES_DIR / name


def _manifest(template: Path) -> Path:
    return template.with_suffix(".json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def place(db_path: Path) -> bool:
    """Make the new store ``db_path`` a checked copy of the cached template; False (nothing
    written) when there is none that is current and whole."""
    if db_path.exists() or Path(f"{db_path}{WAL_SUFFIX}").exists():
        return False
    current = versions()
    template = template_path(current)
    try:
        manifest = json.loads(_manifest(template).read_text(encoding="utf-8"))
        if manifest.get("versions") != current:
            return False
        copy = db_path.with_name(f".{db_path.name}.{uuid.uuid4().hex[:8]}.new")
        try:
            shutil.copyfile(template, copy)
            if _sha256(copy) != manifest.get("sha256") or not intact(copy):
                log.debug("the store template %s does not match its manifest", template)
                return False
            return _settle(copy, db_path)
        finally:
            copy.unlink(missing_ok=True)
    except (OSError, ValueError, AttributeError) as exc:
        log.debug("no store template used for %s: %s", db_path, exc)
        return False


def _settle(copy: Path, db_path: Path) -> bool:
    """Give ``copy`` the name ``db_path`` unless a store appeared there meanwhile (a hard link
    fails on an existing name; where links are not supported, a rename after a check)."""
    try:
        os.link(copy, db_path)
    except FileExistsError:
        return False
    except OSError:
        if db_path.exists():
            return False
        os.replace(copy, db_path)
    return True


def keep(db_path: Path) -> None:
    """Keep ``db_path`` (a store consist has just set up, never written to) as the template
    for these versions, unless a whole one is there already. Never raises."""
    current = versions()
    template = template_path(current)
    try:
        if _current_template(template, current):
            return
        if Path(f"{db_path}{WAL_SUFFIX}").exists() or not intact(db_path):
            return  # not a settled file: never kept
        template.parent.mkdir(parents=True, exist_ok=True)
        temporary = template.with_name(f".{uuid.uuid4().hex[:8]}-{template.name}")
        try:
            shutil.copyfile(db_path, temporary)
            if not _empty(temporary):
                return
            sha = _sha256(temporary)
            text = json.dumps({"versions": current, "sha256": sha}, indent=1, sort_keys=True)
            staged = _manifest(temporary)
            staged.write_text(text + "\n", encoding="utf-8")
            os.replace(temporary, template)
            os.replace(staged, _manifest(template))
        finally:
            temporary.unlink(missing_ok=True)
            _manifest(temporary).unlink(missing_ok=True)
    except Exception as exc:  # the cache is an optimisation: a new store never fails on it
        log.debug("the store template %s was not kept: %s", template, exc)


def _current_template(template: Path, current: dict[str, str]) -> bool:
    """Whether ``template`` and its manifest are current and agree."""
    with contextlib.suppress(OSError, ValueError):
        manifest = json.loads(_manifest(template).read_text(encoding="utf-8"))
        return bool(
            manifest.get("versions") == current and manifest.get("sha256") == _sha256(template)
        )
    return False


def _empty(db: Path) -> bool:
    """Whether every table of the store ``db`` holds no row (a template never carries one)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
        for (table,) in tables:
            name = str(table).replace('"', '""')
            row = con.execute(f'SELECT count(*) FROM main."{name}"').fetchone()
            if row is None or row[0]:
                return False
    return bool(tables)
