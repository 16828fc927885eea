"""How cloud resources look: a field table for one, a column table for many, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from sriovstack.cli.render import print_json

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def out(ctx: typer.Context) -> Console:
    console: Console = ctx.obj["out"]
    return console


def err(ctx: typer.Context) -> Console:
    console: Console = ctx.obj["err"]
    return console


def cell(value: Any) -> str:
    """A value as one table cell: lists joined, mappings as compact JSON, nothing as "-"."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return str(value)


def key(name: str) -> Callable[[dict[str, Any]], Any]:
    """A column that shows one field."""
    return lambda item: item.get(name)


def rows_table(columns: Sequence[Column], items: Iterable[dict[str, Any]], **kw: Any) -> Table:
    table = Table(**kw)
    for header, _ in columns:
        # IDs and addresses are copied from here: never break them across lines.
        table.add_column(header, no_wrap=header in ("ID", "Address", "MAC Address", "Parent"))
    for item in items:
        # Text, not str: a value like "[1, 2]" must not be read as Rich markup.
        table.add_row(*(Text(cell(get(item))) for _, get in columns))
    return table


def fields_table(
    item: Mapping[str, Any], shown: Mapping[str, Callable[[Any], str]] | None = None
) -> Table:
    """Every field of one resource, sorted, as OSC's ``show`` prints it."""
    table = Table("Field", "Value")
    for name in sorted(item):
        render = (shown or {}).get(name, cell)
        table.add_row(Text(name), Text(render(item[name])))
    return table


def emit(ctx: typer.Context, data: Any, as_json: bool, view: Callable[[], RenderableType]) -> None:
    """``data`` as JSON for scripts, or ``view()`` for people."""
    if as_json:
        print_json(out(ctx), data)
    else:
        out(ctx).print(view())


def said(ctx: typer.Context, as_json: bool, data: Any, line: str) -> None:
    """A short confirmation for people (``data`` for scripts)."""
    if as_json:
        print_json(out(ctx), data)
    else:
        out(ctx).print(Text(line))
