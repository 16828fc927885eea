"""Nova v2.1 key pairs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/compute/v2.1", tags=["compute"])
