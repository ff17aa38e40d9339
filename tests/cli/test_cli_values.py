"""Parsing ``--set`` values by annotation, and verbs exposed from signatures (in-process)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from trackyard import DomainTracker, Wiring, hookimpl
from trackyard.cli._verbs import build_arguments, parse_text, tracker_verbs
from trackyard.errors import ConfigValidationError
from trackyard.testing import PluginSandbox, class_plugin


class TypedTracker(DomainTracker):
    """A tracker whose verb takes one parameter of each supported kind."""

    wiring = Wiring(model="typed", outputs=("out",))

    def typed(
        self,
        *,
        count: int,
        rate: float = 0.5,
        flag: bool = False,
        label: str = "x",
        where: Path | None = None,
        options: dict[str, Any] | None = None,
        years: list[int] | None = None,
        order: Literal["asc", "desc"] = "asc",
    ) -> dict[str, Any]:
        """Echo the arguments."""
        return {"count": count}

    def _hidden(self) -> None:
        """Not a verb."""


def _tracker(tmp_path: Path) -> DomainTracker:
    def export(tracker: DomainTracker, fmt: str = "csv") -> str:
        """Export in a format."""
        return fmt

    module = class_plugin("typed", TypedTracker)

    @hookimpl
    def register_verbs(domain: str, register: Callable[[str, Callable[..., Any]], None]) -> None:
        register("export", export)

    module.register_verbs = register_verbs  # type: ignore[attr-defined]
    sandbox = PluginSandbox()
    sandbox.add("typed", module)
    return sandbox.get_tracker("typed", workspace=tmp_path)


def test_verbs_are_public_subclass_methods_plus_plugin_verbs(tmp_path: Path) -> None:
    """Verbs are the subclass's public methods and registered verbs, with typed signatures."""
    verbs = tracker_verbs(_tracker(tmp_path))
    assert list(verbs) == ["typed", "export"]
    assert verbs["export"].describe() == "export(fmt: str = 'csv')"
    assert verbs["export"].doc == "Export in a format."
    assert verbs["typed"].describe().startswith("typed(count: int, rate: float = 0.5, flag: bool")


def test_set_values_are_parsed_by_annotation(tmp_path: Path) -> None:
    """Each --set value becomes its parameter's annotated type; dotted keys fill a dict."""
    verb = tracker_verbs(_tracker(tmp_path))["typed"]
    kwargs = build_arguments(
        verb,
        "typed",
        {"options": {"a": 1}},
        [
            "count=3",
            "rate=2",
            "flag=yes",
            "label=007",
            "where=out/x.csv",
            "options.b.c=[1, 2]",
            "years=[2020, 2030]",
            "order=desc",
        ],
    )
    assert kwargs == {
        "count": 3,
        "rate": 2.0,
        "flag": True,
        "label": "007",
        "where": Path("out/x.csv"),
        "options": {"a": 1, "b": {"c": [1, 2]}},
        "years": [2020, 2030],
        "order": "desc",
    }
    assert parse_text("{seed = 3, name = 'a'}", dict[str, Any]) == {"seed": 3, "name": "a"}
    assert parse_text("none", Path | None) is None


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("count=1.5", r"bad value '1.5' for parameter 'count' of verb typed \(expected int\)"),
        ("flag=maybe", r"parameter 'flag' .*expected true or false"),
        ("order=up", r"parameter 'order' .*expected one of 'asc', 'desc'"),
        ("years={a=1}", r"parameter 'years' of verb typed"),
        ("nope=1", r"verb typed.typed has no parameter 'nope'"),
        ("count", r"--set 'count': expected key=value"),
    ],
)
def test_bad_values_name_the_parameter(tmp_path: Path, item: str, message: str) -> None:
    """A value that does not fit its parameter is a ConfigValidationError naming it."""
    verb = tracker_verbs(_tracker(tmp_path))["typed"]
    with pytest.raises(ConfigValidationError, match=message):
        build_arguments(verb, "typed", {}, [item])


def test_config_file_values_are_type_checked(tmp_path: Path) -> None:
    """A TOML value of the wrong type is rejected like a --set value; ints widen to float."""
    verb = tracker_verbs(_tracker(tmp_path))["typed"]
    assert build_arguments(verb, "typed", {"count": 1, "rate": 1}, [])["rate"] == 1.0
    with pytest.raises(ConfigValidationError, match=r"parameter 'count' .*expected int, got str"):
        build_arguments(verb, "typed", {"count": "one"}, [])


def test_at_marks_a_file_wherever_a_path_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``@PATH`` is a pathlib.Path (``~`` expanded) in a dict key and a Path parameter; ``@@``
    is a literal ``@``; a ``str`` parameter takes the text as it stands; a dict parameter
    given a bare file is refused naming it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    verb = tracker_verbs(_tracker(tmp_path))["typed"]
    kwargs = build_arguments(
        verb,
        "typed",
        {},
        [
            "count=1",
            "where=@~/in.csv",
            "label=@handle",
            "options.data=@data/contacts.csv",
            "options.handle=@@bob",
        ],
    )
    assert kwargs == {
        "count": 1,
        "where": tmp_path / "in.csv",
        "label": "@handle",
        "options": {"data": Path("data/contacts.csv"), "handle": "@bob"},
    }
    with pytest.raises(ConfigValidationError) as caught:
        build_arguments(verb, "typed", {}, ["count=1", "options=@x.csv"])
    assert str(caught.value) == (
        "bad value '@x.csv' for parameter 'options' of verb typed (expected "
        "dict[str, Any] | None): expected dict[str, Any] | None, got PosixPath"
    )
