"""``serve`` and ``up`` on a database they cannot reach or open: exit 1 and ONE error line that
names the database without its password, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from tests.e2e.processes import console_script, quiet_env

PASSWORD = "secret"


def closed_port() -> int:
    """Port 9 (discard), which nothing serves here; else a port this process just gave up."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 9)) != 0:
            return 9
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script("sriovstack"), *args],
        env=quiet_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line; anything else on stderr is ``up``'s progress, never a traceback."""
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("sriovstack: error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_serve_on_a_postgresql_server_that_is_not_there(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://sriovstack:{PASSWORD}@127.0.0.1:{port}/x"

    done = run(tmp_path, "serve", "--database-url", url, "--port", "0")

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        f"sriovstack: error: the database postgresql+psycopg://sriovstack:***@127.0.0.1:{port}/x "
        "is unreachable: "
    )
    assert "Connection refused" in line
    assert PASSWORD not in line


def test_serve_with_a_password_postgresql_refuses(tmp_path: Path) -> None:
    admin_url = os.environ.get("SRIOVSTACK_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PostgreSQL: SRIOVSTACK_TEST_POSTGRES_URL is not set")
    wrong = make_url(admin_url).set(password="not-the-password")

    done = run(tmp_path, "serve", "--database-url", wrong.render_as_string(False), "--port", "0")

    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert f"the database {wrong.render_as_string(hide_password=True)} is unreachable" in line
    assert "password authentication failed" in line
    assert "not-the-password" not in line


def test_serve_on_a_sqlite_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "cloud.db").mkdir()

    done = run(tmp_path, "serve", "--database-url", "sqlite:///cloud.db", "--port", "0")

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"sriovstack: error: the database sqlite:///{tmp_path / 'cloud.db'} is unreachable: "
        "unable to open database file"
    ]


def test_serve_on_a_sqlite_file_whose_directory_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    done = run(tmp_path, "serve", "--database-url", "sqlite:///file/cloud.db", "--port", "0")

    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        f"sriovstack: error: the database sqlite:///{tmp_path / 'file' / 'cloud.db'} is "
        f"unreachable: cannot make the directory {tmp_path / 'file'}: "
    )


def test_up_on_a_postgresql_server_that_is_not_there(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://sriovstack:{PASSWORD}@127.0.0.1:{port}/x"
    state = tmp_path / "state"

    done = run(tmp_path, "up", "--state-dir", str(state), "--database-url", url, "--port", "0")

    assert done.returncode == 1
    line = error_line(done)
    assert line.startswith(
        f"sriovstack: error: the database postgresql+psycopg://sriovstack:***@127.0.0.1:{port}/x "
        "is unreachable: "
    )
    assert PASSWORD not in done.stderr + done.stdout
    # A database that never opened does not tie the directory to itself.
    assert not (state / "state.json").exists()
