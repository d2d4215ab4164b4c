"""Several processes over one data folder see each other's writes; `sandbox serve`
is a real separate process speaking HTTP on 127.0.0.1."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.server import SandboxServer
from tests.conftest import ROOT, child_env

AUTH = {"Authorization": "Bearer t"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path):
    """`python run.py sandbox serve` in its own process over tmp_path/data."""
    data = tmp_path / "data"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sandbox", "serve", "--data",
                             str(data), "--port", str(port)], env=child_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/drive/v3/files", headers=AUTH, timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read())
            time.sleep(0.1)
    yield data, url
    proc.terminate()
    proc.wait(timeout=10)


def test_write_in_one_process_is_read_by_another(served) -> None:
    data, url = served
    made = requests.post(url + "/drive/v3/files", json={"name": "Kế hoạch hội thảo"}, headers=AUTH,
                         timeout=5).json()
    with SandboxServer(data) as local:  # this test process, same folder
        found = requests.get(local.url + "/drive/v3/files", params={"q": "name = 'Kế hoạch hội thảo'"},
                             headers=AUTH, timeout=5).json()["files"]
        assert [f["id"] for f in found] == [made["id"]]
        requests.patch(local.url + f"/drive/v3/files/{made['id']}", json={"name": "Đã đổi tên"},
                       headers=AUTH, timeout=5).raise_for_status()
    again = requests.get(url + f"/drive/v3/files/{made['id']}", headers=AUTH, timeout=5).json()
    assert again["name"] == "Đã đổi tên"


def test_serve_logs_requests_to_the_shared_log(served) -> None:
    data, url = served
    requests.get(url + "/drive/v3/files", headers=AUTH, timeout=5)
    from sandbox.store import Store

    rows = Store(data).requests()
    assert any(r["path"] == "/drive/v3/files" and r["status"] == 200 for r in rows)


def test_serve_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SandboxServer(tmp_path, host="0.0.0.0")


def test_serve_prints_its_url(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sandbox", "serve", "--data",
                             str(tmp_path / "d"), "--port", str(port)], env=child_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert re.search(rf"http://127\.0\.0\.1:{port}", line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
