"""What agents need: a desired-state revision per host, ports being detached, and events; what
they report beyond devices: each PF's NIC capabilities and the agent's configuration.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(
            sa.Column("desired_revision", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("agent_configuration", sa.JSON(), server_default="{}", nullable=False)
        )
    with op.batch_alter_table("physical_functions") as batch:
        batch.add_column(sa.Column("capabilities", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("ports") as batch:
        batch.add_column(
            sa.Column("detaching", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=True),
        sa.Column("server_id", sa.String(length=36), nullable=True),
        sa.Column("port_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_host_id", "events", ["host", "id"])
    op.create_index("ix_events_project_id", "events", ["project_id", "id"])
    op.create_index(op.f("ix_events_server_id"), "events", ["server_id"])
    op.create_index(op.f("ix_events_port_id"), "events", ["port_id"])


def downgrade() -> None:
    op.drop_table("events")
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("detaching")
    with op.batch_alter_table("physical_functions") as batch:
        batch.drop_column("capabilities")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("agent_configuration")
        batch.drop_column("desired_revision")
