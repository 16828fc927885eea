"""The SQL unit of work: one session and transaction, with the database's refusals translated.

Lost races (a version that moved on, a unique key taken first, a lock not had in time) become
``ConcurrentUpdate``; other integrity refusals become ``Conflict``. Other database errors (an
unreachable server, a bug in a statement) are not the caller's to handle and pass unchanged.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from sriovstack.domain.errors import ConcurrentUpdate, Conflict, SriovstackError

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


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ... uow.commit()``; leaving without it rolls back."""

    session: Session

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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
            self.session.rollback()  # nothing left to undo after a commit
        finally:
            self.session.close()
        if isinstance(exc, Exception) and (error := translate(exc)) is not None:
            raise error from exc

    def commit(self) -> None:
        try:
            self.session.commit()
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    def rollback(self) -> None:
        self.session.rollback()


def translate(exc: Exception) -> SriovstackError | None:
    """The domain error for a database error, or None for one that is not the database's refusal."""
    if isinstance(exc, StaleDataError):
        return ConcurrentUpdate(str(exc))
    if not isinstance(exc, DBAPIError):
        return None
    code = _code(exc.orig)
    detail = next(iter(str(exc.orig).strip().splitlines()), type(exc.orig).__name__)
    if code in _TAKEN or code in _BUSY:
        return ConcurrentUpdate(detail)
    if isinstance(exc, IntegrityError):
        return Conflict(f"the database refused the change: {detail}")
    return None


def _code(orig: BaseException | None) -> str | None:
    """The driver's error code: psycopg's SQLSTATE or sqlite3's extended result code name."""
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    return code if isinstance(code, str) else None
