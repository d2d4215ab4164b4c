"""Chạy việc: a button for each job (the same manual trigger as the command
line and the `Điều khiển` tab), a dry-run option, the run's summary when it
ends, and the `Nhật ký` tab."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request

from workflows.jobs import JOBS
from workspace.table import quote_tab

from ..state import console
from ..runner import Busy

bp = Blueprint("jobs", __name__, url_prefix="/chay-viec")

# How many `Nhật ký` rows the page shows (newest first).
LOG_ROWS = 30


def _log() -> tuple[list[str], list[list[str]]]:
    """`Nhật ký`'s header and its newest rows (as the sheet shows them)."""
    state = console()
    tab = state.config.sheets.runs.tab
    sheet = state.staff().spreadsheet(state.config.google.spreadsheet_id)
    try:
        values = sheet.values_get(quote_tab(tab)).get("values", [])
    except Exception:   # no such tab yet: nothing has run
        return [], []
    if not values:
        return [], []
    header, rows = values[0], values[1:]
    width = len(header)
    return header, [(r + [""] * width)[:width] for r in reversed(rows[-LOG_ROWS:])]


@bp.get("")
def index() -> Any:
    state = console()
    header, rows = _log()
    return render_template("jobs.html", jobs=JOBS.values(), runs=state.runs.runs(),
                           log_header=header, log_rows=rows)


@bp.post("/<name>")
def start(name: str) -> Any:
    if name not in JOBS:
        abort(404)
    dry_run = request.form.get("dry_run") == "1"
    try:
        run = console().runs.start(name, dry_run=dry_run)
    except Busy as busy:
        flash(f"Việc {busy.run.job} bắt đầu lúc {busy.run.started:%H:%M:%S} chưa xong: chờ việc đó xong "
              f"rồi bấm lại.", "error")
        return redirect("/chay-viec")
    return redirect(f"/chay-viec/luot/{run.number}")


@bp.get("/luot/<int:number>")
def run_page(number: int) -> Any:
    run = console().runs.get(number)
    if run is None:
        abort(404)
    if request.headers.get("HX-Request"):
        if not run.running:   # done: the whole page again, with its summary and Nhật ký
            return "", 200, {"HX-Refresh": "true"}
        return render_template("run.html", run=run)
    header, rows = _log() if not run.running else ([], [])
    return render_template("run_page.html", run=run, log_header=header, log_rows=rows)
