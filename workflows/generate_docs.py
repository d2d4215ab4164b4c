"""generate-docs: the opening speech, the lead-in report, the proceedings,
the programme and the results report as Google Docs, laid out as Decree
30/2020 asks, filled with figures counted from the sheets now (SPEC 3.5,
issue 11).

read:   `Khách mời`, `Đoàn`, `Đăng ký`, `Tham luận`, `Mốc thời gian` (and
        `Báo cáo các phòng`, `Văn bản` where they exist) in one request
decide: workflows.doc_figures (the counts), `templates/docs/<name>.html`
        (Jinja2) -> workflows.doc_markup -> workflows.doc_layout (pure)
write:  per document, into the Drive folder (google.drive_folder_id):
        - never written, or its Doc gone: a new Doc (a copy of
          google.doc_templates[name] when configured: its page set-up and
          headers come along), written in one batchUpdate;
        - the tool's own draft, untouched since it wrote it (the Doc's
          revisionId is the one `Văn bản` recorded): rewritten in one
          batchUpdate under `requiredRevisionId`, so an edit landing
          meanwhile makes Google refuse the write;
        - a draft a person has edited (another revision, or the write above
          refused): left exactly as it is; a new version is made beside it
          ("… (bản 2)"), and `Văn bản` keeps the edited one's link in
          `Bản đã sửa`. A person's edit is never lost.
        Each document's PDF is kept beside it (updated in place), and a new
        Doc is shared with documents.share_with.
record: `Văn bản` (created with its header when missing): ID, Đường dẫn,
        Phiên bản, Mã sửa đổi, Ghi lần cuối, Bản đã sửa, PDF, Vấn đề. Staff
        fill Số, Ngày ban hành, Chức vụ người ký, Người ký, Nơi nhận; a
        document is dated on the day staff set there, never the day it runs.
locks:  the job's own and `Văn bản`.

`--only NAME` (opening_speech, … or the Vietnamese file name) writes one;
`--dry-run` prints each document's text and writes nothing. API calls:
about six per document, whatever the number of rows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from workspace.config import DOCUMENTS, Config
from workspace.doc_model import Document
from workspace.doc_render import clear, requests as render_requests
from workspace.docs import DocumentWriter, StaleRevision, doc_link, file_link
from workspace.errors import ApiError, TemplateError, UsageError
from workspace.sharing import share

from . import doc_figures as fig
from .base import Change, Job, JobContext, JobResult
from .doc_layout import Issue, compose
from .doc_markup import parse
from .issuing import date_warnings, issue_of, past_event
from .letters import environment, event_context

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "docs"
# name -> (template file and `Mã văn bản`, the title in Drive)
FILES: dict[str, tuple[str, str]] = {
    "opening_speech": ("phat-bieu-khai-mac", "Phát biểu khai mạc Hội thảo"),
    "lead_in_report": ("bao-cao-de-dan", "Báo cáo đề dẫn Hội thảo"),
    "proceedings": ("ky-yeu", "Kỷ yếu Hội thảo"),
    "programme": ("chuong-trinh", "Chương trình Hội thảo"),
    "results_report": ("bao-cao-ket-qua", "Báo cáo kết quả Hội thảo"),
}
OWNED = ("name", "doc_id", "link", "version", "revision", "written_at", "edited", "pdf", "problem")
WEB = "chuong-trinh-web"    # the programme as one HTML page, for the event's website
WEB_DIR = Path(__file__).resolve().parent.parent / "templates" / "web"


def document_name(text: str) -> str:
    """`--only`'s NAME: a config name (opening_speech) or its file name
    (phat-bieu-khai-mac); UsageError otherwise."""
    for name, (slug, _) in FILES.items():
        if text.strip().casefold() in (name, slug):
            return name
    raise UsageError(f"--only: không có văn bản «{text[:40]}»; chọn một trong: "
                     f"{', '.join(f'{n} ({s})' for n, (s, _) in FILES.items())}.")


@dataclass(frozen=True)
class Options:
    """`--only NAME`: one document (None: all five)."""
    only: str | None = None

    def __post_init__(self) -> None:
        if self.only is not None:
            object.__setattr__(self, "only", document_name(self.only))


# -- pure ----------------------------------------------------------------------

def figures(config: Config, tabs: Mapping[str, list[dict[str, Any]]], today: dt.date) -> dict[str, Any]:
    """Everything the templates may print, counted from the rows now."""
    delegations, totals = fig.delegations(tabs["delegations"], tabs["invitees"], tabs["registrations"])
    papers = fig.papers(tabs["papers"], config.event.topics)
    reports = tabs.get("reports") or []
    return {
        "event": event_context(config, today), "body_code": config.documents.body_code,
        "delegations": delegations, "totals": totals,
        # The catch-all row (no quota: "Đại biểu các cơ quan, đơn vị khác") is no delegation.
        "delegations_present": sum(1 for d in delegations if d["confirmed"] and d["quota"]),
        "chairs": fig.attending(tabs["invitees"], tabs["registrations"], fig.CHAIRS),
        "guests": fig.attending(tabs["invitees"], tabs["registrations"], fig.GUESTS),
        "papers": papers,
        "reports": {"listed": len(reports), "received": sum(1 for r in reports if fig._submitted(r))}
        if reports else None,
        "milestones": fig.milestones(tabs["milestones"], tabs["papers"], reports, today),
        "sessions": fig.programme(tabs["papers"]),
    }


def build(config: Config, name: str, context: Mapping[str, Any], issue: Issue) -> Document:
    """One document (pure): its template rendered, parsed, laid out."""
    slug, title = FILES[name]
    env = environment(TEMPLATE_DIR)
    try:
        markup = env.get_template(f"{slug}.html").render(**context)
    except Exception as exc:   # a template error names the template and the line
        raise TemplateError(f"templates/docs/{slug}.html: {exc}") from None
    doc = Document(title)
    try:
        parsed = parse(markup, doc.page.text_width)
    except TemplateError as exc:
        raise TemplateError(f"templates/docs/{slug}.html: {exc}") from None
    if not issue.symbol:
        issue.symbol = parsed.attrs.get("ky-hieu", "")
    e = config.event
    d = config.documents
    return compose(parsed, issue, parent=d.parent_lines or e.parent_body, body=d.body_lines or e.organiser,
                   place=e.place, year=e.starts_at.year, title=title, page=doc.page)


def programme_page(config: Config, context: Mapping[str, Any], now: dt.datetime) -> str:
    """The programme as one static page (Vietnamese, printable, readable on a
    phone), ready to upload to the event's website (pure)."""
    env = environment(WEB_DIR)
    try:
        return env.get_template("chuong-trinh.html").render(
            **context, updated=now.strftime("%H:%M ngày %d/%m/%Y"))
    except Exception as exc:
        raise TemplateError(f"templates/web/chuong-trinh.html: {exc}") from None


def check_templates(config: Config, today: dt.date) -> list[str]:
    """Every document template rendered with empty sheets, one line per fault."""
    empty: dict[str, list[dict[str, Any]]] = {n: [] for n in ("invitees", "delegations", "registrations",
                                                             "papers", "milestones", "reports")}
    problems = []
    for name, (slug, _) in FILES.items():
        try:
            build(config, name, figures(config, empty, today), Issue())
        except TemplateError as exc:
            problems.append(str(exc))
    return problems


# -- the job -------------------------------------------------------------------

def _rows(snapshot: Any) -> list[dict[str, Any]]:
    return [{**r.values, "key": r.key} for r in snapshot.records]


def run(ctx: JobContext, opts: Options) -> JobResult:
    config = ctx.config
    names = [opts.only] if opts.only else list(DOCUMENTS)
    titles = set(ctx.spreadsheet.tab_titles())
    made_tab = False
    if config.sheets.documents.tab not in titles and not ctx.dry_run:
        made_tab = ctx.spreadsheet.ensure_tab("documents")
        titles.add(config.sheets.documents.tab)
    wanted = ["invitees", "delegations", "registrations", "papers", "milestones"]
    wanted += [n for n in ("reports", "documents") if config.sheets.table(n).tab in titles]
    snaps = dict(zip(wanted, ctx.spreadsheet.read(*wanted)))
    tabs = {n: _rows(s) for n, s in snaps.items()}
    today = ctx.now().date()
    rows = {r["key"]: r for r in tabs.get("documents", [])}
    result = JobResult(figures={"văn bản": len(names)})
    if made_tab:
        result.notes.append(f"Đã tạo trang '{config.sheets.documents.tab}' để ghi các văn bản.")
    # After the event the results report is due: only a sandbox run is a rehearsal.
    if past_event(config, today) and config.google.backend == "sandbox":
        result.notes.append(past_event(config, today) + " Số liệu là của bảng tính hiện có.")
    writer = None if ctx.dry_run else DocumentWriter(ctx.ws)
    written = edited = 0
    for name in names:
        if ctx.stop():
            result.stopped = True
            result.notes.append("Đã dừng theo yêu cầu; các văn bản chưa ghi sẽ ghi ở lần chạy sau.")
            break
        slug, title = FILES[name]
        row = rows.get(slug)
        issue, cell_problems = issue_of(config, row, "")
        date_problem = " ".join(cell_problems) + (" Văn bản tạm để trống ô đó." if cell_problems else "")
        context = figures(config, tabs, issue.date or today)
        document = build(config, name, context, issue)
        if row is not None:
            result.notes += [w for w in date_warnings(config, row) if "sau ngày" in w]
        if ctx.dry_run:
            ctx.console.print(f"\n===== {title} =====\n{document.text()}", markup=False, highlight=False)
            result.plan.append(Change(slug, "soạn", f"{len(document.blocks)} khối"))
            continue
        # Each document's row is written as soon as its Doc is: a run stopped
        # half-way never leaves a Doc the next run cannot recognise as its own.
        record = _Recorder(ctx, slug, row, title)
        try:
            note, was_edited = _write(writer, config, slug, document, row or {},
                                      ctx.now().strftime("%Y-%m-%d %H:%M"), record)
        except (ApiError, TemplateError) as exc:
            note, was_edited = f"{title}: chưa ghi được ({exc})", False
            record({"problem": f"Chưa ghi được văn bản: {exc}"[:500]})
        else:
            written += 1
        if date_problem:
            record({"problem": " ".join(x for x in (date_problem, record.cells.get("problem", "")) if x)})
        edited += was_edited
        if note:
            result.notes.append(note)
        result.plan.append(Change(slug, "ghi", record.cells.get("link", "")))
    if "programme" in names and not ctx.dry_run and not result.stopped:
        record = _Recorder(ctx, WEB, rows.get(WEB), "Chương trình Hội thảo (trang web)")
        page = programme_page(config, figures(config, tabs, today), ctx.now())
        try:
            file_id = writer.put_file(f"{FILES['programme'][1]}.html", page.encode("utf-8"), "text/html",
                                      config.google.drive_folder_id,
                                      file_id_of(str((rows.get(WEB) or {}).get("doc_id") or "")))
            record({"doc_id": file_id, "link": file_link(file_id),
                    "version": _count((rows.get(WEB) or {}).get("version")) + 1,
                    "written_at": ctx.now().strftime("%Y-%m-%d %H:%M"), "problem": ""})
        except ApiError as exc:
            record({"problem": f"Chưa lưu được trang web chương trình: {exc}"[:300]})
    result.figures.update({"đã ghi": written, "bản mới vì có người sửa": edited})
    return result


class _Recorder:
    """One `Văn bản` row, written whenever the job learns something it must
    not forget (a Doc made, a Doc written): the row is added the first time."""

    def __init__(self, ctx: JobContext, key: str, row: Mapping[str, Any] | None, name: str):
        self.ctx, self.key, self.row = ctx, key, dict(row) if row is not None else None
        self.cells: dict[str, Any] = {"name": name}

    def __call__(self, cells: Mapping[str, Any]) -> None:
        self.cells.update(cells)
        table = self.ctx.table("documents")
        if self.row is None:
            table.write({}, [{"key": self.key, **self.cells}], owned=OWNED)
            self.row = {"key": self.key, **self.cells}
            return
        changed = {k: v for k, v in self.cells.items() if str(v) != str(self.row.get(k, ""))}
        if changed:
            table.write({self.key: changed}, owned=OWNED)
            self.row.update(changed)


def _count(value: Any) -> int:
    try:
        return max(int(float(str(value or 0))), 0)
    except (ValueError, OverflowError):
        return 0


def file_id_of(text: str) -> str:
    """An id as staff may paste it: the id, or the file's link."""
    text = text.strip()
    for marker in ("/d/", "id="):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.split("/")[0].split("?")[0].split("&")[0].strip()


def _write(writer: DocumentWriter, config: Config, slug: str, document: Document,
           row: Mapping[str, Any], now: str, record: Any) -> tuple[str, bool]:
    """Write one document where `row` says it lives, recording each step in
    its row; a note for the run, and whether a person's edit made a new
    version. A change whose last author is the tool itself (its own write
    whose answer was lost, an id Google renewed) is not a person's edit."""
    folder = config.google.drive_folder_id
    name = next(n for n, (s, _) in FILES.items() if s == slug)
    template = config.google.doc_templates.get(name, "")
    body = render_requests(document)
    account = (writer.ws.account or "").lower()
    doc_id = file_id_of(str(row.get("doc_id") or ""))
    recorded = str(row.get("revision") or "").strip()
    version = _count(row.get("version"))
    edited_links = [x for x in str(row.get("edited") or "").split("\n") if x.strip()]
    state = writer.state(doc_id) if doc_id else None
    note, was_edited, revision = "", False, ""
    if state is not None and not state.trashed:
        own = state.revision == recorded or (account and state.modified_by.lower() == account)
        if recorded and own:
            try:
                revision = writer.write(doc_id, clear(state.end_index) + body,
                                        required_revision=state.revision)
            except StaleRevision:
                now_state = writer.state(doc_id)
                if now_state is not None and account and now_state.modified_by.lower() == account:
                    revision = now_state.revision    # the tool's own write went through
                else:
                    was_edited = True
        else:
            was_edited = True
    if not revision:
        if was_edited:
            edited_links.append(doc_link(doc_id))
            note = (f"{document.title}: bản {doc_link(doc_id)} đã có người sửa sau lần công cụ ghi; "
                    f"công cụ giữ nguyên bản đó và tạo bản mới bên cạnh.")
        version += 1
        title = document.title if version == 1 else f"{document.title} (bản {version})"
        doc_id = writer.create(title, folder, template)
        fresh = writer.state(doc_id)
        if fresh is None:
            raise ApiError(f"không mở được văn bản vừa tạo {doc_id}")
        # Known before it is written: an interrupted run finds it as the tool's own.
        record({"doc_id": doc_id, "link": doc_link(doc_id), "version": version, "revision": fresh.revision,
                "edited": "\n".join(edited_links)})
        revision = writer.write(doc_id, clear(fresh.end_index) + body, required_revision=fresh.revision)
    record({"doc_id": doc_id, "link": doc_link(doc_id), "version": version or 1, "revision": revision,
            "written_at": now, "edited": "\n".join(edited_links), "problem": ""})
    grants = [(doc_id, s.email, s.role) for s in config.documents.share_with]
    if grants:   # sharing again is harmless: a person added later gets the drafts too
        failed = [why for why in share(writer.ws, grants).values() if why]
        if failed:
            note = (note + " " if note else "") + f"{document.title}: chưa chia sẻ được ({failed[0]})"
    pdf_id = file_id_of(str(row.get("pdf") or ""))
    try:
        record({"pdf": file_link(writer.save_pdf(doc_id, f"{document.title}.pdf", folder, pdf_id))})
    except ApiError as exc:   # the Doc is written; its PDF waits for the next run
        record({"problem": f"Chưa lưu được bản PDF (lần chạy sau thử lại): {exc}"[:300]})
    return note, was_edited


JOB = Job("generate-docs", Options, run, writes=("documents",),
          summary="Soạn phát biểu khai mạc, báo cáo đề dẫn, kỷ yếu, chương trình và báo cáo kết quả "
                  "Hội thảo thành Google Docs theo thể thức Nghị định 30/2020/NĐ-CP, với số liệu lấy "
                  "từ bảng tính lúc chạy; không ghi đè bản đã có người sửa (tạo bản mới bên cạnh).",
          doing="soạn văn bản")

