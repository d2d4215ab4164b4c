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
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

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
        # What the person agreed to: the consent question's answer and the
        # version of the text they were shown (privacy.consent_version).
        "consent": "Đồng ý điều khoản",
        "notes": "Ghi chú", "withdrawn": "Rút đăng ký",
        # Staff's tick on the day: the person came (counted in the results report).
        "attended": "Có mặt"}),
    "papers": ("Tham luận", {
        "key": "Mã tham luận", "author": "Tác giả", "email": "Email", "unit": "Đơn vị",
        "topic": "Chủ đề", "title": "Tên tham luận", "due": "Hạn nộp", "status": "Trạng thái",
        "file": "Tệp", "submitted_at": "Ngày nộp", "last_reminder": "Lần nhắc cuối",
        "reminder_count": "Số lần nhắc", "reviewer": "Người phản biện", "decision": "Kết luận",
        # Written by chase-submissions: the earlier files of a paper submitted
        # again (one "date link" a line), and what is wrong with the row.
        "file_history": "Các lần nộp trước", "problem": "Vấn đề",
        # Staff's: the unit head's address, copied on overdue reminders from
        # reminders.escalate_after_days days late.
        "head_email": "Email lãnh đạo đơn vị",
        # Staff's: where and when an accepted paper is presented (the programme),
        # told in its decision letter.
        "slot": "Phiên trình bày",
        "notes": "Ghi chú"}),
    # The Department's divisions' reports (plan V.2: due with the papers). A tab
    # beyond SPEC section 2's layout, and optional: without it reports are not
    # tracked. The person chased is the division's head (`Email`); from
    # reminders.escalate_after_days days late the Department leader in charge
    # (`Email lãnh đạo Sở phụ trách`) is copied.
    "reports": ("Báo cáo các phòng", {
        "key": "Mã báo cáo", "unit": "Phòng", "honorific": "Danh xưng", "author": "Người phụ trách",
        "position": "Chức vụ", "email": "Email", "title": "Nội dung báo cáo", "due": "Hạn nộp",
        "status": "Trạng thái", "file": "Tệp", "submitted_at": "Ngày nộp",
        "last_reminder": "Lần nhắc cuối", "reminder_count": "Số lần nhắc",
        "file_history": "Các lần nộp trước", "problem": "Vấn đề",
        "head_email": "Email lãnh đạo Sở phụ trách", "notes": "Ghi chú"}),
    "outbox": ("Hộp thư đi", {
        "key": "Mã thư", "kind": "Loại", "recipient": "Người nhận", "email": "Email",
        "subject": "Tiêu đề", "status": "Trạng thái", "approve": "Duyệt",
        "sent_at": "Thời điểm gửi", "gmail_id": "Gmail ID", "attempts": "Số lần thử",
        "error": "Lỗi", "resend": "Gửi lại"}),
    "milestones": ("Mốc thời gian", {
        "key": "Mã mốc", "content": "Nội dung", "due": "Hạn", "applies_to": "Áp dụng cho",
        "remind_before": "Nhắc trước (ngày)"}),
    # One row per document generate-docs writes. Staff fill Số, Ngày ban hành,
    # Chức vụ người ký (the authority lines, one a line), Người ký and Nơi nhận
    # (one recipient a line); the job writes the rest. Created by the job when
    # the spreadsheet lacks it.
    "documents": ("Văn bản", {
        "key": "Mã văn bản", "name": "Tên văn bản", "number": "Số", "issued_on": "Ngày ban hành",
        "authority": "Chức vụ người ký", "signer": "Người ký", "recipients": "Nơi nhận",
        "doc_id": "ID", "link": "Đường dẫn", "version": "Phiên bản", "revision": "Mã sửa đổi",
        "written_at": "Ghi lần cuối", "edited": "Bản đã sửa", "pdf": "PDF", "problem": "Vấn đề",
        "notes": "Ghi chú"}),
    "runs": ("Nhật ký", {
        "key": "Mã lượt chạy", "job": "Công việc", "trigger": "Kích hoạt", "started": "Bắt đầu",
        "finished": "Kết thúc", "result": "Kết quả", "figures": "Số liệu", "error": "Lỗi"}),
    # One row per job, written by `schedule` and by every run: staff tick
    # `Chạy ngay`; the run's lease (which machine runs it, since when, its last
    # heartbeat) keeps two machines from running one job at once. Rows keyed
    # `máy chủ: NAME` say when each server was last alive. Made by `schedule`.
    "control": ("Điều khiển", {
        "key": "Công việc", "run_now": "Chạy ngay", "last_run": "Lần chạy cuối", "result": "Kết quả",
        "run_id": "Mã lượt chạy", "next_run": "Lần chạy tới", "holder": "Đang chạy trên",
        "since": "Giữ từ", "heartbeat": "Nhịp cuối", "warning": "Cảnh báo"}),
}

# The columns that are tick boxes (a BOOLEAN data validation), per table: where
# staff decide, and where they record who came.
TICK_BOXES: dict[str, tuple[str, ...]] = {
    "invitees": ("send_invitation",), "registrations": ("withdrawn", "attended"),
    "outbox": ("approve", "resend"), "control": ("run_now",)}

# Columns a tab may lack: the feature that uses one is off until staff add it.
OPTIONAL_COLUMNS: dict[str, set[str]] = {"registrations": {"withdrawn", "attended", "consent"},
                                         # beyond SPEC section 2's layout: earlier files,
                                         # problems, the head copied on late reminders
                                         "papers": {"file_history", "problem", "head_email", "slot"},
                                         "reports": {"honorific", "position", "file_history",
                                                     "head_email"},
                                         # staff tick: send this failed message again (--resend)
                                         "outbox": {"resend"},
                                         # staff's own notes: only theirs
                                         "documents": {"notes"}}

# Tabs a spreadsheet may lack: the feature that uses one is off until staff add it.
OPTIONAL_TABLES = frozenset({"reports", "documents", "control"})

REGISTRATION_FIELDS = ("full_name", "honorific", "position", "unit", "delegation", "email",
                       "phone", "invitee_code", "consent")
PAPER_FIELDS = ("author", "email", "unit", "topic", "title", "file", "paper_code")
DOCUMENTS = ("opening_speech", "lead_in_report", "proceedings", "programme", "results_report")


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
            raise ValueError("cần có múi giờ, ví dụ 2024-11-22T08:00:00+07:00")
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
                raise ValueError(f"forms.{name}.fields: không có trường {', '.join(unknown)}; "
                                 f"các trường: {', '.join(allowed)}")
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
            raise ValueError(f"không có văn bản {', '.join(unknown)}; các văn bản: {', '.join(DOCUMENTS)}")
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
    # The engineer on call: after `alert_after_failures` failed runs in a row
    # of one job, one alert message goes there through the outbox ("": none).
    operator_email: str = ""
    alert_after_failures: int = Field(default=3, ge=1, le=100)

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
    reports: Table = Table(tab=DEFAULT_TABLES["reports"][0])
    outbox: Table = Table(tab=DEFAULT_TABLES["outbox"][0])
    milestones: Table = Table(tab=DEFAULT_TABLES["milestones"][0])
    documents: Table = Table(tab=DEFAULT_TABLES["documents"][0])
    runs: Table = Table(tab=DEFAULT_TABLES["runs"][0])
    control: Table = Table(tab=DEFAULT_TABLES["control"][0])

    def table(self, name: str) -> Table:
        """The table the config calls `name` (invitees, registrations, …)."""
        if name not in DEFAULT_TABLES:
            raise KeyError(f"no table {name!r}; tables: {', '.join(DEFAULT_TABLES)}")
        return getattr(self, name)

    def names(self) -> tuple[str, ...]:
        """Every table's name, in the config's order."""
        return tuple(DEFAULT_TABLES)

    @model_validator(mode="after")
    def _fill_and_check(self) -> "Sheets":
        for name, (_, defaults) in DEFAULT_TABLES.items():
            table: Table = getattr(self, name)
            unknown = sorted(set(table.columns) - set(defaults))
            if unknown:
                raise ValueError(f"{name}.columns: không có trường {', '.join(unknown)}; "
                                 f"các trường: {', '.join(defaults)}")
            table.columns = {**defaults, **{k: _nfc(v) for k, v in table.columns.items()}}
            labels = list(table.columns.values())
            dupes = sorted({x for x in labels if labels.count(x) > 1})
            if dupes:
                raise ValueError(f"{name}.columns: một tiêu đề cột dùng cho hai trường: {', '.join(dupes)}")
        return self


class Deadlines(_Model):
    papers: dt.date
    division_reports: dt.date
    review: dt.date
    preparations: dt.date
    programme_online: dt.date


class Reminders(_Model):
    # [] switches early reminders off (a milestone's own days still apply).
    before_days: list[int] = [7, 3, 1]
    # An invitation to write (with the writer's own link) for every row still
    # owed before its deadline that has had no invitation and no reminder.
    invite_to_write: bool = True
    on_the_day: bool = True
    overdue_every_days: int = Field(default=3, ge=1)
    overdue_limit: int = Field(default=3, ge=0, le=20)
    escalate_after_days: int = Field(default=5, ge=1)
    # ISO weekdays the Department works (Monday 1 ... Sunday 7) and its holidays.
    working_weekdays: list[int] = Field(default=[1, 2, 3, 4, 5], min_length=1)
    holidays: list[dt.date] = []
    # When reminders may leave (send-outbox holds them otherwise), local time.
    office_hours: str = "07:30-17:00"

    @field_validator("office_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        try:
            start, end = (dt.time.fromisoformat(p.strip()) for p in value.split("-"))
        except ValueError:
            raise ValueError("giờ hành chính ghi dạng 07:30-17:00") from None
        if start >= end:
            raise ValueError("giờ bắt đầu phải trước giờ kết thúc, ví dụ 07:30-17:00")
        return value

    def window(self) -> tuple[dt.time, dt.time]:
        start, end = (dt.time.fromisoformat(p.strip()) for p in self.office_hours.split("-"))
        return start, end

    @field_validator("before_days")
    @classmethod
    def _days_ahead(cls, value: list[int]) -> list[int]:
        if any(not 0 < d <= 60 for d in value):
            raise ValueError("mỗi số ngày nhắc trước phải từ 1 đến 60")
        return value

    @field_validator("working_weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 7 for d in value):
            raise ValueError("ngày làm việc ghi bằng số từ 1 (thứ Hai) đến 7 (Chủ nhật)")
        return value


class Share(_Model):
    email: str = Field(min_length=3)
    role: Literal["reader", "commenter", "writer"] = "reader"


class Documents(_Model):
    # The issuing body's abbreviation in document numbers ("Số: 12/BC-SGDĐT").
    body_code: str = "SGDĐT"
    # The top-left block, line by line, as printed (no place name split across
    # lines): the parent body (regular) and the issuing body (bold). Empty:
    # event.parent_body and event.organiser, upper case, on one line each.
    parent_lines: list[str] = []
    body_lines: list[str] = []
    # The signature block when the `Văn bản` row says nothing: the authority
    # lines above the signature (Decree 30: "KT. GIÁM ĐỐC" over "PHÓ GIÁM ĐỐC"
    # when a deputy signs for the director) and the recipients ("Nơi nhận").
    authority: list[str] = ["GIÁM ĐỐC"]
    recipients: list[str] = ["Lưu: VT"]
    # Who gets each generated document shared with them, and how.
    share_with: list[Share] = []


class Locks(_Model):
    # Lock files (relative to the config file) that keep two runs of a job, or
    # two jobs writing the same tab, from overlapping on this machine.
    dir: Path = Path("locks")
    # How long a scheduled run waits for such a run to finish before it gives
    # up (and says so in Nhật ký); a run started by hand never waits.
    scheduled_wait_s: float = Field(default=900, ge=0, le=86_400)


class Control(_Model):
    # The name this machine goes by in `Điều khiển` ("" = its host name).
    server_name: str = ""
    # Seconds between the heartbeats a running job writes beside its lease.
    heartbeat_s: float = Field(default=60, gt=0, le=3600)
    # A lease whose last heartbeat is older than this is taken over (the
    # machine holding it is taken to be dead), with a note in Nhật ký.
    lease_stale_s: float = Field(default=300, gt=0, le=86_400)
    # Seconds between writing a lease and reading it back to see who got it
    # (Sheets has no compare-and-set): unset = 2 on Google, 0.3 in the sandbox.
    settle_s: float | None = Field(default=None, ge=0, le=60)
    # How often `schedule` looks for `Chạy ngay` ticks and writes its heartbeat.
    poll_s: float = Field(default=30, gt=0, le=60)

    def settle(self, backend: str) -> float:
        if self.settle_s is not None:
            return self.settle_s
        return 2.0 if backend == "google" else 0.3


class Privacy(_Model):
    # The consent text the registration form shows (its description, or the
    # consent question's help text), and its version: each registration records
    # the version the person agreed to. `check` fails a form that does not show it.
    consent_text: str = ""
    consent_version: str = ""
    # Days a message's content is kept after it is done with (sent, failed,
    # cancelled): `privacy purge` erases older ones from the outbox ledger.
    retention_days: int = Field(default=400, ge=1, le=3650)
    # The last day the consent text promises to keep data (None: no such
    # date): after it, `privacy purge` erases every message done with.
    retain_until: dt.date | None = None


class Config(_Model):
    event: Event
    timezone: str = "Asia/Ho_Chi_Minh"
    google: Google = Google()
    mail: Mail = Mail()
    sheets: Sheets = Sheets()
    deadlines: Deadlines
    reminders: Reminders = Reminders()
    schedule: dict[str, str] = {}
    locks: Locks = Locks()
    control: Control = Control()
    documents: Documents = Documents()
    privacy: Privacy = Privacy()

    # Where the file was read from; relative paths are relative to its folder.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("schedule")
    @classmethod
    def _known_jobs(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        # The job names come from the caller (workflows.jobs.JOBS, their one home).
        jobs = (info.context or {}).get("jobs")
        unknown = sorted(set(value) - set(jobs)) if jobs else []
        if unknown:
            raise ValueError(f"không có công việc tên {', '.join(unknown)}; "
                             f"các công việc: {', '.join(jobs)}")
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


def _problem_text(err: Any) -> str:
    """A pydantic error as a Vietnamese phrase (pydantic's own words follow as detail)."""
    kind, ctx, msg = err["type"], err.get("ctx") or {}, str(err["msg"])
    if kind == "value_error":   # our own validators already speak Vietnamese
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "khoá này không có trong cấu hình (so chính tả với chú thích trong config.yaml)"
    if kind == "missing":
        return "thiếu khoá bắt buộc"
    phrases = {
        "greater_than_equal": lambda: f"phải lớn hơn hoặc bằng {ctx.get('ge')}",
        "greater_than": lambda: f"phải lớn hơn {ctx.get('gt')}",
        "less_than_equal": lambda: f"phải nhỏ hơn hoặc bằng {ctx.get('le')}",
        "less_than": lambda: f"phải nhỏ hơn {ctx.get('lt')}",
        "literal_error": lambda: f"phải là một trong: {ctx.get('expected')}",
        "string_too_short": lambda: "không được để trống",
        "too_short": lambda: "cần ít nhất một mục",
    }
    if kind in phrases:
        return phrases[kind]()
    if kind.startswith(("int_", "float_")):
        return f"phải là số (chi tiết: {msg})"
    if kind.startswith("bool_"):
        return "phải là true hoặc false"
    if kind.startswith("datetime_"):
        return f"phải là thời điểm có múi giờ, ví dụ 2024-11-22T08:00:00+07:00 (chi tiết: {msg})"
    if kind.startswith("date_"):
        return f"phải là ngày dạng YYYY-MM-DD (chi tiết: {msg})"
    return f"giá trị không hợp lệ (chi tiết: {msg})"


def load(path: Path | str, environ: dict[str, str] | None = None,
         jobs: tuple[str, ...] | None = None) -> Config:
    """Read and validate the config; raise ConfigError listing every problem.
    `jobs`: the job names `schedule:` may use (workflows.jobs passes them)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([f"Không thấy tệp cấu hình {path}: chỉ đường bằng --config PATH, hoặc "
                           f"tạo một tệp bằng `python run.py sandbox seed --data THƯ_MỤC`."])
    if path.is_dir():
        hint = f"{path / 'config.yaml'}" if (path / "config.yaml").exists() else "tệp cấu hình"
        raise ConfigError([f"{path} là một thư mục, không phải tệp cấu hình: chỉ {hint} cho --config."])
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" dòng {mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}{where}: không đúng cú pháp YAML, sửa dòng đó (chi tiết: "
                           f"{getattr(exc, 'problem', exc)})"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: cần các mục cấu hình (event:, google:, …) ở đầu dòng."])
    env_data = _env_overrides(dict(os.environ if environ is None else environ))
    data = _merge(data, env_data)
    try:
        config = Config.model_validate(data, context={"jobs": jobs} if jobs else None)
    except ValidationError as exc:
        lines = _line_index(text)
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key = ".".join(loc) or "(cấp cao nhất)"
            line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
            where = f"{path.name} dòng {line}: " if line else f"{path.name}: "
            problems.append(f"{where}{key}: {_problem_text(err)}")
        raise ConfigError(problems) from None
    config.source = path.resolve()
    return config
