"""Nova v2.1 hypervisors with their PCI inventory, and availability zones."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])
