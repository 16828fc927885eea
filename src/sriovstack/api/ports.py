"""Neutron v2.0 ports with the port binding extension (/networking/v2.0/ports)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/networking/v2.0", tags=["network"])
