"""The sandbox's own key: how its tools (seed, export) and the benchmark sign
in to a sandbox, through the one helper the client factory uses too
(workspace.auth). Light on purpose: no server is imported with it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from workspace.auth import ALL_SCOPES, service_account_from_file

KEY_FILE = Path("credentials") / "service-account.json"


def key_credentials(data_dir: Path, url: str) -> Any:
    """The data folder's service-account key, its tokens asked of the sandbox at `url`."""
    return service_account_from_file(Path(data_dir) / KEY_FILE, ALL_SCOPES, url.rstrip("/") + "/token")
