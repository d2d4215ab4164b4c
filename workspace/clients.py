"""Authorised Google clients, built once per run and passed to the jobs.

Where requests go is decided here and nowhere else:
  1. `HOITHAO_GOOGLE_URL` set -> every API call and token request goes there;
  2. else `google.backend: sandbox` -> an embedded sandbox over the config's
     data folder is started on 127.0.0.1 for the life of this process;
  3. else Google itself, with the transport untouched.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import gspread
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build

from .config import Config
from .errors import CredentialsError
from .retry import DEFAULT_POLICY, RetryingHTTPClient, RetryPolicy
from .transport import new_http, redirect_session

GOOGLE_URL_ENV = "HOITHAO_GOOGLE_URL"

# Least privilege, in one place: what each API needs and nothing more.
SCOPES = {
    "sheets": ["https://www.googleapis.com/auth/spreadsheets"],
    "drive": ["https://www.googleapis.com/auth/drive.file"],
    "docs": ["https://www.googleapis.com/auth/documents"],
    "forms": ["https://www.googleapis.com/auth/forms.body.readonly",
              "https://www.googleapis.com/auth/forms.responses.readonly"],
    "gmail": ["https://www.googleapis.com/auth/gmail.send"],
}
ALL_SCOPES = sorted({s for scopes in SCOPES.values() for s in scopes})
# Only with `mail.lookup_sent: true`: find a message whose send had no clear answer.
LOOKUP_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"


def scopes_for(config: Config) -> list[str]:
    return ALL_SCOPES + [LOOKUP_SCOPE] if config.mail.lookup_sent else ALL_SCOPES


def gmail_scopes(config: Config) -> list[str]:
    """What the sending mailbox is granted (domain-wide delegation: only these)."""
    return SCOPES["gmail"] + ([LOOKUP_SCOPE] if config.mail.lookup_sent else [])


def check_key_file(path: Path) -> None:
    """Refuse a missing key or one that others on the machine can read."""
    if not path.exists():
        raise CredentialsError(f"credentials file {path} not found: see credentials/README.md")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise CredentialsError(f"credentials file {path} is readable by others (mode {mode:o}): "
                               f"run `chmod 600 {path}`")


def load_credentials(config: Config, token_url: str | None = None) -> Any:
    """Credentials from the key or token file the config names."""
    g = config.google
    if g.auth == "service_account":
        path = config.resolve(g.service_account_file)
        check_key_file(path)
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            creds = service_account.Credentials.from_service_account_info(info, scopes=scopes_for(config))
        except (ValueError, KeyError) as exc:
            raise CredentialsError(f"{path} is not a service-account key file ({exc}): download a "
                                   f"new JSON key from the Google Cloud console") from None
        return creds.with_token_uri(token_url) if token_url else creds
    path = config.resolve(g.oauth_token_file)
    check_key_file(path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if token_url:
            info["token_uri"] = token_url
        return user_credentials.Credentials.from_authorized_user_info(info, scopes=scopes_for(config))
    except (ValueError, KeyError) as exc:
        raise CredentialsError(f"{path} is not an OAuth token file ({exc}): run the sign-in "
                               f"step in credentials/README.md again") from None


class Workspace:
    """The run's Google session: one gspread client, one client per API, cached."""

    def __init__(self, credentials: Any, base_url: str | None = None,
                 sender_credentials: Any = None, embedded: Any = None,
                 policy: RetryPolicy = DEFAULT_POLICY):
        self.credentials = credentials
        self.policy = policy
        self.sender_credentials = sender_credentials or credentials
        self.base_url = base_url
        self._embedded = embedded
        self._services: dict[str, Any] = {}
        self._gspread: gspread.Client | None = None
        self._spreadsheets: dict[str, gspread.Spreadsheet] = {}

    @classmethod
    def open(cls, config: Config, policy: RetryPolicy = DEFAULT_POLICY) -> "Workspace":
        base_url = os.environ.get(GOOGLE_URL_ENV) or None
        embedded = None
        if base_url is None and config.google.backend == "sandbox":
            from sandbox.server import SandboxServer  # only ever loaded for the sandbox

            data = config.resolve(config.google.sandbox_data or "sandbox-data")
            if not (data / "sandbox.db").exists():
                raise CredentialsError(f"no sandbox data in {data}: run `python run.py sandbox seed "
                                       f"--data {data}` (or `python run.py demo`)")
            embedded = SandboxServer(data).start()
            base_url = embedded.url
        token_url = base_url.rstrip("/") + "/token" if base_url else None
        creds = load_credentials(config, token_url)
        sender = creds
        if config.google.delegate_sender and config.google.auth == "service_account":
            # Delegation is granted for the Gmail scopes only: the delegated
            # token asks for nothing else, and the service account's own token
            # asks for no Gmail scope.
            gmail = set(gmail_scopes(config))
            sender = creds.with_scopes(sorted(gmail)).with_subject(config.google.sender_mailbox)
            creds = creds.with_scopes([s for s in scopes_for(config) if s not in gmail])
        return cls(creds, base_url, sender, embedded, policy)

    @property
    def gspread(self) -> gspread.Client:
        if self._gspread is None:
            http_client = type("WorkspaceHTTPClient", (RetryingHTTPClient,), {"policy": self.policy})
            client = gspread.Client(auth=self.credentials, http_client=http_client)
            redirect_session(client.http_client.session, self.base_url)
            self._gspread = client
        return self._gspread

    def spreadsheet(self, spreadsheet_id: str) -> gspread.Spreadsheet:
        """Opened once per run (gspread re-fetches metadata on every open)."""
        if spreadsheet_id not in self._spreadsheets:
            self._spreadsheets[spreadsheet_id] = self.gspread.open_by_key(spreadsheet_id)
        return self._spreadsheets[spreadsheet_id]

    def service(self, name: str, version: str) -> Any:
        key = f"{name}.{version}"
        if key not in self._services:
            creds = self.sender_credentials if name == "gmail" else self.credentials
            http = AuthorizedHttp(creds, http=new_http(self.base_url))
            self._services[key] = build(name, version, http=http, static_discovery=True,
                                        cache_discovery=False)
        return self._services[key]

    def execute(self, request: Any, what: str = "request") -> Any:
        """Execute a googleapiclient request under the bounded retry policy.
        Never use this for `messages.send`: call `.execute()` once instead."""
        return self.policy.run(request.execute, what=what)

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
