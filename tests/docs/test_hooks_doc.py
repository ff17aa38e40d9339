"""docs/hooks.md documents every hookspec with its exact signature (as datasette does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from trackyard import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def _specs() -> dict[str, str]:
    specs = {}
    for name, fn in vars(hookspecs).items():
        if callable(fn) and hasattr(fn, "trackyard_spec"):
            sig = inspect.signature(fn)
            params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
            specs[name] = f"{name}({params}) -> {sig.return_annotation}"
    return specs


def _documented() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    found = {}
    for match in re.finditer(r"^## `?(\w+)`?\n+```text\n(.+?)\n```", text, re.M | re.S):
        found[match.group(1)] = match.group(2).strip()
    return found


def test_hookspec_module_has_the_documented_hooks() -> None:
    """The hookspecs module defines the eight hooks of the contract."""
    assert sorted(_specs()) == sorted(
        [
            "register_domains",
            "build_tracker",
            "default_wiring",
            "register_verbs",
            "before_run",
            "after_run",
            "run_failed",
            "report_sections",
        ]
    )


@pytest.mark.parametrize("name", sorted(_specs()))
def test_every_hook_is_documented_with_its_exact_signature(name: str) -> None:
    """Each hook has a '## name' heading in docs/hooks.md followed by its exact signature."""
    documented = _documented()
    assert name in documented, f"docs/hooks.md has no '## {name}' section"
    assert documented[name] == _specs()[name]


def test_docs_document_no_hook_that_does_not_exist() -> None:
    """docs/hooks.md has no section for a hook the spec lacks."""
    assert set(_documented()) <= set(_specs())


def test_the_api_reference_lists_every_hook() -> None:
    """docs/reference.md renders every hookspec (its members list names them all, beside the
    module's constants, such as ``REFUSED_MARKERS``)."""
    text = (DOC.parent / "reference.md").read_text(encoding="utf-8")
    listed = re.search(r"::: trackyard\.hookspecs\n.*?members: \[(.*?)\]", text, re.S)
    assert listed is not None
    members = [m.strip() for m in listed.group(1).split(",")]
    assert sorted(m for m in members if not m.isupper()) == sorted(_specs())
