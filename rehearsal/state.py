"""What every page of the console needs: the sandbox, its config, the access
token, and the Google sessions of one request."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import g

from workspace.clients import Workspace
from workspace.config import Config


@dataclass
class Console:
    """What every page needs: the sandbox, its config, the access token."""
    data_dir: Path
    config: Config
    sandbox_url: str
    store: Any                                    # sandbox.store.Store
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    runs: Any = None                              # rehearsal.runner.Runner

    def staff(self) -> Workspace:
        """The event contact's own session (the person rehearsing), for this request."""
        if "staff_ws" not in g:
            from sandbox.staff import staff_credentials

            g.staff_ws = Workspace(staff_credentials(self.store, self.sandbox_url,
                                                     self.config.event.contact.email), self.sandbox_url)
        return g.staff_ws

    def service(self) -> Workspace:
        """The tool's own account (the service account the jobs use), for this request."""
        if "service_ws" not in g:
            from sandbox.credentials import key_credentials

            g.service_ws = Workspace(key_credentials(self.data_dir, self.sandbox_url), self.sandbox_url)
        return g.service_ws


def console() -> Console:
    from flask import current_app

    return current_app.extensions["hoithao_console"]
