"""Fixtures for the rehearsal console's tests: the demo's sandbox (run once per
test session, copied for each test) and a console over a folder, its jobs run
with the loopback guard like every child process of the tests."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox after `python run.py demo` (mail sent, documents written)."""
    from tests.conftest import run_cli

    data = tmp_path_factory.mktemp("demo") / "sandbox-data"
    result = run_cli("demo", "--data", str(data))
    assert result.returncode == 0, result.stderr
    (data.parent / "demo-stdout.txt").write_text(result.stdout, encoding="utf-8")
    return data


@pytest.fixture
def demo_data(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo's sandbox."""
    data = tmp_path / "demo-data"
    shutil.copytree(demo_template, data)
    return data


@pytest.fixture
def open_console() -> Iterator[Callable[[Path], Any]]:
    """open_console(DATA) -> a started rehearsal.server.ConsoleServer, stopped
    after the test (its sandbox must not have failed inside)."""
    from rehearsal.server import ConsoleServer
    from tests.conftest import child_env

    servers: list[Any] = []

    def make(data: Path) -> Any:
        server = ConsoleServer(data, port=0, env=child_env()).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        if server.sandbox.last_internal_error is not None:
            raise AssertionError(f"sandbox internal error: {server.sandbox.last_internal_error!r}")


def sign_in(page: Any, server: Any, path: str = "/") -> None:
    """Open the console as its person does: the printed URL (with the token), then `path`."""
    page.goto(server.url)
    if path != "/":
        page.goto(server.base_url + path)
