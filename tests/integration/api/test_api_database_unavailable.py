"""The database goes away under a running API: 503 in each family's format, then back by itself.

SQLite's database file is replaced by a directory; PostgreSQL is reached through a TCP proxy
the test closes (cutting the pooled connections and refusing new ones) and opens again: the
shared server itself must not be stopped.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy.engine import make_url
from tests.integration.api.cloud import Cloud, running_cloud


class Outage(Protocol):
    def down(self) -> None: ...

    def up(self) -> None: ...


class Proxy:
    """A TCP proxy on a loopback port to ``target``; ``down()`` closes it and every connection
    through it, as a server that stopped would, and ``up()`` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        assert self._listener is not None
        # close() alone leaves the socket listening while _accept's thread waits in accept();
        # shutdown() wakes it and stops the listening.
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class FileReplaced:
    """SQLite's database file replaced by a directory, with the pool's connections dropped:
    a connection SQLite has open keeps the file it opened, so only new ones see the change
    (as after a restart, or once the pool recycles them)."""

    def __init__(self, cloud: Cloud, path: Path) -> None:
        self.cloud, self.path = cloud, path
        self.aside = path.with_name(path.name + ".aside")

    def down(self) -> None:
        self.cloud.env.database.engine.dispose()
        self.path.rename(self.aside)
        self.path.mkdir()

    def up(self) -> None:
        self.path.rmdir()
        self.aside.rename(self.path)


@pytest.fixture
def outage_cloud(migrated_database_url: str) -> Iterator[tuple[Cloud, Outage, str]]:
    """A running cloud, a way to take its database away and back, and the URL's password."""
    url = make_url(migrated_database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        with running_cloud(migrated_database_url) as cloud:
            yield cloud, FileReplaced(cloud, Path(url.database)), ""
        return
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with running_cloud(through) as cloud:
            yield cloud, proxy, str(url.password or "")
    finally:
        with suppress(AssertionError):
            proxy.down()


def _message(body: dict[str, Any]) -> str:
    return str(next(iter(body.values()))["message"])


Check = Callable[[dict[str, Any]], None]


def _nova(body: dict[str, Any]) -> None:
    assert list(body) == ["serviceUnavailable"]
    assert body["serviceUnavailable"]["code"] == 503


def _neutron(body: dict[str, Any]) -> None:
    assert list(body) == ["NeutronError"]
    assert body["NeutronError"]["type"] == "ServiceUnavailable"


def _keystone(body: dict[str, Any]) -> None:
    assert list(body) == ["error"]
    assert body["error"]["code"] == 503
    assert body["error"]["title"] == "Service Unavailable"


def _native(body: dict[str, Any]) -> None:
    assert list(body) == ["error"]
    assert (body["error"]["code"], body["error"]["type"]) == (503, "ServiceUnavailable")


REQUESTS: list[tuple[str, str, Check]] = [
    ("GET", "/compute/v2.1/flavors", _nova),
    ("GET", "/networking/v2.0/networks", _neutron),
    ("GET", "/image/v2/images", _keystone),
    ("GET", "/v1/hosts", _native),
]


def _login(cloud: Cloud) -> httpx.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "password": "admin-secret",
                        "domain": {"id": "default"},
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    return httpx.post(f"{cloud.url}/identity/v3/auth/tokens", json=body)


def test_an_unreachable_database_is_a_503_in_each_family_and_the_api_recovers(
    outage_cloud: tuple[Cloud, Outage, str],
) -> None:
    cloud, outage, password = outage_cloud
    token = cloud.client().token
    assert token
    headers = {"X-Auth-Token": token}

    outage.down()
    try:
        for _ in range(2):  # still refused once the lost connections are gone from the pool
            for method, path, check in REQUESTS:
                response = httpx.request(method, f"{cloud.url}{path}", headers=headers)
                assert response.status_code == 503, (path, response.text)
                check(response.json())
                message = _message(response.json())
                assert "is unreachable" in message
                assert "Traceback" not in message and "\n" not in message
                if password:
                    assert f":{password}@" not in message
                    assert ":***@" in message
            login = _login(cloud)
            assert login.status_code == 503
            _keystone(login.json())
    finally:
        outage.up()

    for method, path, _ in REQUESTS:
        response = httpx.request(method, f"{cloud.url}{path}", headers=headers)
        assert response.status_code == 200, (path, response.text)
    assert _login(cloud).status_code == 201
