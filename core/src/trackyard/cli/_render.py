"""Render verb results (RunOutcome, sweep results, lists, rankings) as JSON or rich tables.

Every value is printed as written (``plain``): nothing the CLI prints is read as markup.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

# Width of tables written to a pipe or file: wide enough that no value is ever cut.
PIPE_WIDTH = 10_000

# Fields that hold live objects (consist results), not data.
_SKIP_FIELDS = {"result"}


def _fields(value: Any) -> dict[str, Any]:
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if f.name not in _SKIP_FIELDS and not f.name.startswith("_")
    }


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value``: dataclasses become objects, paths strings, NaN null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in _fields(value).items()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return to_jsonable(value.to_dict())
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)) and not any(_is_record(v) for v in value):
        return ", ".join(_cell(v) for v in value)
    if value is None:
        return ""
    return str(value)


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _record_list(value: Any) -> list[Any] | None:
    """``value`` as a list of records (a mapping of records gets its keys as a ``key`` column),
    or None when it is not a collection of records."""
    if isinstance(value, (list, tuple)) and value and all(_is_record(v) for v in value):
        return list(value)
    if isinstance(value, Mapping) and value and all(_is_record(v) for v in value.values()):
        return [{"key": k, **_fields(v)} for k, v in value.items()]
    return None


def plain(value: object) -> Text:
    """``value`` as text printed as written: brackets and ``:emoji:`` codes in it (from a
    plugin's docstring, a signature, a path, an error) are never read as rich markup."""
    from rich.text import Text

    return Text(str(value))


def plain_table(*columns: object, title: object = None) -> Table:
    """A rich table whose title and column headers are printed as written (see ``plain``);
    add its rows as ``plain`` cells."""
    from rich.table import Column, Table

    return Table(
        *(Column(header=plain(c)) for c in columns),
        title=None if title is None else plain(title),
    )


def _records_table(records: list[Any], title: str | None = None) -> RenderableType:
    rows = [_fields(r) if _is_record(r) else dict(r) for r in records]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    table = plain_table(*columns, title=title)
    for row in rows:
        table.add_row(*(plain(_cell(to_jsonable(row.get(c)))) for c in columns))
    return table


def renderables(value: Any) -> list[RenderableType]:
    """Tables for a verb's result: a list of records is one table, one record a key/value table
    (its lists of records become tables of their own)."""
    if value is None:
        return []
    if (
        isinstance(value, (list, tuple))
        and value
        and all(_is_record(v) or isinstance(v, Mapping) for v in value)
    ):
        return [_records_table(list(value))]
    if (records := _record_list(value)) is not None:
        return [_records_table(records)]
    if isinstance(value, (list, tuple)) and not value:
        return ["(no results)"]
    if _is_record(value) or isinstance(value, Mapping):
        items = _fields(value) if _is_record(value) else dict(value)
        table = plain_table(
            "field", "value", title=type(value).__name__ if _is_record(value) else None
        )
        nested: list[RenderableType] = []
        for key, item in items.items():
            records = _record_list(item)
            if records is not None:
                nested.append(_records_table(records, title=str(key)))
                table.add_row(plain(key), plain(f"{len(records)} (below)"))
            else:
                table.add_row(plain(key), plain(_cell(to_jsonable(item))))
        return [table, *nested]
    return [plain(_cell(to_jsonable(value)))]


def console() -> Console:
    """A rich console for stdout: the terminal's width on a terminal; when stdout is a pipe or
    a file, wide enough that tables print every value in full (``trackyard domains | cat``)."""
    import sys

    from rich.console import Console

    # No markup and no emoji codes: what the CLI prints comes from plugins and users (names,
    # signatures, docstrings, paths, errors) and is printed as written; the CLI's own styling
    # uses rich Text styles, never markup strings.
    if sys.stdout.isatty():
        return Console(markup=False, emoji=False)
    return Console(width=PIPE_WIDTH, no_color=True, highlight=False, markup=False, emoji=False)


_stdout_console = console


def print_result(value: Any, *, as_json: bool, console: Console | None = None) -> None:
    import json

    if as_json:
        import typer

        typer.echo(json.dumps(to_jsonable(value), indent=2))
        return
    console = console or _stdout_console()
    for item in renderables(value):
        console.print(item)
