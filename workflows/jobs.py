"""Every job, defined once: what the command line, the schedule, the demo and
`config.yaml`'s `schedule:` know by name."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workspace.config import Config, load

from . import (chase_submissions, decisions, generate_docs, send_invitations, send_outbox,
               sync_registrations)
from .base import Job

JOBS: dict[str, Job] = {job.name: job for job in (
    sync_registrations.JOB,
    send_invitations.JOB,
    send_outbox.JOB,
    chase_submissions.JOB,
    generate_docs.JOB,
)}

@dataclass(frozen=True)
class StaffStep:
    """Something a member of staff does in the spreadsheet between two jobs of
    the demo (the sandbox types it as that person): `cells` maps (row key,
    field) to the value typed into the tab the config calls `table`."""
    says: str          # what is done, in Vietnamese, for the console
    table: str
    cells: dict[tuple[str, str], Any]


# Two fictional members of the review council, as staff write them in the demo.
COUNCIL = ("PGS.TS. Lâm Quang Vinh <vinh.lq@sgddt-hcm.example>",
           "TS. Phan Bích Hương <huong.pb@stttt-hcm.example>")


def _day(config: Config, days: int, of: str = "papers") -> chase_submissions.Options:
    return chase_submissions.Options(today=getattr(config.deadlines, of) + dt.timedelta(days=days))


# What `demo` runs, in order: a job and its options (or a function of the
# config giving them), or what staff do in the sheet meanwhile. The demo's data
# is the 2024 workshop, whatever today is: chase-submissions runs on rehearsed
# days around the deadlines.
DEMO_STEPS: tuple[tuple[Job, Any] | StaffStep, ...] = (
    (JOBS["sync-registrations"], sync_registrations.Options()),
    # 7 days before the papers' deadline: the papers the seed submitted are
    # recorded (receipts), and everyone still owing gets the invitation to write.
    (JOBS["chase-submissions"], lambda config: _day(config, -7)),
    StaffStep("Ban Tổ chức ghi Người phản biện (thành viên Hội đồng thẩm định) cho tham luận TL01, "
              "TL02", "papers",
              {("TL01", "reviewer"): "\n".join(COUNCIL), ("TL02", "reviewer"): COUNCIL[0]}),
    # 3 days before: the review requests (each file shared with its reviewers),
    # and the reminders.
    (JOBS["chase-submissions"], lambda config: _day(config, -3)),
    # Each with its PDF letter (the seed's letter template); unpaced, as below.
    (JOBS["send-invitations"], send_invitations.Options(all_invitees=True, no_pacing=True)),
    # The sandbox has no sending quota to protect: no pacing, or the demo takes minutes.
    (JOBS["send-outbox"], send_outbox.Options(no_pacing=True)),
    StaffStep("Ban Tổ chức ghi Kết luận của Hội đồng thẩm định cho tham luận TL01 (Được chọn) và "
              "phiên trình bày", "papers",
              {("TL01", "decision"): decisions.ACCEPTED,
               ("TL01", "slot"): "Phiên 1, 09 giờ 30 ngày 22/11/2024, Hội trường chính"}),
    # The day after the council's deadline: the decision letter waits for Duyệt.
    (JOBS["chase-submissions"], lambda config: _day(config, 1, "review")),
    StaffStep("Ban Tổ chức tích Duyệt thư kết quả của TL01 trong Hộp thư đi", "outbox",
              {(decisions.letter_key("TL01", decisions.ACCEPTED), "approve"): True}),
    (JOBS["send-outbox"], send_outbox.Options(no_pacing=True)),
    # The five documents, with the figures of all the above.
    (JOBS["generate-docs"], generate_docs.Options()),
)


def load_config(path: Path | str, environ: dict[str, str] | None = None) -> Config:
    """config.yaml, its `schedule:` checked against these jobs."""
    return load(path, environ, jobs=tuple(JOBS))
