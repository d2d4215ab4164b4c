"""Every job, defined once: what the command line, the schedule, the demo and
`config.yaml`'s `schedule:` know by name."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from workspace.config import Config, load

from . import chase_submissions, send_invitations, send_outbox, sync_registrations
from .base import Job, NoOptions

JOBS: dict[str, Job] = {job.name: job for job in (
    sync_registrations.JOB,
    send_invitations.JOB,
    send_outbox.JOB,
    chase_submissions.JOB,
    Job("generate-docs", NoOptions, None,
        summary="Soạn bài phát biểu khai mạc, báo cáo đề dẫn, kỷ yếu và báo cáo kết quả (chưa xây dựng)."),
)}

# What `demo` runs, in order, and with which options (or a function of the
# config giving them).
DEMO_STEPS = (
    (JOBS["sync-registrations"], sync_registrations.Options()),
    # Papers the seed submitted: rows of Tham luận, receipts, and the reminders of
    # a rehearsed day three days before the papers' deadline (the demo's data is
    # the 2024 workshop, whatever today is).
    (JOBS["chase-submissions"], lambda config: chase_submissions.Options(
        today=config.deadlines.papers - dt.timedelta(days=3))),
    (JOBS["send-invitations"], send_invitations.Options(all_invitees=True)),
    # The sandbox has no sending quota to protect: no pacing, or the demo takes minutes.
    (JOBS["send-outbox"], send_outbox.Options(no_pacing=True)),
)


def load_config(path: Path | str, environ: dict[str, str] | None = None) -> Config:
    """config.yaml, its `schedule:` checked against these jobs."""
    return load(path, environ, jobs=tuple(JOBS))
