"""Authorised Google clients, built once per run and passed to the jobs.

Where requests go is decided by the caller and the environment, never here:
  1. `base_url` given (the command line started an embedded sandbox, or a
     test points at one) -> every API call and token request goes there;
  2. else `HOITHAO_GOOGLE_URL` set -> there (`sandbox serve`, a proxy);
  3. else Google itself, with the transport untouched.
This module never imports `sandbox/`: starting an embedded sandbox is the
command line's business (sandbox.embedded).
"""
from __future__ import annotations

import os
from typing import Any, Callable

import gspread
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build

from .auth import gmail_scopes, load_credentials, scopes_for
from .config import Config
from .errors import CredentialsError, HoithaoError
from .google_errors import google_call, remember_account
from .retry import DEFAULT_POLICY, RetryingHTTPClient, RetryPolicy
from .spreadsheet import Spreadsheet
from .transport import SingleShotHttp, new_http, redirect_session

GOOGLE_URL_ENV = "HOITHAO_GOOGLE_URL"


class Workspace:
    """The run's Google session: one gspread client, one client per API, cached."""

    def __init__(self, credentials: Any, base_url: str | None = None,
                 sender_credentials: Any = None, policy: RetryPolicy = DEFAULT_POLICY,
                 on_close: Callable[[], None] | None = None):
        self.credentials = credentials
        # The address files must be shared with (a service account's client_email).
        self.account: str | None = (getattr(credentials, "service_account_email", None)
                                    or getattr(credentials, "account", None) or None)
        remember_account(self.account)
        self.policy = policy
        self.sender_credentials = sender_credentials or credentials
        self.base_url = base_url
        self._on_close = on_close
        self._services: dict[str, Any] = {}
        self._gspread: gspread.Client | None = None
        self._spreadsheets: dict[str, gspread.Spreadsheet] = {}

    @classmethod
    def open(cls, config: Config, policy: RetryPolicy = DEFAULT_POLICY, base_url: str | None = None,
             on_close: Callable[[], None] | None = None) -> "Workspace":
        """The session the config describes, its requests sent to `base_url`,
        else to HOITHAO_GOOGLE_URL, else to Google."""
        base_url = base_url or os.environ.get(GOOGLE_URL_ENV) or None
        if base_url is None and config.google.backend == "sandbox":
            raise CredentialsError("Cấu hình dùng sandbox (google.backend: sandbox) nhưng không có "
                                   "sandbox nào đang chạy: chạy lệnh qua `python run.py`, hoặc đặt "
                                   f"{GOOGLE_URL_ENV} trỏ tới `python run.py sandbox serve`.")
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
        return cls(creds, base_url, sender, policy, on_close)

    def twin(self) -> "Workspace":
        """A second session with the same credentials and destination, for
        another thread (a client is not shared between threads); closing it
        stops nothing."""
        return Workspace(self.credentials, self.base_url, self.sender_credentials, self.policy)

    @property
    def gspread(self) -> gspread.Client:
        if self._gspread is None:
            http_client = type("WorkspaceHTTPClient", (RetryingHTTPClient,), {"policy": self.policy})
            client = gspread.Client(auth=self.credentials, http_client=http_client)
            redirect_session(client.http_client.session, self.base_url)
            self._gspread = client
        return self._gspread

    def spreadsheet(self, spreadsheet_id: str) -> gspread.Spreadsheet:
        """The gspread object, opened once per run (gspread re-fetches metadata
        on every open). For workspace/ and the sandbox's tools; jobs use
        `coordinating_spreadsheet`."""
        if spreadsheet_id not in self._spreadsheets:
            self._spreadsheets[spreadsheet_id] = self.gspread.open_by_key(spreadsheet_id)
        return self._spreadsheets[spreadsheet_id]

    def coordinating_spreadsheet(self, config: Config) -> Spreadsheet:
        """The event's spreadsheet (google.spreadsheet_id) as the jobs' own type."""
        sid = config.google.spreadsheet_id
        if not sid:
            raise HoithaoError("google.spreadsheet_id trong config.yaml đang trống: điền mã bảng tính "
                               "(phần giữa /d/ và /edit trong đường dẫn), hoặc chạy `python run.py "
                               "demo` để có một sandbox.")
        with google_call("mở bảng tính"):
            return Spreadsheet(self.spreadsheet(sid), config.sheets)

    def service(self, name: str, version: str, once: bool = False, timeout: float = 60) -> Any:
        """A googleapiclient resource. `once`: over a transport that sends each
        request exactly once (transport.SingleShotHttp) — for calls that must
        not reach Google twice (a mail, a copy); httplib2 replays a request
        whose connection dropped."""
        key = f"{name}.{version}" + (f".once.{timeout}" if once else "")
        if key not in self._services:
            creds = self.sender_credentials if name == "gmail" else self.credentials
            raw = SingleShotHttp(self.base_url, timeout) if once else new_http(self.base_url, timeout)
            self._services[key] = build(name, version, http=AuthorizedHttp(creds, http=raw),
                                        static_discovery=True, cache_discovery=False)
        return self._services[key]

    def execute(self, request: Any, what: str = "request", idempotent: bool | None = None) -> Any:
        """Execute a googleapiclient request under the bounded retry policy; a
        failure leaves as an ApiError. `idempotent` (default: a GET, PUT or
        DELETE is) allows a retry after an unclear answer. Never use this for
        `messages.send`: workspace.gmail sends once."""
        if idempotent is None:
            idempotent = request.method in ("GET", "PUT", "DELETE")
        with google_call(what):
            return self.policy.run(request.execute, what=what, idempotent=idempotent)

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
