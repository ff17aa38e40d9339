"""Write a new domain plugin package from the templates in ``trackyard/cli/templates/plugin``."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from trackyard._userfile import write_text_atomically
from trackyard.errors import ConfigValidationError

DOMAIN_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")

# template file -> path in the new package ({package} and {name} are filled in)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "__init__.py.tmpl": "src/{package}/__init__.py",
    "plugin.py.tmpl": "src/{package}/plugin.py",
    "tracker.py.tmpl": "src/{package}/tracker.py",
    "model.py.tmpl": "src/{package}/model.py",
    "start.txt.tmpl": "src/{package}/start.txt",
    "test_conformance.py.tmpl": "tests/test_{name}_conformance.py",
}


DIST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
PACKAGE_RE = re.compile(r"[a-z_][a-z0-9_]*")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _taken_domain(domain: str) -> str | None:
    """Who already provides ``domain``: a first-party or an installed distribution."""
    from importlib.metadata import entry_points

    from trackyard.installer import FIRST_PARTY

    if domain in FIRST_PARTY:
        return f"the first-party distribution {FIRST_PARTY[domain]!r}"
    for ep in entry_points(group="trackyard.domains"):
        if ep.name == domain:
            owner = ep.dist.name if ep.dist is not None else "an unnamed distribution"
            return f"the installed distribution {owner!r}"
    return None


def _taken_dist(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    from trackyard.installer import CORE, FIRST_PARTY

    if _norm(dist) in {_norm(d) for d in (CORE, *FIRST_PARTY.values())}:
        return "a first-party distribution"
    try:
        return f"installed (version {version(dist)})"
    except PackageNotFoundError:
        return None


def _taken_package(package: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)  # top level only: runs no module code
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    return f"already importable (from {spec.origin or 'a namespace package'})"


def names(domain: str, dist: str | None = None, package: str | None = None) -> dict[str, str]:
    """The names a package for ``domain`` uses; ``ConfigValidationError`` for a bad name or a
    name that would collide with an installed or first-party domain, distribution or package
    (installing it would silently replace that one)."""
    if not DOMAIN_RE.fullmatch(domain) or domain.endswith("_") or "__" in domain:
        raise ConfigValidationError(
            f"invalid domain name {domain!r}: use lowercase letters, digits and single '_', "
            "starting with a letter (for example 'traffic' or 'land_use')"
        )
    owner = _taken_domain(domain)
    if owner is not None:
        raise ConfigValidationError(
            f"domain {domain!r} is already provided by {owner}; choose another domain name "
            "(two plugins claiming one name conflict, and installing this one would replace it)"
        )
    dist = dist if dist is not None else f"trackyard-{domain.replace('_', '-')}"
    if not DIST_RE.fullmatch(dist):
        raise ConfigValidationError(
            f"invalid distribution name {dist!r}: use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit (for example 'acme-traffic')"
        )
    taken = _taken_dist(dist)
    if taken is not None:
        raise ConfigValidationError(
            f"distribution name {dist!r} is {taken}: installing this package would replace "
            "it; choose another with --dist (for example 'acme-" + domain.replace("_", "-") + "')"
        )
    package = package if package is not None else f"trackyard_{domain}"
    if not PACKAGE_RE.fullmatch(package):
        raise ConfigValidationError(
            f"invalid package name {package!r}: use lowercase letters, digits and '_', "
            "starting with a letter or '_' (for example 'acme_traffic')"
        )
    taken = _taken_package(package)
    if taken is not None:
        raise ConfigValidationError(
            f"package name {package!r} is {taken}: choose another with --package "
            f"(for example 'acme_{domain}')"
        )
    from trackyard._version import __version__

    major, minor, *_ = __version__.split(".")
    # The next release that may break plugins: the next minor while the core is 0.x, else the
    # next major (docs/writing-a-plugin.md, "Compatibility").
    core_next = f"0.{int(minor) + 1}" if major == "0" else f"{int(major) + 1}"
    return {
        "name": domain,
        "dist": dist,
        "package": package,
        "tracker_class": "".join(p.capitalize() for p in domain.split("_")) + "Tracker",
        "core_min": f"{major}.{minor}",
        "core_next": core_next,
    }


def write_plugin(
    domain: str,
    target: Path | None = None,
    dist: str | None = None,
    package: str | None = None,
) -> tuple[Path, list[Path]]:
    """Write the package for ``domain`` into ``target`` (default ``./<distribution>``).

    Refuses a bad or taken name, and a target that exists and is not empty, before writing
    anything.
    """
    values = names(domain, dist, package)
    root = (target if target is not None else Path(values["dist"])).absolute()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigValidationError(
            f"{root} already exists and is not empty; choose another folder with --dir"
        )
    templates = resources.files("trackyard.cli") / "templates" / "plugin"
    written = []
    for template_name, relative in FILES.items():
        text = Template((templates / template_name).read_text(encoding="utf-8"))
        path = root / relative.format(**values)
        written.append(write_text_atomically(path, text.substitute(values), "the plugin file"))
    typed = root / "src" / values["package"] / "py.typed"
    write_text_atomically(typed, "", "the plugin file")
    written.append(typed)
    return root, written
