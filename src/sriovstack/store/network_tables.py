"""The store's networking rows, shaped like Neutron's: networks, subnets, IP allocations, ports,
security groups and their rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.store.tables import Schema


class NetworkRow(Schema):
    """A network with its one provider segment.

    ``segment`` ("vlan:physnet1:2010", "flat:physnet1") is unique, so two networks can never be
    given the same VLAN on a physnet, however many API servers race to create them.
    """

    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    shared: Mapped[bool] = mapped_column(default=False, server_default=false())
    admin_state_up: Mapped[bool] = mapped_column(default=True, server_default=true())
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    mtu: Mapped[int] = mapped_column(default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    network_type: Mapped[str] = mapped_column(String(16))  # vlan or flat
    physical_network: Mapped[str | None] = mapped_column(String(64))
    segmentation_id: Mapped[int | None]
    segment: Mapped[str] = mapped_column(String(96), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision_number: Mapped[int] = mapped_column(default=1)


class SubnetRow(Schema):
    """An IP subnet of a network, with its allocation pools, gateway and DNS servers."""

    __tablename__ = "subnets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int]
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    enable_dhcp: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision_number: Mapped[int] = mapped_column(default=1)


class IPAllocationRow(Schema):
    """An address of a subnet held by a port; the primary key refuses handing it out twice."""

    __tablename__ = "ip_allocations"

    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), index=True)


class PortRow(Schema):
    """A port with its binding (Neutron's port binding extension) and, once bound, its VF."""

    __tablename__ = "ports"
    __table_args__ = (
        UniqueConstraint("network_id", "mac_address"),
        Index("ix_ports_device_id", "device_id"),
        Index("ix_ports_host_id", "host_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(17))
    device_id: Mapped[str] = mapped_column(String(64), default="")
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(default=True, server_default=true())
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    port_security_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    propagate_uplink_status: Mapped[bool] = mapped_column(default=False, server_default=false())
    vnic_type: Mapped[str] = mapped_column(String(32), default="normal")
    host_id: Mapped[str] = mapped_column(String(255), default="")  # binding:host_id
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # binding:profile
    vif_type: Mapped[str] = mapped_column(String(32), default="unbound")
    vif_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    numa_affinity_policy: Mapped[str | None] = mapped_column(String(16))
    qos_max_kbps: Mapped[int | None]  # rates the agent programs on the VF (issue: agent)
    qos_min_kbps: Mapped[int | None]
    # Made by a server boot from --nic net-id=: deleted with the server, as Nova does.
    created_for_server: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Interface detach asked for: the agent unplugs the NIC and resets the VF, then confirms.
    detaching: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision_number: Mapped[int] = mapped_column(default=1)


class SecurityGroupRow(Schema):
    """A security group: stored and shown; not enforced on direct (VF) ports, as in Neutron."""

    __tablename__ = "security_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision_number: Mapped[int] = mapped_column(default=1)


class SecurityGroupRuleRow(Schema):
    """A rule of a security group."""

    __tablename__ = "security_group_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))  # ingress or egress
    ethertype: Mapped[str] = mapped_column(String(8))  # IPv4 or IPv6
    protocol: Mapped[str | None] = mapped_column(String(16))
    port_range_min: Mapped[int | None]
    port_range_max: Mapped[int | None]
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64))
    remote_group_id: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime]


class PortSecurityGroupRow(Schema):
    """A security group applied to a port."""

    __tablename__ = "port_security_groups"

    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), primary_key=True
    )
