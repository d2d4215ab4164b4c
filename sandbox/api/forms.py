"""Forms v1: a form's structure (info, items, settings) and its revisions.

Forms are Drive files (`application/vnd.google-apps.form`): creating one
registers it in Drive, every structural change touches it, and Drive's
files.create / copy / delete reach the form through the registries. Responses
and the `submit_responses` stand-in for people filling the form live in
`forms_responses`.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from typing import Any

from ..errors import GoogleError
from ..store import Store, new_id
from . import Call, drive, handles
from .forms_model import (FILE_TYPES, FORM_MIME, bad_request, load, new_form, owner_email,
                          questions, render, save)

_QUESTION_KINDS = ("choiceQuestion", "textQuestion", "fileUploadQuestion", "dateQuestion",
                   "timeQuestion", "scaleQuestion", "ratingQuestion", "rowQuestion")
_ITEM_KINDS = ("questionItem", "questionGroupItem", "pageBreakItem", "textItem", "imageItem",
               "videoItem")


# -- handlers -----------------------------------------------------------------
@handles("forms.forms.create")
def forms_create(call: Call) -> dict[str, Any]:
    body = call.body or {}
    info = body.get("info") or {}
    extra = [k for k in body if k != "info"] + [f"info.{k}" for k in info
                                                if k not in ("title", "documentTitle")]
    if extra:
        # Google: only info.title and info.document_title may be set on create.
        raise GoogleError(400, "Only info.title and info.document_title may be set in a create "
                               f"form request; found {', '.join(sorted(extra))}.")
    if not (info.get("title") or "").strip():
        raise GoogleError(400, "Form title is required: set info.title.")
    form_id = new_id(44)
    published = not call.params.get("unpublished", False)
    doc = new_form(call.db, form_id, info["title"], published)
    drive.register_file(call.db, call, file_id=form_id, mime_type=FORM_MIME,
                        name=info.get("documentTitle") or info["title"])
    return render(call.db, form_id, doc, 1)


@handles("forms.forms.get")
def forms_get(call: Call) -> dict[str, Any]:
    form_id = call.params["formId"]
    doc, revision = load(call.db, form_id)
    return render(call.db, form_id, doc, revision)


def _fresh_id(taken: set[str]) -> str:
    while True:
        candidate = secrets.token_hex(4)
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _all_ids(items: list[dict[str, Any]]) -> set[str]:
    ids = {i["itemId"] for i in items}
    ids |= {q["questionId"] for i in items for q in questions(i)}
    return ids


def _check_item(item: dict[str, Any], where: str) -> None:
    kinds = [k for k in _ITEM_KINDS if k in item]
    if len(kinds) != 1:
        raise bad_request(f"Invalid {where}: an item must have exactly one kind "
                          f"({', '.join(_ITEM_KINDS)}).")
    for question in questions(item):
        qkinds = [k for k in _QUESTION_KINDS if k in question]
        if len(qkinds) != 1:
            raise bad_request(f"Invalid {where}: a question must have exactly one kind.")
        choice = question.get("choiceQuestion")
        if choice is not None:
            if choice.get("type") not in ("RADIO", "CHECKBOX", "DROP_DOWN"):
                raise bad_request(f"Invalid {where}: choiceQuestion.type must be set.")
            values = [o.get("value", "") for o in choice.get("options") or [] if not o.get("isOther")]
            if not values or any(not v.strip() for v in values):
                raise bad_request(f"Invalid {where}: choiceQuestion options must be non-empty.")
            if len(set(values)) != len(values):
                raise bad_request(f"Invalid {where}: duplicate option values.")
    if not (item.get("title") or "").strip() and "questionItem" in item:
        raise bad_request(f"Invalid {where}: a question item needs a title.")


# FileUploadQuestion reference (developers.google.com/forms/api/reference/rest/v1/forms
# #fileuploadquestion): "The API currently does not support creating file upload
# questions." A person adds one in the Forms editor (`add_file_upload_question`).
NO_FILE_UPLOAD = "The API currently does not support creating file upload questions."


def _refuse_new_uploads(item: dict[str, Any], where: str,
                        current: dict[str, Any] | None = None) -> None:
    """400 for a file upload question the request would create or change; an
    update that leaves an existing one as it is (a new title) goes through."""
    before = {q.get("questionId"): q.get("fileUploadQuestion")
              for q in questions(current or {})}
    for question in questions(item):
        upload = question.get("fileUploadQuestion")
        if upload is not None and before.get(question.get("questionId")) != upload:
            raise bad_request(f"Invalid {where}: {NO_FILE_UPLOAD}")


def _claim(obj: dict[str, Any], field: str, label: str, taken: set[str], where: str) -> str:
    """Keep obj's given id if it is free (else 400), or give it a fresh one."""
    if obj.get(field):
        if obj[field] in taken:
            raise bad_request(f"Invalid {where}: {label} ID {obj[field]} is already used.")
        taken.add(obj[field])
    else:
        obj[field] = _fresh_id(taken)
    return obj[field]


def _assign_ids(item: dict[str, Any], taken: set[str], where: str) -> list[str]:
    _claim(item, "itemId", "item", taken, where)
    return [_claim(q, "questionId", "question", taken, where) for q in questions(item)]


def _index(location: dict[str, Any] | None, size: int, where: str, inclusive: bool) -> int:
    if not location or "index" not in location:
        raise bad_request(f"Invalid {where}: location.index is required.")
    index = int(location["index"])
    if index < 0 or index > size or (index == size and not inclusive):
        raise bad_request(f"Invalid {where}: index {index} is out of bounds "
                          f"(the form has {size} items).")
    return index


def _mask(mask: str | None, where: str, allowed: set[str]) -> list[str]:
    if not mask:
        raise bad_request(f"Invalid {where}: updateMask is required.")
    fields = [f.strip() for f in mask.split(",") if f.strip()]
    if fields == ["*"]:
        return sorted(allowed)
    for field in fields:
        if field.split(".")[0] not in allowed:
            raise bad_request(f"Invalid {where}: updateMask field {field!r} cannot be updated.")
    return fields


def _set_path(target: dict[str, Any], source: dict[str, Any], path: str) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        source = source.get(key) or {}
        target = target.setdefault(key, {})
    if keys[-1] in source:
        target[keys[-1]] = source[keys[-1]]
    else:
        target.pop(keys[-1], None)


def _apply(doc: dict[str, Any], request: dict[str, Any], i: int) -> dict[str, Any]:
    """Apply one batchUpdate request to `doc` in place; returns its reply."""
    kinds = [k for k, v in request.items() if v is not None]
    if len(kinds) != 1:
        raise bad_request(f"Invalid requests[{i}]: exactly one kind of request must be set.")
    kind = kinds[0]
    body = request[kind]
    where = f"requests[{i}].{kind}"
    items = doc["items"]
    if kind == "createItem":
        item = json.loads(json.dumps(body.get("item") or {}))
        _check_item(item, where)
        _refuse_new_uploads(item, where)
        index = _index(body.get("location"), len(items), where, inclusive=True)
        ids = _assign_ids(item, _all_ids(items), where)
        items.insert(index, item)
        reply: dict[str, Any] = {"itemId": item["itemId"]}
        if ids:
            reply["questionId"] = ids
        return {"createItem": reply}
    if kind == "deleteItem":
        del items[_index(body.get("location"), len(items), where, inclusive=False)]
        return {}
    if kind == "moveItem":
        item = items.pop(_index(body.get("originalLocation"), len(items), where, inclusive=False))
        items.insert(_index(body.get("newLocation"), len(items), where, inclusive=True), item)
        return {}
    if kind == "updateFormInfo":
        for field in _mask(body.get("updateMask"), where, {"title", "description"}):
            _set_path(doc["info"], body.get("info") or {}, field)
        if not doc["info"].get("title"):
            raise bad_request(f"Invalid {where}: the form title cannot be empty.")
        return {}
    if kind == "updateSettings":
        for field in _mask(body.get("updateMask"), where, {"quizSettings", "emailCollectionType"}):
            _set_path(doc.setdefault("settings", {}), body.get("settings") or {}, field)
        return {}
    if kind == "updateItem":
        index = _index(body.get("location"), len(items), where, inclusive=False)
        current = items[index]
        updated = json.loads(json.dumps(current))
        for field in _mask(body.get("updateMask"), where, set(_ITEM_KINDS) | {"title", "description"}):
            _set_path(updated, body.get("item") or {}, field)
        # Item and question ids never change on update.
        updated["itemId"] = current["itemId"]
        for old, new in zip(questions(current), questions(updated)):
            new["questionId"] = old["questionId"]
        taken = _all_ids(items[:index] + items[index + 1:]) | {current["itemId"]}
        for question in questions(updated):
            if not question.get("questionId"):
                question["questionId"] = _fresh_id(taken)
        _check_item(updated, where)
        _refuse_new_uploads(updated, where, current)
        items[index] = updated
        return {}
    raise GoogleError(501, f"{kind} is not implemented by the sandbox.", status="UNIMPLEMENTED")


@handles("forms.forms.batchUpdate")
def forms_batch_update(call: Call) -> dict[str, Any]:
    form_id = call.params["formId"]
    doc, revision = load(call.db, form_id)
    body = call.body or {}
    control = body.get("writeControl") or {}
    # WriteControl's `control` is a union field (requiredRevisionId or targetRevisionId):
    # setting both is the protobuf JSON parser's 400 for any oneof.
    given = [k for k in ("requiredRevisionId", "targetRevisionId") if control.get(k) is not None]
    if len(given) > 1:
        raise GoogleError(400, "Invalid value at 'write_control' (oneof), oneof field 'control' "
                               f"is already set. Cannot set '{given[1]}'")
    target = control.get("targetRevisionId")
    if target and target not in {f"{rev:08d}" for rev in range(1, revision + 1)}:
        # Google: a target "too far behind the latest revision" is a 400; an id the
        # form never had is at least that. A recent one is applied to the current form.
        raise GoogleError(400, f"The target revision ID {target} is not a recent revision of "
                               "this form. Read the form again and use its revisionId.")
    required = control.get("requiredRevisionId")
    if required and required != f"{revision:08d}":
        raise GoogleError(400, f"The required revision ID {required} does not match the form's "
                               f"latest revision ID {revision:08d}.", status="FAILED_PRECONDITION",
                          reason="failedPrecondition")
    replies = [_apply(doc, request, i) for i, request in enumerate(body.get("requests") or [])]
    if body.get("requests"):
        revision += 1
        save(call.db, form_id, doc, revision)
        drive.touch(call.db, form_id, call)
    out: dict[str, Any] = {"replies": replies,
                           "writeControl": {"requiredRevisionId": f"{revision:08d}"}}
    if body.get("includeFormInResponse"):
        out["form"] = render(call.db, form_id, doc, revision)
    return out


# -- what a person does in the Forms editor --------------------------------------
# The sizes and counts the editor offers for a file upload question.
MAX_FILES_CHOICES = (1, 5, 10)
MAX_FILE_SIZE_CHOICES = (1 << 20, 10 << 20, 100 << 20, 1 << 30, 10 << 30)


def _upload_folder(call: Call, name: str, parent: str | None) -> str:
    """A Drive folder of the form's owner, made by Forms for uploads."""
    meta = drive.register_file(call.db, call, name=name, mime_type=drive.FOLDER,
                               parents=[parent] if parent else None)
    return meta["id"]


def add_file_upload_question(store_or_db: Store | sqlite3.Connection, form_id: str, title: str, *,
                             index: int | None = None, folder_id: str | None = None,
                             max_files: int = 1, max_file_size: int = 10 << 20,
                             types: list[str] | None = None, required: bool = True) -> str:
    """Add a file upload question to a form as its owner does in the Forms editor
    (the API cannot: see NO_FILE_UPLOAD); returns the new question's id.

    As in Google Forms, uploads go to a Drive folder of the form's owner: the
    first such question makes "<form name> (File responses)" in the owner's My
    Drive, and each question its own "<question title> (File responses)" inside
    it, which becomes `fileUploadQuestion.folderId`. `folder_id` uses an existing
    folder instead. `max_files`, `max_file_size` (bytes) and `types` (FileType
    names such as "DOCUMENT", "PDF") take only what the editor offers; anything
    else raises ValueError. The form gets a new revision, and its Drive file is
    touched by the owner."""
    if isinstance(store_or_db, sqlite3.Connection):
        return _add_file_upload_question(store_or_db, None, form_id, title, index, folder_id,
                                         max_files, max_file_size, types, required)
    with store_or_db.transaction() as db:
        return _add_file_upload_question(db, store_or_db, form_id, title, index, folder_id,
                                         max_files, max_file_size, types, required)


def _add_file_upload_question(db: sqlite3.Connection, store: Store | None, form_id: str,
                              title: str, index: int | None, folder_id: str | None,
                              max_files: int, max_file_size: int, types: list[str] | None,
                              required: bool) -> str:
    if not title.strip():
        raise ValueError("a file upload question needs a title")
    if max_files not in MAX_FILES_CHOICES:
        raise ValueError(f"max_files must be one of {MAX_FILES_CHOICES} (the Forms editor's "
                         f"choices), not {max_files!r}")
    if max_file_size not in MAX_FILE_SIZE_CHOICES:
        raise ValueError(f"max_file_size must be one of {MAX_FILE_SIZE_CHOICES} bytes (1 MB, "
                         f"10 MB, 100 MB, 1 GB, 10 GB), not {max_file_size!r}")
    unknown = [t for t in types or [] if t not in FILE_TYPES]
    if unknown:
        raise ValueError(f"unknown file types {unknown!r}; choose from {sorted(FILE_TYPES)}")
    try:
        doc, revision = load(db, form_id)
    except GoogleError:
        raise ValueError(f"no form with id {form_id!r}") from None
    items = doc["items"]
    position = len(items) if index is None else index
    if not 0 <= position <= len(items):
        raise ValueError(f"index {index} is out of range: the form has {len(items)} items")
    call = Call(db=db, store=store, method_id="forms.editor", params={}, body=None,  # type: ignore
                principal=owner_email(db, form_id), settings={}, now=time.time())
    if folder_id is not None:
        folder = drive.get_meta(db, folder_id)
        if folder is None or folder["mimeType"] != drive.FOLDER:
            raise ValueError(f"no Drive folder with id {folder_id!r}")
    else:
        form_name = (drive.get_meta(db, form_id) or {}).get("name") or doc["info"]["title"]
        if not doc.get("uploadFolderId") or drive.get_meta(db, doc["uploadFolderId"]) is None:
            doc["uploadFolderId"] = _upload_folder(call, f"{form_name} (File responses)", None)
        folder_id = _upload_folder(call, f"{title} (File responses)", doc["uploadFolderId"])
    upload: dict[str, Any] = {"folderId": folder_id, "maxFiles": max_files,
                              "maxFileSize": str(max_file_size)}   # int64: a JSON string
    if types:
        upload["types"] = list(types)
    question: dict[str, Any] = {"fileUploadQuestion": upload}
    if required:
        question["required"] = True   # proto3 JSON leaves false out
    item = {"title": title, "questionItem": {"question": question}}
    [question_id] = _assign_ids(item, _all_ids(items), "fileUploadQuestion")
    items.insert(position, item)
    save(db, form_id, doc, revision + 1)
    drive.touch(db, form_id, call)
    return question_id


# -- Drive registries ---------------------------------------------------------
def _drive_create(db: sqlite3.Connection, file_id: str, call: Call) -> None:
    meta = drive.get_meta(db, file_id) or {}
    new_form(db, file_id, meta.get("name") or "Untitled form")


def _drive_copy(db: sqlite3.Connection, source_id: str, new_file_id: str, call: Call) -> None:
    doc, _ = load(db, source_id)
    doc["responderId"] = "1FAIpQLS" + secrets.token_urlsafe(36)[:48]
    db.execute("INSERT INTO forms_forms(id, doc, revision) VALUES (?, ?, 1)",
               (new_file_id, json.dumps(doc, ensure_ascii=False)))


def _drive_delete(db: sqlite3.Connection, file_id: str) -> None:
    db.execute("DELETE FROM forms_forms WHERE id = ?", (file_id,))
    db.execute("DELETE FROM forms_responses WHERE form_id = ?", (file_id,))


drive.CREATORS[FORM_MIME] = _drive_create
drive.COPIERS[FORM_MIME] = _drive_copy
drive.DELETERS[FORM_MIME] = _drive_delete
