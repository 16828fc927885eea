"""The store's compute rows, shaped like Nova's and Glance's: flavors, images, keypairs, servers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.store.tables import Schema


class FlavorRow(Schema):
    """A flavor; its extra specs carry ``pci_passthrough:alias`` and the PCI NUMA policy."""

    __tablename__ = "flavors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Nova allows any string
    name: Mapped[str] = mapped_column(String(255), unique=True)
    ram: Mapped[int]  # MiB
    vcpus: Mapped[int]
    disk: Mapped[int]  # GiB
    ephemeral: Mapped[int] = mapped_column(default=0)
    swap: Mapped[int] = mapped_column(default=0)
    rxtx_factor: Mapped[float] = mapped_column(default=1.0)
    is_public: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    description: Mapped[str | None] = mapped_column(String(255))
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class ImageRow(Schema):
    """An image's metadata (Glance v2); sriovstack stores no image data."""

    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    owner: Mapped[str | None] = mapped_column(String(32))
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    status: Mapped[str] = mapped_column(String(16), default="active")
    protected: Mapped[bool] = mapped_column(default=False, server_default=false())
    container_format: Mapped[str] = mapped_column(String(16), default="bare")
    disk_format: Mapped[str] = mapped_column(String(16), default="qcow2")
    min_disk: Mapped[int] = mapped_column(default=0)
    min_ram: Mapped[int] = mapped_column(default=0)
    size: Mapped[int | None]
    checksum: Mapped[str | None] = mapped_column(String(64))
    # Other image properties, e.g. hw_pci_numa_affinity_policy.
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class KeypairRow(Schema):
    """An SSH public key of a user, by name (Nova keys key pairs per user)."""

    __tablename__ = "keypairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(8), default="ssh")
    public_key: Mapped[str] = mapped_column(String(4096))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ServerRow(Schema):
    """A server (guest): what it asked for, where it landed, and how far it got.

    The flavor is copied in (``flavor``), as Nova embeds it, so deleting a flavor never changes
    a running server.
    """

    __tablename__ = "servers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    flavor_id: Mapped[str] = mapped_column(String(64))
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON)
    image_id: Mapped[str] = mapped_column(String(36))
    key_name: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))  # as asked
    status: Mapped[str] = mapped_column(String(16), default="BUILD", index=True)
    vm_state: Mapped[str] = mapped_column(String(16), default="building")
    task_state: Mapped[str | None] = mapped_column(String(32))
    power_state: Mapped[int] = mapped_column(default=0)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    fault: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metadata_items: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    launched_at: Mapped[datetime | None]
