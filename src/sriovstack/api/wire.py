"""Small helpers for OpenStack wire shapes: request envelopes, query filters and Neutron fields."""

from __future__ import annotations

from typing import Any, overload

from fastapi import Request

from sriovstack.domain.errors import InvalidInput

# Query keys that shape or page Neutron's answer rather than filter it (neutron api_common).
_NOT_NEUTRON_FILTERS = frozenset(
    {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}
)


def envelope(body: Any, name: str) -> dict[str, Any]:
    """The resource inside ``{"<name>": {...}}``, as every OpenStack API wraps it."""
    if not isinstance(body, dict) or not isinstance(body.get(name), dict):
        raise InvalidInput(name, f'the body must be a JSON object {{"{name}": {{...}}}}')
    inner: dict[str, Any] = body[name]
    return inner


def query_filters(request: Request) -> dict[str, str]:
    """The query string as exact-match filters (the last value of a repeated key wins)."""
    return {key: value for key, value in request.query_params.items()}


def neutron_filters(request: Request) -> dict[str, list[str]]:
    """Neutron's exact-match filters: every value of a repeated key, any of which may match.

    ``fields`` and the paging keys are not filters; neutronclient sends ``?name=x&fields=id``.
    """
    filters: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key not in _NOT_NEUTRON_FILTERS:
            filters.setdefault(key, []).append(value)
    return filters


@overload
def neutron_fields(request: Request, found: dict[str, Any]) -> dict[str, Any]: ...


@overload
def neutron_fields(request: Request, found: list[dict[str, Any]]) -> list[dict[str, Any]]: ...


def neutron_fields(
    request: Request, found: dict[str, Any] | list[dict[str, Any]]
) -> dict[str, Any] | list[dict[str, Any]]:
    """The view(s) cut down to the ``?fields=`` asked for, as Neutron answers; all if none.

    Unknown field names are simply absent; empty ``fields=`` values are ignored, as in Neutron.
    """
    wanted = [name for name in request.query_params.getlist("fields") if name]
    if not wanted:
        return found
    if isinstance(found, list):
        return [_only(view, wanted) for view in found]
    return _only(found, wanted)


def _only(view: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    return {name: view[name] for name in wanted if name in view}
