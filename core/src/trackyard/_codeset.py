"""Which code a model is: the files keyed before it runs, and the distributions it uses.

* ``code_files`` is the model's code known before it runs: every file of the distribution
  that provides it (its ``RECORD`` entries; for an editable install, the files of its
  top-level package) and every module of its project that it imports, transitively, found by
  reading the import statements (``import x``, ``from x import NAME``, imports inside
  functions, ``importlib.import_module("x")``), so a constant, a parameter dict or a lazily
  imported helper is keyed by content;
* ``environment`` maps top-level module names to the installed distributions (other than
  the model's own) that provide them, with their versions.

Nothing here imports a module to find it: modules are located on ``sys.path`` with
``importlib.machinery.PathFinder``. Each result is cached for as long as the files it was
read from are unchanged (checked by ``stat``), so a call costs a few ``stat`` calls.
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.metadata
import os
import sys
import sysconfig
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

__all__ = [
    "CodeFile",
    "code_files",
    "distribution_of_module",
    "environment",
    "installed_roots",
    "is_stdlib",
    "module_file",
]

_SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".tox"}


@dataclass(frozen=True)
class CodeFile:
    """One file of a model's code: its label in the cache key and its path."""

    label: str
    path: Path


@functools.cache
def installed_roots() -> tuple[str, ...]:
    """Folders whose modules are never "the model's project": stdlib and site-packages."""
    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= {p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))}
    return tuple(sorted(str(Path(r).resolve()) + os.sep for r in roots if r))


@functools.cache
def _stdlib_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(str(Path(paths[k]).resolve()) + os.sep for k in ("stdlib", "platstdlib"))


def is_stdlib(path: Path | str) -> bool:
    """Whether ``path`` lies in the interpreter's standard library (site-packages excluded)."""
    text = str(path)
    return text.startswith(_stdlib_roots()) and "site-packages" not in text


def module_file(module: ModuleType | None) -> Path | None:
    """The resolved ``.py`` file a module was loaded from, if any (resolved once per
    module file name: a run asks for the same modules every time)."""
    filename = getattr(module, "__file__", None) if module is not None else None
    if not filename or not filename.endswith(".py"):
        return None
    return _resolved_file(filename)


@functools.lru_cache(maxsize=8192)
def _resolved_file(filename: str) -> Path | None:
    path = Path(filename).resolve()
    return path if path.is_file() else None


def _stat_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# --- locating modules without importing them ---------------------------------------------------


def locate(name: str) -> Path | None:
    """The ``.py`` file of module ``name`` (loaded, or found on ``sys.path``), importing
    nothing: ``importlib.util.find_spec`` would run parent packages' ``__init__``."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return module_file(loaded)
    search: list[str] | None = None
    spec = None
    for part in name.split("."):
        spec = importlib.machinery.PathFinder.find_spec(part, search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    origin = getattr(spec, "origin", None)
    if not origin or not str(origin).endswith(".py"):
        return None
    return Path(origin).resolve()


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _absolute(module: str | None, level: int, package: str) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module and base else (module or base or None)


def _literal_import(node: ast.Call) -> str | None:
    """``"x"`` of ``importlib.import_module("x")``, ``import_module("x")``, ``__import__("x")``."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in {"import_module", "__import__"} or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _imported_names(tree: ast.AST, package: str) -> Iterator[str]:
    """Every module name an import statement (at any depth) or a literal ``import_module``
    call in ``tree`` may load; ``from x import y`` yields ``x`` and ``x.y`` (y may be a
    submodule)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base:
                yield base
                yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            literal = _literal_import(node)
            if literal and not literal.startswith("."):
                yield literal


@functools.lru_cache(maxsize=2048)
def _parsed_imports(path: Path, stat: tuple[int, int, int, int], package: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return ()
    names: set[str] = set()
    for name in _imported_names(tree, package):
        parts = name.split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return tuple(sorted(names))


def imports_of(name: str, path: Path) -> tuple[str, ...]:
    """The module names ``path`` (module ``name``) imports, parents included."""
    stat = _stat_key(path)
    return () if stat is None else _parsed_imports(path, stat, _package_of(name, path))


def _walk_imports(name: str, path: Path, root: Path) -> tuple[dict[str, Path], set[str]]:
    """Modules under ``root`` reached from ``name`` by imports, transitively; and the
    top-level names of everything else it imports."""
    local: dict[str, Path] = {name: path}
    outside: set[str] = set()
    todo = [(name, path)]
    installed = installed_roots()
    while todo:
        current, file = todo.pop()
        for imported in imports_of(current, file):
            if imported in local:
                continue
            found = locate(imported)
            if found is not None and _in_project(found, root, installed):
                local[imported] = found
                todo.append((imported, found))
            else:
                outside.add(imported.partition(".")[0])
    return local, outside


def _in_project(path: Path, root: Path, installed: tuple[str, ...]) -> bool:
    """Under ``root`` and, unless the root itself is installed, not in an installed folder
    (a virtual environment inside the project folder is not the project)."""
    if not path.is_relative_to(root):
        return False
    return root_is_installed(root) or not str(path).startswith(installed)


def root_is_installed(root: Path) -> bool:
    return (str(root) + os.sep).startswith(installed_roots())


def project_root(name: str, path: Path) -> Path:
    """The folder a model's project is keyed in: the folder holding its top-level package
    (or module); for an installed model, its top-level package folder itself (never the
    whole site-packages)."""
    depth = name.count(".") + (1 if path.name == "__init__.py" else 0)
    holder = path.parents[depth] if depth < len(path.parents) else path.parent
    if root_is_installed(holder):
        top = holder / name.partition(".")[0]
        return top if top.is_dir() else path.parent
    return holder


# --- installed distributions --------------------------------------------------------------------


@dataclass(frozen=True)
class _Dist:
    name: str
    version: str
    editable: tuple[Path, ...]  # folders an editable install puts on the path (or maps)
    dist: importlib.metadata.Distribution


def _editable_folders(dist: importlib.metadata.Distribution) -> tuple[Path, ...]:
    """Folders an editable install serves its code from: path lines of its ``.pth`` files,
    and the ``MAPPING`` of a setuptools ``__editable___*_finder.py``."""
    folders: list[Path] = []
    for entry in dist.files or ():
        name = entry.name
        if name.endswith(".pth"):
            text = _read(Path(str(dist.locate_file(entry))))
            folders += [Path(line.strip()) for line in text.splitlines() if _path_line(line)]
        elif name.startswith("__editable___") and name.endswith("_finder.py"):
            folders += _finder_mapping(Path(str(dist.locate_file(entry))))
    return tuple(dict.fromkeys(f.resolve() for f in folders if f.exists()))


def _path_line(line: str) -> bool:
    line = line.strip()
    return bool(line) and not line.startswith(("#", "import ")) and os.path.isabs(line)


def _finder_mapping(path: Path) -> list[Path]:
    try:
        tree = ast.parse(_read(path))
    except SyntaxError:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "MAPPING" for t in node.targets
        ):
            try:
                mapping = ast.literal_eval(node.value)
            except ValueError:
                return []
            return [Path(p) for p in mapping.values()] if isinstance(mapping, dict) else []
    return []


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _top_names(dist: importlib.metadata.Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    names: set[str] = set()
    for entry in dist.files or ():
        first = entry.parts[0] if entry.parts else ""
        if first and first != ".." and not first.endswith((".dist-info", ".pth", ".egg-info")):
            names.add(first.removesuffix(".py"))
    return names


@functools.lru_cache(maxsize=4)
def _index(search_path: tuple[str, ...]) -> tuple[dict[str, _Dist], list[_Dist]]:
    """Top-level module name -> distribution, and the editable installs, for one
    ``sys.path`` (built once: it reads every distribution's metadata, ~0.1-0.5 s)."""
    tops: dict[str, _Dist] = {}
    editables: list[_Dist] = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        direct = dist.read_text("direct_url.json") or ""
        editable = _editable_folders(dist) if '"editable":true' in direct.replace(" ", "") else ()
        entry = _Dist(name, dist.version, editable, dist)
        if editable:
            editables.append(entry)
        for top in _top_names(dist):
            tops.setdefault(top, entry)
    return tops, editables


def _dist_for(name: str, path: Path | None) -> _Dist | None:
    """The distribution whose files hold module ``name`` (at ``path``): an editable install
    serving that folder, or the distribution of its top-level name installed where it is."""
    tops, editables = _index(tuple(sys.path))
    if path is not None:
        for entry in editables:
            if any(path.is_relative_to(folder) for folder in entry.editable):
                return entry
    found = tops.get(name.partition(".")[0])
    if found is None or found.editable:
        return None
    if path is not None and not path.is_relative_to(
        Path(str(found.dist.locate_file(""))).resolve()
    ):
        return None  # a local module that shadows an installed one
    return found


def distribution_of_module(name: str, path: Path | None = None) -> tuple[str, str] | None:
    """``(distribution, version)`` of the installed distribution providing module ``name``."""
    found = _dist_for(name, path)
    return (found.name, found.version) if found is not None else None


def _dist_files(entry: _Dist, top: str) -> list[tuple[str, Path]]:
    """(relative name, path) of every file of a distribution that is code or package data:
    ``RECORD`` entries outside its ``.dist-info`` and scripts; for an editable install, the
    files of the model's top-level package folder."""
    if entry.editable:
        for folder in entry.editable:
            package = folder / top
            if package.is_dir():
                return [(str(p.relative_to(folder)), p) for p in _tree(package)]
            if (folder / f"{top}.py").is_file():
                return [(f"{top}.py", folder / f"{top}.py")]
        return []
    files: list[tuple[str, Path]] = []
    for item in entry.dist.files or ():
        text = str(item)
        if text.startswith("..") or ".dist-info/" in text or "__pycache__" in text:
            continue
        if text.endswith((".pyc", ".pth")):
            continue
        files.append((text, Path(str(entry.dist.locate_file(item))).resolve()))
    return files


def _tree(folder: Path) -> Iterator[Path]:
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(current) / name


# --- the model's code ---------------------------------------------------------------------------


_Watched = tuple[tuple[str, tuple[int, int, int, int] | None], ...]
_Found = tuple[list[CodeFile], set[str]]
_CACHE: dict[tuple[str, str, tuple[str, ...]], tuple[_Watched, _Found]] = {}


def code_files(module_name: str, path: Path | None = None) -> tuple[list[CodeFile], set[str]]:
    """The files keyed as module ``module_name``'s code (loaded from ``path``, else found on
    ``sys.path``), and the top-level names of the other modules it imports (for
    ``environment``). Cached while the module is loaded from the same file and the files
    read to find them (and the folders walked) are unchanged."""
    path = path or locate(module_name)
    key = (module_name, str(path), tuple(sys.path))
    cached = _CACHE.get(key)
    if cached is not None and all(_stat_key(Path(p)) == s for p, s in cached[0]):
        return cached[1]
    result, watched = _find_code(module_name, path)
    _CACHE[key] = (tuple((str(p), _stat_key(p)) for p in watched), result)
    return result


def _find_code(
    module_name: str, path: Path | None
) -> tuple[tuple[list[CodeFile], set[str]], list[Path]]:
    if path is None:
        return ([], set()), []
    root = project_root(module_name, path)
    local, outside = _walk_imports(module_name, path, root)
    found: dict[Path, CodeFile] = {}
    watched = [*local.values()]
    entry = _dist_for(module_name, path)
    if entry is not None:
        top = module_name.partition(".")[0]
        for relative, file in _dist_files(entry, top):
            found.setdefault(file.resolve(), CodeFile(f"dist:{entry.name}:{relative}", file))
        watched += [f for f in _dirs(entry, top)]
    for name, file in sorted(local.items()):
        found.setdefault(file, CodeFile(f"code:{name}", file))
    if entry is not None:
        outside.discard(module_name.partition(".")[0])
    files = sorted(found.values(), key=lambda c: c.label)
    return (files, outside), watched


def _dirs(entry: _Dist, top: str) -> list[Path]:
    """Folders whose change (a file added or removed) must refresh an editable's file list."""
    dirs: list[Path] = []
    for folder in entry.editable:
        package = folder / top
        if package.is_dir():
            for current, subdirs, _ in os.walk(package):
                subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS]
                dirs.append(Path(current))
    return dirs


def environment(tops: Iterable[str], own: str | None = None) -> dict[str, str]:
    """``{distribution: version}`` of the installed distributions providing the top-level
    module names ``tops`` (standard library, the model's project and ``own`` excluded)."""
    index, _ = _index(tuple(sys.path))
    found: dict[str, str] = {}
    for top in tops:
        entry = index.get(top)
        if entry is not None and entry.name != own:
            found[entry.name] = entry.version
    return dict(sorted(found.items()))


def recorded_environment_now(recorded: Mapping[str, str]) -> dict[str, str | None]:
    """The current version of each distribution in ``recorded`` (``None``: not installed)."""
    versions = {e.name: e.version for e in _index(tuple(sys.path))[0].values()}
    versions.update({e.name: e.version for e in _index(tuple(sys.path))[1]})
    return {name: versions.get(name) for name in recorded}
