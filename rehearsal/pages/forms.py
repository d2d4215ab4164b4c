"""Biểu mẫu: the event's forms (registration and paper) as their staff see them
in the Forms list, and each form as a delegate fills it in Google Forms.

A submission goes through `sandbox.api.forms_responses.submit_responses`, the
form's own validation (required answers, choices, file count, size and type),
as `python run.py sandbox submit` does; a refusal is shown in Vietnamese with
everything typed kept (the form's own English words only in a collapsed
technical note). `/bieu-mau/e/<responderId>/viewform` is the form's
public link (the one in a letter), pre-filled from `entry.<n>=<value>` as
Google pre-fills it (n is the question id read as a hexadecimal number).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from flask import Blueprint, abort, redirect, render_template, request, url_for
from googleapiclient.errors import HttpError
from werkzeug.datastructures import MultiDict

from sandbox.api.forms_model import FILE_TYPES, questions
from sandbox.api.forms_responses import MIME_BY_SUFFIX, submit_responses

from ..state import console

bp = Blueprint("forms", __name__, url_prefix="/bieu-mau")

# The value Google Forms gives the "Mục khác:" choice; its text goes in `<qid>.other`.
OTHER = "__other_option__"
EMAIL_FIELD = "emailAddress"
# settings.emailCollectionType values under which the form asks for an email.
COLLECTS_EMAIL = ("VERIFIED", "RESPONDER_INPUT")

FORM_KINDS = (("registration", "Đăng ký tham dự"), ("paper", "Gửi tham luận"))
# A form's id, and the responder id of its public link, as Google makes them.
FORM_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")

# FileType names as the Vietnamese Forms editor shows them.
FILE_TYPE_NAMES = {"ANY": "mọi loại tệp", "DOCUMENT": "Tài liệu", "PRESENTATION": "Bản trình bày",
                   "SPREADSHEET": "Bảng tính", "DRAWING": "Bản vẽ", "PDF": "PDF", "IMAGE": "Hình ảnh",
                   "VIDEO": "Video", "AUDIO": "Âm thanh"}


# -- reading forms -------------------------------------------------------------
def _forms_api() -> Any:
    return console().staff().service("forms", "v1").forms()


def _get_form(form_id: str) -> dict[str, Any]:
    """forms.get as the form's owner (the event contact); 404 for an id that is
    no form's (or one the API refuses: not a form id at all)."""
    if not FORM_ID.fullmatch(form_id):
        abort(404)
    try:
        return _forms_api().get(formId=form_id).execute()
    except HttpError as exc:
        if 400 <= exc.resp.status < 500 and exc.resp.status != 429:
            abort(404)
        raise


def _response_count(form_id: str) -> int:
    count, token = 0, None
    while True:
        page = _forms_api().responses().list(formId=form_id, pageToken=token).execute()
        count += len(page.get("responses", []))
        token = page.get("nextPageToken")
        if not token:
            return count


def _responder_id(form: dict[str, Any]) -> str:
    """The id in the form's public link `…/forms/d/e/<responderId>/viewform`."""
    match = re.search(r"/forms/d/e/([^/]+)/viewform", form.get("responderUri", ""))
    return match.group(1) if match else ""


def _form_by_responder(responder_id: str) -> str:
    """The id of the form whose public link carries `responder_id`; 404 if none."""
    if not FORM_ID.fullmatch(responder_id):
        abort(404)
    with console().store.transaction(write=False) as db:
        row = db.execute("SELECT id FROM forms_forms WHERE json_extract(doc, '$.responderId') = ?",
                         (responder_id,)).fetchone()
    if row is None:
        abort(404)
    return row[0]


def _accepting(form: dict[str, Any]) -> bool:
    state = form.get("publishSettings", {}).get("publishState", {})
    return bool(state.get("isPublished", True) and state.get("isAcceptingResponses", True))


def _collects_email(form: dict[str, Any]) -> bool:
    return form.get("settings", {}).get("emailCollectionType") in COLLECTS_EMAIL


# -- the form as a delegate sees it -------------------------------------------
@dataclass
class Question:
    """One answerable question (an input named by its questionId)."""
    id: str
    title: str
    required: bool
    kind: str                                   # text paragraph radio checkbox dropdown file date ...
    options: list[str] = field(default_factory=list)
    has_other: bool = False
    low: int = 1                                 # scale / rating
    high: int = 5
    low_label: str = ""
    high_label: str = ""
    max_files: int = 1
    accept: str = ""
    upload_note: str = ""

    @property
    def choices(self) -> set[str]:
        return set(self.options)


@dataclass
class Item:
    """One card of the form: a question, a grid of row questions, or text."""
    title: str
    description: str
    kind: str                                    # question, grid, text, section
    questions: list[Question] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    grid_type: str = "RADIO"

    @property
    def required(self) -> bool:
        return any(q.required for q in self.questions)


def _accept(types: list[str] | None) -> str:
    """The `accept` attribute for a file question's types (empty: every file)."""
    if not types or "ANY" in types:
        return ""
    out: list[str] = []
    for name in types:
        mimes = FILE_TYPES.get(name, frozenset())
        out += sorted(suffix for suffix, mime in MIME_BY_SUFFIX.items() if mime in mimes)
        # The MIME types too (a prefix "image/" is "image/*"); Google's own formats cannot come from a disk.
        out += sorted(m + "*" if m.endswith("/") else m for m in mimes
                      if not m.startswith("application/vnd.google-apps."))
    return ",".join(dict.fromkeys(out))


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}".replace(".", ",")
    return f"{size} byte"


def _question(title: str, q: dict[str, Any]) -> Question:
    out = Question(id=q["questionId"], title=title, required=bool(q.get("required")), kind="text")
    if "textQuestion" in q:
        out.kind = "paragraph" if q["textQuestion"].get("paragraph") else "text"
    elif "choiceQuestion" in q:
        choice = q["choiceQuestion"]
        out.kind = {"RADIO": "radio", "CHECKBOX": "checkbox", "DROP_DOWN": "dropdown"}.get(
            choice.get("type"), "radio")
        out.options = [o.get("value", "") for o in choice.get("options", []) if not o.get("isOther")]
        out.has_other = any(o.get("isOther") for o in choice.get("options", [])) and out.kind != "dropdown"
    elif "fileUploadQuestion" in q:
        upload = q["fileUploadQuestion"]
        out.kind = "file"
        out.max_files = int(upload.get("maxFiles") or 1)
        out.accept = _accept(upload.get("types"))
        types = [FILE_TYPE_NAMES.get(t, t) for t in upload.get("types") or [] if t != "ANY"]
        note = f"Tải lên tối đa {out.max_files} tệp"
        note += f" được hỗ trợ: {', '.join(types)}." if types else "."
        if upload.get("maxFileSize"):
            note += f" Dung lượng tối đa {_size_text(int(upload['maxFileSize']))}."
        out.upload_note = note
    elif "dateQuestion" in q:
        out.kind = "datetime" if q["dateQuestion"].get("includeTime") else "date"
    elif "timeQuestion" in q:
        out.kind = "time"
    elif "scaleQuestion" in q:
        scale = q["scaleQuestion"]
        out.kind = "scale"
        out.low, out.high = int(scale.get("low", 1)), int(scale.get("high", 5))
        out.low_label, out.high_label = scale.get("lowLabel", ""), scale.get("highLabel", "")
    elif "ratingQuestion" in q:
        out.kind = "scale"
        out.low, out.high = 1, int(q["ratingQuestion"].get("ratingScaleLevel", 5))
    return out


def _items(form: dict[str, Any]) -> list[Item]:
    out: list[Item] = []
    for raw in form.get("items", []):
        title, description = raw.get("title", ""), raw.get("description", "")
        if "questionItem" in raw:
            out.append(Item(title, description, "question",
                            [_question(title, raw["questionItem"]["question"])]))
        elif "questionGroupItem" in raw:
            group = raw["questionGroupItem"]
            grid = group.get("grid", {}).get("columns", {})
            rows = [_question(q.get("rowQuestion", {}).get("title", ""), q) for q in questions(raw)]
            for row in rows:
                row.kind = "gridrow"
            out.append(Item(title, description, "grid", rows,
                            [o.get("value", "") for o in grid.get("options", [])],
                            grid.get("type", "RADIO")))
        elif "pageBreakItem" in raw:
            out.append(Item(title, description, "section"))
        elif "textItem" in raw:
            out.append(Item(title, description, "text"))
    return out


def _all_questions(items: Iterable[Item]) -> list[Question]:
    return [q for item in items for q in item.questions]


# -- answers -------------------------------------------------------------------
@dataclass
class Typed:
    """What the person typed or chose, as the form's inputs hold it."""
    values: dict[str, list[str]] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)
    email: str = ""
    files: set[str] = field(default_factory=set)      # questions a file had been chosen for

    def has(self, qid: str, value: str) -> bool:
        return value in self.values.get(qid, [])

    def first(self, qid: str) -> str:
        return next(iter(self.values.get(qid, [])), "")


def _typed_from_post(qs: list[Question]) -> Typed:
    typed = Typed(email=request.form.get(EMAIL_FIELD, ""))
    for q in qs:
        if q.kind == "file":
            if any(f.filename for f in request.files.getlist(q.id)):
                typed.files.add(q.id)
            continue
        typed.values[q.id] = request.form.getlist(q.id)
        if q.has_other:
            typed.other[q.id] = request.form.get(f"{q.id}.other", "")
    return typed


def _typed_from_prefill(qs: list[Question], args: MultiDict[str, str]) -> Typed:
    """A pre-filled link's answers: `entry.<n>=<value>`, n = int(questionId, 16)."""
    by_number: dict[int, Question] = {}
    for q in qs:
        try:
            by_number[int(q.id, 16)] = q
        except ValueError:
            continue
    typed = Typed(email=args.get("emailAddress", ""))
    for key, value in args.items(multi=True):
        match = re.fullmatch(r"entry\.(\d+)(\.other_option_response)?", key)
        q = by_number.get(int(match.group(1))) if match else None
        if match is None or q is None or q.kind == "file":
            continue
        if match.group(2):
            typed.other[q.id] = value
            continue
        if q.has_other and value not in q.choices and value != OTHER:
            typed.other[q.id] = value
            value = OTHER
        typed.values.setdefault(q.id, []).append(value)
    return typed


def _answers(qs: list[Question], typed: Typed, collects_email: bool) -> dict[str, Any]:
    """The answers submit_responses takes, keyed by questionId; blanks left out."""
    answers: dict[str, Any] = {}
    if collects_email and typed.email.strip():
        answers["respondentEmail"] = typed.email.strip()
    for q in qs:
        if q.kind == "file":
            uploads = [{"name": f.filename, "content": f.read()}
                       for f in request.files.getlist(q.id) if f.filename]
            if uploads:
                answers[q.id] = uploads
            continue
        values = [typed.other.get(q.id, "") if v == OTHER else v for v in typed.values.get(q.id, [])]
        values = [v for v in values if v.strip()]
        if not values:
            continue
        answers[q.id] = values if q.kind == "checkbox" or (q.kind == "gridrow" and len(values) > 1) \
            else values[0]
    return answers


# -- the form's refusals in Vietnamese ----------------------------------------
_QUOTED = r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
# submit_responses's refusals: its message, the Vietnamese sentence, whether
# {q} is a question's title (its card is then marked, as Google does), and
# the facts it gives besides, in Vietnamese ("" when it gives none).
_REFUSALS: list[tuple[re.Pattern[str], str, bool, str]] = [
    (re.compile(rf"required question (?P<q>{_QUOTED}) is not answered"),
     "Câu hỏi «{q}» là câu hỏi bắt buộc: vui lòng trả lời câu hỏi này rồi gửi lại.", True, ""),
    (re.compile(rf"(?P<v>{_QUOTED}) is not an option of question (?P<q>{_QUOTED})"
                rf"(?: \(options: (?P<options>\[.*\])\))?"),
     "Câu trả lời «{v}» không có trong các lựa chọn của câu hỏi «{q}»: vui lòng chọn một trong các "
     "phương án có sẵn.", True, "Các lựa chọn có sẵn: {options}."),
    (re.compile(rf"question (?P<q>{_QUOTED}) takes one choice(?:, got (?P<got>\[.*\]))?"),
     "Câu hỏi «{q}» chỉ nhận một lựa chọn: vui lòng chọn một phương án.", True, "Đã chọn: {got}."),
    (re.compile(rf"question (?P<q>{_QUOTED}) takes at most (?P<n>\d+) file(?:\(s\))?(?:, got (?P<m>\d+))?"),
     "Câu hỏi «{q}» chỉ nhận tối đa {n} tệp: vui lòng bỏ bớt tệp rồi gửi lại.", True, "Đã chọn {m} tệp."),
    (re.compile(rf"question (?P<q>{_QUOTED}) needs a file"),
     "Câu hỏi «{q}» cần một tệp: vui lòng chọn tệp để tải lên.", True, ""),
    (re.compile(rf"file (?P<f>{_QUOTED}) is (?P<size>\d+) bytes, more than the (?P<max>\d+) bytes "
                rf"question (?P<q>{_QUOTED}) accepts"),
     "Tệp «{f}» ({size}) vượt quá dung lượng tối đa {max} của câu hỏi «{q}»: vui lòng chọn tệp nhỏ hơn.",
     True, ""),
    (re.compile(rf"file (?P<f>{_QUOTED}) \((?P<mime>[^()]*)\) is not of a type question (?P<q>{_QUOTED}) accepts"
                rf"(?: \((?P<types>[^()]*)\))?"),
     "Tệp «{f}» không thuộc loại tệp mà câu hỏi «{q}» chấp nhận: vui lòng chọn tệp đúng loại.", True,
     "Tệp đã chọn có kiểu {mime}; câu hỏi này nhận: {types}."),
    (re.compile(rf"the form has no question (?P<q>{_QUOTED})"),
     "Biểu mẫu đã thay đổi và không còn câu hỏi «{q}»: vui lòng tải lại trang rồi điền lại.", False, ""),
    (re.compile(rf"form (?P<q>{_QUOTED}) is not accepting responses"),
     "Biểu mẫu «{q}» không còn nhận câu trả lời.", False, ""),
    (re.compile(r"no form with id"), "Không tìm thấy biểu mẫu này: vui lòng kiểm tra lại đường dẫn.", False, ""),
]
UNKNOWN_REFUSAL = "Câu trả lời chưa được ghi lại: vui lòng kiểm tra lại các câu trả lời rồi gửi lại."
# Said under a refusal the console has no Vietnamese words for.
UNKNOWN_DETAIL = ("Biểu mẫu từ chối vì một lý do chưa được dịch sang tiếng Việt; kỹ thuật viên xem được "
                  "nguyên văn trong phần chi tiết kỹ thuật.")


@dataclass(frozen=True)
class Refusal:
    """A refusal of submit_responses as the page shows it."""
    sentence: str            # Vietnamese: what is wrong, what to do
    about: str | None        # the title of the question it names
    detail: str              # Vietnamese: the facts it gives besides ("" when none)
    technical: str           # the form's own (English) words, for a technician


def _quoted(raw: str) -> str:
    try:
        return str(ast.literal_eval(raw))
    except (ValueError, SyntaxError):
        return raw.strip("'\"")


def _listed(raw: str) -> str:
    """A Python list of strings as the refusal prints it -> «a», «b»."""
    try:
        values = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    if not isinstance(values, (list, tuple)):
        return str(values)
    return ", ".join(f"«{v}»" for v in values) or "(không có)"


def _part(name: str, raw: str) -> str:
    if name in ("size", "max"):
        return _size_text(int(raw))
    if name in ("options", "got"):
        return _listed(raw)
    if name == "types":
        return ", ".join(FILE_TYPE_NAMES.get(t.strip(), t.strip()) for t in raw.split(",") if t.strip())
    if raw.startswith(("'", '"')):
        return _quoted(raw)
    return raw


def refusal(message: str) -> Refusal:
    """A refusal of submit_responses in Vietnamese: its sentence, the question
    it names, the facts it gives besides; the original kept as `technical`."""
    technical = detail(message)
    for pattern, sentence, names_question, facts in _REFUSALS:
        match = pattern.search(message)
        if match is None:
            continue
        parts = {name: _part(name, raw) for name, raw in match.groupdict().items() if raw is not None}
        try:
            said = facts.format(**parts) if facts else ""
        except KeyError:                  # a fact the message did not give
            said = ""
        return Refusal(sentence.format(**parts), parts["q"] if names_question else None, said, technical)
    return Refusal(UNKNOWN_REFUSAL, None, UNKNOWN_DETAIL, technical)


def explain(message: str) -> tuple[str, str | None]:
    """One Vietnamese sentence for a refusal of submit_responses, and the title
    of the question it names (None when it names none)."""
    found = refusal(message)
    return found.sentence, found.about


def detail(message: str) -> str:
    """The refusal as submit_responses words it, without its "response 1: "."""
    return re.sub(r"^response \d+: ", "", message)


# -- pages ---------------------------------------------------------------------
@bp.get("")
def index() -> Any:
    state = console()
    rows = []
    for key, label in FORM_KINDS:
        form_id = getattr(state.config.google.forms, key).id
        row: dict[str, Any] = {"key": key, "label": label, "id": form_id, "found": False}
        if form_id:
            try:
                form = _forms_api().get(formId=form_id).execute()
            except HttpError as exc:
                if exc.resp.status not in (400, 403, 404):
                    raise
            else:
                row.update(found=True, title=form["info"].get("title", ""),
                           accepting=_accepting(form), responses=_response_count(form_id),
                           responder_id=_responder_id(form), questions=len(_all_questions(_items(form))))
        rows.append(row)
    return render_template("forms.html", rows=rows)


def _render_form(form: dict[str, Any], action: str, clear_url: str, typed: Typed,
                 problem: Refusal | None = None, status: int = 200) -> Any:
    items = _items(form)
    about = problem.about if problem else None
    # The card of the question the refusal names (Google marks it in red).
    wrong_index = next((i for i, item in enumerate(items)
                        if about and about in [item.title] + [q.title for q in item.questions]), None)
    return render_template("forms_form.html", form=form, items=items, action=action, clear_url=clear_url,
                           typed=typed, collects_email=_collects_email(form), accepting=_accepting(form),
                           problem=problem, wrong_index=wrong_index, OTHER=OTHER,
                           EMAIL_FIELD=EMAIL_FIELD), status


def _submit(form_id: str, action: str, clear_url: str, done_url: str) -> Any:
    form = _get_form(form_id)
    if not _accepting(form):
        return _render_form(form, action, clear_url, Typed(), status=409)
    qs = _all_questions(_items(form))
    typed = _typed_from_post(qs)
    answers = _answers(qs, typed, _collects_email(form))
    try:
        submit_responses(console().store, form_id, [answers])
    except ValueError as exc:
        return _render_form(form, action, clear_url, typed, refusal(str(exc)), status=422)
    return redirect(done_url, code=303)


@bp.route("/<form_id>", methods=["GET", "POST"])
def fill(form_id: str) -> Any:
    here = url_for(".fill", form_id=form_id)
    if request.method == "POST":
        return _submit(form_id, here, here, url_for(".sent", form_id=form_id))
    return _render_form(_get_form(form_id), here, here, Typed())


@bp.get("/<form_id>/da-gui")
def sent(form_id: str) -> Any:
    return render_template("forms_sent.html", form=_get_form(form_id), again=url_for(".fill", form_id=form_id))


@bp.get("/e/<responder_id>/viewform")
def viewform(responder_id: str) -> Any:
    form_id = _form_by_responder(responder_id)
    form = _get_form(form_id)
    typed = _typed_from_prefill(_all_questions(_items(form)), request.args)
    return _render_form(form, url_for(".form_response", responder_id=responder_id),
                        url_for(".viewform", responder_id=responder_id), typed)


@bp.route("/e/<responder_id>/formResponse", methods=["GET", "POST"])
def form_response(responder_id: str) -> Any:
    form_id = _form_by_responder(responder_id)
    view = url_for(".viewform", responder_id=responder_id)
    if request.method == "POST":
        return _submit(form_id, url_for(".form_response", responder_id=responder_id), view,
                       url_for(".form_response", responder_id=responder_id))
    return render_template("forms_sent.html", form=_get_form(form_id), again=view)


@bp.errorhandler(HttpError)
def unavailable(_exc: HttpError) -> Any:
    """The Forms API failed (busy, or an error of its own): said in Vietnamese, nothing recorded."""
    return render_template("forms_unavailable.html"), 503
