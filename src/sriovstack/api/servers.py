"""Nova v2.1 servers (boot with ports or networks, list, show, delete)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])
