"""Transient Google errors are retried in the same run: against a sandbox that
refuses 10% of requests (429/500/503 before doing anything) and loses the
answer of 10% of writes (the write is applied, the answer is a 500/503),
sync-registrations and send-invitations --all each finish in one run and
leave the same sheet and the same outbox as a run with no faults."""
from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from sandbox.credentials import key_credentials
from sandbox.server import Options, SandboxServer
from tests.conftest import child_env, run_cli
from workflows.base import JobContext, make_console, run_job
from workflows.jobs import JOBS, load_config
from workspace.clients import Workspace
from workspace.outbox import open_ledger
from workspace.retry import RetryPolicy

# Columns whose values differ between two runs by design: the moment of a run,
# and a check-in code (random; compared by where it is, not by its value).
VOLATILE = {"Mã check-in", "Ngày gửi", "Thời điểm gửi"}
TABS = ("Khách mời", "Đoàn", "Đăng ký", "Hộp thư đi")
CODE = re.compile(r"(check-in:? )[A-Z0-9]{8}")


def _same_codes(text: str) -> str:
    """A confirmation's subject with its (random) check-in code blanked."""
    return CODE.sub(r"\1…", text)


def _run_all(data: Path, options: Options, seed: int) -> dict[str, Any]:
    """sync-registrations, then send-invitations --all, each once, against a
    sandbox over `data` with `options`; returns what the sheet and the outbox hold."""
    # The letters' PDFs have their own fault test (test_letter_pdf); here the
    # sheet and the outbox are compared, without pacing 66 PDFs under the Docs quota.
    config = load_config(data / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": ""})
    policy = RetryPolicy(sleep=lambda s: None, rng=random.Random(seed))
    server = SandboxServer(data, options=options).start()
    try:
        with Workspace(key_credentials(data, server.url), server.url, policy=policy) as ws:
            for name, opts in (("sync-registrations", JOBS["sync-registrations"].options()),
                               ("send-invitations", JOBS["send-invitations"].options(all_invitees=True))):
                # One run each: an error here fails the test (the CLI would exit 1).
                run_job(JOBS[name], JobContext(config=config, ws=ws, console=make_console()), opts)
            values = ws.spreadsheet(config.google.spreadsheet_id).values_batch_get(
                [f"'{t}'" for t in TABS])["valueRanges"]
        faults = [r["status"] for r in server.store.requests(0) if r["status"] >= 400]
    finally:
        server.stop()
    if server.last_internal_error is not None:
        raise AssertionError(f"sandbox internal error: {server.last_internal_error!r}")
    sheet = {}
    for tab, vr in zip(TABS, values):
        rows = vr.get("values", [])
        header, body = rows[0], rows[1:]
        keys = [r[0] for r in body if r]
        assert len(keys) == len(set(keys)), f"{tab}: a key appears twice"
        sheet[tab] = {r[0]: {h: _same_codes(r[i] if i < len(r) else "") for i, h in enumerate(header)
                             if h not in VOLATILE} for r in body if r}
        if tab == "Đăng ký":   # a code where a confirmed person is, and only there
            code = header.index("Mã check-in")
            sheet["codes"] = {r[0]: bool(r[code:code + 1] and r[code]) for r in body if r}
    with open_ledger(config, readonly=True) as ledger:
        outbox = {m.key: (m.kind, m.email, _same_codes(m.subject), m.state, m.recipient)
                  for m in ledger.in_state("QUEUED", "AWAITING_APPROVAL", "SENT", "FAILED",
                                           "UNKNOWN", "CANCELLED", "SENDING")}
    return {"sheet": sheet, "outbox": outbox, "faults": faults}


@pytest.fixture(scope="module")
def fault_free(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("reference") / "sandbox-data"
    shutil.copytree(seeded_template, data)
    return _run_all(data, Options(seed=1), seed=1)


@pytest.mark.parametrize("seed", range(11, 19))
def test_jobs_finish_in_one_run_under_refused_and_lost_answers(
        seed: int, fault_free: dict[str, Any], seeded: Path) -> None:
    faulty = _run_all(seeded, Options(fail_rate=0.1, fail_after_rate=0.1, seed=seed), seed)
    assert faulty["faults"], "the sandbox injected no fault"
    assert not fault_free["faults"]
    assert faulty["sheet"] == fault_free["sheet"]
    assert faulty["outbox"] == fault_free["outbox"]
    assert len(faulty["outbox"]) > 90          # 28 confirmations and 66 invitations


def test_command_line_run_against_a_faulty_sandbox_exits_0(seeded: Path) -> None:
    """The same through `run.py` itself: its own retry policy, real waits (so
    fewer faults), each wait announced on the console."""
    server = SandboxServer(seeded, options=Options(fail_rate=0.1, seed=23)).start()
    try:
        out = run_cli("--config", str(seeded / "config.yaml"), "sync-registrations",
                      env=child_env(HOITHAO_GOOGLE_URL=server.url))
        faults = [r for r in server.store.requests(0) if r["status"] >= 400]
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr
    assert faults and "thử lại sau" in out.stdout
    assert re.search(r"dòng mới\s*│\s*29", out.stdout), out.stdout
