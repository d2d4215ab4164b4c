"""The workspace layer: where requests go, how credentials load, bounded retries."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import httplib2
import pytest

from sandbox.oauth import create_authorized_user
from sandbox.server import Options, SandboxServer
from tests.conftest import open_ws, run_job_as_cli
from workspace.auth import load_credentials
from workspace.clients import Workspace
from workspace.config import load
from workspace.errors import ApiError, CredentialsError
from workspace.retry import RetryPolicy
from workspace.transport import RedirectAdapter, RedirectHttp, new_http, rewrite_url

NO_WAIT = RetryPolicy(attempts=5, sleep=lambda s: None, rng=random.Random(0))


def test_rewrite_url_keeps_path_and_query() -> None:
    assert rewrite_url("https://sheets.googleapis.com/v4/spreadsheets/x?fields=a", "http://127.0.0.1:9") \
        == "http://127.0.0.1:9/v4/spreadsheets/x?fields=a"
    assert rewrite_url("https://www.googleapis.com/upload/drive/v3/files", "http://proxy:1/google/") \
        == "http://proxy:1/google/upload/drive/v3/files"


def test_production_transport_is_untouched() -> None:
    http = new_http(None)
    assert type(http) is httplib2.Http
    from google.oauth2.credentials import Credentials

    ws = Workspace(credentials=Credentials(token="t"), base_url=None)
    session = ws.gspread.http_client.session
    assert not any(isinstance(a, RedirectAdapter) for a in session.adapters.values())
    assert isinstance(new_http("http://127.0.0.1:1"), RedirectHttp)


def _sync(config, policy=NO_WAIT):
    return run_job_as_cli(config, "sync-registrations", policy=policy)


def test_retries_recover_from_transient_failures(seeded: Path) -> None:
    server = SandboxServer(seeded, options=Options(fail_rate=0.25, seed=3)).start()
    os.environ["HOITHAO_GOOGLE_URL"] = server.url
    try:
        before = server.store.last_request_seq()
        result = _sync(load(seeded / "config.yaml", environ={}))
    finally:
        os.environ.pop("HOITHAO_GOOGLE_URL")
        server.stop()
    statuses = [r["status"] for r in server.store.requests(before)]
    assert result.figures["dòng mới"] == 29
    assert any(s in (429, 500, 503) for s in statuses), "the sandbox injected no failure"


def test_retries_are_bounded_and_end_in_one_plain_error(seeded: Path) -> None:
    server = SandboxServer(seeded, options=Options(fail_rate=1.0, seed=5)).start()
    os.environ["HOITHAO_GOOGLE_URL"] = server.url
    before = server.store.last_request_seq()
    try:
        with pytest.raises(ApiError) as err:
            _sync(load(seeded / "config.yaml", environ={}))
    finally:
        os.environ.pop("HOITHAO_GOOGLE_URL")
        server.stop()  # the log row of the last answer is written after it is sent
    tries = [r for r in server.store.requests(before) if r["api"] != "oauth"]
    assert err.value.code in (429, 500, 503)
    assert "chạy lại công việc sau ít phút" in str(err.value)
    # One call tried five times, then the job stopped; the run-log write tried five times too.
    assert len(tries) == 10


def test_google_url_env_wins_over_a_google_backend(seeded: Path, seeded_server) -> None:
    text = (seeded / "config.yaml").read_text(encoding="utf-8").replace("backend: sandbox", "backend: google")
    (seeded / "google.yaml").write_text(text, encoding="utf-8")
    config = load(seeded / "google.yaml", environ={})
    assert config.google.backend == "google"
    before = seeded_server.store.last_request_seq()
    result = _sync(config)
    assert result.figures["phản hồi"] == 29
    assert any(r["api"] == "oauth" for r in seeded_server.store.requests(before))


def test_oauth_token_file_signs_in_through_the_token_endpoint(seeded: Path, seeded_server) -> None:
    info = create_authorized_user(seeded_server.store, "hoithao@hcm.edu.vn")
    token = seeded / "credentials" / "token.json"
    fd = os.open(token, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    text = (seeded / "config.yaml").read_text(encoding="utf-8").replace(
        "auth: service_account", "auth: oauth_token")
    (seeded / "oauth.yaml").write_text(text, encoding="utf-8")
    config = load(seeded / "oauth.yaml", environ={})
    # Staff share the workshop's folder with the account that signs in.
    with Workspace.open(load(seeded / "config.yaml", environ={})) as tool:
        tool.execute(tool.service("drive", "v3").permissions().create(
            fileId=config.google.drive_folder_id,
            body={"type": "user", "role": "writer", "emailAddress": "hoithao@hcm.edu.vn"}))
    # gspread signs in first: its token request goes to the sandbox too, not to Google.
    with Workspace.open(config) as ws:
        assert ws.spreadsheet(config.google.spreadsheet_id).id == config.google.spreadsheet_id
    before = seeded_server.store.last_request_seq()
    _sync(config)
    sheet_calls = [r for r in seeded_server.store.requests(before) if r["api"] == "sheets"]
    assert sheet_calls and {r["principal"] for r in sheet_calls} == {"hoithao@hcm.edu.vn"}


def test_loose_key_file_is_refused(seeded_config, seeded: Path) -> None:
    (seeded / "credentials" / "service-account.json").chmod(0o640)
    with pytest.raises(CredentialsError, match="chmod 600"):
        load_credentials(seeded_config)


def test_a_credentials_folder_others_can_enter_is_refused(seeded_config, seeded: Path) -> None:
    folder = seeded / "credentials"
    folder.chmod(0o755)
    with pytest.raises(CredentialsError, match=f"chmod 700 {folder}"):
        load_credentials(seeded_config)
    folder.chmod(0o700)
    assert load_credentials(seeded_config) is not None


def test_missing_key_file_says_where_to_look(seeded_config, seeded: Path) -> None:
    (seeded / "credentials" / "service-account.json").unlink()
    with pytest.raises(CredentialsError, match="credentials/README.md"):
        load_credentials(seeded_config)


def test_env_overrides_config_keys(seeded: Path) -> None:
    config = load(seeded / "config.yaml", environ={"HOITHAO_MAIL__DAILY_LIMIT": "500",
                                                   "HOITHAO_GOOGLE_URL": "http://127.0.0.1:1"})
    assert config.mail.daily_limit == 500


def test_delegated_sender_token_holds_only_gmail_scopes(seeded: Path, seeded_server) -> None:
    import sqlite3

    config = load(seeded / "config.yaml", environ={})
    assert config.google.delegate_sender
    with open_ws(config, NO_WAIT) as ws:
        ws.execute(ws.service("gmail", "v1").users().getProfile(userId="me"))
        ws.spreadsheet(config.google.spreadsheet_id)
    db = sqlite3.connect(seeded / "sandbox.db")
    scopes = {principal: set(s.split()) for principal, s in
              db.execute("SELECT principal, scopes FROM oauth_tokens").fetchall()}
    sender = scopes[config.google.sender_mailbox]
    assert sender and all("/auth/gmail." in s for s in sender)
    own = scopes[json.loads((seeded / "credentials" / "service-account.json").read_text())["client_email"]]
    assert own and not any("/auth/gmail." in s for s in own)
