#!/usr/bin/env python3
"""hoithao: conference workflows over Google Workspace.

One command per job, plus demo / check / status / schedule / sandbox.
Exit status: 0 success, 1 a problem the user can fix (one line on stderr
saying what and how), 2 bad usage or a command not built yet.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from sandbox.cli import app as sandbox_app
from workflows.base import make_console
from workspace.errors import HoithaoError, NotBuiltYet

HERE = Path(__file__).resolve().parent

app = typer.Typer(help=__doc__.split("\n\n")[0] if __doc__ else None, no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(sandbox_app, name="sandbox")


def default_config() -> Path:
    """./config.yaml where the user stands, else the one beside run.py."""
    env = os.environ.get("HOITHAO_CONFIG")
    if env:
        return Path(env)
    here = Path("config.yaml")
    return here if here.exists() else HERE / "config.yaml"


@app.callback()
def main(ctx: typer.Context,
         config: Optional[Path] = typer.Option(None, "--config", metavar="PATH",
                                               help="The event's config file (default: ./config.yaml)."),
         debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs.")) -> None:
    """Conference workflows over Google Workspace (Sheets, Forms, Gmail, Docs)."""
    ctx.obj = {"config_path": config or default_config(), "debug": debug}
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _config(ctx: typer.Context):
    from workspace.config import load

    return load(ctx.obj["config_path"])


def _run(ctx: typer.Context, name: str, module: str, dry_run: bool, **options: object) -> None:
    """Load config, open the workspace, run one job, print its summary."""
    import importlib

    from workflows.base import JobContext, print_summary, run_job
    from workspace.clients import Workspace

    config = _config(ctx)
    job = importlib.import_module(f"workflows.{module}")
    console = make_console()
    with Workspace.open(config) as ws:
        job_ctx = JobContext(config=config, ws=ws, dry_run=dry_run, console=console,
                             trigger=ctx.obj.get("trigger", "thủ công"))
        for key, value in options.items():
            setattr(job_ctx, key, value)
        result = run_job(name, job.run, job_ctx)
    print_summary(console, name, result, dry_run)


@app.command("sync-registrations")
def sync_registrations(ctx: typer.Context,
                       dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing.")) -> None:
    """Copy registration form responses into the `Đăng ký` tab."""
    _run(ctx, "sync-registrations", "sync_registrations", dry_run)


@app.command()
def check(ctx: typer.Context) -> None:
    """Check the config, credentials, sheet tabs and headers, forms and templates;
    report every problem found, not just the first."""
    from workflows.check import run_check
    from workspace.errors import ConfigError

    console = make_console()
    try:
        config = _config(ctx)
    except ConfigError as exc:
        for problem in exc.problems:
            console.print(f"[red]✗[/red] {problem}", highlight=False)
        raise HoithaoError(f"check found {len(exc.problems)} problem(s) in the configuration; "
                           f"nothing else was checked") from None
    import workflows.mail  # noqa: F401  (registers the mail template check)
    import workflows.letter_pdf  # noqa: F401  (registers the letter template Doc check)

    report = run_check(config)
    for line in report.passed:
        console.print(f"[green]✓[/green] {line}", highlight=False)
    for line in report.problems:
        console.print(f"[red]✗[/red] {line}", highlight=False)
    if report.problems:
        raise HoithaoError(f"check found {len(report.problems)} problem(s); fix them and run "
                           f"`python run.py check` again")
    console.print("Mọi thứ sẵn sàng.")


@app.command()
def status(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables.")) -> None:
    """The event at a glance: invitations, registrations per delegation, papers, outbox, last runs."""
    import json

    from rich.table import Table

    from workflows.status import collect
    from workspace.clients import Workspace

    config = _config(ctx)
    with Workspace.open(config) as ws:
        state = collect(config, ws)
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False, indent=2))
        return
    console = make_console()
    console.print(f"[bold]{state['event']}[/bold]")
    for title, key in (("Khách mời (thư mời)", "invitees"), ("Đăng ký", "registrations"),
                       ("Tham luận", "papers"), ("Hộp thư đi", "outbox")):
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(state[key]["by_status"].items()))
        console.print(f"{title}: {state[key]['total']}" + (f" ({parts})" if parts else ""))
    table = Table(title="Đoàn", title_justify="left")
    for col in ("Mã", "Tên đoàn", "Chỉ tiêu", "Đã đăng ký", "Đã xác nhận", "Danh sách chờ"):
        table.add_column(col, justify="right" if col not in ("Mã", "Tên đoàn") else "left")
    for d in state["delegations"]:
        table.add_row(d["code"], d["name"], "" if d["quota"] is None else str(d["quota"]),
                      str(d["registered"]), str(d["confirmed"]), str(d["waitlisted"]))
    console.print(table)
    for job, run in sorted(state["last_runs"].items()):
        console.print(f"Lần chạy cuối của {job}: {run['finished']} — {run['result']}")


@app.command("schedule")
def schedule_cmd(ctx: typer.Context) -> None:
    """Run each job on the timetable in config.yaml (`schedule:`) until stopped."""
    import logging as _logging

    from workflows import scheduler

    config = _config(ctx)
    log = _logging.getLogger("hoithao.schedule")
    _logging.getLogger().setLevel(_logging.INFO)

    def run_one(name: str) -> None:
        step = next((s for s in JOBS if s[0] == name), None)
        if step is None or step[1] is None:
            log.warning("%s is not built yet; skipped", name)
            return
        ctx.obj["trigger"] = "lịch"
        _run(ctx, name, step[1], dry_run=False)

    timetable = scheduler.build(config, run_one)
    for job in timetable.get_jobs():
        log.info("planned: %s, next run %s", job.job_func.args[1], job.next_run)
    make_console().print(f"Chạy theo lịch {len(timetable.get_jobs())} việc; Ctrl-C để dừng.")
    scheduler.loop(timetable)


# Every job: (command name, module in workflows/ or None while not built).
JOBS = [
    ("sync-registrations", "sync_registrations"),
    ("send-invitations", "send_invitations"),
    ("send-outbox", "send_outbox"),
    ("chase-submissions", None),
    ("generate-docs", None),
]

# The jobs in the order the demo runs them: (name, module, demo options).
DEMO_STEPS = [
    ("sync-registrations", "sync_registrations", {}),
    ("send-invitations", "send_invitations", {"all_": True}),
    # The sandbox has no sending quota to protect: no pacing, or the demo takes minutes.
    ("send-outbox", "send_outbox", {"no_pacing": True}),
]


@app.command()
def demo(ctx: typer.Context,
         data: Path = typer.Option(Path("sandbox-data"), "--data", file_okay=False,
                                   help="Sandbox folder (seeded first if it holds no sandbox).")) -> None:
    """Seed a sandbox with the 2024 workshop, run every job in order, export, summarise."""
    from sandbox.export import export
    from sandbox.seed import SeedError, seed
    from sandbox.store import DB_NAME
    from workflows.base import JobContext, print_summary, run_job
    from workspace.clients import Workspace
    from workspace.config import load

    console = make_console()
    data = data.resolve()
    if not (data / DB_NAME).exists():
        console.print(f"Tạo sandbox của hội thảo 2024 trong {data} …")
        try:
            seed(data, _config(ctx))
        except SeedError as exc:
            raise HoithaoError(str(exc)) from None
    config_path = data / "config.yaml"
    config = load(config_path)
    with Workspace.open(config) as ws:
        for name, module, options in DEMO_STEPS:
            import importlib

            job = importlib.import_module(f"workflows.{module}")
            job_ctx = JobContext(config=config, ws=ws, console=console, trigger="demo")
            for key, value in options.items():
                setattr(job_ctx, key, value)
            result = run_job(name, job.run, job_ctx)
            print_summary(console, name, result, dry_run=False)
    out = data / "export"
    counts = export(data, out)
    console.print(
        f"\n[bold]Xong.[/bold] Sandbox: {data}\n"
        f"  Bảng tính (CSV, {counts['sheets']} trang): {out / 'sheets'}\n"
        f"  Thư đã gửi (.eml, {counts['mail']} thư): {out / 'mail'}\n"
        f"  Văn bản (.docx, {counts['docs']} tệp): {out / 'docs'}\n"
        f"Chạy tiếp từng việc trên sandbox này: python run.py --config {config_path} <lệnh>")


def _not_built(command: str) -> None:
    raise NotBuiltYet(f"`{command}` is not built yet; nothing was read, written or sent "
                      f"(lệnh này chưa được xây dựng, không có gì thay đổi)")


@app.command("send-invitations")
def send_invitations(ctx: typer.Context,
                     dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
                     all_: bool = typer.Option(False, "--all", help="Everyone not yet invited."),
                     preview: int = typer.Option(0, "--preview", metavar="N", help="Print N rendered letters."),
                     test_to: Optional[str] = typer.Option(None, "--test-to", metavar="ADDR",
                                                           help="Send one sample to ADDR only.")) -> None:
    """Queue invitation letters for ticked invitees (or --all not yet invited)."""
    _run(ctx, "send-invitations", "send_invitations", dry_run or bool(preview), all_=all_,
         preview=preview, test_to=test_to)


@app.command("send-outbox")
def send_outbox(ctx: typer.Context,
                dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; send nothing."),
                limit: Optional[int] = typer.Option(None, "--limit", metavar="N", min=1,
                                                    help="Send at most N messages."),
                resend: Optional[str] = typer.Option(
                    None, "--resend", metavar="KEY",
                    help="Send a 'Lỗi'/'Không rõ'/'Đã huỷ' message again (its Gửi lại box ticked)."),
                cancel: Optional[str] = typer.Option(
                    None, "--cancel", metavar="KEY",
                    help="Cancel a message still waiting ('Chờ gửi'/'Chờ duyệt'); send nothing.")) -> None:
    """Send every due message exactly once, paced under Gmail's limits."""
    _run(ctx, "send-outbox", "send_outbox", dry_run, limit=limit, resend=resend, cancel=cancel)


@app.command("chase-submissions")
def chase_submissions(dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
                      today: Optional[str] = typer.Option(None, "--today", metavar="YYYY-MM-DD",
                                                          help="Pretend today is this date.")) -> None:
    """Remind people of deadlines before, on and after them."""
    _not_built("chase-submissions")


@app.command("generate-docs")
def generate_docs(dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
                  only: Optional[str] = typer.Option(None, "--only", metavar="NAME",
                                                     help="Only this document.")) -> None:
    """Draft the opening speech, lead-in report, proceedings and results report."""
    _not_built("generate-docs")


def run() -> int:
    """Run the CLI; turn every failure into the exit codes of SPEC section 7."""
    debug = "--debug" in sys.argv
    try:
        app()  # standalone: usage errors exit 2 with click's message, --help exits 0
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HoithaoError as exc:
        if debug:
            raise
        print(f"hoithao: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hoithao: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line, the traceback only with --debug
        from workspace.retry import explain

        known = explain(exc)
        if known is not None and not debug:
            print(f"hoithao: {known}", file=sys.stderr)
            return known.exit_code
        if debug:
            raise
        print(f"hoithao: internal error ({type(exc).__name__}: {exc}); run again with --debug "
              f"and report the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
