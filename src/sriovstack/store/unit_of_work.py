"""The SQL unit of work: one session and transaction, with the database's refusals translated.

Lost races (a version that moved on, a unique key taken first, a lock not had in time) become
``ConcurrentUpdate``; other integrity refusals become ``Conflict``; a database that cannot be
reached or opened (a server down or refusing the login, a lost connection, a SQLite file that
cannot be opened) becomes ``StoreUnavailable``. Other database errors (a bug in a statement) are
not the caller's to handle and pass unchanged.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from sriovstack.domain.errors import (
    ConcurrentUpdate,
    Conflict,
    SriovstackError,
    StoreUnavailable,
)

# PostgreSQL SQLSTATEs and SQLite extended result codes that mean another writer got there first.
_TAKEN = frozenset(
    {
        "23505",  # unique_violation
        "23503",  # foreign_key_violation
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
        "SQLITE_CONSTRAINT_FOREIGNKEY",
    }
)
_BUSY = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "SQLITE_BUSY",  # the busy timeout ran out
        "SQLITE_BUSY_SNAPSHOT",
        "SQLITE_LOCKED",
    }
)

# PostgreSQL SQLSTATEs (or their classes) and SQLite result codes (or their families) that mean
# the database could not be reached or opened, not that it refused a statement.
_UNREACHABLE = (
    "08",  # connection_exception
    "28",  # invalid_authorization_specification: a refused role or password
    "3D000",  # invalid_catalog_name: no such database
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: starting up or shutting down
    "SQLITE_CANTOPEN",  # the file or its directory is missing, a directory, or not allowed
    "SQLITE_IOERR",
    "SQLITE_NOTADB",
    "SQLITE_READONLY",  # the file, its directory or its file system cannot be written
)


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ... uow.commit()``; leaving without it rolls back."""

    session: Session

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._url = engine.url

    def __enter__(self) -> Self:
        self.session = Session(self._engine)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            try:
                self.session.rollback()  # nothing left to undo after a commit
            finally:
                self.session.close()
        except DBAPIError as cleanup:
            # A connection lost in the block can fail its rollback too: say what the block
            # ran into, else what the rollback did.
            first = translate(exc, self._url) if isinstance(exc, Exception) else None
            error = first or translate(cleanup, self._url)
            if error is None:
                raise
            raise error from cleanup
        if isinstance(exc, Exception) and (error := translate(exc, self._url)) is not None:
            raise error from exc

    def commit(self) -> None:
        try:
            self.session.commit()
        except Exception as exc:
            error = translate(exc, self._url)
            if error is None:
                raise
            raise error from exc

    def rollback(self) -> None:
        self.session.rollback()


def translate(exc: Exception, database: URL) -> SriovstackError | None:
    """The domain error for a database error, or None for one that is not the database's refusal.

    ``database`` is the URL of the database the error came from, named (without its password)
    when it cannot be reached.
    """
    if isinstance(exc, StaleDataError):
        return ConcurrentUpdate(str(exc))
    if not isinstance(exc, DBAPIError):
        return None
    code = _code(exc.orig)
    detail = _first_line(exc)
    if code in _TAKEN or code in _BUSY:
        return ConcurrentUpdate(detail)
    if isinstance(exc, IntegrityError):
        return Conflict(f"the database refused the change: {detail}")
    return unreachable(exc, database)


def unreachable(exc: Exception, database: URL) -> StoreUnavailable | None:
    """``StoreUnavailable`` for an error reaching or opening ``database``, else None."""
    if not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError):
        return None
    code = _code(exc.orig)
    if code in _BUSY:
        return None  # a lock not had in time: a lost race, see translate
    lost = (
        exc.connection_invalidated  # the dialect recognised a connection that went away
        # psycopg has no SQLSTATE when it never reached the server, or lost it mid-statement.
        or (code is None and isinstance(exc, OperationalError))
        or (code is not None and code.startswith(_UNREACHABLE))
    )
    if not lost:
        return None
    reason = _first_line(exc)
    if database.password:
        # libpq does not echo passwords, but nothing of the URL's secret may reach a client.
        reason = reason.replace(str(database.password), "***")
    return StoreUnavailable(database.render_as_string(hide_password=True), reason)


def _first_line(exc: DBAPIError) -> str:
    return next(iter(str(exc.orig).strip().splitlines()), type(exc.orig).__name__)


def _code(orig: BaseException | None) -> str | None:
    """The driver's error code: psycopg's SQLSTATE or sqlite3's extended result code name."""
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    return code if isinstance(code, str) else None
