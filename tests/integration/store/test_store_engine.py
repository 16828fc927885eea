"""Engines for the store's URLs: SQLite files with WAL and timeouts, PostgreSQL through psycopg."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from tests.integration.conftest import EngineFactory

from sriovstack.domain.errors import InvalidInput
from sriovstack.store.engine import create_engine_for, resolve_url


def test_a_sqlite_file_is_written_ahead_and_keeps_its_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_every_connection_waits_for_locks_up_to_the_lock_timeout(
    database_url: str, make_engine: EngineFactory
) -> None:
    engine = make_engine(lock_timeout=2.5)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
        else:
            assert connection.execute(text("SHOW lock_timeout")).scalar() == "2500ms"


def test_a_relative_sqlite_path_is_anchored_and_its_directory_made(tmp_path: Path) -> None:
    url = resolve_url("sqlite:///state/sriovstack.db", base_dir=tmp_path)
    assert url.database == str(tmp_path / "state" / "sriovstack.db")
    assert (tmp_path / "state").is_dir()
    absolute = tmp_path / "elsewhere" / "s.db"
    assert resolve_url(f"sqlite:///{absolute}", base_dir=tmp_path).database == str(absolute)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db.example/sriovstack",
        "postgres://u:p@db.example/sriovstack",
        "postgresql+psycopg2://u:p@db.example/sriovstack",
        "postgresql+psycopg://u:p@db.example/sriovstack",
    ],
)
def test_postgresql_urls_get_the_psycopg_driver(url: str) -> None:
    resolved = resolve_url(url)
    assert resolved.drivername == "postgresql+psycopg"
    assert (resolved.host, resolved.database) == ("db.example", "sriovstack")


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("mysql://u:secret@db/sriovstack", "must be sqlite:///PATH"),
        ("not a url", "must be sqlite:///PATH"),
        ("sqlite://", "SQLite needs a file"),
        ("sqlite:///:memory:", "SQLite needs a file"),
    ],
)
def test_other_databases_and_in_memory_sqlite_are_refused(url: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule) as refused:
        resolve_url(url)
    assert refused.value.field == "database url"
    assert "secret" not in str(refused.value)
