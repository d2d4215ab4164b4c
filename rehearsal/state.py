"""What every page of the console needs: the sandbox, its config, the access
token, and the Google sessions of one request."""
from __future__ import annotations

import secrets
import threading
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
    # Each account's credentials, made once: the person signs in once, as in a
    # browser, rather than the sandbox issuing a new refresh token per page.
    _credentials: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _creds(self, who: str) -> Any:
        with self._lock:
            if who not in self._credentials:
                if who == "staff":
                    from sandbox.staff import staff_credentials

                    made = staff_credentials(self.store, self.sandbox_url, self.config.event.contact.email)
                else:
                    from sandbox.credentials import key_credentials

                    made = key_credentials(self.data_dir, self.sandbox_url)
                self._credentials[who] = made
            return self._credentials[who]

    def staff(self) -> Workspace:
        """The event contact's own session (the person rehearsing), for this request."""
        if "staff_ws" not in g:
            g.staff_ws = Workspace(self._creds("staff"), self.sandbox_url)
        return g.staff_ws

    def service(self) -> Workspace:
        """The tool's own account (the service account the jobs use), for this request."""
        if "service_ws" not in g:
            g.service_ws = Workspace(self._creds("service"), self.sandbox_url)
        return g.service_ws


def console() -> Console:
    from flask import current_app

    return current_app.extensions["hoithao_console"]
