"""The store's schema migrations, run from the installed package: upgrade, downgrade, current.

Alembic is driven from code with the scripts shipped in store/alembic/; no alembic.ini is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from sriovstack.store.engine import create_engine_for
from sriovstack.store.unit_of_work import unreachable

SCRIPTS = Path(__file__).with_name("alembic")


def upgrade(url: str, revision: str = "head", *, base_dir: Path | None = None) -> None:
    """Migrate the database at ``url`` up to ``revision``, creating the schema on an empty one."""
    with _connected(url, base_dir) as connection:
        command.upgrade(_config(connection), revision)


def downgrade(url: str, revision: str = "base", *, base_dir: Path | None = None) -> None:
    """Migrate the database at ``url`` down to ``revision``; ``base`` drops every table."""
    with _connected(url, base_dir) as connection:
        command.downgrade(_config(connection), revision)


def current(url: str, *, base_dir: Path | None = None) -> str | None:
    """The revision the database at ``url`` is at; None when it was never migrated."""
    with _connected(url, base_dir) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    """The newest revision this version of sriovstack ships."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None, "store/alembic/versions/ holds no revision"
    return revision


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    # Config values go through ConfigParser interpolation, where % is special.
    config.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(url: str, base_dir: Path | None) -> Iterator[Connection]:
    engine = create_engine_for(url, base_dir=base_dir, pool_size=1)
    try:
        with engine.begin() as connection:
            yield connection
    except DBAPIError as exc:
        # Opening a database migrates it first: this is where a server that is down, a refused
        # password or a file that cannot be opened shows first, and must be one clear error.
        error = unreachable(exc, engine.url)
        if error is None:
            raise
        raise error from exc
    finally:
        engine.dispose()
