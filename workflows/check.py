"""`check`: everything that can be verified before a job runs, reported all at
once (config, credentials, spreadsheet tabs and headers, forms, templates)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from workspace.clients import Workspace, check_key_file
from workspace.config import Config
from workspace.errors import HoithaoError
from workspace.forms import FormsAdapter
from workspace.table import KeyedTable, quote_tab

# Template checkers register here (mail and document modules add theirs), so
# that `check` renders every template with sample data before anything is queued.
TEMPLATE_CHECKS: list[Callable[[Config], list[str]]] = []


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.passed.append(what)

    def fail(self, what: str) -> None:
        self.problems.append(what)


def _credentials(config: Config, report: Report) -> None:
    if config.google.backend == "sandbox" and config.google.auth == "service_account" \
            and not config.resolve(config.google.service_account_file).exists():
        report.fail(f"google.service_account_file: {config.resolve(config.google.service_account_file)} "
                    f"not found: run `python run.py sandbox seed --data DIR` and use DIR/config.yaml")
        return
    path = config.resolve(config.google.service_account_file if config.google.auth == "service_account"
                          else config.google.oauth_token_file)
    try:
        check_key_file(path)
        report.ok(f"credentials: {path.name} present, mode 600")
    except HoithaoError as exc:
        key = "google.service_account_file" if config.google.auth == "service_account" \
            else "google.oauth_token_file"
        report.fail(f"{key}: {exc}")


def _spreadsheet(config: Config, ws: Workspace, report: Report) -> None:
    sid = config.google.spreadsheet_id
    if not sid:
        report.fail("google.spreadsheet_id: empty; set it to the id in the spreadsheet's URL")
        return
    try:
        sh = ws.spreadsheet(sid)
    except Exception as exc:  # gspread's SpreadsheetNotFound, APIError, transport errors
        report.fail(f"google.spreadsheet_id: spreadsheet {sid} cannot be opened ({_short(exc)}); "
                    f"check the id and that it is shared with the tool's account")
        return
    report.ok(f"spreadsheet: '{sh.title}' reachable")
    titles = {w.title for w in sh.worksheets()}
    tables = [(name, getattr(config.sheets, name)) for name in type(config.sheets).model_fields]
    present = [(n, t) for n, t in tables if t.tab in titles]
    for name, table in tables:
        if table.tab not in titles:
            report.fail(f"sheets.{name}.tab: no tab named '{table.tab}' in the spreadsheet; "
                        f"add it or fix the name in config.yaml")
    if not present:
        return
    headers = sh.values_batch_get([f"{quote_tab(t.tab)}!1:1" for _, t in present])["valueRanges"]
    for (name, table), vr in zip(present, headers):
        try:
            KeyedTable(sh, table, name).parse(vr.get("values", [])[:1] or [[]])
            report.ok(f"tab '{table.tab}': all {len(table.columns)} headers present")
        except HoithaoError as exc:
            report.fail(f"sheets.{name}.columns: {exc}")


def _forms(config: Config, ws: Workspace, report: Report) -> None:
    adapter = FormsAdapter(ws)
    for name in ("registration", "paper"):
        form = getattr(config.google.forms, name)
        if not form.id:
            report.fail(f"google.forms.{name}.id: empty; set it to the form's id (in its edit URL)")
            continue
        try:
            adapter.question_ids(form.id, form.fields)
            report.ok(f"form '{name}': every mapped question found")
        except HoithaoError as exc:
            report.fail(f"google.forms.{name}.fields: {exc}")
        except Exception as exc:
            report.fail(f"google.forms.{name}.id: form {form.id} cannot be read ({_short(exc)})")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def run_check(config: Config) -> Report:
    """Every check that can run; a failing one never stops the others."""
    report = Report()
    report.ok(f"config: {config.source} valid")
    _credentials(config, report)
    for checker in TEMPLATE_CHECKS:
        for problem in checker(config):
            report.fail(problem)
    if report.problems and any(p.startswith("google.service_account_file")
                               or p.startswith("google.oauth_token_file") for p in report.problems):
        return report  # cannot sign in: the remote checks would only repeat it
    try:
        ws = Workspace.open(config)
    except HoithaoError as exc:
        report.fail(f"google: {exc}")
        return report
    with ws:
        _spreadsheet(config, ws, report)
        _forms(config, ws, report)
    return report

