"""The API server's composition root: ``create_app(environment)``."""

from __future__ import annotations

from fastapi import FastAPI

from sriovstack import __version__
from sriovstack.api import (
    agents,
    events,
    extensions,
    flavors,
    hosts,
    hypervisors,
    identity,
    images,
    interfaces,
    keypairs,
    microversions,
    networks,
    nova_security_groups,
    ports,
    security_groups,
    servers,
    subnets,
)
from sriovstack.api.errors import install_error_handlers
from sriovstack.services.environment import Environment


def create_app(environment: Environment, *, public_url: str | None = None) -> FastAPI:
    """An app serving Keystone, Neutron, Nova and Glance shapes plus the native API."""
    app = FastAPI(
        title="sriovstack",
        version=__version__,
        description="SR-IOV networking for VM clouds: OpenStack-compatible and native API.",
    )
    app.state.environment = environment
    app.state.public_url = public_url
    install_error_handlers(app)
    routers = (
        identity,
        microversions,
        extensions,
        networks,
        subnets,
        ports,
        security_groups,
        servers,
        interfaces,
        flavors,
        keypairs,
        nova_security_groups,
        hypervisors,
        images,
        hosts,
        events,
        agents,
    )
    for module in routers:
        app.include_router(module.router)
    return app
