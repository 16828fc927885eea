"""The store's Alembic migrations, run from the package on an empty database and back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from sriovstack.store import migrating
from sriovstack.store.engine import create_engine_for
from sriovstack.store.schema import Schema

TABLES = {
    "hosts",
    "physical_functions",
    "virtual_functions",
    "claims",
    "events",
    "device_pools",
    "projects",
    "users",
    "role_assignments",
    "tokens",
    "networks",
    "subnets",
    "ip_allocations",
    "ports",
    "security_groups",
    "security_group_rules",
    "port_security_groups",
    "flavors",
    "images",
    "keypairs",
    "servers",
}


def table_names(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_the_tables_and_records_the_head(database_url: str) -> None:
    assert migrating.current(database_url) is None
    migrating.upgrade(database_url)
    assert migrating.current(database_url) == migrating.head() == "0003"
    assert table_names(database_url) == TABLES | {"alembic_version"}


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    migrating.upgrade(database_url)
    migrating.upgrade(database_url)
    assert migrating.current(database_url) == "0003"


def test_the_migrated_schema_is_the_one_tables_py_describes(database_url: str) -> None:
    migrating.upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Schema.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_drops_every_table(database_url: str) -> None:
    migrating.upgrade(database_url)
    migrating.downgrade(database_url, "base")
    assert migrating.current(database_url) is None
    assert table_names(database_url) == {"alembic_version"}
    migrating.upgrade(database_url)  # and the way back up still works
    assert table_names(database_url) == TABLES | {"alembic_version"}


def test_downgrade_to_0001_keeps_an_inventory_and_upgrade_brings_it_back(database_url: str) -> None:
    migrating.upgrade(database_url, "0001")
    migrating.upgrade(database_url)
    migrating.downgrade(database_url, "0001")
    assert migrating.current(database_url) == "0001"
    assert table_names(database_url) == {
        "hosts",
        "physical_functions",
        "virtual_functions",
        "claims",
        "alembic_version",
    }
    migrating.upgrade(database_url)
    assert migrating.current(database_url) == "0003"


def test_the_migration_scripts_ship_inside_the_package() -> None:
    scripts = migrating.SCRIPTS
    assert (scripts / "env.py").is_file()
    assert (scripts / "script.py.mako").is_file()
    assert (scripts / "versions" / "0001_inventory_and_claims.py").is_file()
