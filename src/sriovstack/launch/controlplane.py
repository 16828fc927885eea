"""The control plane's first start: DevStack's users, flavors and images, and who may log in."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from sriovstack.domain.errors import InvalidInput, Unauthenticated
from sriovstack.services import flavors, identity, images
from sriovstack.services.environment import Environment

PASSWORD_VARIABLES = {"admin": "SRIOVSTACK_ADMIN_PASSWORD", "demo": "SRIOVSTACK_DEMO_PASSWORD"}
MIN_PASSWORD = 8  # what the identity service accepts
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def choose_passwords(environ: Mapping[str, str]) -> tuple[dict[str, str], set[str]]:
    """The admin and demo passwords the environment gives, or new ones; which were made here."""
    passwords, generated = {}, set()
    for user, variable in PASSWORD_VARIABLES.items():
        given = environ.get(variable)
        if given is None or given == "":
            passwords[user] = secrets.token_urlsafe(18)
            generated.add(user)
        elif len(given) < MIN_PASSWORD:
            raise InvalidInput(variable, f"must be at least {MIN_PASSWORD} characters")
        else:
            passwords[user] = given
    return passwords, generated


def logs_in(env: Environment, user: str, password: str) -> bool:
    try:
        identity.issue_token(env, user_name=user, password=password, project_name="demo")
    except Unauthenticated:
        return False
    return True


def bootstrap_cloud(env: Environment, passwords: Mapping[str, str]) -> tuple[bool, dict[str, str]]:
    """DevStack's users (made with ``passwords`` the first time), flavors and images.

    Whether the users were made now, and the passwords that log in: a database bootstrapped
    before keeps the passwords it was first given.
    """
    created = identity.ensure_bootstrap(
        env, admin_password=passwords["admin"], demo_password=passwords["demo"]
    )
    known = (
        dict(passwords)
        if created
        else {user: pw for user, pw in passwords.items() if logs_in(env, user, pw)}
    )
    flavors.ensure_default_flavors(env)
    images.ensure_default_images(env)
    return created, known


def reachable_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server listening on ``host:port``."""
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
