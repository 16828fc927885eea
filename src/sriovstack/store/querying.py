"""Generic reads the services need: rows of a table by exact column values, scoped to a project."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session as Session  # re-exported: the services' type for a session

from sriovstack.store.tables import Schema

RowT = TypeVar("RowT", bound=Schema)


def find_rows(
    session: Session,
    table: type[RowT],
    *,
    where: Mapping[str, object] | None = None,
    project_id: str | None = None,
    shared_column: str | None = None,
    order_by: Sequence[str] = (),
    limit: int | None = None,
    for_update: bool = False,
) -> list[RowT]:
    """Rows whose columns equal ``where`` (a list or tuple value means any of them).

    With ``project_id``, only that project's rows, plus shared ones when the table has
    ``shared_column``; None means every project's (an admin's view).
    """
    query: Select[tuple[RowT]] = select(table)
    for condition in _conditions(table, where or {}, project_id, shared_column):
        query = query.where(condition)
    for name in order_by:
        query = query.order_by(getattr(table, name))
    if limit is not None:
        query = query.limit(limit)
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def count_rows(
    session: Session, table: type[RowT], *, where: Mapping[str, object] | None = None
) -> int:
    """How many rows have columns equal to ``where``."""
    query = select(func.count()).select_from(table)
    for condition in _conditions(table, where or {}, None, None):
        query = query.where(condition)
    return int(session.scalar(query) or 0)


def get_row(session: Session, table: type[RowT], key: object) -> RowT | None:
    """The row with primary key ``key``, or None."""
    return session.get(table, key)


def lock_row(session: Session, table: type[RowT], key: object) -> RowT | None:
    """The row with primary key ``key``, locked until the transaction ends (PostgreSQL)."""
    return session.get(table, key, with_for_update=True)


def add_rows(session: Session, rows: Iterable[Schema]) -> None:
    """Add new rows and send them to the database now, so constraints speak at this point."""
    session.add_all(list(rows))
    session.flush()


def delete_row(session: Session, row: Schema) -> None:
    session.delete(row)
    session.flush()


def flush(session: Session) -> None:
    session.flush()


def _conditions(
    table: type[RowT],
    where: Mapping[str, object],
    project_id: str | None,
    shared_column: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for name, value in where.items():
        column: Any = getattr(table, name)
        if isinstance(value, list | tuple | set | frozenset):
            conditions.append(column.in_(list(value)))
        elif value is None:
            conditions.append(column.is_(None))
        else:
            conditions.append(column == value)
    if project_id is not None:
        owned: Any = table.project_id  # type: ignore[attr-defined]
        if shared_column is None:
            conditions.append(owned == project_id)
        else:
            conditions.append(or_(owned == project_id, getattr(table, shared_column).is_(True)))
    return conditions
