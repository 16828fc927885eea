"""Neutron's version document and extension list."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/networking", tags=["network"])
