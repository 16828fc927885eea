"""The native admin and agent API (hosts, inventory, heartbeats, PCI devices, agents)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["native"])
