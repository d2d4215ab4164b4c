"""What every job shares: its context, its result, and the run log row."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable
from zoneinfo import ZoneInfo

import gspread
from rich.console import Console
from rich.table import Table as RichTable

from workspace.clients import Workspace
from workspace.config import Config
from workspace.errors import HoithaoError
from workspace.retry import explain
from workspace.table import KeyedTable

from .normalise import sheet_time

log = logging.getLogger(__name__)


def make_console() -> Console:
    """Console output that never wraps a line in two (piped output is 80 wide)."""
    return Console(soft_wrap=True, highlight=False)


@dataclass
class Change:
    """One line of a job's plan, shown by --dry-run and in the summary."""
    key: str
    action: str
    detail: str = ""


@dataclass
class JobResult:
    figures: dict[str, int] = field(default_factory=dict)
    plan: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class JobContext:
    config: Config
    ws: Workspace
    dry_run: bool = False
    trigger: str = "thủ công"
    console: Console = field(default_factory=lambda: make_console())

    @cached_property
    def spreadsheet(self) -> gspread.Spreadsheet:
        sid = self.config.google.spreadsheet_id
        if not sid:
            raise HoithaoError("google.spreadsheet_id is empty in the config: set it to the id in "
                               "the spreadsheet's URL (or run `python run.py demo` for a sandbox)")
        return self.ws.spreadsheet(sid)

    def table(self, name: str) -> KeyedTable:
        return KeyedTable(self.spreadsheet, getattr(self.config.sheets, name), name)

    def now(self) -> dt.datetime:
        return dt.datetime.now(ZoneInfo(self.config.timezone))


JobFn = Callable[[JobContext], JobResult]


def run_job(name: str, fn: JobFn, ctx: JobContext) -> JobResult:
    """Run one job; unless --dry-run, append its row to the run log, also when it fails."""
    started = ctx.now()
    t0 = time.monotonic()
    run_id = f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    error: HoithaoError | None = None
    result = JobResult()
    try:
        result = fn(ctx)
    except HoithaoError as exc:
        error = exc
    except Exception as exc:
        error = explain(exc)
        if error is None:
            raise
    log.info("%s finished in %.1f s: %s", name, time.monotonic() - t0, result.figures)
    if not ctx.dry_run:
        row = {"key": run_id, "job": name, "trigger": ctx.trigger, "started": sheet_time(started.timestamp(), ctx.config.timezone),
               "finished": sheet_time(time.time(), ctx.config.timezone), "result": "Lỗi" if error else "Thành công",
               "figures": ", ".join(f"{k}: {v}" for k, v in result.figures.items()),
               "error": str(error) if error else ""}
        try:
            ctx.table("runs").append([row])
        except Exception as exc:  # the job's own error matters more than the log's
            if error is None:
                raise
            log.info("could not write the run log either: %s", type(exc).__name__)
    if error is not None:
        raise error
    return result


def print_summary(console: Console, name: str, result: JobResult, dry_run: bool) -> None:
    """The plan (dry run only: a real run's changes are in the sheet), then the
    figures, as tables."""
    if dry_run and result.plan:
        table = RichTable(title=f"{name}: {'kế hoạch (chạy thử, không ghi gì)' if dry_run else 'thay đổi'}",
                          title_justify="left")
        table.add_column("Mã")
        table.add_column("Việc")
        table.add_column("Chi tiết")
        for change in result.plan[:200]:
            table.add_row(change.key, change.action, change.detail)
        if len(result.plan) > 200:
            table.add_row("…", f"và {len(result.plan) - 200} thay đổi khác", "")
        console.print(table)
    figures = RichTable(title=f"{name}: tóm tắt", title_justify="left")
    figures.add_column("Số liệu")
    figures.add_column("", justify="right")
    for key, value in result.figures.items():
        figures.add_row(key, str(value))
    console.print(figures)
    for note in result.notes:
        console.print(note)
