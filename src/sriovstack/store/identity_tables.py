"""The store's identity rows: projects, users, their roles in projects, and issued tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.store.tables import Schema


class ProjectRow(Schema):
    """A project (Keystone's tenant): what owns networks, ports and servers."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # Keystone-style hex
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())


class UserRow(Schema):
    """A user; the password is kept only as a salted scrypt hash (services/identity.py)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # An agent's user names the one host it may report for and read the desired state of.
    host: Mapped[str | None] = mapped_column(String(255))


class RoleAssignmentRow(Schema):
    """A user's role (admin, member or agent) in a project."""

    __tablename__ = "role_assignments"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class TokenRow(Schema):
    """An issued token, kept by its SHA-256 only: a stolen database holds no usable token."""

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_expires_at", "expires_at"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    roles: Mapped[str] = mapped_column(String(255))  # comma-separated, as granted at issue
    audit_id: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
