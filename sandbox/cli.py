"""`python run.py sandbox …`: seed, serve, submit, export and reset a sandbox.

Everything a person reads here (command and option help, errors, output) is
Vietnamese; the commands' docstrings are their help pages, so they are too."""
from __future__ import annotations

import errno
import json
import shutil
import signal
from pathlib import Path
from typing import Any, Optional

import typer

from workspace.config import REGISTRATION_FIELDS, PAPER_FIELDS, load
from workspace.errors import HoithaoError

from .store import DB_NAME

app = typer.Typer(help="Bản mô phỏng Google chạy ngay trên máy này (không cần tài khoản Google).",
                  no_args_is_help=True, add_completion=False)

DataOpt = typer.Option(..., "--data", help="Thư mục dữ liệu của sandbox.", file_okay=False)


def _require_sandbox(data: Path) -> None:
    if not (data / DB_NAME).exists():
        raise HoithaoError(f"Không có dữ liệu sandbox trong {data}: chạy `python run.py sandbox seed "
                           f"--data {data}` trước.")


@app.command()
def seed(ctx: typer.Context, data: Path = DataOpt) -> None:
    """Tạo thư mục DATA chứa hội thảo 2024 (bảng tính, biểu mẫu, văn bản mẫu, người tham dự
    mẫu), ghi tệp DATA/config.yaml trỏ tới sandbox đó và in đường dẫn của tệp này."""
    from .seed import SeedError, seed as do_seed

    config = load(ctx.obj["config_path"])
    try:
        path = do_seed(data, config)
    except SeedError as exc:
        raise HoithaoError(str(exc)) from None
    typer.echo(str(path))


@app.command()
def serve(data: Path = DataOpt,
          port: int = typer.Option(8765, help="Cổng trên 127.0.0.1 (0: một cổng trống bất kỳ)."),
          latency_ms: int = typer.Option(0, "--latency-ms",
                                         help="Độ trễ thêm vào mỗi yêu cầu, tính bằng mili giây."),
          fail_rate: float = typer.Option(0.0, "--fail-rate", min=0.0, max=1.0,
                                          help="Tỉ lệ yêu cầu bị trả lỗi 429/500/503 ngay, "
                                               "không thực hiện gì."),
          fail_after_rate: float = typer.Option(0.0, "--fail-after-rate", min=0.0, max=1.0,
                                                help="Tỉ lệ lệnh ghi đã thực hiện nhưng vẫn trả lỗi "
                                                     "500/503 (mô phỏng mất phản hồi)."),
          require_auth: bool = typer.Option(False, "--require-auth",
                                            help="Chỉ chấp nhận mã truy cập (token) do chính sandbox "
                                                 "này cấp."),
          quota: str = typer.Option("off", help="Hạn mức mỗi phút: 'off' (không giới hạn) hoặc 'google' "
                                            "(các mức cho mỗi người dùng của Google)."),
          gmail_daily_limit: int = typer.Option(0, "--gmail-daily-limit",
                                                help="Số thư một hộp thư được gửi mỗi ngày "
                                                     "(0: không giới hạn)."),
          gmail_daily_window_s: int = typer.Option(86_400, "--gmail-daily-window-s",
                                                   help="Độ dài của khoảng tính hạn mức gửi thư "
                                                        "hằng ngày, tính bằng giây."),
          ) -> None:
    """Phục vụ các API của Google từ dữ liệu trong DATA, tại 127.0.0.1, cho tới khi dừng (Ctrl-C)."""
    from .server import QUOTA_PRESETS, Options, SandboxServer

    if quota not in QUOTA_PRESETS:
        raise typer.BadParameter(f"chỉ nhận một trong các giá trị: {', '.join(QUOTA_PRESETS)}",
                                 param_hint="--quota")
    options = Options(latency_ms=latency_ms, fail_rate=fail_rate, fail_after_rate=fail_after_rate,
                      require_auth=require_auth, quotas=QUOTA_PRESETS[quota],
                      gmail_daily_limit=gmail_daily_limit, gmail_daily_window_s=gmail_daily_window_s)
    try:
        server = SandboxServer(data, port=port, options=options)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise HoithaoError(f"Cổng {port} trên 127.0.0.1 đang được chương trình khác dùng: chọn cổng khác "
                           f"bằng --port, hoặc --port 0 để dùng một cổng trống bất kỳ "
                           f"(chi tiết: {exc.strerror}).") from None
    typer.echo(f"Sandbox đang phục vụ {data} tại {server.url}  (HOITHAO_GOOGLE_URL={server.url}; "
               f"Ctrl-C để dừng)")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def _answers_file(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HoithaoError(f"Không thấy tệp câu trả lời {path}: kiểm tra lại đường dẫn.") from None
    except OSError as exc:
        raise HoithaoError(f"Không đọc được tệp câu trả lời {path}: kiểm tra đường dẫn và quyền đọc tệp "
                           f"(chi tiết: {exc.strerror or type(exc).__name__}).") from None
    except UnicodeDecodeError as exc:
        raise HoithaoError(f"Tệp {path} không được lưu bằng bảng mã UTF-8: lưu lại tệp với bảng mã UTF-8 "
                           f"rồi chạy lại (chi tiết: {exc.reason} tại byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise HoithaoError(f"Tệp {path} không phải JSON hợp lệ ở dòng {exc.lineno}: sửa dòng đó rồi chạy "
                           f"lại (chi tiết: {exc.msg}).") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise HoithaoError(f"Tệp {path} phải chứa một đối tượng JSON, hoặc một danh sách đối tượng, với "
                           f"khoá là tên trường: sửa tệp rồi chạy lại.")
    return items


@app.command()
def submit(data: Path = DataOpt,
           form: str = typer.Argument(..., metavar="FORM",
                                      help="'registration' (đăng ký tham dự) hoặc 'paper' (gửi tham luận)."),
           answers: Path = typer.Argument(..., metavar="ANSWERS",
                                          help="Tệp JSON: một đối tượng hoặc một danh sách đối tượng, với "
                                               "khoá là tên trường (vd. full_name)."),
           edit: Optional[str] = typer.Option(None, "--edit", metavar="RESPONSE_ID",
                                              help="Sửa phản hồi có mã này thay vì thêm phản hồi "
                                                   "mới.")) -> None:
    """Điền biểu mẫu FORM như người tham dự vẫn điền, với các câu trả lời trong tệp ANSWERS;
    in mỗi mã phản hồi trên một dòng."""
    from .api.forms_responses import submit_responses
    from .store import Store

    if form not in ("registration", "paper"):
        raise typer.BadParameter("chọn 'registration' hoặc 'paper'", param_hint="FORM")
    _require_sandbox(data)
    config = load(data / "config.yaml")
    form_config = getattr(config.google.forms, form)
    allowed = REGISTRATION_FIELDS if form == "registration" else PAPER_FIELDS
    rows = _answers_file(answers)
    if edit and len(rows) != 1:
        raise HoithaoError(f"Tuỳ chọn --edit sửa đúng một phản hồi, nhưng tệp {answers} có {len(rows)} "
                           f"đối tượng: để lại một đối tượng, hoặc bỏ --edit để thêm phản hồi mới.")
    by_title = []
    for n, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(allowed))
        if unknown:
            raise HoithaoError(f"Tệp {answers}, mục {n}: biểu mẫu {form} không có trường "
                               f"{', '.join(unknown)}; chỉ dùng các trường: {', '.join(allowed)}.")
        by_title.append({form_config.fields.get(k, k): v for k, v in row.items()})
    try:
        ids = submit_responses(Store(data), form_config.id, by_title, edit_response_id=edit)
    except ValueError as exc:
        raise HoithaoError(f"Biểu mẫu {form} không nhận các câu trả lời trong {answers}: sửa tệp (hoặc "
                           f"mã ở --edit) theo chi tiết rồi chạy lại (chi tiết: {exc}).") from None
    typer.echo("\n".join(ids))


@app.command()
def export(data: Path = DataOpt,
           out: Path = typer.Option(..., "--out", file_okay=False, help="Thư mục ghi kết quả.")) -> None:
    """Xuất sandbox trong DATA ra OUT/sheets/<trang>.csv, OUT/mail/*.eml và
    OUT/docs/<tiêu đề>.docx."""
    from .export import export as do_export

    _require_sandbox(data)
    counts = do_export(data, out)
    typer.echo(f"Đã xuất vào {out}: {counts['sheets']} trang bảng tính, {counts['mail']} thư, "
               f"{counts['docs']} văn bản.")


@app.command()
def reset(data: Path = DataOpt,
          yes: bool = typer.Option(False, "--yes", help="Xoá ngay, không hỏi xác nhận.")) -> None:
    """Xoá toàn bộ thư mục sandbox DATA."""
    _require_sandbox(data)
    if not yes:
        typer.confirm(f"Xoá toàn bộ sandbox trong {data}?", abort=True)
    shutil.rmtree(data)
    typer.echo(f"Đã xoá {data}")
