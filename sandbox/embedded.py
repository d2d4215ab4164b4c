"""The sandbox the command line starts for itself.

`workspace/` never starts a sandbox: when the config says
`google.backend: sandbox` and no HOITHAO_GOOGLE_URL is set, the command line
(and the tests, as it does) opens the workspace through `open_workspace`,
which serves the config's data folder on 127.0.0.1 for the life of the
session. (The sandbox's own tools sign in with sandbox.credentials.)
"""
from __future__ import annotations

import os

from workspace.clients import GOOGLE_URL_ENV, Workspace
from workspace.config import Config
from workspace.errors import CredentialsError
from workspace.retry import DEFAULT_POLICY, RetryPolicy

from .server import Options, SandboxServer
from .store import DB_NAME


def open_workspace(config: Config, policy: RetryPolicy = DEFAULT_POLICY,
                   options: Options | None = None) -> Workspace:
    """The run's Workspace: with `google.backend: sandbox` and no
    HOITHAO_GOOGLE_URL, an embedded sandbox over the config's data folder is
    served until the Workspace is closed; otherwise nothing is started."""
    if os.environ.get(GOOGLE_URL_ENV) or config.google.backend != "sandbox":
        return Workspace.open(config, policy)
    data = config.resolve(config.google.sandbox_data or "sandbox-data")
    if not (data / DB_NAME).exists():
        raise CredentialsError(f"Không có dữ liệu sandbox trong {data}: chạy `python run.py sandbox "
                               f"seed --data {data}` (hoặc `python run.py demo`).")
    server = SandboxServer(data, options=options).start()
    try:
        return Workspace.open(config, policy, base_url=server.url, on_close=server.stop)
    except BaseException:
        server.stop()
        raise

