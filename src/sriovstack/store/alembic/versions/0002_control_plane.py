"""Scheduling counters and pools; identity; networks, subnets, ports, security groups; flavors,
images, keypairs and servers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

STATES = ("available", "claimed", "allocated", "unavailable", "unclaimable", "removed")


def upgrade() -> None:
    op.create_table(
        "flavors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("ram", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("disk", sa.Integer(), nullable=False),
        sa.Column("ephemeral", sa.Integer(), nullable=False),
        sa.Column("swap", sa.Integer(), nullable=False),
        sa.Column("rxtx_factor", sa.Double(), nullable=False),
        sa.Column("is_public", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("extra_specs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flavors")),
        sa.UniqueConstraint("name", name=op.f("uq_flavors_name")),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("protected", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("container_format", sa.String(length=16), nullable=False),
        sa.Column("disk_format", sa.String(length=16), nullable=False),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_images_name"), ["name"], unique=False)

    op.create_table(
        "keypairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("public_key", sa.String(length=4096), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keypairs")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_keypairs_user_id_name")),
    )
    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("network_type", sa.String(length=16), nullable=False),
        sa.Column("physical_network", sa.String(length=64), nullable=True),
        sa.Column("segmentation_id", sa.Integer(), nullable=True),
        sa.Column("segment", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("segment", name=op.f("uq_networks_segment")),
    )
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_networks_project_id"), ["project_id"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "security_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("stateful", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_groups")),
    )
    with op.batch_alter_table("security_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_groups_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_owner", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "propagate_uplink_status", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("vnic_type", sa.String(length=32), nullable=False),
        sa.Column("host_id", sa.String(length=255), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("vif_type", sa.String(length=32), nullable=False),
        sa.Column("vif_details", sa.JSON(), nullable=False),
        sa.Column("numa_affinity_policy", sa.String(length=16), nullable=True),
        sa.Column("qos_max_kbps", sa.Integer(), nullable=True),
        sa.Column("qos_min_kbps", sa.Integer(), nullable=True),
        sa.Column("created_for_server", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_ports_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ports")),
        sa.UniqueConstraint(
            "network_id", "mac_address", name=op.f("uq_ports_network_id_mac_address")
        ),
    )
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.create_index("ix_ports_device_id", ["device_id"], unique=False)
        batch_op.create_index("ix_ports_host_id", ["host_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ports_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ports_project_id"), ["project_id"], unique=False)

    op.create_table(
        "role_assignments",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_role_assignments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_role_assignments_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "project_id", "role", name=op.f("pk_role_assignments")),
    )
    op.create_table(
        "security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name=op.f("fk_security_group_rules_security_group_id_security_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_group_rules")),
    )
    with op.batch_alter_table("security_group_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_group_rules_security_group_id"),
            ["security_group_id"],
            unique=False,
        )

    op.create_table(
        "servers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("flavor_id", sa.String(length=64), nullable=False),
        sa.Column("flavor", sa.JSON(), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("vm_state", sa.String(length=16), nullable=False),
        sa.Column("task_state", sa.String(length=32), nullable=True),
        sa.Column("power_state", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=True),
        sa.Column("fault", sa.JSON(), nullable=True),
        sa.Column("metadata_items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_servers_host_id_hosts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servers")),
    )
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_servers_host_id"), ["host_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_servers_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_servers_status"), ["status"], unique=False)

    op.create_table(
        "subnets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("allocation_pools", sa.JSON(), nullable=False),
        sa.Column("dns_nameservers", sa.JSON(), nullable=False),
        sa.Column("host_routes", sa.JSON(), nullable=False),
        sa.Column("enable_dhcp", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_subnets_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnets")),
    )
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subnets_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subnets_project_id"), ["project_id"], unique=False)

    op.create_table(
        "tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=True),
        sa.Column("roles", sa.String(length=255), nullable=False),
        sa.Column("audit_id", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_tokens_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_tokens")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index("ix_tokens_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "device_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("pf_id", sa.Integer(), nullable=False),
        sa.Column("dev_type", sa.String(length=16), nullable=False),
        sa.Column("physnet", sa.String(length=64), nullable=True),
        sa.Column("numa_node", sa.Integer(), nullable=True),
        sa.Column("free", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "free >= 0 AND free <= total", name=op.f("ck_device_pools_free_within_total")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_device_pools_host_id_hosts")
        ),
        sa.ForeignKeyConstraint(
            ["pf_id"],
            ["physical_functions.id"],
            name=op.f("fk_device_pools_pf_id_physical_functions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_pools")),
        sa.UniqueConstraint("pf_id", "dev_type", name=op.f("uq_device_pools_pf_id_dev_type")),
    )
    with op.batch_alter_table("device_pools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_pools_host_id"), ["host_id"], unique=False)
        batch_op.create_index(
            "ix_device_pools_physnet_dev_type_free", ["physnet", "dev_type", "free"], unique=False
        )

    op.create_table(
        "ip_allocations",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["ports.id"],
            name=op.f("fk_ip_allocations_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["subnets.id"],
            name=op.f("fk_ip_allocations_subnet_id_subnets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subnet_id", "ip_address", name=op.f("pk_ip_allocations")),
    )
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ip_allocations_port_id"), ["port_id"], unique=False)

    op.create_table(
        "port_security_groups",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["ports.id"],
            name=op.f("fk_port_security_groups_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name=op.f("fk_port_security_groups_security_group_id_security_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "security_group_id", name=op.f("pk_port_security_groups")
        ),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("server_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_claims_server_id"), ["server_id"], unique=False)

    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("numa_sockets", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("disabled_reason", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column(
                "hypervisor_type", sa.String(length=32), server_default="QEMU", nullable=False
            )
        )
        batch_op.add_column(sa.Column("host_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("cpu_allocation_ratio", sa.Double(), server_default="4.0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ram_allocation_ratio", sa.Double(), server_default="1.0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("reserved_ram_mib", sa.Integer(), server_default="512", nullable=False)
        )
        batch_op.add_column(
            sa.Column("used_vcpus", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("used_ram_mib", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("free_devices", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_hosts_enabled_last_heartbeat", ["enabled", "last_heartbeat"], unique=False
        )
        batch_op.create_index("ix_hosts_free_devices", ["free_devices"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_hosts_uuid"), ["uuid"])
        batch_op.create_check_constraint(
            "usage_not_negative", "used_vcpus >= 0 AND used_ram_mib >= 0"
        )

    with op.batch_alter_table("physical_functions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(
            sa.Column("offered_whole", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "state",
                sa.Enum(
                    *STATES, name="pf_state", native_enum=False, create_constraint=True, length=16
                ),
                server_default="available",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("physical_functions", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        # The enum's CHECK goes first, or SQLite's table copy would keep it without its column.
        batch_op.drop_constraint(batch_op.f("ck_physical_functions_pf_state"), type_="check")
        batch_op.drop_column("state")
        batch_op.drop_column("offered_whole")
        batch_op.drop_column("tags")

    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_hosts_usage_not_negative"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_hosts_uuid"), type_="unique")
        batch_op.drop_index("ix_hosts_free_devices")
        batch_op.drop_index("ix_hosts_enabled_last_heartbeat")
        batch_op.drop_column("free_devices")
        batch_op.drop_column("used_ram_mib")
        batch_op.drop_column("used_vcpus")
        batch_op.drop_column("reserved_ram_mib")
        batch_op.drop_column("ram_allocation_ratio")
        batch_op.drop_column("cpu_allocation_ratio")
        batch_op.drop_column("host_ip")
        batch_op.drop_column("hypervisor_type")
        batch_op.drop_column("disabled_reason")
        batch_op.drop_column("numa_sockets")
        batch_op.drop_column("uuid")

    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_server_id"))
        batch_op.drop_column("server_id")

    op.drop_table("port_security_groups")
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ip_allocations_port_id"))

    op.drop_table("ip_allocations")
    with op.batch_alter_table("device_pools", schema=None) as batch_op:
        batch_op.drop_index("ix_device_pools_physnet_dev_type_free")
        batch_op.drop_index(batch_op.f("ix_device_pools_host_id"))

    op.drop_table("device_pools")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_tokens_expires_at")

    op.drop_table("tokens")
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subnets_project_id"))
        batch_op.drop_index(batch_op.f("ix_subnets_network_id"))

    op.drop_table("subnets")
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_servers_status"))
        batch_op.drop_index(batch_op.f("ix_servers_project_id"))
        batch_op.drop_index(batch_op.f("ix_servers_host_id"))

    op.drop_table("servers")
    with op.batch_alter_table("security_group_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_group_rules_security_group_id"))

    op.drop_table("security_group_rules")
    op.drop_table("role_assignments")
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ports_project_id"))
        batch_op.drop_index(batch_op.f("ix_ports_network_id"))
        batch_op.drop_index("ix_ports_host_id")
        batch_op.drop_index("ix_ports_device_id")

    op.drop_table("ports")
    op.drop_table("users")
    with op.batch_alter_table("security_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_groups_project_id"))

    op.drop_table("security_groups")
    op.drop_table("projects")
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_networks_project_id"))

    op.drop_table("networks")
    op.drop_table("keypairs")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_name"))

    op.drop_table("images")
    op.drop_table("flavors")
