"""Shared fixtures: a sandbox per test over a temporary folder, and the real
client libraries pointed at it through workspace.transport (the same seam
production uses). Nothing here mocks our code or the client libraries."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import gspread
import pytest
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build

from tests.netguard.guard import install

install()

ROOT = Path(__file__).resolve().parent.parent
GUARD_PATH = str(Path(__file__).resolve().parent / "netguard")

from sandbox.oauth import create_service_account  # noqa: E402
from sandbox.server import Options, SandboxServer  # noqa: E402
from workspace.transport import new_http, redirect_session  # noqa: E402

SCOPES = ["https://www.googleapis.com/auth/spreadsheets",
          "https://www.googleapis.com/auth/drive",
          "https://www.googleapis.com/auth/gmail.send",
          "https://www.googleapis.com/auth/documents",
          "https://www.googleapis.com/auth/forms"]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child process: the loopback guard loaded first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([GUARD_PATH, str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "sandbox-data"


@pytest.fixture
def sandbox(data_dir: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(data_dir, options=Options(seed=1234)).start()
    yield server
    server.stop()
    if server.last_internal_error is not None:
        raise AssertionError(f"sandbox internal error: {server.last_internal_error!r}")


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[Callable[..., SandboxServer]]:
    """A sandbox with custom options (quotas, faults, limits)."""
    started: list[SandboxServer] = []

    def make(data: Path | None = None, **options: Any) -> SandboxServer:
        server = SandboxServer(data or tmp_path / "sandbox-data", options=Options(**options)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def rsa_key_pem() -> str:
    """One RSA key for the whole run: generating one per test costs seconds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def credentials(sandbox: SandboxServer, rsa_key_pem: str) -> service_account.Credentials:
    info = create_service_account(sandbox.store, "hoithao@hoithao-sandbox.iam.gserviceaccount.com",
                                  private_pem=rsa_key_pem)
    creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    return creds.with_token_uri(sandbox.url + "/token")


@pytest.fixture
def gc(sandbox: SandboxServer, credentials: service_account.Credentials) -> gspread.Client:
    """The real gspread client, its requests sent to the sandbox."""
    client = gspread.Client(auth=credentials)
    redirect_session(client.http_client.session, sandbox.url)
    return client


@pytest.fixture
def service(sandbox: SandboxServer, credentials: service_account.Credentials) -> Callable[..., Any]:
    """`service("drive", "v3")`: a real googleapiclient resource aimed at the sandbox."""
    def make(name: str, version: str, creds: Any = None) -> Any:
        http = AuthorizedHttp(creds or credentials, http=new_http(sandbox.url))
        return build(name, version, http=http, static_discovery=True, cache_discovery=False)
    return make


# -- a seeded 2024 workshop ---------------------------------------------------

@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2024 workshop seeded once per test run (seeding takes a second or two)."""
    from sandbox.seed import seed
    from workspace.config import load

    data = tmp_path_factory.mktemp("seeded") / "sandbox-data"
    seed(data, load(ROOT / "config.yaml"))
    return data


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded workshop: DIR with sandbox.db, credentials, config.yaml."""
    import shutil

    data = tmp_path / "sandbox-data"
    shutil.copytree(seeded_template, data)
    return data


@pytest.fixture
def seeded_config(seeded: Path) -> Any:
    from workspace.config import load

    return load(seeded / "config.yaml", environ={})


@pytest.fixture
def seeded_server(seeded: Path) -> Iterator[SandboxServer]:
    """A server over the seeded copy; HOITHAO_GOOGLE_URL points the product at it."""
    server = SandboxServer(seeded, options=Options(seed=99)).start()
    old = os.environ.get("HOITHAO_GOOGLE_URL")
    os.environ["HOITHAO_GOOGLE_URL"] = server.url
    yield server
    if old is None:
        os.environ.pop("HOITHAO_GOOGLE_URL", None)
    else:
        os.environ["HOITHAO_GOOGLE_URL"] = old
    server.stop()
    if server.last_internal_error is not None:
        raise AssertionError(f"sandbox internal error: {server.last_internal_error!r}")


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
            timeout: float = 300) -> "subprocess.CompletedProcess[str]":
    """`python run.py ARGS` in a child process (with the loopback guard)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd,
                          env=env or child_env(), capture_output=True, text=True, timeout=timeout)
