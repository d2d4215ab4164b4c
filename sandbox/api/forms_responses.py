"""Forms v1 responses: `responses.list` / `responses.get`, and
`submit_responses`, the stand-in for people filling a form in a browser
(Google has no API for that; `sandbox submit` calls it)."""
from __future__ import annotations

import base64
import datetime as dt
import json
import mimetypes
import re
import secrets
import sqlite3
import time
import unicodedata
from typing import Any

from ..clock import parse_rfc3339
from ..errors import GoogleError
from ..store import Store
from . import Call, drive, handles
from .forms_model import file_type_accepts, form_not_found, load, owner_email, questions

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE = 5000  # "If unspecified or zero, at most 5000"
RESPONDENT = "respondent@forms.sandbox"
# MIME types Drive gives common uploads, so they never depend on the machine's
# /etc/mime.types; other names fall back to `mimetypes`.
_OFFICE = "application/vnd.openxmlformats-officedocument."
MIME_BY_SUFFIX = {".docx": _OFFICE + "wordprocessingml.document",
                  ".xlsx": _OFFICE + "spreadsheetml.sheet",
                  ".pptx": _OFFICE + "presentationml.presentation",
                  ".doc": "application/msword", ".xls": "application/vnd.ms-excel",
                  ".ppt": "application/vnd.ms-powerpoint", ".pdf": "application/pdf",
                  ".odt": "application/vnd.oasis.opendocument.text",
                  ".ods": "application/vnd.oasis.opendocument.spreadsheet",
                  ".odp": "application/vnd.oasis.opendocument.presentation",
                  ".rtf": "application/rtf", ".txt": "text/plain", ".csv": "text/csv",
                  ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def upload_mime_type(name: str) -> str:
    suffix = ("." + name.rsplit(".", 1)[1].lower()) if "." in name else ""
    return (MIME_BY_SUFFIX.get(suffix) or mimetypes.guess_type(name)[0]
            or "application/octet-stream")


def stored_name(name: str, respondent: str) -> str:
    """The name Google Forms gives an uploaded file in Drive: the respondent's
    name after the original name, before its extension ("bai-viet - an.docx");
    FileUploadAnswer.fileName is this name ("as stored in Google Drive on upload")."""
    who = respondent.split("@")[0]   # a Drive user's displayName, as drive._user makes it
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        return f"{name} - {who}"
    return f"{stem} - {who}.{suffix}"
_FILTER = re.compile(r"^\s*timestamp\s*(>=|>)\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z)\s*$")


def format_us(us: int) -> str:
    """RFC 3339 UTC with microseconds, as Forms writes lastSubmittedTime."""
    moment = dt.datetime.fromtimestamp(us // 1_000_000, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{us % 1_000_000:06d}Z"


def _render(row: sqlite3.Row, with_form_id: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_form_id:  # list answers leave formId out, get includes it
        out["formId"] = row["form_id"]
    out["responseId"] = row["response_id"]
    out["createTime"] = format_us(row["create_us"])
    out["lastSubmittedTime"] = format_us(row["last_us"])
    if row["respondent_email"]:
        out["respondentEmail"] = row["respondent_email"]
    answers = json.loads(row["answers"])
    if answers:
        out["answers"] = answers
    return out


def _parse_filter(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    m = _FILTER.match(text)
    if not m:
        raise GoogleError(400, f"Invalid filter: {text!r}. Supported filters are "
                               "'timestamp > N' and 'timestamp >= N' with N in RFC 3339 UTC.",
                          location="filter")
    seconds = parse_rfc3339(m.group(2))
    frac = (m.group(2).split(".")[1][:-1] if "." in m.group(2) else "")
    us = int(seconds) * 1_000_000 + int((frac + "000000")[:6] or 0)
    return m.group(1), us


@handles("forms.forms.responses.list")
def responses_list(call: Call) -> dict[str, Any]:
    form_id = call.params["formId"]
    load(call.db, form_id)
    condition = _parse_filter(call.params.get("filter"))
    size = int(call.params.get("pageSize") or 0)
    if size < 0:
        raise GoogleError(400, "pageSize must not be negative.", location="pageSize")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after_seq = 0
    token = call.params.get("pageToken")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            after_seq = int(state["after"])
            valid = state["form"] == form_id and state["filter"] == call.params.get("filter")
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            raise GoogleError(400, "Invalid page token: the form and filter must be the same as "
                                   "in the original request.", location="pageToken")
    sql = "SELECT * FROM forms_responses WHERE form_id = ? AND seq > ?"
    args: list[Any] = [form_id, after_seq]
    if condition:
        sql += f" AND last_us {condition[0]} ?"
        args.append(condition[1])
    rows = call.db.execute(sql + " ORDER BY seq LIMIT ?", args + [size + 1]).fetchall()
    out: dict[str, Any] = {}
    if rows[:size]:
        out["responses"] = [_render(r, False) for r in rows[:size]]
    if len(rows) > size:
        state = {"form": form_id, "filter": call.params.get("filter"), "after": rows[size - 1]["seq"]}
        out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
    return out


@handles("forms.forms.responses.get")
def responses_get(call: Call) -> dict[str, Any]:
    form_id = call.params["formId"]
    load(call.db, form_id)
    row = call.db.execute("SELECT * FROM forms_responses WHERE form_id = ? AND response_id = ?",
                          (form_id, call.params["responseId"])).fetchone()
    if row is None:
        raise form_not_found()
    return _render(row, True)


# -- people filling the form ---------------------------------------------------
def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


class _Question:
    def __init__(self, title: str, question: dict[str, Any]):
        self.title = title
        self.id = question["questionId"]
        self.required = bool(question.get("required"))
        self.kind = next(k for k in question if k.endswith("Question"))
        choice = question.get("choiceQuestion") or {}
        self.choice_type = choice.get("type")
        options = choice.get("options") or []
        self.options = {o.get("value") for o in options if not o.get("isOther")}
        self.has_other = any(o.get("isOther") for o in options)
        upload = question.get("fileUploadQuestion") or {}
        self.folder = upload.get("folderId")
        self.max_files = upload.get("maxFiles")
        self.max_file_size = int(upload["maxFileSize"]) if upload.get("maxFileSize") else None
        self.types = upload.get("types")


def _question_map(doc: dict[str, Any]) -> dict[str, _Question]:
    found: dict[str, _Question] = {}
    for item in doc["items"]:
        for question in questions(item):
            q = _Question(item.get("title", "") if "questionItem" in item
                          else question.get("rowQuestion", {}).get("title", ""), question)
            found[q.id] = q
            found.setdefault(_key(q.title), q)
    return found


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(_is_blank(v) for v in value)
    return False


class _Submission:
    """Answers of one submit_responses call, built in memory, written at once."""

    def __init__(self, db: sqlite3.Connection, store: Store, form_id: str, now: float):
        self.db, self.form_id = db, form_id
        # Uploaded files land in the Drive of the form's owner, as with Google Forms:
        # the owner owns them, in the question's upload folder.
        self.call = Call(db=db, store=store, method_id="forms.submit", params={}, body=None,
                         principal=owner_email(db, form_id), settings={}, now=now)

    def text(self, q: _Question, value: Any, where: str) -> dict[str, Any]:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        values = [v if isinstance(v, str) else str(v) for v in values if not _is_blank(v)]
        if q.kind == "choiceQuestion":
            if q.choice_type != "CHECKBOX" and len(values) > 1:
                raise ValueError(f"{where}: question {q.title!r} takes one choice, got {values!r}")
            for v in values:
                if v not in q.options and not q.has_other:
                    raise ValueError(f"{where}: {v!r} is not an option of question {q.title!r} "
                                     f"(options: {sorted(q.options)!r})")
        return {"questionId": q.id, "textAnswers": {"answers": [{"value": v} for v in values]}}

    def files(self, q: _Question, value: Any, where: str, respondent: str) -> dict[str, Any]:
        """Upload the files as the form would take them: at most maxFiles, none
        over maxFileSize bytes, each of one of the question's types."""
        uploads = list(value) if isinstance(value, (list, tuple)) else [value]
        if q.max_files is not None and len(uploads) > q.max_files:
            raise ValueError(f"{where}: question {q.title!r} takes at most {q.max_files} "
                             f"file(s), got {len(uploads)}")
        answers = []
        for upload in uploads:
            if isinstance(upload, str):
                upload = {"name": upload, "content": ""}
            if not isinstance(upload, dict) or not str(upload.get("name") or "").strip():
                raise ValueError(f"{where}: question {q.title!r} needs a file "
                                 "{'name': ..., 'content': ...}")
            name = str(upload["name"]).strip()
            content = upload.get("content") or b""
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            mime = upload_mime_type(name)
            if q.max_file_size is not None and len(data) > q.max_file_size:
                raise ValueError(f"{where}: file {name!r} is {len(data)} bytes, more than the "
                                 f"{q.max_file_size} bytes question {q.title!r} accepts")
            if not file_type_accepts(q.types, mime):
                raise ValueError(f"{where}: file {name!r} ({mime}) is not of a type question "
                                 f"{q.title!r} accepts ({', '.join(q.types or [])})")
            stored = stored_name(name, respondent)
            meta = drive.register_file(self.db, self.call, name=stored, mime_type=mime,
                                       parents=[q.folder] if q.folder else None, content=data)
            answers.append({"fileId": meta["id"], "fileName": stored, "mimeType": mime})
        return {"questionId": q.id, "fileUploadAnswers": {"answers": answers}}

    def answers(self, qmap: dict[str, _Question], given: dict[str, Any], where: str) -> tuple[dict[str, Any], str | None]:
        out: dict[str, Any] = {}
        email = given.get("respondentEmail")
        for key, value in given.items():
            if key == "respondentEmail":
                continue
            q = qmap.get(key) or qmap.get(_key(key))
            if q is None:
                raise ValueError(f"{where}: the form has no question {key!r}")
            if _is_blank(value):
                continue  # Google leaves unanswered optional questions out
            if q.kind == "fileUploadQuestion":
                uploader = (str(email).strip() if email else "") or RESPONDENT
                out[q.id] = self.files(q, value, where, uploader)
            else:
                out[q.id] = self.text(q, value, where)
        seen: set[str] = set()
        for q in qmap.values():
            if q.id in seen:
                continue
            seen.add(q.id)
            if q.required and q.id not in out:
                raise ValueError(f"{where}: required question {q.title!r} is not answered")
        return out, (str(email).strip() or None) if email else None


def submit_responses(store: Store, form_id: str, answers: list[dict[str, Any]], *,
                     edit_response_id: str | None = None) -> list[str]:
    """Add responses to a form as respondents would, all or none; returns their ids.

    Each dict maps a question title (or questionId) to a value: a string (text
    or one choice), a list of strings (checkboxes), or for a file-upload
    question {"name": "bai-viet.docx", "content": b"..."} (or a list of them, or
    just a file name): a Drive file of the form's owner is made in the
    question's upload folder, named as Google Forms names it ("bai-viet -
    <respondent>.docx"), and the question's maxFiles, maxFileSize and types are
    enforced. The key "respondentEmail" sets the collected
    email. Unknown questions, values outside a choice question's options and
    missing required answers raise ValueError naming the question. With
    `edit_response_id`, the one dict replaces that response's answers; its id
    and createTime stay. Times strictly increase across a form's submissions.
    """
    if edit_response_id is not None and len(answers) != 1:
        raise ValueError("editing a response takes exactly one set of answers")
    now = time.time()
    with store.transaction() as db:
        try:
            doc, _ = load(db, form_id)
        except GoogleError:
            raise ValueError(f"no form with id {form_id!r}") from None
        if not doc["publishState"].get("isAcceptingResponses", True):
            raise ValueError(f"form {doc['info'].get('title')!r} is not accepting responses")
        qmap = _question_map(doc)
        submission = _Submission(db, store, form_id, now)
        row = db.execute("SELECT MAX(last_us), MAX(seq) FROM forms_responses WHERE form_id = ?",
                         (form_id,)).fetchone()
        # Strictly later than every earlier submission, even within one microsecond.
        first_us = max(int(now * 1_000_000), (row[0] or 0) + 1)
        next_seq = (row[1] or 0) + 1
        built = [submission.answers(qmap, given, f"response {i + 1}")
                 for i, given in enumerate(answers)]
        if edit_response_id is not None:
            (found, email), = built
            cur = db.execute("UPDATE forms_responses SET last_us = ?, answers = ?, "
                             "respondent_email = COALESCE(?, respondent_email) "
                             "WHERE form_id = ? AND response_id = ?",
                             (first_us, json.dumps(found, ensure_ascii=False), email, form_id,
                              edit_response_id))
            if cur.rowcount != 1:
                raise ValueError(f"form {form_id!r} has no response {edit_response_id!r}")
            return [edit_response_id]
        ids = ["ACYDBN" + secrets.token_urlsafe(48) for _ in built]
        db.executemany(
            "INSERT INTO forms_responses(form_id, response_id, seq, create_us, last_us, "
            "respondent_email, answers) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(form_id, rid, next_seq + i, first_us + i, first_us + i, email,
              json.dumps(found, ensure_ascii=False))
             for i, (rid, (found, email)) in enumerate(zip(ids, built))])
        return ids

