"""A fresh database per test, on SQLite (a temporary file) and on PostgreSQL, for the store and
API tests.

The PostgreSQL cases run when SRIOVSTACK_TEST_POSTGRES_URL names a database whose role may create
databases, e.g. ``postgresql+psycopg://sriovstack:sriovstack@127.0.0.1:5432/sriovstack_test``
(``.ci/run`` starts a server and sets it); each test gets a database of its own, which
is dropped afterwards. Without the variable they are skipped, saying so, except in CI (``CI``
set), where they fail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from sriovstack.store import migrating
from sriovstack.store.engine import create_engine_for, resolve_url

POSTGRES_URL = "SRIOVSTACK_TEST_POSTGRES_URL"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

EngineFactory = Callable[..., Engine]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sriovstack.db'}"
        return
    with postgres_database(_postgres_admin_url()) as url:
        yield url


@pytest.fixture
def make_engine(database_url: str) -> Iterator[EngineFactory]:
    """Engines on the test's database, with create_engine_for's options; disposed afterwards."""
    engines: list[Engine] = []

    def make(*, lock_timeout: float = 30.0, pool_size: int = 5) -> Engine:
        engine = create_engine_for(database_url, lock_timeout=lock_timeout, pool_size=pool_size)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def engine(database_url: str, make_engine: EngineFactory) -> Engine:
    """An engine on the test's database, migrated to the newest revision."""
    migrating.upgrade(database_url)
    return make_engine()


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database on each backend already at the newest revision.

    PostgreSQL copies a template migrated once per test run: migrating every test's database
    from scratch would cost a second each.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sriovstack.db'}"
        migrating.upgrade(url)
        yield url
        return
    admin_url = _postgres_admin_url()
    template = _migrated_template(admin_url)
    with postgres_database(admin_url, template=template) as url:
        yield url


_TEMPLATES: dict[str, str] = {}


def _migrated_template(admin_url: str) -> str:
    if admin_url not in _TEMPLATES:
        name = f"sriovstack_template_{uuid.uuid4().hex[:12]}"
        admin = create_engine(
            resolve_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        migrating.upgrade(resolve_url(admin_url).set(database=name).render_as_string(False))
        _TEMPLATES[admin_url] = name
    return _TEMPLATES[admin_url]


def _postgres_admin_url() -> str:
    admin_url = os.environ.get(POSTGRES_URL)
    if not admin_url:
        reason = f"PostgreSQL: {POSTGRES_URL} is not set (.ci/run starts a server and sets it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; in CI the PostgreSQL cases must run")
        pytest.skip(reason)
    return admin_url


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the migrated templates this run made."""
    for admin_url, name in _TEMPLATES.items():
        admin = create_engine(
            resolve_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        _drop(admin, name)
        admin.dispose()


@contextmanager
def postgres_database(admin_url: str, *, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``admin_url``, dropped on exit, even if still in use."""
    server = resolve_url(admin_url)
    name = f"sriovstack_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str, attempts: int = 10) -> None:
    """Drop a test database; a backend PostgreSQL may not let this role end (an autovacuum
    worker that just started on it) is waited out, and a database still held after that is left
    for the server to drop with the cluster rather than failing the test that used it."""
    for attempt in range(attempts):
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except DBAPIError:
            time.sleep(0.2 * (attempt + 1))
