"""Glance v2 images (metadata only)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/image", tags=["image"])
