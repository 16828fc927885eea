"""Hosts, their PFs and VFs, and claims.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

VF_STATES = ("available", "claimed", "allocated", "unavailable", "unclaimable", "removed")


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cpus", sa.Integer(), nullable=True),
        sa.Column("memory_mib", sa.Integer(), nullable=True),
        sa.Column("numa_cells", sa.Integer(), nullable=True),
        sa.Column("availability_zone", sa.String(255), server_default="nova", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("name", name=op.f("uq_hosts_name")),
    )
    op.create_table(
        "physical_functions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(16), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("vf_device_id", sa.Integer(), nullable=False),
        sa.Column("netdev", sa.String(16), nullable=True),
        sa.Column("physnet", sa.String(64), nullable=True),
        sa.Column("numa_node", sa.Integer(), nullable=True),
        sa.Column("total_vfs", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_physical_functions_host_id_hosts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_physical_functions")),
        sa.UniqueConstraint(
            "host_id", "address", name=op.f("uq_physical_functions_host_id_address")
        ),
    )
    op.create_table(
        "virtual_functions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pf_id", sa.Integer(), nullable=False),
        sa.Column("vf_index", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(16), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *VF_STATES, name="vf_state", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(claimed_by IS NULL) = (state IN ('available', 'unavailable', 'unclaimable'))",
            name=op.f("ck_virtual_functions_owner_matches_state"),
        ),
        sa.ForeignKeyConstraint(
            ["pf_id"],
            ["physical_functions.id"],
            name=op.f("fk_virtual_functions_pf_id_physical_functions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_functions")),
        sa.UniqueConstraint("pf_id", "vf_index", name=op.f("uq_virtual_functions_pf_id_vf_index")),
    )
    op.create_index("ix_virtual_functions_pf_id_state", "virtual_functions", ["pf_id", "state"])
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pf_id", sa.Integer(), nullable=False),
        sa.Column("vf_index", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pf_id", "vf_index"],
            ["virtual_functions.pf_id", "virtual_functions.vf_index"],
            name=op.f("fk_claims_pf_id_vf_index_virtual_functions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("pf_id", "vf_index", name=op.f("uq_claims_pf_id_vf_index")),
    )
    op.create_index("ix_claims_owner", "claims", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_claims_owner", table_name="claims")
    op.drop_table("claims")
    op.drop_index("ix_virtual_functions_pf_id_state", table_name="virtual_functions")
    op.drop_table("virtual_functions")
    op.drop_table("physical_functions")
    op.drop_table("hosts")
