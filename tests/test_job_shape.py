"""Every job has one shape: declared, frozen options; a frozen context; one
runner; and Google's failures read in one place (both error body styles)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httplib2
import pytest
from googleapiclient.errors import HttpError

from tests.conftest import run_cli, run_job_as_cli
from workflows.base import JobContext, NoOptions, run_job
from workflows.jobs import DEMO_STEPS, JOBS, load_config
from workspace.errors import HoithaoError
from workspace.config import DEFAULT_TABLES
from workspace.google_errors import describe, to_api_error


def test_every_job_declares_frozen_options_and_the_tabs_it_writes() -> None:
    for name, job in JOBS.items():
        assert job.name == name
        assert dataclasses.is_dataclass(job.options) and job.options.__dataclass_params__.frozen
        assert set(job.writes) <= set(DEFAULT_TABLES), name
        assert job.summary and not job.summary.isascii(), f"{name}: --help must be Vietnamese"
    # The demo runs every built job, and staff steps type only into known tables.
    from workflows.jobs import StaffStep
    ran = [step[0].name for step in DEMO_STEPS if not isinstance(step, StaffStep)]
    assert set(ran) == {name for name, job in JOBS.items() if job.run is not None}, ran
    assert ran[0] == "sync-registrations" and ran[-1] == "generate-docs"
    assert all(step.table in DEFAULT_TABLES for step in DEMO_STEPS if isinstance(step, StaffStep))


def test_misspelt_option_is_refused_at_call_time() -> None:
    with pytest.raises(TypeError, match="lmit"):
        JOBS["send-outbox"].options(lmit=3)
    with pytest.raises(TypeError, match="all_"):
        JOBS["send-invitations"].options(all_=True)


def test_misspelt_flag_is_bad_usage_in_vietnamese() -> None:
    out = run_cli("send-outbox", "--lmit", "3")
    assert out.returncode == 2
    assert out.stderr.strip() == ("hoithao: Không có tuỳ chọn --lmit (có phải --limit?). "
                                  "Xem `python run.py send-outbox --help`.")


def test_options_and_context_cannot_be_changed_on_the_way(seeded_config) -> None:
    opts = JOBS["send-outbox"].options(limit=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.limit = 5  # type: ignore[misc]
    ctx = JobContext(config=seeded_config, ws=None)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.dry_run = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.preview = 3  # type: ignore[attr-defined]


def test_run_job_refuses_another_jobs_options(seeded_config) -> None:
    ctx = JobContext(config=seeded_config, ws=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="send-outbox takes Options"):
        run_job(JOBS["send-outbox"], ctx, NoOptions())


def test_option_values_out_of_range_are_usage_errors() -> None:
    from workspace.errors import UsageError

    with pytest.raises(UsageError) as err:
        JOBS["send-outbox"].options(resend="a", cancel="b")
    assert err.value.exit_code == 2 and "--resend" in str(err.value)
    with pytest.raises(UsageError):
        JOBS["send-invitations"].options(preview=2, test_to="a@b.example")


# -- the one boundary for Google's errors -------------------------------------------

def _http_error(status: int, body: dict) -> HttpError:
    return HttpError(httplib2.Response({"status": str(status)}), json.dumps(body).encode(),
                     uri="https://sheets.googleapis.com/v4/spreadsheets/x")


def test_rate_limit_reason_is_read_from_details_as_well_as_errors() -> None:
    newer = _http_error(403, {"error": {"code": 403, "message": "Quota exceeded.", "status":
                                        "PERMISSION_DENIED", "details": [{
                                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                            "reason": "RATE_LIMIT_EXCEEDED"}]}})
    older = _http_error(403, {"error": {"code": 403, "message": "Rate Limit Exceeded", "errors": [
        {"reason": "userRateLimitExceeded", "domain": "usageLimits"}]}})
    denied = _http_error(403, {"error": {"code": 403, "message": "The caller does not have permission",
                                         "status": "PERMISSION_DENIED"}})
    assert describe(newer).refused and describe(older).refused
    assert not describe(denied).refused and not describe(denied).ambiguous
    assert describe(_http_error(503, {"error": {"code": 503, "message": "x"}})).ambiguous


def test_api_error_is_a_vietnamese_sentence_then_the_detail() -> None:
    error = to_api_error(_http_error(403, {"error": {"code": 403, "message":
                                                     "The caller does not have permission"}}),
                         "đọc trang Đăng ký")
    assert error is not None and error.code == 403
    sentence, _, detail = str(error).partition(" [chi tiết: ")
    assert sentence.startswith("Tài khoản của công cụ không có quyền") and "chia sẻ" in sentence
    assert "HTTP 403" in detail and "đọc trang Đăng ký" in detail
    assert to_api_error(ValueError("not Google")) is None


def test_a_connection_never_made_is_refused_and_a_plain_refusal_is_not_trusted() -> None:
    import socket

    import requests
    import urllib3

    from workspace.transport import NotSent, SingleShotHttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: nothing listens there
    with pytest.raises(NotSent) as caught:
        SingleShotHttp(f"http://127.0.0.1:{port}", timeout=5).request(
            "https://gmail.googleapis.com/gmail/v1/users/me/messages/send", "POST", body=b"{}")
    assert describe(caught.value).refused                      # nothing left this machine
    # A name that does not resolve: urllib3 says so in the cause chain, not in words.
    unresolved = requests.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/x", reason=urllib3.exceptions.NameResolutionError("h.invalid", None, OSError())))
    assert describe(unresolved).refused
    # A bare ConnectionRefusedError may come from httplib2's reconnect after a
    # request went out: only ambiguous, never repeated for a non-idempotent call.
    bare = describe(ConnectionRefusedError())
    assert bare.ambiguous and not bare.refused
    dropped = describe(requests.exceptions.ChunkedEncodingError("cut"))
    assert dropped.ambiguous and dropped.kind == "network"


def test_a_token_endpoint_saying_try_later_is_not_a_bad_key() -> None:
    from google.auth.exceptions import RefreshError

    later = describe(RefreshError("internal_failure", retryable=True))
    assert later.ambiguous and later.kind == "busy"
    assert "Google đang bận" in str(to_api_error(RefreshError("x", retryable=True)))
    bad = describe(RefreshError("invalid_grant: bad signature"))
    assert bad.kind == "auth" and not bad.transient


def test_three_failed_runs_in_a_row_send_one_alert_to_the_engineer_on_call(seeded: Path,
                                                                          seeded_server) -> None:
    """One message per streak, through the outbox; a success ends the streak."""
    import email
    import email.policy

    from workflows.alerts import ALERT
    from workspace import outbox
    from workspace.outbox import open_ledger

    broken = load_config(seeded / "config.yaml", environ={
        "HOITHAO_GOOGLE__FORMS__REGISTRATION__ID": "khong-co-bieu-mau-nay"})
    good = load_config(seeded / "config.yaml", environ={})
    assert broken.mail.operator_email == "hanguyen@hcm.edu.vn" and broken.mail.alert_after_failures == 3

    def alerts() -> list[outbox.Message]:
        with open_ledger(good, readonly=True) as ledger:
            return [m for m in ledger.in_state(*outbox.LABELS) if m.kind == ALERT]

    errors: list[str] = []

    def fail() -> None:
        with pytest.raises(HoithaoError) as failed:
            run_job_as_cli(broken, "sync-registrations")
        errors.append(str(failed.value))

    fail()
    fail()
    assert alerts() == []
    fail()
    (first,) = alerts()
    assert first.email == "hanguyen@hcm.edu.vn"
    assert first.subject == "[hoithao] Việc sync-registrations không thành công 3 lần liên tiếp"
    text = email.message_from_bytes(first.raw, policy=email.policy.default).get_body(("plain",)).get_content()
    assert " ".join(errors[-1].split()) in " ".join(text.split()) and "trang Nhật ký" in text
    fail()                                         # the fourth: the same streak, no second message
    assert len(alerts()) == 1
    run_job_as_cli(good, "sync-registrations")     # a success ends the streak
    for _ in range(3):
        fail()
    assert len(alerts()) == 2
    sent = run_job_as_cli(good, "send-outbox", sleep=lambda s: None)
    assert sent.figures["đã gửi"] >= 2
