#!/usr/bin/env python3
"""Speed and memory of the bulk paths, measured on the sandbox, with figures.

    python bench/benchmark.py [--responses 5000]

Prints, for each scenario: wall time, API requests by API (from the sandbox's
request log), and the job process's peak resident memory. The sandbox runs in
a process of its own, so neither its time nor its memory is counted. Figures, not pass/fail:
machines here are noisy, so targets are read by people, not asserted by tests.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.api.forms_responses import submit_responses  # noqa: E402
from sandbox.credentials import key_credentials  # noqa: E402
from sandbox.store import Store  # noqa: E402
from workflows.base import JobContext, run_job  # noqa: E402
from workflows.jobs import JOBS, load_config  # noqa: E402
from workspace.clients import Workspace  # noqa: E402


def _people(n: int, fields: dict[str, str]) -> list[dict[str, str]]:
    delegations = ["Sở GDĐT Thành phố Hồ Chí Minh", "Sở GDĐT Cần Thơ", "Sở GDĐT Đà Nẵng",
                   "Đại biểu các cơ quan, đơn vị khác"]
    return [{fields["full_name"]: f"Nguyễn Văn Thứ {i}", fields["honorific"]: "Ông",
             fields["position"]: "Giáo viên", fields["unit"]: f"Trường THPT số {i % 97}",
             fields["delegation"]: delegations[i % len(delegations)],
             fields["email"]: f"gv{i}@truong.example", fields["phone"]: f"09{i:08d}",
             fields["consent"]: "Tôi đồng ý"} for i in range(n)]


def measure(label: str, fn, store: Store) -> None:
    before = store.last_request_seq()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    calls = Counter(r["api"] for r in store.requests(before))
    per_api = ", ".join(f"{api} {n}" for api, n in sorted(calls.items()))
    print(f"{label:<44} {wall:7.2f} s   peak RSS {peak:6.1f} MiB   "
          f"requests {sum(calls.values()):3d} ({per_api})")


def serve(data: Path) -> tuple[subprocess.Popen, str]:
    """`run.py sandbox serve` in its own process; returns it and its URL."""
    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sandbox", "serve", "--data",
                             str(data), "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(url + "/drive/v3/files", headers={"Authorization": "Bearer b"}, timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hoithao-bench-"))
    try:
        data = work / "sandbox-data"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "run.py"), "sandbox", "seed", "--data", str(data)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"{'seed the 2024 workshop':<44} {time.perf_counter() - t0:7.2f} s")
        config = load_config(data / "config.yaml", environ={})
        store = Store(data)
        form = config.google.forms.registration
        answers = _people(args.responses, form.fields)
        t0 = time.perf_counter()
        submit_responses(store, form.id, answers)
        print(f"{f'submit {args.responses} responses (sandbox)':<44} {time.perf_counter() - t0:7.2f} s")
        del answers
        proc, url = serve(data)
        try:
            job = JOBS["sync-registrations"]

            def sync() -> None:
                with Workspace(key_credentials(data, url), url) as ws:
                    run_job(job, JobContext(config=config, ws=ws), job.options())

            measure(f"sync-registrations, {args.responses} new", sync, store)
            measure("sync-registrations again (nothing to do)", sync, store)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
