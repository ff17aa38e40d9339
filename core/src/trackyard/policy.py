"""Plugin policy: which discovered plugins may be imported, decided from metadata only.

Every check here runs BEFORE a plugin module is imported (see docs/trust.md):

1. allow/deny lists by domain name or distribution (``[tool.trackyard.plugins]`` ``allow``
   and ``deny``; ``TRACKYARD_PLUGINS`` allows only the named ones;
   ``TRACKYARD_DISABLE_PLUGIN_AUTOLOAD=1`` loads none unless named) -> status ``disabled``;
2. location: the ``*.dist-info`` folder must sit in one of the interpreter's site-packages
   folders or a ``trusted_paths`` entry of the user's config file or ``TRACKYARD_TRUSTED_PATHS``
   (never a project file: a folder cannot vouch for itself) -> else ``untrusted``;
3. ownership: the entry point's top-level module must be shipped by its own distribution (its
   ``RECORD``; for an editable install, a folder its ``.pth`` file adds, inside the project named
   by ``direct_url.json``) -> else ``untrusted``;
4. compatibility: the distribution's ``Requires-Dist: trackyard ...`` must accept the installed
   core version -> else ``incompatible``.

Strict mode (``TRACKYARD_STRICT=1`` or ``strict = true``) turns every refusal into an error at
discovery.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import site
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlparse

from trackyard._version import __version__
from trackyard.errors import ConfigValidationError
from trackyard.settings import ProjectConfig, UserConfig, user_config, user_config_path

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

PLUGINS_ENV = "TRACKYARD_PLUGINS"
NO_AUTOLOAD_ENV = "TRACKYARD_DISABLE_PLUGIN_AUTOLOAD"
STRICT_ENV = "TRACKYARD_STRICT"
TRUSTED_ENV = "TRACKYARD_TRUSTED_PATHS"
_POLICY_KEYS = ("allow", "deny", "strict")

Refusal = Literal["disabled", "untrusted", "incompatible"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


FLAG_SPELLINGS = ("1", "0", "true", "false", "yes", "no", "on", "off")


def env_flag(environ: Mapping[str, str], variable: str) -> bool | None:
    """A boolean environment variable: None when unset or empty; one of
    ``FLAG_SPELLINGS`` (any case, spaces around ignored); anything else is refused, so that
    a typo never silently means "off"."""
    raw = environ.get(variable)
    text = (raw or "").strip().lower()
    if not text:
        return None
    if text not in FLAG_SPELLINGS:
        raise ConfigValidationError(
            f"environment {variable} must be one of {', '.join(FLAG_SPELLINGS)} (or empty), "
            f"got {raw!r}"
        )
    return text in {"1", "true", "yes", "on"}


def _names(raw: object, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigValidationError(f"{where} must be a list of domain or distribution names")
    return frozenset(_norm(x) for x in raw)


def trusted_roots() -> list[Path]:
    """The interpreter's own install folders: site-packages, purelib and platlib."""
    roots = [Path(p) for p in site.getsitepackages()]
    paths = sysconfig.get_paths()
    roots += [Path(paths["purelib"]), Path(paths["platlib"])]
    if site.ENABLE_USER_SITE:
        roots.append(Path(site.getusersitepackages()))
    return list(dict.fromkeys(_real(r) for r in roots))


def _user_trusted(user: UserConfig) -> list[Path]:
    """The user's config file's ``trusted_paths``: absolute (or ``~``) folders only, so that no
    entry can mean "wherever I happen to be"."""
    raw = user.table.get("trusted_paths", [])
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ConfigValidationError(f"{user.label} trusted_paths must be a list of folders")
    return [_trusted_folder(entry, f"{user.label} trusted_paths") for entry in raw]


def _env_trusted(environ: Mapping[str, str]) -> list[Path]:
    """``TRACKYARD_TRUSTED_PATHS``: absolute (or ``~``) folders only, as in the config file."""
    entries = [e for e in environ.get(TRUSTED_ENV, "").split(os.pathsep) if e.strip()]
    return [_trusted_folder(entry, f"environment {TRUSTED_ENV}") for entry in entries]


def _trusted_folder(entry: str, source: str) -> Path:
    """A trusted folder as written in ``source``: absolute (or ``~``), never the current one."""
    path = Path(entry).expanduser()
    if not path.is_absolute():
        raise ConfigValidationError(
            f"{source} entry {entry!r} is relative; write an absolute "
            "folder (or one starting with ~), so that it never means the current folder"
        )
    return _real(path)


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


@dataclass(frozen=True)
class Verdict:
    """The policy's answer for one entry point: ``status`` None means it may be imported."""

    status: Refusal | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Policy:
    """Resolved plugin policy (configuration + environment)."""

    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    strict: bool = False
    trusted_paths: tuple[Path, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    config_file: Path | None = None  # the user's config file, where trusted_paths may be set

    @classmethod
    def resolve(
        cls, project: ProjectConfig, environ: Mapping[str, str], user: UserConfig | None = None
    ) -> Policy:
        """Read ``[tool.trackyard.plugins]``, the user's config file and the environment
        (environment wins). Trust (``trusted_paths``) comes only from the user's config file
        and ``TRACKYARD_TRUSTED_PATHS``: a project file may narrow the policy, never widen it."""
        table = project.table.get("plugins", {})
        where = f"{project.path} [tool.trackyard.plugins]"
        if not isinstance(table, dict):
            raise ConfigValidationError(f"{where} must be a table")
        if "trusted_paths" in table:
            raise ConfigValidationError(
                f"{where}: trusted_paths is not read from a project file, because a folder "
                f"cannot vouch for itself; put it in {user_config_path(environ)} [plugins] "
                f"or {TRUSTED_ENV}, and remove it from {project.path}"
            )
        unknown = sorted(set(table) - set(_POLICY_KEYS))
        if unknown:
            raise ConfigValidationError(
                f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: "
                + ", ".join(_POLICY_KEYS)
            )
        sources: dict[str, str] = {}
        allow = _names(table["allow"], f"{where} allow") if "allow" in table else None
        if allow is not None:
            sources["allow"] = where
        deny = _names(table.get("deny", []), f"{where} deny")
        if deny:
            sources["deny"] = where
        strict = table.get("strict", False)
        if not isinstance(strict, bool):
            raise ConfigValidationError(f"{where} strict must be true or false, got {strict!r}")
        if strict:
            sources["strict"] = where
        user = user if user is not None else user_config(environ)
        user_strict = user.table.get("strict", False)
        if not isinstance(user_strict, bool):
            raise ConfigValidationError(
                f"{user.label} strict must be true or false, got {user_strict!r}"
            )
        if user_strict and not strict:
            strict = True
            sources["strict"] = user.label
        trusted = _user_trusted(user)

        no_autoload = env_flag(environ, NO_AUTOLOAD_ENV)
        named = frozenset(_norm(x) for x in environ.get(PLUGINS_ENV, "").split(",") if x.strip())
        if named:
            allow = named
            sources["allow"] = f"environment {PLUGINS_ENV}"
        elif no_autoload:
            allow = frozenset()
            sources["allow"] = f"environment {NO_AUTOLOAD_ENV}=1 (name plugins in {PLUGINS_ENV})"
        env_strict = env_flag(environ, STRICT_ENV)
        if env_strict is not None:
            strict = env_strict
            sources["strict"] = f"environment {STRICT_ENV}"
        trusted += _env_trusted(environ)
        return cls(allow, deny, strict, tuple(dict.fromkeys(trusted)), sources, user.path)

    # --- the checks -----------------------------------------------------------------------------

    def check(self, ep: EntryPoint, name: str, kind: str) -> Verdict:
        """Decide, from metadata and the file system only, whether ``ep`` may be imported."""
        dist = ep.dist
        dist_name = dist.name if dist is not None else "<unknown>"
        keys = {_norm(name), _norm(dist_name)}
        what = f"{kind} {name!r} from distribution {dist_name!r}"
        if keys & self.deny:
            return Verdict(
                "disabled", f"{what} is denied by {self.sources.get('deny')}; remove it from deny"
            )
        if self.allow is not None and not keys & self.allow:
            return Verdict(
                "disabled",
                f"{what} is not allowed by {self.sources.get('allow')}; add {name!r} to the "
                f"allow list or {PLUGINS_ENV}",
            )
        if dist is None:
            return Verdict("untrusted", f"{what}: entry point has no distribution metadata")
        return (
            self._check_location(dist, what)
            or self._check_target(ep, dist, what)
            or self._check_compatible(dist, what)
            or Verdict()
        )

    def _check_location(self, dist: Any, what: str) -> Verdict | None:
        info = getattr(dist, "_path", None)
        if info is None:
            return Verdict("untrusted", f"{what}: its metadata has no location on disk")
        folder = _real(Path(info)).parent
        if _under(folder, trusted_roots()) or _under(folder, self.trusted_paths):
            return None
        return Verdict(
            "untrusted",
            f"{what} was found in {folder}, outside this interpreter's site-packages "
            f"(an implicit sys.path entry such as the current folder?); it was not imported. "
            f"Install it with pip, or trust the folder with [plugins] trusted_paths in "
            f"{self.config_file or 'your user config file'} or {TRUSTED_ENV}",
        )

    def _check_target(self, ep: EntryPoint, dist: Any, what: str) -> Verdict | None:
        top = ep.module.split(".")[0]
        try:
            # A top-level find_spec locates the module without executing any of its code.
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        where: str
        if spec is None:
            origin, where = None, "not found"
        elif spec.origin in (None, "built-in", "frozen"):
            origin, where = None, "built into Python, not a file of any distribution"
        else:
            origin = _real(Path(spec.origin))
            where = str(origin)
        if origin is not None and origin in _shipped_files(dist):
            return None
        if origin is not None and _under(origin, _editable_roots(dist)):
            return None
        return Verdict(
            "untrusted",
            f"{what} points at {ep.value!r}, but module {top!r} "
            f"({where}) is not shipped by {dist.name!r}; it was not imported",
        )

    def _check_compatible(self, dist: Any, what: str) -> Verdict | None:
        for raw in dist.requires or []:
            if not _ON_CORE.match(raw):
                continue  # not a requirement on trackyard: no parsing needed
            if _plainly_accepted(raw):
                continue  # the common case, decided without importing packaging
            specifier = _core_specifier(raw)
            if specifier is None:
                continue
            from packaging.version import Version

            if not specifier.contains(Version(__version__), prereleases=True):
                return Verdict(
                    "incompatible",
                    f"{what} requires trackyard{specifier} but trackyard {__version__} is "
                    f"installed; install a release of {dist.name!r} built for trackyard "
                    f"{Version(__version__).major}.x, or a trackyard that matches "
                    f"{specifier}",
                )
        return None


# A requirement line naming the core: "trackyard", then not more of a longer name.
_ON_CORE = re.compile(r"\s*trackyard(?![A-Za-z0-9_.-]*[A-Za-z0-9])", re.IGNORECASE)
# The common form with no environment marker: "trackyard[extra] (>=0.1,<1)".
_PLAIN = re.compile(r"\s*trackyard\s*(?:\[[^\]]*\])?\s*\(?([^;()@]*)\)?\s*$", re.IGNORECASE)


_EXTRA_ONLY = re.compile(r";.*\bextra\s*==")
# One clause of a specifier on plain release numbers: ">=0.1", "<1", "~=0.1.2", "==0.1".
_CLAUSE = re.compile(r"\s*(~=|==|!=|<=|>=|<|>)\s*(\d+(?:\.\d+)*)\s*$")
_RELEASE = re.compile(r"\d+(?:\.\d+)*$")


def _release(text: str, width: int) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (width - len(parts)))


def _plainly_accepted(raw: str) -> bool:
    """True when ``raw`` is a marker-free requirement whose clauses all compare plain release
    numbers and all accept the installed core version (zero-padded, as PEP 440 compares
    releases). False means "not decided here": ``packaging`` then decides, exactly."""
    plain = _PLAIN.match(raw)
    if plain is None or not _RELEASE.match(__version__):
        return False
    for clause in filter(str.strip, plain.group(1).split(",")):
        match = _CLAUSE.match(clause)
        if match is None:
            return False
        op, other = match.groups()
        width = max(len(other.split(".")), len(__version__.split(".")))
        have, want = _release(__version__, width), _release(other, width)
        if op == "~=":
            prefix = len(other.split(".")) - 1
            accepted = prefix > 0 and have >= want and have[:prefix] == want[:prefix]
        else:
            accepted = {
                "==": have == want,
                "!=": have != want,
                "<=": have <= want,
                ">=": have >= want,
                "<": have < want,
                ">": have > want,
            }[op]
        if not accepted:
            return False
    return True


def _core_specifier(raw: str) -> Any:
    """The version specifier of a requirement on trackyard, or None when it does not apply.

    The plain form is read with ``packaging.specifiers`` alone; a requirement with a marker
    takes the full (slower to import) ``packaging.requirements`` parser.
    """
    plain = _PLAIN.match(raw)
    if plain is None and _EXTRA_ONLY.search(raw):
        return None  # needed only with an optional extra, e.g. trackyard[dask]; extra == "dask"
    if plain is not None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return SpecifierSet(plain.group(1).strip())
        except InvalidSpecifier:
            return None
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(raw)
    except InvalidRequirement:
        return None
    if _norm(req.name) != "trackyard" or (req.marker and not req.marker.evaluate()):
        return None
    return req.specifier


def _shipped_files(dist: Any) -> set[Path]:
    files = dist.files or []
    return {_real(Path(str(dist.locate_file(f)))) for f in files if str(f).endswith(".py")}


def _editable_roots(dist: Any) -> list[Path]:
    """Folders an editable install maps its modules to: its ``.pth`` entries inside the project
    folder recorded in ``direct_url.json`` (the project folder itself without a ``.pth``)."""
    raw = dist.read_text("direct_url.json")
    if not raw:
        return []
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return []
    if not (isinstance(data, dict) and (data.get("dir_info") or {}).get("editable")):
        return []
    url = urlparse(str(data.get("url", "")))
    if url.scheme != "file":
        return []
    project = _real(Path(unquote(url.path)))
    roots = []
    for f in dist.files or []:
        if str(f).endswith(".pth"):
            try:
                lines = Path(str(dist.locate_file(f))).read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import ")):
                    root = _real(Path(line))
                    if _under(root, [project]):
                        roots.append(root)
    return roots or [project]
