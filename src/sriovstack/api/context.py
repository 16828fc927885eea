"""Request-scoped dependencies: the services' environment and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from sriovstack.services import identity
from sriovstack.services.environment import Caller, Environment


def environment(request: Request) -> Environment:
    env = request.app.state.environment
    assert isinstance(env, Environment)
    return env


def caller(
    request: Request,
    x_auth_token: Annotated[str | None, Header()] = None,
) -> Caller:
    """The caller the request's X-Auth-Token speaks for; 401 without a valid one."""
    return identity.authenticate(environment(request), x_auth_token)


Env = Annotated[Environment, Depends(environment)]
Authenticated = Annotated[Caller, Depends(caller)]


def base_url(request: Request) -> str:
    """The URL clients reached us by, for links and the catalog (no trailing slash)."""
    configured = request.app.state.public_url
    if isinstance(configured, str) and configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")
