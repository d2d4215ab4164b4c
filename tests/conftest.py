"""Shared fixtures: a sandbox per test over a temporary folder, and the real
client libraries pointed at it through workspace.transport (the same seam
production uses). Nothing here mocks our code or the client libraries."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import gspread
import pytest
from google.auth.crypt import RSASigner
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
          # the sandbox tests read mail back and use drafts; the product holds only gmail.send
          "https://www.googleapis.com/auth/gmail.readonly",
          "https://www.googleapis.com/auth/gmail.compose",
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
    for server in started:
        if server.last_internal_error is not None:
            raise AssertionError(f"sandbox internal error: {server.last_internal_error!r}")


@pytest.fixture(scope="session")
def rsa_key_pem() -> str:
    """One RSA key for the whole run: generating one per test costs seconds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def rsa_key(rsa_key_pem: str) -> Any:
    """The session key loaded once: loading a PEM key checks it (~50 ms a time)."""
    from cryptography.hazmat.primitives import serialization
    return serialization.load_pem_private_key(rsa_key_pem.encode(), password=None)


@pytest.fixture
def credentials(sandbox: SandboxServer, rsa_key_pem: str, rsa_key: Any) -> service_account.Credentials:
    """Service-account credentials for a key the sandbox issued (its own key id per
    test). Built from the already-loaded key; test_sandbox_core covers the full
    from_service_account_info path."""
    info = create_service_account(sandbox.store, "hoithao@hoithao-sandbox.iam.gserviceaccount.com",
                                  private_pem=rsa_key_pem)
    signer = RSASigner(rsa_key, key_id=info["private_key_id"])
    return service_account.Credentials(signer, info["client_email"], sandbox.url + "/token",
                                       scopes=SCOPES, project_id=info["project_id"])


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
        resource = build(name, version, http=http, static_discovery=True, cache_discovery=False)
        # Each resource pretty-prints the discovery schemas into method docstrings
        # (~0.1-0.2 s a test); share that cache of text across the session.
        resource._schema.pretty = _PRETTY_SCHEMAS.setdefault((name, version), {})
        return resource
    return make


_PRETTY_SCHEMAS: dict[tuple[str, str], dict[str, str]] = {}


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
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd,
                          env=env or child_env(), capture_output=True, text=True, timeout=timeout)


# -- running jobs as the command line does ---------------------------------------

CONTEXT_FIELDS = ("clock", "sleep", "trigger", "locker", "stop")


def open_ws(config: Any, policy: Any = None) -> Any:
    """The Workspace the command line would open (an embedded sandbox when the
    config's backend is the sandbox and HOITHAO_GOOGLE_URL is not set)."""
    from sandbox.embedded import open_workspace
    from workspace.retry import DEFAULT_POLICY

    return open_workspace(config, policy or DEFAULT_POLICY)


def run_job_as_cli(config: Any, name: str, *, dry_run: bool = False, console: Any = None,
                   policy: Any = None, **kwargs: Any) -> Any:
    """Run job `name` with its Options built from keyword arguments (a misspelt
    one is a TypeError, as it would be for the command line); `clock`, `sleep`,
    `trigger` and `locker` go to the context."""
    from workflows.base import JobContext, make_console, run_job
    from workflows.jobs import JOBS

    job = JOBS[name]
    context = {k: kwargs.pop(k) for k in CONTEXT_FIELDS if k in kwargs}
    opts = job.options(**kwargs)
    with open_ws(config, policy) as ws:
        ctx = JobContext(config=config, ws=ws, dry_run=dry_run,
                         console=console or make_console(), **context)
        return run_job(job, ctx, opts)


# -- what people submit and receive ----------------------------------------------

def registration_answers(n: int, delegation: str = "HCM", **over: str) -> dict[str, str]:
    """Person n's valid registration answers by canonical field (the seeded
    delegation `delegation` by its name); `over` replaces any answer."""
    from sandbox.seed_data import DELEGATIONS

    names = {code: name for code, name, _, _ in DELEGATIONS}
    base = {"full_name": f"Người Thứ {n}", "honorific": "Bà", "position": "Giáo viên",
            "unit": "Trường THPT Gia Định", "delegation": names[delegation],
            "email": f"nguoi{n}@thpt.example", "phone": f"0913{n:06d}", "consent": "Tôi đồng ý"}
    base.update(over)
    return base


def mailbox_counts(store: Any) -> collections.Counter[str]:
    """How many messages the sandbox's Gmail accepted for each recipient address."""
    import email
    import email.policy

    from sandbox.api.gmail import sent_messages

    counts: collections.Counter[str] = collections.Counter()
    for _, raw in sent_messages(store):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for addr in msg["To"].addresses:
            counts[addr.addr_spec] += 1
    return counts


# -- the PDF fonts ------------------------------------------------------------------

def _fonts_installed() -> bool:
    from sandbox.api import docs_pdf

    try:
        docs_pdf.find_fonts()
        return True
    except Exception:
        return False


# The sandbox draws PDFs with the fonts .ci/run installs (fonts-dejavu-core,
# fonts-liberation2); elsewhere the tests that need them say why they did not run.
def _font_packages() -> str:
    from sandbox.api import docs_pdf

    return f"{docs_pdf.FONT_PACKAGE} and {docs_pdf.METRIC_PACKAGE}"


needs_fonts = pytest.mark.skipif(not _fonts_installed(),
                                 reason=f"PDF export needs {_font_packages()} installed")


# A real browser (tests/browser.py): the fixtures `chromium` and `browser_page`.
from tests.browser import browser_page, chromium  # noqa: E402,F401
# The rehearsal console (tests/console_fixtures.py): `demo_data`, `open_console`.
from tests.console_fixtures import demo_data, demo_template, open_console  # noqa: E402,F401
