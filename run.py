#!/usr/bin/env python3
"""hoithao: quy trình hội thảo trên Google Workspace (Sheets, Forms, Gmail, Docs).

One command per job, plus demo / check / status / schedule / sandbox. The
command line decides the backend: with `google.backend: sandbox` it starts
the embedded sandbox itself (sandbox.embedded). Exit status: 0 success, 1 a
problem the user can fix (one Vietnamese line on stderr saying what and how),
2 bad usage or a command not built yet.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional
from zoneinfo import ZoneInfo

import typer
import typer.rich_utils

from sandbox.cli import app as sandbox_app
from workflows.base import (DEMO, FROM_SHEET, MANUAL, SCHEDULED, Job, JobContext, Stop, make_console,
                            print_summary, run_job, server_name)
from workflows.jobs import DEMO_STEPS, JOBS, StaffStep, load_config
from workspace.config import Config
from workspace.errors import HoithaoError, JobBusy

HERE = Path(__file__).resolve().parent

# The help pages' own words, in Vietnamese (click's "Usage:" stays as it is).
typer.rich_utils.OPTIONS_PANEL_TITLE = "Tuỳ chọn"
typer.rich_utils.COMMANDS_PANEL_TITLE = "Lệnh"
typer.rich_utils.ARGUMENTS_PANEL_TITLE = "Tham số"
typer.rich_utils.DEFAULT_STRING = "[mặc định: {}]"
typer.rich_utils.REQUIRED_LONG_STRING = "[bắt buộc]"

app = typer.Typer(help=__doc__.split("\n\n")[0] if __doc__ else None, no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(sandbox_app, name="sandbox")
privacy_app = typer.Typer(help="Dữ liệu cá nhân (Nghị định 13/2023/NĐ-CP): xem, xoá dữ liệu của một người; xoá dữ liệu quá hạn lưu trữ.",
                          no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

DRY_RUN_HELP = "Chạy thử: đọc và in kế hoạch, không ghi và không gửi gì."


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
                                               help="Tệp cấu hình của hội thảo (mặc định: ./config.yaml)."),
         debug: bool = typer.Option(False, "--debug", help="In chi tiết kỹ thuật và traceback khi có lỗi.")) -> None:
    """Quy trình hội thảo trên Google Workspace (Sheets, Forms, Gmail, Docs)."""
    ctx.obj = {"config_path": config or default_config(), "debug": debug}
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _config(ctx: typer.Context) -> Config:
    return load_config(ctx.obj["config_path"])


def _open(config: Config) -> Any:
    """The run's Workspace; the embedded sandbox when the config asks for one.
    Each wait before a retry is announced, so nobody thinks the run is stuck."""
    from sandbox.embedded import open_workspace
    from workspace.retry import RetryPolicy

    console = make_console()

    def waiting(what: str, seconds: float) -> None:
        console.print(f"Google chưa trả lời được ({what}); thử lại sau {seconds:.0f} giây…", style="dim")

    return open_workspace(config, RetryPolicy(on_wait=waiting))


@contextlib.contextmanager
def _stoppable(console: Any, stop: Stop | None = None) -> Iterator[Stop]:
    """SIGTERM and SIGINT ask the run to stop after the step in hand (see
    JobContext.stop); a second Ctrl-C stops at once."""
    stop = stop or Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def asked(signum: int, frame: Any) -> None:
        if stop() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        stop.request_from_signal(name)
        again = " Nhấn Ctrl-C lần nữa để dừng ngay." if signum == signal.SIGINT else ""
        # Said from a thread: the console's lock may be held by the code interrupted.
        threading.Thread(target=console.print, daemon=True, args=(
            f"Đang dừng ({name}): làm xong bước đang làm dở (thư đang gửi, lượt ghi đang ghi), ghi lại "
            f"kết quả rồi dừng.{again}",), kwargs={"style": "yellow"}).start()

    previous = {s: signal.signal(s, asked) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(ctx: typer.Context, job: Job, dry_run: bool, opts: Any, trigger: str = MANUAL,
         stop: Stop | None = None) -> None:
    """Load config, open the workspace, run one job, print its summary. A run
    started by a timer or cron (HOITHAO_SCHEDULED=1 in its environment) is a
    scheduled run: it waits for a busy lock as `schedule`'s runs do."""
    if trigger == MANUAL and os.environ.get("HOITHAO_SCHEDULED") == "1":
        trigger = SCHEDULED
    config = _config(ctx)
    console = make_console()
    with _stoppable(console, stop) as stop, _open(config) as ws:
        result = run_job(job, JobContext(config=config, ws=ws, dry_run=dry_run, console=console,
                                         trigger=trigger, stop=stop, sleep=stop.wait), opts)
    print_summary(console, job.name, result, dry_run)


def _job_help(name: str) -> str:
    return JOBS[name].summary


@app.command("sync-registrations", help=_job_help("sync-registrations"))
def sync_registrations(ctx: typer.Context,
                       dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP)) -> None:
    job = JOBS["sync-registrations"]
    _run(ctx, job, dry_run, job.options())


@app.command("send-invitations", help=_job_help("send-invitations"))
def send_invitations(ctx: typer.Context,
                     dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
                     all_: bool = typer.Option(False, "--all", help="Mời mọi người chưa được mời."),
                     preview: int = typer.Option(0, "--preview", metavar="N", min=0,
                                                 help="In N thư mời để xem trước (không xếp hàng, không gửi)."),
                     preview_dir: Optional[Path] = typer.Option(
                         None, "--preview-dir", metavar="DIR", file_okay=False,
                         help="Cùng --preview N: ghi N thư (HTML, và PDF khi có mẫu giấy mời) vào thư "
                              "mục mới DIR để mở xem."),
                     test_to: Optional[str] = typer.Option(None, "--test-to", metavar="ADDR",
                                                           help="Gửi một thư đúng như khách mời nhận "
                                                                "(kèm giấy mời PDF) tới ADDR (có thể "
                                                                "ghi 'Họ tên <địa chỉ>'), không ghi "
                                                                "gì.")) -> None:
    job = JOBS["send-invitations"]
    opts = job.options(all_invitees=all_, preview=preview, test_to=test_to,
                       preview_dir=str(preview_dir) if preview_dir else None)
    _run(ctx, job, dry_run or bool(preview), opts)


@app.command("send-outbox", help=_job_help("send-outbox"))
def send_outbox(ctx: typer.Context,
                dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
                limit: Optional[int] = typer.Option(None, "--limit", metavar="N", min=1,
                                                    help="Gửi nhiều nhất N thư."),
                resend: Optional[str] = typer.Option(
                    None, "--resend", metavar="MÃ_THƯ",
                    help="Gửi lại một thư 'Lỗi'/'Không rõ'/'Đã huỷ' (ô Gửi lại của thư đó đã đánh dấu)."),
                cancel: Optional[str] = typer.Option(
                    None, "--cancel", metavar="MÃ_THƯ",
                    help="Huỷ một thư đang chờ ('Chờ gửi'/'Chờ duyệt'); không gửi gì.")) -> None:
    job = JOBS["send-outbox"]
    _run(ctx, job, dry_run, job.options(limit=limit, resend=resend, cancel=cancel))


@app.command("chase-submissions", help=_job_help("chase-submissions"))
def chase_submissions(ctx: typer.Context,
                      dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
                      today: Optional[str] = typer.Option(None, "--today", metavar="YYYY-MM-DD",
                                                          help="Coi hôm nay là ngày này.")) -> None:
    from workflows.chase_submissions import parse_today

    job = JOBS["chase-submissions"]
    _run(ctx, job, dry_run, job.options(today=parse_today(today)))


@app.command("generate-docs", help=_job_help("generate-docs"))
def generate_docs(ctx: typer.Context,
                  dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
                  only: Optional[str] = typer.Option(None, "--only", metavar="NAME",
                                                     help="Chỉ văn bản này: opening_speech, "
                                                          "lead_in_report, proceedings, programme, "
                                                          "results_report.")) -> None:
    job = JOBS["generate-docs"]
    _run(ctx, job, dry_run, job.options(only=only))


@app.command()
def check(ctx: typer.Context) -> None:
    """Kiểm tra cấu hình, tệp khoá, các trang và tiêu đề cột của bảng tính, các ô
    công cụ cần đọc, biểu mẫu và mẫu thư; báo mọi lỗi tìm thấy, không chỉ lỗi đầu tiên."""
    from workflows.check import run_check
    from workspace.errors import ConfigError

    console = make_console()
    try:
        config = _config(ctx)
    except ConfigError as exc:
        for problem in exc.problems:
            console.print(f"✗ {problem}", style="red")
        raise HoithaoError(f"Kiểm tra thấy {len(exc.problems)} lỗi trong tệp cấu hình; sửa rồi chạy "
                           f"lại `python run.py check` (chưa kiểm tra gì khác).") from None
    report = run_check(config, _open, dt.datetime.now(ZoneInfo(config.timezone)).date())
    for line in report.passed:
        console.print(f"✓ {line}", style="green")
    for line in report.warnings:
        console.print(f"! {line}", style="yellow")
    for line in report.problems:
        console.print(f"✗ {line}", style="red")
    if report.problems:
        raise HoithaoError(f"Kiểm tra thấy {len(report.problems)} lỗi; sửa theo các dòng ✗ ở trên rồi "
                           f"chạy lại `python run.py check`.")
    console.print("Mọi thứ sẵn sàng.")


@app.command()
def status(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="In JSON thay cho bảng.")) -> None:
    """Tình hình hội thảo: thư mời, đăng ký theo đoàn, tham luận, hộp thư đi, lần chạy cuối."""
    import json

    from rich.table import Table

    from workflows.status import collect

    config = _config(ctx)
    with _open(config) as ws:
        state = collect(config, ws, [name for name, job in JOBS.items() if job.run is not None])
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False, indent=2))
        return
    console = make_console()
    console.print(state["event"], style="bold")
    for title, key in (("Khách mời (thư mời)", "invitees"), ("Đăng ký", "registrations"),
                       ("Tham luận", "papers"), ("Hộp thư đi", "outbox")):
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(state[key]["by_status"].items()))
        console.print(f"{title}: {state[key]['total']}" + (f" ({parts})" if parts else ""))
    table = Table(title="Đoàn", title_justify="left")
    for col in ("Mã", "Tên đoàn", "Chỉ tiêu", "Đã đăng ký", "Đã xác nhận", "Danh sách chờ"):
        table.add_column(col, justify="right" if col not in ("Mã", "Tên đoàn") else "left")
    for d in state["delegations"]:
        quota = "?" if not d["quota_readable"] else "" if d["quota"] is None else str(d["quota"])
        table.add_row(d["code"], d["name"], quota, str(d["registered"]), str(d["confirmed"]),
                      str(d["waitlisted"]))
    console.print(table)
    if state["outbox"]["needs_person"]:
        console.print(f"! {state['outbox']['needs_person']} thư 'Không rõ' trong Hộp thư đi cần người "
                      f"xem (Gmail chưa xác nhận đã nhận): tìm thư trong mục Đã gửi của Gmail; nếu không "
                      f"có, tích Gửi lại ở dòng đó rồi chạy `python run.py send-outbox --resend MÃ_THƯ`.",
                      style="yellow")
    for doc in state["documents"]:
        console.print(f"Văn bản {doc['name'] or doc['code']}: bản {doc['version'] or '-'}, ghi lúc "
                      f"{doc['written_at'] or '-'}" + (f" — {doc['problem']}" if doc["problem"] else ""))
    for problem in state["problems"]:
        console.print(f"✗ {problem}", style="red")
    rows = ", ".join(f"{n}: {c}" for n, c in state["problem_rows"].items() if c)
    if rows:
        console.print(f"Dòng có Vấn đề: {rows}.", style="yellow")
    jobs = Table(title="Công việc", title_justify="left")
    for col in ("Việc", "Lần chạy cuối", "Kết quả", "Lần chạy tới (theo lịch)", "Đang chạy"):
        jobs.add_column(col)
    for name, job in state["jobs"].items():
        last = job["last_run"] or {}
        running, lease = job["running"], job.get("lease")
        where = (f"từ {running['since']} trên {running['host']}" if running else
                 f"{lease['holder']}, từ {lease['since']}, nhịp cuối {lease['heartbeat'] or '-'}" if lease
                 else "")
        jobs.add_row(name, last.get("finished", "") or "-", last.get("result", "") or "-",
                     (job["next_run"] or "").replace("T", " ")[:16] or "-", where)
    console.print(jobs)
    for server in state.get("servers", []):
        console.print(f"Máy chủ {server['name']}: nhịp cuối {server['heartbeat'] or '(chưa có)'} "
                      f"(trang Điều khiển).")


@privacy_app.command("export")
def privacy_export(ctx: typer.Context,
                   address: str = typer.Argument(..., metavar="EMAIL",
                                                 help="Địa chỉ email của người yêu cầu.")) -> None:
    """In (JSON) mọi thứ công cụ giữ về một người: các dòng có email này trong mọi trang, thư trong hộp thư đi kèm nội dung, văn bản có tên người đó."""
    import json

    from workflows import privacy

    config = _config(ctx)
    wanted = privacy.address_of(address)
    with _open(config) as ws:
        found = privacy.collect(config, ws, wanted)
    typer.echo(json.dumps(found, ensure_ascii=False, indent=2, default=str))


@privacy_app.command("erase")
def privacy_erase(ctx: typer.Context,
                  address: str = typer.Argument(..., metavar="EMAIL", help="Địa chỉ email của người yêu cầu."),
                  dry_run: bool = typer.Option(False, "--dry-run", help="Chỉ liệt kê những gì sẽ xoá.")
                  ) -> None:
    """Xoá dữ liệu cá nhân của một người ở mọi nơi công cụ đã ghi (các trang, hộp thư đi, Nhật ký); giữ số liệu và dấu vết để không thư nào gửi hai lần. Nói rõ việc còn phải làm bằng tay (phản hồi biểu mẫu, văn bản)."""
    from workflows import privacy

    _run(ctx, privacy.ERASE_JOB, dry_run, privacy.EraseOptions(privacy.address_of(address)))


@privacy_app.command("purge")
def privacy_purge(ctx: typer.Context,
                  dry_run: bool = typer.Option(False, "--dry-run", help="Chỉ liệt kê những gì sẽ xoá.")
                  ) -> None:
    """Xoá nội dung và người nhận của các thư đã xử lý xong quá privacy.retention_days ngày, hoặc mọi thư đã xử lý xong khi đã qua privacy.retain_until, khỏi hộp thư đi (giữ mã thư để không gửi lại), và địa chỉ email trong các dòng Nhật ký cũ hơn hạn đó."""
    from workflows import privacy

    config = _config(ctx)
    _run(ctx, privacy.PURGE_JOB, dry_run, privacy.PurgeOptions(config.privacy.retention_days,
                                                               config.privacy.retain_until))


@app.command("schedule")
def schedule_cmd(ctx: typer.Context) -> None:
    """Chạy các công việc theo lịch trong config.yaml (mục `schedule:`, giờ Việt Nam) cho tới khi dừng; việc bị lỡ khi máy chủ tắt được chạy bù một lần."""
    from workflows import control, scheduler

    config = _config(ctx)
    # The process keeps the event's time: the timetable's intervals (which the
    # library counts in local time) never jump with the server zone's DST, and
    # log lines carry Vietnam time.
    os.environ["TZ"] = config.timezone
    time.tzset()
    console = make_console()
    log = logging.getLogger("hoithao.schedule")
    logging.getLogger().setLevel(logging.INFO)
    server = server_name(config)
    runnable = [name for name, job in JOBS.items() if job.run is not None]
    with _stoppable(console) as stop:
        def run_one(name: str, trigger: str = SCHEDULED) -> None:
            job = JOBS[name]
            if job.run is None:
                log.warning("%s chưa được xây dựng; bỏ qua", name)
                return
            _run(ctx, job, dry_run=False, opts=job.options(), trigger=trigger, stop=stop)

        def tick(timetable: Any) -> None:
            """Điều khiển: this server's heartbeat, next runs, and the jobs staff ticked."""
            next_runs = {name: control.next_run_text(moment, config.timezone)
                         for name, moment in scheduler.next_runs(timetable, config.timezone).items()}
            try:
                with _open(config) as ws:
                    due = control.poll(config, ws, server, next_runs, runnable,
                                       dt.datetime.now(ZoneInfo(config.timezone)),
                                       control.stale_check(config, time.time), stop.wait)
            except HoithaoError as exc:   # the sheet is out of reach: the timetable goes on
                log.warning("Không đọc được trang Điều khiển: %s", exc)
                return
            for i, name in enumerate(due):
                if stop():
                    _retick(due[i:], "Chưa chạy: máy chủ dừng trước khi tới lượt; sẽ chạy khi máy chủ "
                                     "chạy lại.")
                    return
                console.print(f"{name}: chạy theo yêu cầu trong bảng tính (Chạy ngay, trang Điều khiển).")
                try:
                    run_one(name, FROM_SHEET)
                except JobBusy as exc:
                    log.error("Lượt %s theo yêu cầu trong bảng tính không chạy: %s", name, exc)
                    _retick([name], "Chưa chạy: lượt khác của công việc này chưa xong; sẽ chạy ở lần "
                                    "xem tới.")
                except Exception as exc:   # noqa: BLE001 - one job's failure must not stop the timetable
                    scheduler.failed(name, exc, "theo yêu cầu trong bảng tính")

        def _retick(names: list[str], why: str) -> None:
            try:
                with _open(config) as ws:
                    control.retick(config, ws, names, why)
            except HoithaoError as exc:
                log.error("Không đánh dấu lại được Chạy ngay cho %s: %s", ", ".join(names), exc)

        scheduler.build(config, run_one)   # a timetable entry that cannot be read stops here
        # Each job's last run, any machine's (one read of Nhật ký): a job missed
        # while this server was down runs once now. The Điều khiển tab is made
        # when missing, with a row for every job and one for this server.
        with _open(config) as ws:
            runs, = ws.coordinating_spreadsheet(config).read("runs")
            if control.prepare(config, ws, runnable, server):
                console.print("Đã tạo trang Điều khiển: đánh dấu Chạy ngay ở dòng một công việc để chạy "
                              "nó ngay.")
        last = scheduler.last_runs(({**r.values} for r in runs.records), config.timezone)
        console.print(f"Chạy theo lịch {len(config.schedule)} việc, giờ {config.timezone}, trên máy "
                      f"{server}; Ctrl-C hoặc SIGTERM để dừng (việc đang chạy làm xong bước đang làm rồi "
                      f"mới dừng).")
        scheduler.serve(config, run_one, last, stop, console.print, tick)
    console.print("Đã dừng chạy theo lịch.")


@sandbox_app.command("console")
def sandbox_console(data: Path = typer.Option(..., "--data", file_okay=False,
                                              help="Thư mục sandbox (do `demo` hoặc `sandbox seed` tạo)."),
                    port: int = typer.Option(8770, help="Cổng trên 127.0.0.1 (0: một cổng trống bất kỳ).")
                    ) -> None:
    """Mở bảng điều khiển diễn tập trong trình duyệt: bảng tính, biểu mẫu, hộp thư, văn bản và
    các công việc của sandbox trong DATA, chỉ trên máy này (127.0.0.1), không cần tài khoản
    Google. Mở đúng đường dẫn (có mã truy cập) được in ra khi khởi động; Ctrl-C để dừng."""
    from rehearsal.server import ConsoleServer

    server = ConsoleServer(data, port)
    console = make_console()
    console.print(f"Bảng điều khiển diễn tập (sandbox {server.state.data_dir}) đang chạy. Mở trong trình "
                  f"duyệt:\n  {server.url}\nĐường dẫn có mã truy cập riêng: đừng chia sẻ. "
                  f"Ctrl-C để dừng.", soft_wrap=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    console.print("Đã dừng bảng điều khiển diễn tập.")


def _staff_types(console: Any, data: Path, base_url: str, config: Config, step: StaffStep) -> None:
    """A staff step of the demo: typed in the sheet as the event's contact."""
    from sandbox.staff import type_cells
    from sandbox.store import Store

    missing = type_cells(Store(data), base_url, config, step.table, step.cells)
    console.print(f"\nNhân viên: {step.says}" +
                  (f" (không thấy dòng {', '.join(missing)})" if missing else "."))


@app.command()
def demo(ctx: typer.Context,
         data: Path = typer.Option(Path("sandbox-data"), "--data", file_okay=False,
                                   help="Thư mục sandbox (tạo mới nếu chưa có sandbox).")) -> None:
    """Tạo sandbox của hội thảo 2024, chạy lần lượt mọi công việc, xuất kết quả và tóm tắt."""
    from sandbox.export import export
    from sandbox.seed import SeedError, seed
    from sandbox.store import DB_NAME

    console = make_console()
    data = data.resolve()
    if not (data / DB_NAME).exists():
        console.print(f"Tạo sandbox của hội thảo 2024 trong {data} …")
        try:
            seed(data, _config(ctx))
        except SeedError as exc:
            raise HoithaoError(str(exc)) from None
    config_path = data / "config.yaml"
    config = load_config(config_path)
    with _open(config) as ws:
        for step in DEMO_STEPS:
            if isinstance(step, StaffStep):
                _staff_types(console, data, ws.base_url, config, step)
                continue
            job, opts = step
            opts = opts(config) if callable(opts) else opts
            result = run_job(job, JobContext(config=config, ws=ws, console=console, trigger=DEMO), opts)
            print_summary(console, job.name, result, dry_run=False)
    out = data / "export"
    counts = export(data, out)
    console.print("\nXong.", style="bold")
    console.print(
        f"Sandbox: {data}\n"
        f"  Bảng tính (CSV, {counts['sheets']} trang): {out / 'sheets'}\n"
        f"  Thư đã gửi (.eml, {counts['mail']} thư): {out / 'mail'}\n"
        f"  Văn bản (.docx và .pdf, {counts['docs']} văn bản): {out / 'docs'}\n"
        f"Chạy tiếp từng việc trên sandbox này: python run.py --config {config_path} <lệnh>\n"
        f"Diễn tập trong trình duyệt (bảng tính, biểu mẫu, hộp thư, văn bản, chạy việc): "
        f"python run.py sandbox console --data {data}")


def _usage_line(exc: typer.TyperException) -> str:
    """A usage error as one Vietnamese line (the parser's own words as detail)."""
    kind, message = type(exc).__name__, str(getattr(exc, "message", exc))
    if kind == "NoSuchOption":
        possible = getattr(exc, "possibilities", None)
        hint = f" (có phải {', '.join(possible)}?)" if possible else ""
        return f"Không có tuỳ chọn {getattr(exc, 'option_name', '')}{hint}."
    if kind == "MissingParameter":
        return f"Thiếu tham số (chi tiết: {exc.format_message()})."
    if kind == "BadParameter":
        return f"Giá trị không hợp lệ (chi tiết: {exc.format_message()})."
    if message.startswith("No such command"):
        return f"Không có lệnh này (chi tiết: {message})."
    return f"Sai cách dùng (chi tiết: {exc.format_message()})."


HELP_OPTION_TEXT = "In trang trợ giúp này rồi thoát."


def _vietnamese_help(command: Any) -> Any:
    """`--help` described in Vietnamese on `command` and every command under it."""
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option

    command.get_help_option = get_help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        _vietnamese_help(sub)
    return command


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every failure into the exit codes of SPEC section 7."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    command = _vietnamese_help(typer.main.get_command(app))
    try:
        command.main(args=args, prog_name="run.py", standalone_mode=False)
        return 0
    except typer.TyperException as exc:  # the command line's parser: bad usage
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        context = getattr(exc, "ctx", None)
        path = getattr(context, "command_path", "") or ""
        where = f"python run.py {path.split(' ', 1)[1]} --help" if " " in path else "python run.py --help"
        print(f"hoithao: {_usage_line(exc)} Xem `{where}`.", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("hoithao: đã dừng theo yêu cầu.", file=sys.stderr)
        return 130
    except HoithaoError as exc:
        if debug:
            raise
        print(f"hoithao: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug of ours: one line, the traceback only with --debug
        if debug:
            raise
        print(f"hoithao: lỗi nội bộ của công cụ; chạy lại với --debug và gửi traceback cho người "
              f"quản trị kỹ thuật (chi tiết: {type(exc).__name__}).", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
