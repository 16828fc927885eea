"""Neutron v2.0 subnets with IPAM (/networking/v2.0/subnets)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/networking/v2.0", tags=["network"])
