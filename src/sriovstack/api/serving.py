"""Running the app under uvicorn: in the foreground, or on a thread for tests and ``up``."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


@dataclass
class RunningServer:
    """A uvicorn server on a background thread; ``stop()`` shuts it down cleanly."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def start_in_thread(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 15.0
) -> RunningServer:
    """Serve ``app`` over real HTTP on ``host:port`` (a free port when 0) until stopped."""
    port = port or free_port(host)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start on {host}:{port}")
        time.sleep(0.01)
    return RunningServer(server, thread, f"http://{host}:{port}")
