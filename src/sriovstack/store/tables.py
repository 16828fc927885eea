"""The store's rows: hosts, their PFs and VFs, and claims; mapping.py turns them into domain values.

Every change here needs a new revision in alembic/versions/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Constraint names are part of the schema: migrations drop and alter constraints by name.
NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
}


class VFState(StrEnum):
    """A VF's state, with Nova's names and meanings (nova/objects/pci_device.py)."""

    AVAILABLE = "available"  # free to claim
    CLAIMED = "claimed"  # reserved for an owner (a port or server) that has not booted yet
    ALLOCATED = "allocated"  # in use by its owner
    UNAVAILABLE = "unavailable"  # its PF is allocated whole
    UNCLAIMABLE = "unclaimable"  # its PF is claimed whole
    REMOVED = "removed"  # vanished from the host while held; the row goes when it is released


FREE_STATES = frozenset({VFState.AVAILABLE, VFState.UNAVAILABLE, VFState.UNCLAIMABLE})
"""States without an owner: a VF in one of them that vanishes from its host is deleted."""

HELD_STATES = frozenset({VFState.CLAIMED, VFState.ALLOCATED})
"""States with an owner: a VF in one of them that vanishes is kept as removed until released."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError(f"the store keeps timezone-aware times only, got {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite keeps no zone: what it holds was written as UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Schema(DeclarativeBase):
    """The store's tables; ``Schema.metadata`` is what the migrations build."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class HostRow(Schema):
    """A compute host; CPU, memory and NUMA stay unknown (NULL) until an agent reports them.

    ``used_*`` and ``free_devices`` are kept by the claims themselves (conditional updates),
    so that choosing a host reads one row per host and never counts VFs.
    """

    __tablename__ = "hosts"
    __table_args__ = (
        Index("ix_hosts_enabled_last_heartbeat", "enabled", "last_heartbeat"),
        Index("ix_hosts_free_devices", "free_devices"),
        CheckConstraint("used_vcpus >= 0 AND used_ram_mib >= 0", name="usage_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str | None] = mapped_column(String(36), unique=True)  # os-hypervisors id
    name: Mapped[str] = mapped_column(String(255), unique=True)
    cpus: Mapped[int | None]
    memory_mib: Mapped[int | None]
    numa_cells: Mapped[int | None]  # how many NUMA nodes; a PF names its own by numa_node
    # The socket of each NUMA cell, by cell id; null where the host does not say (policy socket).
    numa_sockets: Mapped[list[int | None] | None] = mapped_column(JSON)
    availability_zone: Mapped[str] = mapped_column(
        String(255), default="nova", server_default="nova"
    )
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    last_heartbeat: Mapped[datetime | None]
    hypervisor_type: Mapped[str] = mapped_column(String(32), default="QEMU", server_default="QEMU")
    host_ip: Mapped[str | None] = mapped_column(String(64))
    # Nova's defaults: initial_cpu_allocation_ratio 4.0, initial_ram_allocation_ratio 1.0,
    # reserved_host_memory_mb 512.
    cpu_allocation_ratio: Mapped[float] = mapped_column(default=4.0, server_default="4.0")
    ram_allocation_ratio: Mapped[float] = mapped_column(default=1.0, server_default="1.0")
    reserved_ram_mib: Mapped[int] = mapped_column(default=512, server_default="512")
    used_vcpus: Mapped[int] = mapped_column(default=0, server_default="0")
    used_ram_mib: Mapped[int] = mapped_column(default=0, server_default="0")
    free_devices: Mapped[int] = mapped_column(default=0, server_default="0")  # offered, free
    # Bumped by every change to what the host's agent must do; agents long-poll on it.
    desired_revision: Mapped[int] = mapped_column(default=0, server_default="0")
    # The agent's Neutron settings as its last report gave them (Neutron's "configurations").
    agent_configuration: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )

    pfs: Mapped[list[PhysicalFunctionRow]] = relationship(
        back_populates="host", cascade="all, delete-orphan"
    )


class PhysicalFunctionRow(Schema):
    """A PF as last reported; ``version`` moves on whenever a report changes it or its VFs.

    Claims move the VF's own version instead, so claims on one PF never wait for each other.
    """

    __tablename__ = "physical_functions"
    __table_args__ = (UniqueConstraint("host_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    address: Mapped[str] = mapped_column(String(16))  # PCI address, 0000:03:00.0
    vendor_id: Mapped[int]
    device_id: Mapped[int]
    vf_device_id: Mapped[int]  # the device ID its VFs show, for Nova's pci_vendor_info
    netdev: Mapped[str | None] = mapped_column(String(16))
    physnet: Mapped[str | None] = mapped_column(String(64))
    numa_node: Mapped[int | None]
    total_vfs: Mapped[int]
    version: Mapped[int] = mapped_column()
    # The device spec's other tags (trusted, remote_managed, ...), as Nova's pool keys hold them.
    tags: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict, server_default="{}")
    # Whether a device spec offers the PF itself (type-PF, for direct-physical ports).
    offered_whole: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The PF as a device: available, or claimed/allocated whole, or unclaimable/unavailable
    # while one of its VFs is held (Nova's parent/child rule).
    state: Mapped[VFState] = mapped_column(
        Enum(
            VFState,
            name="pf_state",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda states: [s.value for s in states],
        ),
        default=VFState.AVAILABLE,
        server_default="available",
    )
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # The NIC's static facts from the catalogue (filter table sizes, driver support), as reported.
    capabilities: Mapped[dict[str, str | int | bool]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )

    host: Mapped[HostRow] = relationship(back_populates="pfs")
    vfs: Mapped[list[VirtualFunctionRow]] = relationship(
        back_populates="pf", cascade="all, delete-orphan", order_by="VirtualFunctionRow.vf_index"
    )

    # Bumped by hand (store/inventory.py), since VF changes count too; every UPDATE and DELETE
    # of the row checks it, and a row that moved on raises StaleDataError.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class VirtualFunctionRow(Schema):
    """A VF of a PF: its state and, while held, its owner; ``version`` moves on with each change."""

    __tablename__ = "virtual_functions"
    __table_args__ = (
        UniqueConstraint("pf_id", "vf_index"),
        Index("ix_virtual_functions_pf_id_state", "pf_id", "state"),
        CheckConstraint(
            "(claimed_by IS NULL) = (state IN ('available', 'unavailable', 'unclaimable'))",
            name="owner_matches_state",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pf_id: Mapped[int] = mapped_column(ForeignKey("physical_functions.id"))
    vf_index: Mapped[int]
    address: Mapped[str] = mapped_column(String(16))
    state: Mapped[VFState] = mapped_column(
        Enum(
            VFState,
            name="vf_state",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda states: [s.value for s in states],
        ),
        default=VFState.AVAILABLE,
    )
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # a port or server ID
    version: Mapped[int] = mapped_column()

    pf: Mapped[PhysicalFunctionRow] = relationship(back_populates="vfs")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ClaimRow(Schema):
    """A VF reserved for an owner; the unique (pf_id, vf_index) refuses a second claim of a VF."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("pf_id", "vf_index"),
        ForeignKeyConstraint(
            ["pf_id", "vf_index"], ["virtual_functions.pf_id", "virtual_functions.vf_index"]
        ),
        Index("ix_claims_owner", "owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pf_id: Mapped[int]
    vf_index: Mapped[int]
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    server_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the guest it is for


class DevicePoolRow(Schema):
    """Free devices of one kind on one PF, as Nova's pools count them: the scheduler's index.

    One row per PF for its VFs (``type-VF``) and one for the PF itself when offered whole
    (``type-PF``). ``free`` moves with every claim and release in the same transaction, and an
    inventory report recounts it, so choosing hosts reads pools through an index instead of
    counting VF rows.
    """

    __tablename__ = "device_pools"
    __table_args__ = (
        UniqueConstraint("pf_id", "dev_type"),
        Index("ix_device_pools_physnet_dev_type_free", "physnet", "dev_type", "free"),
        CheckConstraint("free >= 0 AND free <= total", name="free_within_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), index=True)
    pf_id: Mapped[int] = mapped_column(ForeignKey("physical_functions.id", ondelete="CASCADE"))
    dev_type: Mapped[str] = mapped_column(String(16))  # type-VF or type-PF
    physnet: Mapped[str | None] = mapped_column(String(64))  # lower-cased: Nova ignores case
    numa_node: Mapped[int | None]
    free: Mapped[int]
    total: Mapped[int]
