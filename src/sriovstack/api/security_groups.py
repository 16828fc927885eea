"""Neutron v2.0 security groups and rules (stored; not enforced on direct ports)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/networking/v2.0", tags=["network"])
