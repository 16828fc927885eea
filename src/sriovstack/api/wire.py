"""Small helpers for OpenStack wire shapes: request envelopes and exact-match query filters."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from sriovstack.domain.errors import InvalidInput


def envelope(body: Any, name: str) -> dict[str, Any]:
    """The resource inside ``{"<name>": {...}}``, as every OpenStack API wraps it."""
    if not isinstance(body, dict) or not isinstance(body.get(name), dict):
        raise InvalidInput(name, f'the body must be a JSON object {{"{name}": {{...}}}}')
    inner: dict[str, Any] = body[name]
    return inner


def query_filters(request: Request) -> dict[str, str]:
    """The query string as exact-match filters (the last value of a repeated key wins)."""
    return {key: value for key, value in request.query_params.items()}
