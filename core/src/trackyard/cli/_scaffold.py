"""Write a new domain plugin package from the templates in ``trackyard/cli/templates/plugin``."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from trackyard.errors import ConfigValidationError

DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

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


def names(domain: str) -> dict[str, str]:
    """The names a package for ``domain`` uses; ``ConfigValidationError`` for a bad name."""
    if not DOMAIN_RE.match(domain) or domain.endswith("_") or "__" in domain:
        raise ConfigValidationError(
            f"invalid domain name {domain!r}: use lowercase letters, digits and single '_', "
            "starting with a letter (for example 'traffic' or 'land_use')"
        )
    from trackyard._version import __version__

    major, minor, *_ = __version__.split(".")
    return {
        "name": domain,
        "dist": f"trackyard-{domain.replace('_', '-')}",
        "package": f"trackyard_{domain}",
        "tracker_class": "".join(p.capitalize() for p in domain.split("_")) + "Tracker",
        "core_min": f"{major}.{minor}",
    }


def write_plugin(domain: str, target: Path | None = None) -> tuple[Path, list[Path]]:
    """Write the package for ``domain`` into ``target`` (default ``./trackyard-<domain>``).

    Refuses a target that exists and is not empty, before writing anything.
    """
    values = names(domain)
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
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.substitute(values), encoding="utf-8")
        written.append(path)
    typed = root / "src" / values["package"] / "py.typed"
    typed.write_text("", encoding="utf-8")
    written.append(typed)
    return root, written
