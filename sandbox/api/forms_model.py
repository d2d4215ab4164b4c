"""Forms v1 model: the stored form document and what its handlers share.

A form is a row of `forms_forms` (its document as JSON and a revision
number); responses are rows of `forms_responses`. No handlers here: `forms`
(structure and revisions) and `forms_responses` (responses and
`submit_responses`) build on this module.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Any

from ..errors import GoogleError
from ..store import register_schema
from . import drive

FORM_MIME = "application/vnd.google-apps.form"

register_schema("""
CREATE TABLE IF NOT EXISTS forms_forms (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS forms_responses (
    form_id TEXT NOT NULL,
    response_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    create_us INTEGER NOT NULL,
    last_us INTEGER NOT NULL,
    respondent_email TEXT,
    answers TEXT NOT NULL,
    PRIMARY KEY (form_id, response_id)
);
CREATE INDEX IF NOT EXISTS forms_responses_seq ON forms_responses(form_id, seq);
""")


# FileUploadQuestion.types: FileType names (FILE_TYPE_UNSPECIFIED is not a choice),
# with the uploads each accepts. ANY (or no types at all) takes every file.
_OFFICE = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
FILE_TYPES: dict[str, frozenset[str]] = {
    "ANY": frozenset(),
    "DOCUMENT": frozenset({"application/vnd.google-apps.document", "application/msword",
                           _OFFICE + "wordprocessingml.document", _ODF + "text",
                           "application/rtf", "text/rtf", "text/plain"}),
    "PRESENTATION": frozenset({"application/vnd.google-apps.presentation",
                               "application/vnd.ms-powerpoint",
                               _OFFICE + "presentationml.presentation", _ODF + "presentation"}),
    "SPREADSHEET": frozenset({"application/vnd.google-apps.spreadsheet",
                              "application/vnd.ms-excel", _OFFICE + "spreadsheetml.sheet",
                              _ODF + "spreadsheet", "text/csv"}),
    "DRAWING": frozenset({"application/vnd.google-apps.drawing"}),
    "PDF": frozenset({"application/pdf"}),
    "IMAGE": frozenset({"image/"}),   # a prefix: every image/* type
    "VIDEO": frozenset({"video/"}),
    "AUDIO": frozenset({"audio/"}),
}


def file_type_accepts(types: list[str] | None, mime_type: str) -> bool:
    """Whether a file of `mime_type` may be uploaded to a question taking `types`."""
    if not types or "ANY" in types:
        return True
    return any(mime_type in FILE_TYPES.get(t, ()) or
               any(m.endswith("/") and mime_type.startswith(m) for m in FILE_TYPES.get(t, ()))
               for t in types)


def owner_email(db: sqlite3.Connection, form_id: str) -> str:
    """The form's owner: who a person editing the form in the browser is, and
    whose Drive receives uploaded files."""
    owners = (drive.get_meta(db, form_id) or {}).get("owners") or [{}]
    return owners[0].get("emailAddress") or "owner@forms.sandbox"


def bad_request(message: str, **kw: Any) -> GoogleError:
    return GoogleError(400, message, reason="badRequest", **kw)


def form_not_found() -> GoogleError:
    return GoogleError(404, "Requested entity was not found.", reason="notFound")


# -- storage ------------------------------------------------------------------
def load(db: sqlite3.Connection, form_id: str) -> tuple[dict[str, Any], int]:
    """The stored form document and its revision; Google's 404 if there is none."""
    row = db.execute("SELECT doc, revision FROM forms_forms WHERE id = ?", (form_id,)).fetchone()
    if row is None:
        raise form_not_found()
    return json.loads(row[0]), int(row[1])


def save(db: sqlite3.Connection, form_id: str, doc: dict[str, Any], revision: int) -> None:
    db.execute("UPDATE forms_forms SET doc = ?, revision = ? WHERE id = ?",
               (json.dumps(doc, ensure_ascii=False), revision, form_id))


def new_form(db: sqlite3.Connection, form_id: str, title: str, published: bool = True) -> dict[str, Any]:
    doc = {"info": {"title": title}, "items": [], "settings": {},
           "responderId": "1FAIpQLS" + secrets.token_urlsafe(36)[:48],
           "publishState": {"isPublished": published, "isAcceptingResponses": published}}
    db.execute("INSERT INTO forms_forms(id, doc, revision) VALUES (?, ?, 1)",
               (form_id, json.dumps(doc, ensure_ascii=False)))
    return doc


def render(db: sqlite3.Connection, form_id: str, doc: dict[str, Any], revision: int) -> dict[str, Any]:
    """The Form resource as forms.get returns it (documentTitle is the Drive name)."""
    meta = drive.get_meta(db, form_id) or {}
    info = {"title": doc["info"].get("title", "")}
    if doc["info"].get("description"):
        info["description"] = doc["info"]["description"]
    info["documentTitle"] = meta.get("name") or info["title"]
    out: dict[str, Any] = {"formId": form_id, "info": info, "settings": doc.get("settings", {}),
                           "revisionId": f"{revision:08d}",
                           "responderUri": f"https://docs.google.com/forms/d/e/{doc['responderId']}/viewform",
                           "publishSettings": {"publishState": doc["publishState"]}}
    if doc["items"]:
        out["items"] = doc["items"]
    return out


def questions(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions an item holds (one for a question item, rows for a grid)."""
    if "questionItem" in item:
        return [item["questionItem"]["question"]]
    return list(item.get("questionGroupItem", {}).get("questions", []))
