"""`python run.py sandbox …`: seed, serve, submit, export and reset a sandbox."""
from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any, Optional

import typer

from workspace.config import REGISTRATION_FIELDS, PAPER_FIELDS, load
from workspace.errors import HoithaoError

from .store import DB_NAME

app = typer.Typer(help="The local stand-in for Google (no account needed).", no_args_is_help=True,
                  add_completion=False)

DataOpt = typer.Option(..., "--data", help="The sandbox's data folder.", file_okay=False)


def _require_sandbox(data: Path) -> None:
    if not (data / DB_NAME).exists():
        raise HoithaoError(f"{data} holds no sandbox: run `python run.py sandbox seed --data {data}` first")


@app.command()
def seed(ctx: typer.Context, data: Path = DataOpt) -> None:
    """Create DATA with the 2024 workshop (spreadsheet, forms, template docs, sample
    people) and write DATA/config.yaml pointing at it; print that path."""
    from .seed import SeedError, seed as do_seed

    config = load(ctx.obj["config_path"])
    try:
        path = do_seed(data, config)
    except SeedError as exc:
        raise HoithaoError(str(exc)) from None
    typer.echo(str(path))


@app.command()
def serve(data: Path = DataOpt,
          port: int = typer.Option(8765, help="Port on 127.0.0.1 (0: any free port)."),
          latency_ms: int = typer.Option(0, "--latency-ms", help="Delay added to every request."),
          fail_rate: float = typer.Option(0.0, "--fail-rate", min=0.0, max=1.0,
                                          help="Share of requests answered 429/500/503 before doing anything."),
          fail_after_rate: float = typer.Option(0.0, "--fail-after-rate", min=0.0, max=1.0,
                                                help="Share of writes that succeed but answer 500/503 (a lost reply)."),
          require_auth: bool = typer.Option(False, "--require-auth",
                                            help="Accept only tokens issued by this sandbox."),
          quota: str = typer.Option("off", help="Per-minute quotas: 'off' or 'google' (Google's per-user numbers)."),
          gmail_daily_limit: int = typer.Option(0, "--gmail-daily-limit",
                                                help="Messages a mailbox may send per day (0: no limit)."),
          gmail_daily_window_s: int = typer.Option(86_400, "--gmail-daily-window-s",
                                                   help="Length of the daily-limit window, seconds."),
          ) -> None:
    """Serve the Google APIs from DATA on 127.0.0.1 until interrupted."""
    from .server import QUOTA_PRESETS, Options, SandboxServer

    if quota not in QUOTA_PRESETS:
        raise typer.BadParameter(f"choose one of: {', '.join(QUOTA_PRESETS)}", param_hint="--quota")
    options = Options(latency_ms=latency_ms, fail_rate=fail_rate, fail_after_rate=fail_after_rate,
                      require_auth=require_auth, quotas=QUOTA_PRESETS[quota],
                      gmail_daily_limit=gmail_daily_limit, gmail_daily_window_s=gmail_daily_window_s)
    server = SandboxServer(data, port=port, options=options)
    typer.echo(f"sandbox serving {data} at {server.url}  (HOITHAO_GOOGLE_URL={server.url}; Ctrl-C stops)")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def _answers_file(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HoithaoError(f"answers file {path} not found") from None
    except json.JSONDecodeError as exc:
        raise HoithaoError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise HoithaoError(f"{path}: expected one object or a list of objects keyed by field name")
    return items


@app.command()
def submit(data: Path = DataOpt,
           form: str = typer.Argument(..., help="'registration' or 'paper'."),
           answers: Path = typer.Argument(..., help="JSON: one object or a list, keyed by field name."),
           edit: Optional[str] = typer.Option(None, "--edit", metavar="RESPONSE_ID",
                                              help="Edit this response instead of adding one.")) -> None:
    """Fill in a form as people would; print one response id a line."""
    from .api.forms_responses import submit_responses
    from .store import Store

    if form not in ("registration", "paper"):
        raise typer.BadParameter("choose 'registration' or 'paper'", param_hint="FORM")
    _require_sandbox(data)
    config = load(data / "config.yaml")
    form_config = getattr(config.google.forms, form)
    allowed = REGISTRATION_FIELDS if form == "registration" else PAPER_FIELDS
    rows = _answers_file(answers)
    if edit and len(rows) != 1:
        raise HoithaoError("--edit takes exactly one answers object")
    by_title = []
    for n, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(allowed))
        if unknown:
            raise HoithaoError(f"{answers} item {n}: unknown field(s) {', '.join(unknown)}; "
                               f"allowed: {', '.join(allowed)}")
        by_title.append({form_config.fields.get(k, k): v for k, v in row.items()})
    try:
        ids = submit_responses(Store(data), form_config.id, by_title, edit_response_id=edit)
    except ValueError as exc:
        raise HoithaoError(str(exc)) from None
    typer.echo("\n".join(ids))


@app.command()
def export(data: Path = DataOpt,
           out: Path = typer.Option(..., "--out", file_okay=False, help="Folder to write into.")) -> None:
    """Write OUT/sheets/<tab>.csv, OUT/mail/*.eml and OUT/docs/<title>.docx."""
    from .export import export as do_export

    _require_sandbox(data)
    counts = do_export(data, out)
    typer.echo(f"exported to {out}: {counts['sheets']} tabs, {counts['mail']} messages, "
               f"{counts['docs']} documents")


@app.command()
def reset(data: Path = DataOpt,
          yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation.")) -> None:
    """Delete everything in the sandbox folder DATA."""
    _require_sandbox(data)
    if not yes:
        typer.confirm(f"Delete the sandbox in {data}?", abort=True)
    shutil.rmtree(data)
    typer.echo(f"removed {data}")
