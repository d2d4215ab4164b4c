"""The sandbox's common machinery: routing, auth, validation, faults, quotas, the log."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests
from googleapiclient.errors import HttpError

from sandbox.oauth import create_service_account
from tests.conftest import child_env
from tests.netguard.guard import NonLoopbackConnection


def test_guard_refuses_non_loopback_connection() -> None:
    with pytest.raises(NonLoopbackConnection):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(NonLoopbackConnection):
        socket.getaddrinfo("oauth2.googleapis.com", 443)
    with pytest.raises(NonLoopbackConnection):
        requests.get("https://sheets.googleapis.com/v4/spreadsheets/x", timeout=1)


def test_guard_refuses_non_loopback_in_child_process() -> None:
    code = ("import socket\n"
            "try:\n socket.create_connection(('10.1.2.3', 80), timeout=1)\n"
            "except Exception as e: print(type(e).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "NonLoopbackConnection"


def test_guard_allows_loopback(sandbox) -> None:
    r = requests.get(sandbox.url + "/drive/v3/files", headers={"Authorization": "Bearer t"}, timeout=5)
    assert r.status_code == 200


def test_missing_token_is_401_unauthenticated(sandbox) -> None:
    r = requests.get(sandbox.url + "/drive/v3/files", timeout=5)
    assert r.status_code == 401
    assert r.json()["error"]["status"] == "UNAUTHENTICATED"


def test_require_auth_refuses_tokens_not_issued_here(make_sandbox) -> None:
    server = make_sandbox(require_auth=True)
    r = requests.get(server.url + "/drive/v3/files", headers={"Authorization": "Bearer made-up"},
                     timeout=5)
    assert r.status_code == 401


def test_service_account_jwt_exchange_verifies_signature(make_sandbox) -> None:
    from google.oauth2 import service_account
    from google.auth.transport.requests import Request

    server = make_sandbox(require_auth=True)
    info = create_service_account(server.store, "sa@p.iam.gserviceaccount.com")
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/drive"]).with_token_uri(server.url + "/token")
    creds.refresh(Request())
    r = requests.get(server.url + "/drive/v3/files", timeout=5,
                     headers={"Authorization": f"Bearer {creds.token}"})
    assert r.status_code == 200

    # A key the sandbox never issued cannot sign its way in.
    forged = dict(info)
    other = create_service_account(server.store, "other@p.iam.gserviceaccount.com")
    forged["private_key"] = other["private_key"]
    bad = service_account.Credentials.from_service_account_info(
        forged, scopes=["https://www.googleapis.com/auth/drive"]).with_token_uri(server.url + "/token")
    from google.auth.exceptions import RefreshError
    with pytest.raises(RefreshError):
        bad.refresh(Request())


def test_delegated_subject_becomes_the_principal(sandbox, credentials, service) -> None:
    delegated = credentials.with_subject("hoithao@hcm.edu.vn")
    drive = service("drive", "v3", creds=delegated)
    made = drive.files().create(body={"name": "x"}, fields="id,owners").execute()
    assert made["owners"][0]["emailAddress"] == "hoithao@hcm.edu.vn"


def test_unknown_field_in_body_is_400(service) -> None:
    drive = service("drive", "v3")
    with pytest.raises(HttpError) as err:
        drive.files().create(body={"name": "a", "colour": "red"}).execute()
    assert err.value.resp.status == 400
    assert 'Unknown name "colour"' in str(err.value)


def test_unknown_query_parameter_is_400(sandbox) -> None:
    r = requests.get(sandbox.url + "/drive/v3/files?bogus=1",
                     headers={"Authorization": "Bearer t"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_unknown_path_is_404(sandbox) -> None:
    r = requests.get(sandbox.url + "/v9/nothing", headers={"Authorization": "Bearer t"}, timeout=5)
    assert r.status_code == 404


def test_fail_rate_injects_google_shaped_transient_errors(make_sandbox) -> None:
    server = make_sandbox(fail_rate=1.0, seed=7)
    codes = set()
    for _ in range(30):
        r = requests.get(server.url + "/drive/v3/files", headers={"Authorization": "Bearer t"},
                         timeout=5)
        codes.add(r.status_code)
        body = r.json()["error"]
        assert {"code", "message", "status", "errors"} <= body.keys()
    assert codes == {429, 500, 503}


def test_per_minute_quota_gives_429_resource_exhausted(make_sandbox) -> None:
    server = make_sandbox(quotas={"drive": {"read": 3, "write": 3}})
    statuses = [requests.get(server.url + "/drive/v3/files", timeout=5,
                             headers={"Authorization": "Bearer t"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = requests.get(server.url + "/drive/v3/files", headers={"Authorization": "Bearer t"}, timeout=5)
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    # Another user has a quota of their own.
    other = requests.get(server.url + "/drive/v3/files", timeout=5,
                         headers={"Authorization": "Bearer user:ana@example.org"})
    assert other.status_code == 200


def test_request_log_counts_every_call(sandbox, service) -> None:
    before = sandbox.store.last_request_seq()
    drive = service("drive", "v3")
    drive.files().list().execute()
    drive.files().list(q="name = 'x'").execute()
    rows = [r for r in sandbox.store.requests(before) if r["api"] == "drive"]
    assert [(r["http_method"], r["path"], r["status"]) for r in rows] == [
        ("GET", "/drive/v3/files", 200), ("GET", "/drive/v3/files", 200)]
