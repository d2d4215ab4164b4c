"""The alert to the engineer on call (mail.operator_email): after
mail.alert_after_failures failed runs in a row of one job, one message goes
through the outbox, once per streak; a run that succeeds ends the streak.
The streak is counted in `Nhật ký` (any machine's runs), read only when a run
has just failed. The message names the job and its last error (sentences of
the tool's, with no personal data), never the sheet's rows."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

from workspace.config import Config
from workspace.errors import HoithaoError
from workspace.outbox import NewMessage, message_key, open_ledger

from .letters import base_context, build_message, recipient_address, render

ALERT = "canh-bao"
ON_CALL = "Cán bộ trực kỹ thuật"    # how the message addresses the operator


def streak(rows: Iterable[Mapping[str, Any]], job: str, failed: str, neutral: Iterable[str]) -> int:
    """How many of the job's latest runs failed in a row (pure); runs whose
    result is `neutral` (refused by a lock, stopped) neither break nor count."""
    neutral = set(neutral)
    # By start time (a person may have sorted the tab); runs of the same second
    # keep the tab's order, which is the order they were appended in.
    mine = sorted(((str(r.get("started") or ""), str(r.get("result") or "")) for r in rows
                   if r.get("job") == job), key=lambda run: run[0])
    count = 0
    for _, result in reversed(mine):
        if result in neutral:
            continue
        if result != failed:
            break
        count += 1
    return count


def alert(config: Config, job: str, run_id: str, started: str, error: str, failures: int,
          today: dt.date) -> NewMessage:
    """The alert message (pure); TemplateError when it cannot be made."""
    address, problem = recipient_address(config.mail.operator_email)
    if problem:
        raise HoithaoError(f"mail.operator_email: {problem}")
    context = base_context(config, {"full_name": ON_CALL, "email": address}, today)
    context["alert"] = {"job": job, "failures": failures, "run_id": run_id, "started": started,
                        "error": error or "(không có mô tả)"}
    rendered = render(ALERT, context)
    return NewMessage(key=message_key(ALERT, f"{job}-{run_id}"), kind=ALERT, email=address,
                      subject=rendered.subject, raw=build_message(config, ON_CALL, address, rendered),
                      recipient=ON_CALL, source="runs", source_key=run_id)


def after_failure(config: Config, runs: Iterable[Mapping[str, Any]], job: str, run_id: str, started: str,
                  error: str, failed: str, neutral: Iterable[str], today: dt.date) -> str | None:
    """Queue the alert when this failure makes the streak exactly long enough;
    a note for the run, or None."""
    if not config.mail.operator_email.strip():
        return None
    failures = streak(runs, job, failed, neutral)
    if failures != config.mail.alert_after_failures:
        return None
    message = alert(config, job, run_id, started, error, failures, today)
    with open_ledger(config) as ledger:
        ledger.queue([message])
    return (f"{job} đã lỗi {failures} lần liên tiếp: đã xếp hàng một thư cảnh báo tới người trực kỹ "
            f"thuật (mail.operator_email); send-outbox sẽ gửi.")
