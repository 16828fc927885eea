"""Engines for the store's URLs: a SQLite file (WAL, foreign keys, busy timeout) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry

from sriovstack.domain.errors import InvalidInput, StoreUnavailable

FIELD = "database url"
RULE = "must be sqlite:///PATH (a file) or postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"


def create_engine_for(
    url: str,
    *,
    base_dir: Path | None = None,
    lock_timeout: float = 30.0,
    pool_size: int = 5,
) -> Engine:
    """An engine for ``url``; nothing is connected until it is used.

    ``base_dir`` anchors a relative SQLite path (default: the working directory).
    ``lock_timeout`` is how long, in seconds, a writer waits for a lock another writer holds
    before giving up (SQLite's busy timeout, PostgreSQL's lock_timeout); the unit of work
    reports that as ``ConcurrentUpdate``.
    ``pool_size`` is how many connections are kept open.
    """
    resolved = resolve_url(url, base_dir=base_dir)
    milliseconds = round(lock_timeout * 1000)
    if resolved.get_backend_name() == "sqlite":
        return _sqlite_engine(resolved, busy_timeout_ms=milliseconds, pool_size=pool_size)
    return _postgresql_engine(resolved, lock_timeout_ms=milliseconds, pool_size=pool_size)


def resolve_url(url: str, *, base_dir: Path | None = None) -> URL:
    """The URL an engine is made for: SQLite paths absolute, PostgreSQL through psycopg.

    A relative SQLite path is anchored at ``base_dir`` (default: the working directory), and
    the directory of a SQLite file is made if it is missing.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(FIELD, RULE) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        return parsed.set(database=str(_sqlite_path(parsed, base_dir)))
    if backend in ("postgresql", "postgres"):
        # SQLAlchemy's default PostgreSQL driver is psycopg2, which sriovstack does not install.
        if driver in ("", "psycopg2"):
            driver = "psycopg"
        return parsed.set(drivername=f"postgresql+{driver}")
    raise InvalidInput(FIELD, RULE, parsed.render_as_string(hide_password=True))


def _sqlite_path(url: URL, base_dir: Path | None) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise InvalidInput(FIELD, "SQLite needs a file, e.g. sqlite:///sriovstack.db", str(url))
    path = Path(database).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # e.g. a parent that is a file, or a directory this user may not write in.
        where = exc.filename if exc.filename is not None else path.parent
        raise StoreUnavailable(
            f"sqlite:///{path}", f"cannot make the directory {where}: {exc.strerror or exc}"
        ) from exc
    return path


def _postgresql_engine(url: URL, *, lock_timeout_ms: int, pool_size: int) -> Engine:
    engine = create_engine(url, pool_size=pool_size, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
        dbapi_connection.commit()  # a setting made in a transaction lasts only if it commits

    return engine


def _sqlite_engine(url: URL, *, busy_timeout_ms: int, pool_size: int) -> Engine:
    engine = create_engine(url, pool_size=pool_size)

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # The sqlite3 module would begin a transaction itself, and only at the first write;
        # "begin" below emits one for every SQLAlchemy transaction instead.
        dbapi_connection.isolation_level = None
        cursor: sqlite3.Cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # WAL's recommended durability: commits survive a crash of the process, and the database
        # stays consistent on power loss; without it every commit waits for an fsync.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection: Any) -> None:
        # A WAL transaction that read first and writes later fails at once with SQLITE_BUSY
        # when another writer committed in between; the busy timeout never applies to it.
        # BEGIN IMMEDIATE takes the write lock first, waiting up to the busy timeout, so each
        # transaction sees the latest rows and SQLite's single writer is used in turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
