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
from .chase_input import parse_date
from .doc_layout import Issue, compose
from .doc_markup import parse
from .letters import environment, event_context
from .normalise import clean_text

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
        "delegations_present": sum(1 for d in delegations if d["confirmed"]),
        "chairs": fig.attending(tabs["invitees"], tabs["registrations"], fig.CHAIRS),
        "guests": fig.attending(tabs["invitees"], tabs["registrations"], fig.GUESTS),
        "papers": papers,
        "reports": {"listed": len(reports), "received": sum(1 for r in reports if fig._submitted(r))}
        if reports else None,
        "milestones": fig.milestones(tabs["milestones"], tabs["papers"], reports, today),
        "sessions": fig.programme(tabs["papers"]),
    }


def issue_of(config: Config, name: str, row: Mapping[str, Any] | None, symbol: str) -> tuple[Issue, str]:
    """What staff set for the document in `Văn bản` (config's defaults where
    they set nothing), and a sentence about a date that cannot be read."""
    row = row or {}
    problem = ""
    day = None
    try:
        day = parse_date(row.get("issued_on"))
    except ValueError:
        problem = (f"Không đọc được Ngày ban hành «{str(row.get('issued_on'))[:20]}»: ghi dạng "
                   f"22/11/2024; văn bản tạm để trống ngày.")

    def lines(value: Any) -> list[str]:
        return [clean_text(x) for x in str(value or "").replace(";", "\n").split("\n") if clean_text(x)]
    return Issue(number=clean_text(str(row.get("number") or "")), symbol=symbol, date=day,
                 authority=lines(row.get("authority")) or list(config.documents.authority),
                 signer=clean_text(str(row.get("signer") or "")) or config.event.signer.name,
                 recipients=lines(row.get("recipients")) or list(config.documents.recipients)), problem


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


def date_warnings(config: Config, row: Mapping[str, Any]) -> list[str]:
    """A document dated after the event (staff's `Ngày ban hành`), or a
    rehearsal of an event already past, is worth a look (Vietnamese lines)."""
    title = str(row.get("name") or row.get("key") or "")
    out = []
    try:
        day = parse_date(row.get("issued_on"))
    except ValueError:
        return [f"Văn bản {title}: không đọc được Ngày ban hành «{str(row.get('issued_on'))[:20]}»; ghi "
                f"dạng 22/11/2024."]
    event_day = config.event.starts_at.date()
    if day and day > event_day:
        out.append(f"Văn bản {title}: Ngày ban hành {day:%d/%m/%Y} sau ngày diễn ra {config.event.kind} "
                   f"({event_day:%d/%m/%Y}); kiểm tra lại trong trang '{config.sheets.documents.tab}'.")
    return out


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
    updates: dict[str, dict[str, Any]] = {}
    inserts: list[dict[str, Any]] = []
    writer = None if ctx.dry_run else DocumentWriter(ctx.ws)
    written = edited = 0
    for name in names:
        slug, title = FILES[name]
        row = rows.get(slug)
        issue, date_problem = issue_of(config, name, row, "")
        context = figures(config, tabs, issue.date or today)
        document = build(config, name, context, issue)
        if row is not None:
            result.notes += [w for w in date_warnings(config, row) if "sau ngày" in w]
        if ctx.dry_run:
            ctx.console.print(f"\n===== {title} =====\n{document.text()}", markup=False, highlight=False)
            result.plan.append(Change(slug, "soạn", f"{len(document.blocks)} khối"))
            continue
        try:
            cells, note, was_edited = _write(writer, config, slug, document, row or {},
                                             ctx.now().strftime("%Y-%m-%d %H:%M"))
        except (ApiError, TemplateError) as exc:
            cells, note, was_edited = {"problem": f"Chưa ghi được văn bản: {exc}"[:500]}, \
                f"{title}: chưa ghi được ({exc})", False
        else:
            written += 1
        edited += was_edited
        cells["problem"] = " ".join(x for x in (date_problem, cells.get("problem", "")) if x)
        cells["name"] = title
        if note:
            result.notes.append(note)
        result.plan.append(Change(slug, "ghi", cells.get("link", "")))
        if row is None:
            inserts.append({"key": slug, **cells})
        else:
            updates[slug] = {k: v for k, v in cells.items() if str(v) != str(row.get(k, ""))}
    if "programme" in names and not ctx.dry_run:
        web_row = rows.get(WEB)
        page = programme_page(config, figures(config, tabs, today), ctx.now())
        try:
            file_id = str((web_row or {}).get("doc_id") or "")
            file_id = writer.put_file(f"{FILES['programme'][1]}.html", page.encode("utf-8"), "text/html",
                                      config.google.drive_folder_id, file_id)
            cells = {"name": "Chương trình Hội thảo (trang web)", "doc_id": file_id,
                     "link": file_link(file_id), "version": _count((web_row or {}).get("version")) + 1,
                     "written_at": ctx.now().strftime("%Y-%m-%d %H:%M"), "problem": ""}
        except ApiError as exc:
            cells = {"problem": f"Chưa lưu được trang web chương trình: {exc}"[:300]}
        if web_row is None:
            inserts.append({"key": WEB, **cells})
        else:
            updates[WEB] = {k: v for k, v in cells.items() if str(v) != str(web_row.get(k, ""))}
    if not ctx.dry_run and (updates or inserts):
        ctx.table("documents").write({k: v for k, v in updates.items() if v}, inserts, owned=OWNED)
    result.figures.update({"đã ghi": written, "bản mới vì có người sửa": edited})
    return result


def _count(value: Any) -> int:
    try:
        return max(int(float(str(value or 0))), 0)
    except ValueError:
        return 0


def _write(writer: DocumentWriter, config: Config, slug: str, document: Document,
           row: Mapping[str, Any], now: str) -> tuple[dict[str, Any], str, bool]:
    """Write one document where `row` says it lives; the row's cells, a note
    for the run, and whether a person's edit made a new version."""
    folder = config.google.drive_folder_id
    name = next(n for n, (s, _) in FILES.items() if s == slug)
    template = config.google.doc_templates.get(name, "")
    body = render_requests(document)
    doc_id = str(row.get("doc_id") or "").strip()
    recorded = str(row.get("revision") or "").strip()
    version = _count(row.get("version"))
    edited_links = [x for x in str(row.get("edited") or "").split("\n") if x.strip()]
    state = writer.state(doc_id) if doc_id else None
    note, was_edited, revision = "", False, ""
    if state is not None and not state.trashed and recorded and state.revision == recorded:
        try:
            revision = writer.write(doc_id, clear(state.end_index) + body, required_revision=recorded)
        except StaleRevision:
            was_edited = True
    elif state is not None and not state.trashed:
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
        revision = writer.write(doc_id, clear(fresh.end_index) + body, required_revision=fresh.revision)
        grants = [(doc_id, s.email, s.role) for s in config.documents.share_with]
        if grants:
            failed = [why for why in share(writer.ws, grants).values() if why]
            if failed:
                note = (note + " " if note else "") + f"{document.title}: chưa chia sẻ được ({failed[0]})"
    pdf_link = str(row.get("pdf") or "")
    pdf_id = pdf_link.split("/file/d/")[-1].split("/")[0] if "/file/d/" in pdf_link else ""
    problem = ""
    try:
        pdf_link = file_link(writer.save_pdf(doc_id, f"{document.title}.pdf", folder, pdf_id))
    except ApiError as exc:   # the Doc is written; its PDF waits for the next run
        problem = f"Chưa lưu được bản PDF (lần chạy sau thử lại): {exc}"[:300]
    return ({"doc_id": doc_id, "link": doc_link(doc_id), "version": version or 1, "revision": revision,
             "written_at": now, "edited": "\n".join(edited_links), "pdf": pdf_link,
             "problem": problem}, note, was_edited)


JOB = Job("generate-docs", Options, run, writes=("documents",),
          summary="Soạn phát biểu khai mạc, báo cáo đề dẫn, kỷ yếu, chương trình và báo cáo kết quả "
                  "Hội thảo thành Google Docs theo thể thức Nghị định 30/2020/NĐ-CP, với số liệu lấy "
                  "từ bảng tính lúc chạy; không ghi đè bản đã có người sửa (tạo bản mới bên cạnh).",
          doing="soạn văn bản")

