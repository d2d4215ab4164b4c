"""The event's configuration: defaults -> config.yaml -> environment (HOITHAO_*).

Validated once at start; every problem names its key (and the line in the
file where it can), says what is allowed, and nothing runs on a bad config.
Environment overrides use a double underscore between levels, e.g.
`HOITHAO_GOOGLE__SPREADSHEET_ID=1abc…` or `HOITHAO_MAIL__DAILY_LIMIT=500`.
"""
from __future__ import annotations

import datetime as dt
import os
import unicodedata
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

ENV_PREFIX = "HOITHAO_"

# SPEC section 2: field -> header label, per table. config.yaml may rename any label.
DEFAULT_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "invitees": ("Khách mời", {
        "key": "Mã khách mời", "honorific": "Danh xưng", "full_name": "Họ và tên",
        "position": "Chức vụ", "unit": "Đơn vị", "delegation": "Đoàn", "group": "Nhóm",
        "email": "Email", "phone": "Điện thoại", "send_invitation": "Gửi thư mời",
        "invitation_status": "Trạng thái thư mời", "sent_at": "Ngày gửi", "problem": "Vấn đề",
        "notes": "Ghi chú"}),
    "delegations": ("Đoàn", {
        "key": "Mã đoàn", "name": "Tên đoàn", "quota": "Chỉ tiêu", "registered": "Đã đăng ký",
        "confirmed": "Đã xác nhận", "waitlisted": "Danh sách chờ", "contact_name": "Người liên hệ",
        "contact_email": "Email liên hệ"}),
    "registrations": ("Đăng ký", {
        "key": "Mã phản hồi", "submitted_at": "Thời gian gửi", "full_name": "Họ và tên",
        "honorific": "Danh xưng", "position": "Chức vụ", "unit": "Đơn vị", "delegation": "Đoàn",
        "email": "Email", "phone": "Điện thoại", "invitee_code": "Mã khách mời",
        "status": "Trạng thái", "problem": "Vấn đề", "checkin_code": "Mã check-in",
        "notes": "Ghi chú", "withdrawn": "Rút đăng ký"}),
    "papers": ("Tham luận", {
        "key": "Mã tham luận", "author": "Tác giả", "email": "Email", "unit": "Đơn vị",
        "topic": "Chủ đề", "title": "Tên tham luận", "due": "Hạn nộp", "status": "Trạng thái",
        "file": "Tệp", "submitted_at": "Ngày nộp", "last_reminder": "Lần nhắc cuối",
        "reminder_count": "Số lần nhắc", "reviewer": "Người phản biện", "decision": "Kết luận",
        "notes": "Ghi chú"}),
    "outbox": ("Hộp thư đi", {
        "key": "Mã thư", "kind": "Loại", "recipient": "Người nhận", "email": "Email",
        "subject": "Tiêu đề", "status": "Trạng thái", "approve": "Duyệt",
        "sent_at": "Thời điểm gửi", "gmail_id": "Gmail ID", "attempts": "Số lần thử",
        "error": "Lỗi", "resend": "Gửi lại"}),
    "milestones": ("Mốc thời gian", {
        "key": "Mã mốc", "content": "Nội dung", "due": "Hạn", "applies_to": "Áp dụng cho",
        "remind_before": "Nhắc trước (ngày)"}),
    "runs": ("Nhật ký", {
        "key": "Mã lượt chạy", "job": "Công việc", "trigger": "Kích hoạt", "started": "Bắt đầu",
        "finished": "Kết thúc", "result": "Kết quả", "figures": "Số liệu", "error": "Lỗi"}),
}

# Columns a tab may lack: the feature that uses one is off until staff add it.
OPTIONAL_COLUMNS: dict[str, set[str]] = {"registrations": {"withdrawn"},
                                         # staff tick: send this failed message again (--resend)
                                         "outbox": {"resend"}}

REGISTRATION_FIELDS = ("full_name", "honorific", "position", "unit", "delegation", "email",
                       "phone", "invitee_code", "consent")
PAPER_FIELDS = ("author", "email", "unit", "topic", "title", "file", "paper_code")
JOBS = ("sync-registrations", "send-invitations", "send-outbox", "chase-submissions",
        "generate-docs")
DOCUMENTS = ("opening_speech", "lead_in_report", "proceedings", "results_report")


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return _nfc(value)


class Person(_Model):
    name: str
    title: str = ""
    phone: str = ""
    email: str = ""


class Event(_Model):
    name: str = Field(min_length=1)
    kind: str = "Hội thảo khoa học"
    short_name: str = ""
    starts_at: dt.datetime
    duration: str = "01 buổi"
    venue: str
    address: str
    organiser: str
    organiser_short: str = ""
    parent_body: str = ""
    place: str = ""
    website: str = ""
    contact: Person
    signer: Person
    topics: list[str] = Field(min_length=1)

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2024-11-22T08:00:00+07:00")
        return value


class Form(_Model):
    id: str = ""
    fields: dict[str, str] = {}


class Forms(_Model):
    registration: Form = Form()
    paper: Form = Form()

    @model_validator(mode="after")
    def _known_fields(self) -> "Forms":
        for name, allowed in (("registration", REGISTRATION_FIELDS), ("paper", PAPER_FIELDS)):
            form: Form = getattr(self, name)
            unknown = sorted(set(form.fields) - set(allowed))
            if unknown:
                raise ValueError(f"forms.{name}.fields: unknown field(s) {', '.join(unknown)}; "
                                 f"allowed: {', '.join(allowed)}")
        return self


class Google(_Model):
    backend: Literal["google", "sandbox"] = "sandbox"
    sandbox_data: Path | None = None
    auth: Literal["service_account", "oauth_token"] = "service_account"
    service_account_file: Path = Path("credentials/service-account.json")
    oauth_token_file: Path = Path("credentials/token.json")
    sender_mailbox: str = ""
    delegate_sender: bool = False
    spreadsheet_id: str = ""
    forms: Forms = Forms()
    drive_folder_id: str = ""
    doc_templates: dict[str, str] = {}

    @field_validator("doc_templates")
    @classmethod
    def _known_docs(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DOCUMENTS))
        if unknown:
            raise ValueError(f"unknown document(s) {', '.join(unknown)}; allowed: {', '.join(DOCUMENTS)}")
        return value


class Mail(_Model):
    sender_name: str = "Ban Tổ chức Hội thảo"
    reply_to: str = ""
    approval_required: bool = False
    per_minute: int = Field(default=20, ge=1, le=600)
    daily_limit: int = Field(default=2000, ge=1, le=10_000)
    letter_template: str = ""
    # The outbox ledger (SQLite), relative to the config file: the authority on what was sent.
    ledger: Path = Path("outbox.db")
    # Look an unclear send up in the mailbox by its Message-ID (needs the gmail.readonly scope).
    lookup_sent: bool = False
    # Seconds an unclear send must age before that lookup (Gmail may still be finishing
    # it, and its search index lags): unset = 60 on Google, 2 in the sandbox.
    lookup_after_s: float | None = Field(default=None, ge=0, le=600)

    def lookup_delay(self, backend: str) -> float:
        """lookup_after_s, or its default for the backend."""
        if self.lookup_after_s is not None:
            return self.lookup_after_s
        return 60.0 if backend == "google" else 2.0


class Table(_Model):
    tab: str = Field(min_length=1)
    columns: dict[str, str] = {}


class Sheets(_Model):
    invitees: Table = Table(tab=DEFAULT_TABLES["invitees"][0])
    delegations: Table = Table(tab=DEFAULT_TABLES["delegations"][0])
    registrations: Table = Table(tab=DEFAULT_TABLES["registrations"][0])
    papers: Table = Table(tab=DEFAULT_TABLES["papers"][0])
    outbox: Table = Table(tab=DEFAULT_TABLES["outbox"][0])
    milestones: Table = Table(tab=DEFAULT_TABLES["milestones"][0])
    runs: Table = Table(tab=DEFAULT_TABLES["runs"][0])

    @model_validator(mode="after")
    def _fill_and_check(self) -> "Sheets":
        for name, (_, defaults) in DEFAULT_TABLES.items():
            table: Table = getattr(self, name)
            unknown = sorted(set(table.columns) - set(defaults))
            if unknown:
                raise ValueError(f"{name}.columns: unknown field(s) {', '.join(unknown)}; "
                                 f"allowed: {', '.join(defaults)}")
            table.columns = {**defaults, **{k: _nfc(v) for k, v in table.columns.items()}}
            labels = list(table.columns.values())
            dupes = sorted({x for x in labels if labels.count(x) > 1})
            if dupes:
                raise ValueError(f"{name}.columns: the same header is used twice: {', '.join(dupes)}")
        return self


class Deadlines(_Model):
    papers: dt.date
    division_reports: dt.date
    review: dt.date
    preparations: dt.date
    programme_online: dt.date


class Reminders(_Model):
    before_days: list[int] = Field(default=[7, 3, 1], min_length=1)
    overdue_every_days: int = Field(default=3, ge=1)
    escalate_after_days: int = Field(default=5, ge=1)


class Config(_Model):
    event: Event
    timezone: str = "Asia/Ho_Chi_Minh"
    google: Google = Google()
    mail: Mail = Mail()
    sheets: Sheets = Sheets()
    deadlines: Deadlines
    reminders: Reminders = Reminders()
    schedule: dict[str, str] = {}

    # Where the file was read from; relative paths are relative to its folder.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("schedule")
    @classmethod
    def _known_jobs(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(JOBS))
        if unknown:
            raise ValueError(f"unknown job(s) {', '.join(unknown)}; allowed: {', '.join(JOBS)}")
        return value

    def resolve(self, path: Path | str) -> Path:
        """A path from the config, taken relative to the config file's folder."""
        p = Path(path)
        if p.is_absolute() or self.source is None:
            return p
        return (self.source.parent / p).resolve()


# -- loading ----------------------------------------------------------------

def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Key path -> line number, so an error can point into the file."""
    lines: dict[tuple[str, ...], int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + (str(key.value),)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                lines[path + (str(i),)] = value.start_mark.line + 1
                walk(value, path + (str(i),))

    if root is not None:
        walk(root, ())
    return lines


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue  # HOITHAO_GOOGLE_URL and friends are not config paths
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(value) if value.strip() else ""
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load(path: Path | str, environ: dict[str, str] | None = None) -> Config:
    """Read and validate the config; raise ConfigError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([f"config file {path} not found: pass --config PATH, or run "
                           f"`python run.py sandbox seed --data DIR` to make one"])
    if path.is_dir():
        hint = f"{path / 'config.yaml'}" if (path / "config.yaml").exists() else "the config file"
        raise ConfigError([f"{path} is a folder: pass {hint} to --config"])
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of sections (event:, google:, …)"])
    env_data = _env_overrides(dict(os.environ if environ is None else environ))
    data = _merge(data, env_data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = _line_index(text)
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key = ".".join(loc) or "(top level)"
            line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
            where = f"{path.name} line {line}: " if line else f"{path.name}: "
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling against config.yaml's comments)"
            elif err["type"] == "missing":
                message = "required key is missing"
            problems.append(f"{where}{key}: {message}")
        raise ConfigError(problems) from None
    config.source = path.resolve()
    return config
