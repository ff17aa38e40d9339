"""The API reference covers the public API: every exported name and every public member of the
core classes has a docstring, and every exported name is rendered in docs/reference.md."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import trackyard

ROOT = Path(__file__).resolve().parents[2]
CORE_SRC = ROOT / "core" / "src"
REFERENCE_PAGES = [
    ROOT / "docs" / "reference.md",
    *sorted((ROOT / "docs" / "reference").glob("*.md")),
]
DIRECTIVE = re.compile(r"^::: *([\w.]+)", re.M)
CLASSES = ["DomainTracker", "Wiring", "Registry", "ManyResult", "RunOutcome"]

# Public names allowed to lack a docstring: none. An entry that gets one must be removed
# (test_known_missing_lists_only_real_gaps insists).
KNOWN_MISSING: set[str] = set()


def _own_doc(obj: Any) -> str:
    """The docstring written for ``obj`` itself (not inherited, not dataclass-generated)."""
    if isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    doc = (getattr(obj, "__doc__", None) or "").strip()
    if inspect.isclass(obj):
        doc = (vars(obj).get("__doc__") or "").strip()
        if dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
            return ""  # the signature dataclasses put there when the class has no docstring
    return doc


def _attribute_doc(name: str, obj: Any) -> str:
    """The docstring under a module-level assignment (``x = ...`` then a string), read by griffe
    as mkdocstrings renders it, from any trackyard module that defines ``name`` as ``obj``."""
    import griffe

    loader = griffe.GriffeLoader(search_paths=[str(CORE_SRC)])
    loader.load("trackyard")
    homes = sorted(
        module
        for module, loaded in list(sys.modules.items())
        if (module == "trackyard" or module.startswith("trackyard."))
        and getattr(loaded, name, None) is obj
    )
    for home in homes:
        try:
            docstring = loader.modules_collection[f"{home}.{name}"].docstring
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
        if docstring is not None and docstring.value.strip():
            return docstring.value.strip()
    return ""


def _docstring(name: str) -> str:
    obj = getattr(trackyard, name)
    if inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isfunction(obj):
        return _own_doc(obj)
    return _attribute_doc(name, obj)


def _public_members(class_name: str) -> dict[str, Any]:
    """Methods and properties a class defines itself under a public name."""
    cls = getattr(trackyard, class_name)
    return {
        f"{class_name}.{name}": member
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and (
            inspect.isfunction(member) or isinstance(member, (property, staticmethod, classmethod))
        )
    }


def _undocumented() -> set[str]:
    missing = {name for name in trackyard.__all__ if not _docstring(name)}
    for class_name in CLASSES:
        missing |= {
            key for key, member in _public_members(class_name).items() if not _own_doc(member)
        }
    return missing


def _rendered_identifiers() -> list[str]:
    return [
        ident for page in REFERENCE_PAGES for ident in DIRECTIVE.findall(page.read_text("utf-8"))
    ]


def _resolve(identifier: str) -> Any:
    """Import ``a.b.C`` as mkdocstrings names it: the longest importable module, then attributes."""
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(identifier)


def test_the_core_classes_have_public_members_to_check() -> None:
    """The member collector finds the methods of the core classes (an empty set would prove nothing)."""
    assert {"DomainTracker.run", "DomainTracker.run_many", "Wiring.merge", "RunOutcome.output"} <= {
        key for name in CLASSES for key in _public_members(name)
    }


def test_every_public_name_has_a_docstring() -> None:
    """Every name in trackyard.__all__ and every public method or property of the core classes
    has a docstring, apart from the gaps listed in KNOWN_MISSING."""
    missing = sorted(_undocumented() - KNOWN_MISSING)
    assert missing == [], f"public names without a docstring: {missing}"


def test_known_missing_lists_only_real_gaps() -> None:
    """Each KNOWN_MISSING entry still lacks its docstring; once one is written, drop the entry."""
    filled = sorted(KNOWN_MISSING - _undocumented())
    assert filled == [], f"these now have a docstring; remove them from KNOWN_MISSING: {filled}"


@pytest.mark.parametrize("name", sorted(trackyard.__all__))
def test_every_public_name_is_in_the_reference(name: str) -> None:
    """Each exported name is rendered by a '::: module.name' directive of the reference page, or,
    for a plain value such as __version__, named there as `trackyard.<name>`."""
    text = "\n".join(page.read_text("utf-8") for page in REFERENCE_PAGES)
    rendered = {ident.rsplit(".", 1)[-1] for ident in _rendered_identifiers()}
    assert name in rendered or f"`trackyard.{name}`" in text, (
        f"docs/reference.md does not document trackyard.{name}; add '::: <module>.{name}'"
    )


def test_reference_directives_point_at_the_exported_objects() -> None:
    """A '::: module.Name' directive for an exported name renders the object trackyard exports,
    not a stale copy left in a module the code has moved away from."""
    stale = []
    for identifier in _rendered_identifiers():
        name = identifier.rsplit(".", 1)[-1]
        if name in trackyard.__all__ and _resolve(identifier) is not getattr(trackyard, name):
            stale.append(identifier)
    assert stale == [], f"these directives render another object than trackyard.<name>: {stale}"
