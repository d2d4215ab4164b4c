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
from workspace.private import make_private_dirs

from .store import (DB_NAME, MARKER_NAME, is_marked_sandbox, seed_refusal,
                    write_marker)

app = typer.Typer(help="Bản mô phỏng Google chạy ngay trên máy này (không cần tài khoản Google).",
                  no_args_is_help=True, add_completion=False)

DataOpt = typer.Option(..., "--data", help="Thư mục dữ liệu của sandbox.", file_okay=False)
# The folder holding this program: never a sandbox to delete.
PROJECT_DIR = Path(__file__).resolve().parent.parent


def _require_sandbox(data: Path) -> None:
    if not (data / DB_NAME).exists():
        raise HoithaoError(f"Không có dữ liệu sandbox trong {data}: chạy `python run.py sandbox seed "
                           f"--data {data}` trước.")


@app.command()
def seed(ctx: typer.Context, data: Path = DataOpt) -> None:
    """Tạo thư mục DATA chứa hội thảo 2024 (bảng tính, biểu mẫu, văn bản mẫu, người tham dự
    mẫu), ghi tệp DATA/config.yaml trỏ tới sandbox đó và in đường dẫn của tệp này. DATA phải
    là thư mục mới hoặc trống; chỉ người dùng hiện tại đọc được thư mục này."""
    from .seed import SeedError, seed as do_seed

    refusal = seed_refusal(data.resolve())  # before the config: a person's folder says so first
    if refusal:
        raise HoithaoError(refusal)
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
        # An empty sandbox may be started in a new or empty folder; a folder
        # holding a person's files is never written into.
        if not (data / DB_NAME).exists():
            refusal = seed_refusal(data)
            if refusal:
                raise HoithaoError(refusal)
            make_private_dirs(data)
            write_marker(data)
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


def _is_blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _uploads(value: Any, answers: Path, n: int) -> list[dict[str, Any]]:
    """The files a `file` answer names (a path or a list of paths, relative ones
    from the ANSWERS file's folder), read as the form's upload takes them."""
    uploads = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str) or not item.strip():
            given = json.dumps(item, ensure_ascii=False)
            raise HoithaoError(f"Tệp {answers}, mục {n}: trường file phải là đường dẫn tới tệp tham luận "
                               f"hoặc một danh sách đường dẫn, không phải {given}: sửa tệp rồi chạy lại.")
        path = Path(item).expanduser()
        if not path.is_absolute():
            path = answers.parent / path
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise HoithaoError(f"Không thấy tệp tham luận {path} (trường file, mục {n} của {answers}): "
                               f"kiểm tra lại đường dẫn; đường dẫn tương đối tính từ thư mục chứa "
                               f"{answers.name}.") from None
        except OSError as exc:
            raise HoithaoError(f"Không đọc được tệp tham luận {path} (trường file, mục {n} của {answers}): "
                               f"kiểm tra đường dẫn và quyền đọc tệp (chi tiết: "
                               f"{exc.strerror or type(exc).__name__}).") from None
        uploads.append({"name": path.name, "content": content})
    return uploads


@app.command()
def submit(data: Path = DataOpt,
           form: str = typer.Argument(..., metavar="FORM",
                                      help="'registration' (đăng ký tham dự) hoặc 'paper' (gửi tham luận)."),
           answers: Path = typer.Argument(..., metavar="ANSWERS",
                                          help="Tệp JSON: một đối tượng hoặc một danh sách đối tượng, với "
                                               "khoá là tên trường (vd. full_name); với 'paper', trường "
                                               "file là đường dẫn tới tệp tham luận hoặc một danh sách "
                                               "đường dẫn."),
           edit: Optional[str] = typer.Option(None, "--edit", metavar="RESPONSE_ID",
                                              help="Sửa phản hồi có mã này thay vì thêm phản hồi "
                                                   "mới.")) -> None:
    """Điền biểu mẫu FORM như người tham dự vẫn điền, với các câu trả lời trong tệp ANSWERS;
    in mỗi mã phản hồi trên một dòng. Với biểu mẫu paper, trường file là đường dẫn tới tệp
    tham luận trên máy này (hoặc một danh sách đường dẫn; đường dẫn tương đối tính từ thư mục
    chứa tệp ANSWERS): tệp được tải lên như khi người gửi tải tệp lên biểu mẫu."""
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
        if form == "paper" and not _is_blank(row.get("file")):
            row = {**row, "file": _uploads(row["file"], answers, n)}
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
    OUT/docs/<tiêu đề>.docx và .pdf. OUT là thư mục mới hoặc trống, hoặc thư mục đã xuất vào lần
    trước: khi đó chỉ các tệp lần xuất trước ghi được thay, không tệp nào khác bị xoá. Chỉ
    người dùng hiện tại đọc được các tệp này (chúng có họ tên, địa chỉ, thư)."""
    from .export import export as do_export

    _require_sandbox(data)
    counts = do_export(data, out)
    typer.echo(f"Đã xuất vào {out}: {counts['sheets']} trang bảng tính, {counts['mail']} thư, "
               f"{counts['docs']} văn bản.")


# What a sandbox seeded before the marker existed may hold, and nothing else.
_SANDBOX_FILES = {name + side for name in (DB_NAME, "outbox.db")
                  for side in ("", "-wal", "-shm", "-journal")} | {"config.yaml", MARKER_NAME}


def _only_files(folder: Path, ok: Any) -> bool:
    return all(p.is_file() and not p.is_symlink() and ok(p.name) for p in folder.iterdir())


def _foreign(folder: Path) -> str | None:
    """The first entry of `folder` a sandbox does not write, or None."""
    from .export import is_export_folder

    for entry in sorted(folder.iterdir()):
        name = entry.name
        if entry.is_symlink():
            return name
        if name in _SANDBOX_FILES and entry.is_file():
            continue
        if name == "credentials" and entry.is_dir() and _only_files(
                entry, lambda n: n == "service-account.json"):
            continue
        if name == "locks" and entry.is_dir() and _only_files(
                entry, lambda n: n.endswith((".lock", ".holder.json", ".tmp"))):
            continue
        if name == "export" and is_export_folder(entry):
            continue
        return name
    return None


def _reset_refusal(target: Path) -> str | None:
    """Why `sandbox reset` must not delete `target` (resolved), or None."""
    hint = "chỉ đúng thư mục sandbox cho --data (vd. --data sandbox-data)"
    cwd = Path.cwd().resolve()
    try:
        home: Path | None = Path.home().resolve()
    except (RuntimeError, KeyError):
        home = None
    if target.parent == target:
        return f"Không xoá {target}: đó là thư mục gốc của máy; {hint}."
    if target == cwd or target in cwd.parents:
        return (f"Không xoá {target}: đó là thư mục đang đứng hoặc một thư mục chứa nó; chuyển sang "
                f"thư mục khác rồi {hint}.")
    if home is not None and (target == home or target in home.parents):
        return f"Không xoá {target}: đó là thư mục nhà của người dùng hoặc một thư mục chứa nó; {hint}."
    if target == PROJECT_DIR or target in PROJECT_DIR.parents:
        return f"Không xoá {target}: thư mục này chứa chương trình hoithao; {hint}."
    if not target.exists():
        return f"Không có thư mục {target}: không có gì để xoá; kiểm tra lại đường dẫn ở --data."
    if not target.is_dir():
        return f"{target} là một tệp, không phải thư mục sandbox: không xoá gì; {hint}."
    if (target / ".git").exists() or (target / ".git").is_symlink():
        return f"Không xoá {target}: thư mục có .git, tức là một kho mã chứ không phải sandbox; {hint}."
    if is_marked_sandbox(target):
        # A sandbox someone has since put their own files into keeps them.
        foreign = _foreign(target)
        if foreign is not None:
            return (f"Thư mục sandbox {target} có {foreign} không do sandbox tạo nên không xoá gì: "
                    f"chuyển {foreign} ra ngoài thư mục (hoặc tự xoá nếu thật sự không cần) rồi chạy "
                    f"lại.")
        return None
    if not (target / DB_NAME).is_file():
        return (f"Thư mục {target} không phải sandbox (không có tệp {MARKER_NAME} do `sandbox seed` ghi) "
                f"nên không xoá gì; {hint}.")
    # Seeded before seeds left a marker: a sandbox only if it holds nothing else.
    foreign = _foreign(target)
    if foreign is not None:
        return (f"Thư mục {target} không có tệp {MARKER_NAME} do `sandbox seed` ghi và có {foreign} không "
                f"do sandbox tạo nên không xoá gì; kiểm tra rồi tự xoá bằng tay nếu thật sự không cần.")
    return None


@app.command()
def reset(data: Path = DataOpt,
          yes: bool = typer.Option(False, "--yes", help="Xoá ngay, không hỏi xác nhận.")) -> None:
    """Xoá toàn bộ thư mục sandbox DATA: chỉ thư mục do `sandbox seed` tạo, không bao giờ thư
    mục đang đứng hay thư mục chứa nó, thư mục nhà, thư mục gốc hay một kho mã có .git."""
    target = data.resolve()  # links followed: what would really be deleted
    refusal = _reset_refusal(target)
    if refusal:
        raise HoithaoError(refusal)
    if not yes:
        typer.confirm(f"Xoá toàn bộ sandbox trong {target}?", abort=True)
    shutil.rmtree(target)
    typer.echo(f"Đã xoá {target}")
