"""The store as the services see it: one database, its units of work, and its migrations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from sriovstack.store import migrating
from sriovstack.store.engine import create_engine_for
from sriovstack.store.unit_of_work import SqlUnitOfWork


@dataclass(frozen=True, slots=True)
class Database:
    """An open database; ``unit_of_work()`` starts one transaction on it."""

    url: str
    engine: Engine

    @classmethod
    def open(
        cls, url: str, *, base_dir: Path | None = None, pool_size: int = 5, migrate: bool = True
    ) -> Database:
        """Open the database at ``url``, migrating it to this version's schema first."""
        if migrate:
            migrating.upgrade(url, base_dir=base_dir)
        return cls(url, create_engine_for(url, base_dir=base_dir, pool_size=pool_size))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def close(self) -> None:
        self.engine.dispose()
