"""A database that cannot be reached or opened is StoreUnavailable, naming it without its password;
the database's other refusals keep their own translation or none."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from sriovstack.domain.errors import ConcurrentUpdate, StoreUnavailable
from sriovstack.store.database import Database
from sriovstack.store.engine import create_engine_for, resolve_url
from sriovstack.store.tables import HostRow
from sriovstack.store.unit_of_work import SqlUnitOfWork, translate, unreachable

SECRET = "s3cret-pw"


def closed_port() -> int:
    """A loopback port nothing listens on (one just given up by this process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_opening_a_postgresql_server_that_is_not_there_names_it_without_the_password() -> None:
    url = f"postgresql+psycopg://sriovstack:{SECRET}@127.0.0.1:{closed_port()}/cloud"

    with pytest.raises(StoreUnavailable) as caught:
        Database.open(url)

    message = str(caught.value)
    assert message.startswith("the database postgresql+psycopg://sriovstack:***@127.0.0.1:")
    assert "/cloud is unreachable: " in message
    assert "Connection refused" in message
    assert SECRET not in message
    assert caught.value.database.endswith("/cloud")


def test_a_sqlite_file_that_is_a_directory_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "cloud.db").mkdir()

    with pytest.raises(StoreUnavailable) as caught:
        Database.open(f"sqlite:///{tmp_path / 'cloud.db'}")

    assert str(caught.value) == (
        f"the database sqlite:///{tmp_path / 'cloud.db'} is unreachable: "
        "unable to open database file"
    )


def test_a_sqlite_directory_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    with pytest.raises(StoreUnavailable) as caught:
        resolve_url(f"sqlite:///{tmp_path / 'file' / 'cloud.db'}")

    assert str(caught.value).startswith(
        f"the database sqlite:///{tmp_path / 'file' / 'cloud.db'} is unreachable: "
        f"cannot make the directory {tmp_path / 'file'}: "
    )


def test_a_unit_of_work_on_a_vanished_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "cloud.db"
    engine = create_engine_for(f"sqlite:///{path}")
    path.parent.rmdir()  # resolve_url made it; the engine has not connected yet
    try:
        with (
            pytest.raises(StoreUnavailable, match="unable to open database file"),
            SqlUnitOfWork(engine) as uow,
        ):
            uow.session.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_a_bad_statement_is_not_called_unreachable(engine: Engine) -> None:
    with pytest.raises(DBAPIError) as caught, SqlUnitOfWork(engine) as uow:
        uow.session.execute(text("SELECT * FROM no_such_table"))

    assert not isinstance(caught.value, StoreUnavailable)
    assert unreachable(caught.value, engine.url) is None


def test_a_lost_race_is_still_a_concurrent_update(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.session.add(HostRow(name="compute-1"))
        uow.commit()

    with pytest.raises(ConcurrentUpdate), SqlUnitOfWork(engine) as uow:
        uow.session.add(HostRow(name="compute-1"))
        uow.commit()


class _DriverError(Exception):
    """A driver error as psycopg raises it: an SQLSTATE, or None when no server answered."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


URL = make_url(f"postgresql+psycopg://cloud:{SECRET}@db.example:5432/cloud")


@pytest.mark.parametrize(
    ("message", "sqlstate"),
    [
        ("connection failed: Connection refused", None),
        ("FATAL: password authentication failed", "28P01"),
        ("FATAL: database does not exist", "3D000"),
        ("terminating connection due to administrator command", "57P01"),
        ("server closed the connection unexpectedly", "08006"),
    ],
)
def test_postgresql_errors_about_reaching_the_server_are_unavailable(
    message: str, sqlstate: str | None
) -> None:
    error = translate(OperationalError("SELECT 1", {}, _DriverError(message, sqlstate)), URL)

    assert isinstance(error, StoreUnavailable)
    assert str(error) == (
        f"the database postgresql+psycopg://cloud:***@db.example:5432/cloud is unreachable: "
        f"{message}"
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (OperationalError("x", {}, _DriverError("lock timeout", "55P03")), ConcurrentUpdate),
        (OperationalError("x", {}, _DriverError("canceling statement", "57014")), type(None)),
        (ProgrammingError("x", {}, _DriverError("syntax error", "42601")), type(None)),
    ],
)
def test_other_postgresql_errors_keep_their_translation(error: DBAPIError, kind: type) -> None:
    assert isinstance(translate(error, URL), kind)


def test_the_password_never_shows_even_if_the_driver_says_it() -> None:
    error = unreachable(
        OperationalError("x", {}, _DriverError(f"bad option {SECRET} given", None)), URL
    )

    assert error is not None
    assert SECRET not in str(error)
    assert "bad option *** given" in str(error)
