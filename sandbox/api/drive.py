"""Drive v3: the file registry every other API stands on.

Spreadsheets, documents and forms are Drive files too; their modules call
`register_file` when they create one and `touch` whenever they change one, so
`modifiedTime`, `version` and `lastModifyingUser` tell whether a person edited
a file since the tool wrote it. Content of Google-type files lives in their
own module; exports and copies of them are delegated through small registries.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from typing import Any, Callable

from ..clock import parse_rfc3339, rfc3339
from ..errors import GoogleError
from ..store import new_id, register_schema
from . import Call, Raw, handles

FOLDER = "application/vnd.google-apps.folder"
GOOGLE_PREFIX = "application/vnd.google-apps."

register_schema("""
CREATE TABLE IF NOT EXISTS drive_files (
    id TEXT PRIMARY KEY,
    meta TEXT NOT NULL,
    content BLOB
);
CREATE TABLE IF NOT EXISTS drive_app_files (
    file_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (file_id, principal)
);
""")

# Scopes that reach every file the caller can reach. Without one of them, a
# token holding only `drive.file` reaches through the Drive API just the files
# the app itself created (Google: "See, edit, create, and delete only the
# specific Google Drive files you use with this app" - files made by the app or
# opened with the Picker, not files a person shared with the account).
_AUTH = "https://www.googleapis.com/auth/"
WIDE_DRIVE_SCOPES = frozenset(_AUTH + s for s in (
    "drive", "drive.readonly", "drive.metadata", "drive.metadata.readonly"))
DRIVE_FILE_SCOPE = _AUTH + "drive.file"

# mimeType -> fn(db, file_id, call): make an empty Google-type file's content
CREATORS: dict[str, Callable[[sqlite3.Connection, str, Call], None]] = {}
# mimeType -> fn(db, source_id, new_id, call)
COPIERS: dict[str, Callable[[sqlite3.Connection, str, str, Call], None]] = {}
# (mimeType, export mimeType) -> fn(db, file_id) -> bytes
EXPORTERS: dict[tuple[str, str], Callable[[sqlite3.Connection, str], bytes]] = {}
# mimeType -> fn(db, file_id)
DELETERS: dict[str, Callable[[sqlite3.Connection, str], None]] = {}

DEFAULT_FIELDS = ("kind", "id", "name", "mimeType")
_WRITABLE = {"name", "mimeType", "parents", "description", "properties", "appProperties",
             "starred", "trashed", "originalFilename"}


def _user(principal: str) -> dict[str, Any]:
    return {"kind": "drive#user", "displayName": principal.split("@")[0],
            "emailAddress": principal, "me": False,
            "permissionId": permission_id(principal)}


def permission_id(email: str) -> str:
    """A user's permission id: the same on every file, as Google's is (digits)."""
    return str(int(hashlib.sha1(email.lower().encode()).hexdigest()[:15], 16))


def user_permission(email: str, role: str) -> dict[str, Any]:
    return {"kind": "drive#permission", "id": permission_id(email), "type": "user",
            "emailAddress": email, "role": role, "displayName": email.split("@")[0],
            "deleted": False, "pendingOwner": False}


# -- who may see and change a file -----------------------------------------------
# A file is reachable by its owner, by whoever it is shared with, and by whoever
# a folder above it is shared with (Drive's inherited permissions). Only callers
# holding a token the sandbox issued are restricted (Call.restricted).
ROLE_RANK = {"reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 3, "organizer": 4,
             "owner": 5}


def permissions_of(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The file's own permissions (files made before sharing existed: their owners)."""
    if "permissions" in meta:
        return meta["permissions"]
    return [user_permission(o["emailAddress"], "owner") for o in meta.get("owners", [])]


def role_for(db: sqlite3.Connection, meta: dict[str, Any], principal: str,
             listing: bool = False, _seen: frozenset[str] = frozenset()) -> str | None:
    """The highest role `principal` holds on the file, directly or through a
    folder above it. `listing`: only permissions that let the file be found by
    a search count (an `anyone` link with allowFileDiscovery false does not)."""
    who = principal.lower()
    domain = who.rpartition("@")[2]
    best = 0
    for perm in permissions_of(meta):
        kind = perm.get("type")
        if ((kind in ("user", "group") and str(perm.get("emailAddress", "")).lower() == who)
                or (kind == "domain" and str(perm.get("domain", "")).lower() == domain
                    and (not listing or perm.get("allowFileDiscovery")))
                or (kind == "anyone" and (not listing or perm.get("allowFileDiscovery")))):
            best = max(best, ROLE_RANK.get(perm.get("role", ""), 0))
    for parent in meta.get("parents") or []:
        if parent == "root" or parent in _seen or best >= ROLE_RANK["writer"]:
            continue
        above = get_meta(db, parent)
        if above is not None:
            inherited = role_for(db, above, principal, listing, _seen | {meta["id"]})
            # What a folder's owner or editor holds on its contents is edit access.
            best = max(best, min(ROLE_RANK.get(inherited or "", 0), ROLE_RANK["writer"]))
    return next((r for r, rank in ROLE_RANK.items() if rank == best), None) if best else None


def app_files_only(call: Call) -> bool:
    """Whether the caller's Drive calls reach only files its app created (drive.file)."""
    return (call.restricted and call.scopes is not None and DRIVE_FILE_SCOPE in call.scopes
            and not call.scopes & WIDE_DRIVE_SCOPES)


def _made_by_app(call: Call, file_id: str) -> bool:
    return call.db.execute("SELECT 1 FROM drive_app_files WHERE file_id = ? AND principal = ?",
                           (file_id, call.principal)).fetchone() is not None


def may_through_drive(call: Call, meta: dict[str, Any], role: str = "reader",
                      listing: bool = False) -> bool:
    """`may`, for a Drive API call: a drive.file token also needs the file to be its app's."""
    if app_files_only(call) and not _made_by_app(call, meta["id"]):
        return False
    return may(call, meta, role, listing)


def may(call: Call, meta: dict[str, Any], role: str = "reader", listing: bool = False) -> bool:
    """Whether the caller holds at least `role` on the file."""
    if not call.restricted:
        return True
    held = role_for(call.db, meta, call.principal, listing)
    return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]


def insufficient_permissions() -> GoogleError:
    return GoogleError(403, "The user does not have sufficient permissions for this file.",
                       reason="insufficientFilePermissions")


def require_access(call: Call, file_id: str, role: str = "reader") -> dict[str, Any]:
    """The file's metadata if the caller may act on it as `role`; else Drive's
    answer: 404 for a file the caller cannot see, 403 for one it may only read."""
    meta = get_meta(call.db, file_id)
    if meta is None or not may_through_drive(call, meta):
        raise file_not_found(file_id)
    if not may(call, meta, role):
        raise insufficient_permissions()
    return meta


def _check_parents(call: Call, parents: list[str] | None) -> None:
    """A new or moved file may go only into folders the caller can edit."""
    for parent in parents or []:
        if parent == "root":
            continue
        meta = get_meta(call.db, parent)
        if meta is None or not may_through_drive(call, meta):
            raise GoogleError(404, f"File not found: {parent}.", reason="notFound",
                              location="fileId")
        if not may(call, meta, "writer"):
            raise GoogleError(403, "Insufficient permissions for the specified parent.",
                              reason="insufficientParentPermissions")


def file_not_found(file_id: str) -> GoogleError:
    return GoogleError(404, f"File not found: {file_id}.", reason="notFound",
                       location="fileId")


def register_file(db: sqlite3.Connection, call: Call, *, file_id: str | None = None,
                  name: str, mime_type: str, parents: list[str] | None = None,
                  content: bytes | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create the Drive record of a new file; returns its metadata."""
    file_id = file_id or new_id(44)
    now = rfc3339(call.now)
    meta: dict[str, Any] = {
        "kind": "drive#file", "id": file_id, "name": name, "mimeType": mime_type,
        "parents": parents or ["root"], "trashed": False, "starred": False,
        "createdTime": now, "modifiedTime": now, "version": "1",
        "owners": [_user(call.principal)], "lastModifyingUser": _user(call.principal),
        "permissions": [user_permission(call.principal, "owner")], "shared": False,
        "webViewLink": f"https://docs.google.com/open?id={file_id}",
    }
    meta.update(extra or {})
    _set_content_meta(meta, content)
    db.execute("INSERT INTO drive_files(id, meta, content) VALUES (?, ?, ?)",
               (file_id, json.dumps(meta, ensure_ascii=False), content))
    # Made through an API by this caller: its app reaches it even with drive.file.
    db.execute("INSERT OR IGNORE INTO drive_app_files(file_id, principal) VALUES (?, ?)",
               (file_id, call.principal))
    return meta


def _set_content_meta(meta: dict[str, Any], content: bytes | None) -> None:
    if content is not None and not meta["mimeType"].startswith(GOOGLE_PREFIX):
        meta["size"] = str(len(content))
        meta["md5Checksum"] = hashlib.md5(content).hexdigest()


def get_meta(db: sqlite3.Connection, file_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT meta FROM drive_files WHERE id = ?", (file_id,)).fetchone()
    return json.loads(row[0]) if row else None


def require(db: sqlite3.Connection, file_id: str, mime_type: str | None = None) -> dict[str, Any]:
    meta = get_meta(db, file_id)
    if meta is None or (mime_type and meta["mimeType"] != mime_type):
        raise file_not_found(file_id)
    return meta


def _save(db: sqlite3.Connection, meta: dict[str, Any]) -> None:
    db.execute("UPDATE drive_files SET meta = ? WHERE id = ?",
               (json.dumps(meta, ensure_ascii=False), meta["id"]))


def touch(db: sqlite3.Connection, file_id: str, call: Call) -> dict[str, Any]:
    """Record a change of the file by the caller: new version, time and editor."""
    meta = get_meta(db, file_id)
    if meta is None:
        raise file_not_found(file_id)
    meta["version"] = str(int(meta["version"]) + 1)
    meta["modifiedTime"] = rfc3339(call.now)
    meta["lastModifyingUser"] = _user(call.principal)
    _save(db, meta)
    return meta


def capabilities(call: Call, meta: dict[str, Any]) -> dict[str, bool]:
    """What the caller may do with the file (Drive's `capabilities`, per caller)."""
    held = ROLE_RANK["owner"] if not call.restricted else \
        ROLE_RANK.get(role_for(call.db, meta, call.principal) or "", 0)
    edit, owner = held >= ROLE_RANK["writer"], held >= ROLE_RANK["owner"]
    folder = meta["mimeType"] == FOLDER
    return {"canEdit": edit, "canComment": held >= ROLE_RANK["commenter"], "canShare": edit,
            "canCopy": held > 0 and not folder, "canDownload": held > 0, "canRename": edit,
            "canTrash": owner, "canDelete": owner, "canAddChildren": edit and folder,
            "canListChildren": held > 0 and folder, "canModifyContent": edit,
            "canReadRevisions": edit, "canRemoveChildren": edit and folder}


def _shape(meta: dict[str, Any], call: Call) -> dict[str, Any]:
    if call.params.get("fields"):
        meta = {**meta, "ownedByMe": any(o["emailAddress"].lower() == call.principal.lower()
                                         for o in meta.get("owners", []))}
        if "capabilities" in call.params["fields"]:
            meta["capabilities"] = capabilities(call, meta)
        return meta
    return {k: meta[k] for k in DEFAULT_FIELDS if k in meta}


# -- the `q` language -------------------------------------------------------
# Drive also accepts double-quoted literals (gspread sends `name = "..."`).
_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>!=|<=|>=|=|<|>|\(|\)|\{|\})|(?P<word>[A-Za-z_][A-Za-z0-9_]*))""")


def _tokens(q: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = _TOKEN.match(q, pos)
        if not m:
            raise _bad_query(q)
        pos = m.end()
        if m.group("str") is not None:
            out.append(("str", re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        else:
            out.append(("word", m.group("word")))
    return out


def _bad_query(q: str) -> GoogleError:
    return GoogleError(400, "Invalid Value", reason="invalid", location="q")


def _compile(q: str) -> Callable[[dict[str, Any]], bool]:
    toks = _tokens(q)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def take(kind: str | None = None, value: str | None = None) -> str:
        nonlocal pos
        tok = peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1].lower() != value.lower()):
            raise _bad_query(q)
        pos += 1
        return tok[1]

    def expr() -> Callable[[dict[str, Any]], bool]:
        left = term()
        while peek() and peek()[0] == "word" and peek()[1].lower() in ("and", "or"):
            op = take().lower()
            right = term()
            left = (lambda a, b: lambda m: a(m) and b(m))(left, right) if op == "and" else \
                   (lambda a, b: lambda m: a(m) or b(m))(left, right)
        return left

    def term() -> Callable[[dict[str, Any]], bool]:
        tok = peek()
        if tok == ("op", "("):
            take()
            inner = expr()
            take("op", ")")
            return inner
        if tok and tok[0] == "word" and tok[1].lower() == "not":
            take()
            inner = term()
            return lambda m: not inner(m)
        if tok and tok[0] == "str":  # 'value' in parents / owners
            value = take()
            take("word", "in")
            field = take("word")
            if field == "parents":
                return lambda m: value in m.get("parents", [])
            if field == "owners":
                return lambda m: any(o["emailAddress"] == value for o in m.get("owners", []))
            raise _bad_query(q)
        field = take("word")
        if field in ("properties", "appProperties"):
            take("word", "has")
            take("op", "{")
            take("word", "key")
            take("op", "=")
            key = take("str")
            take("word", "and")
            take("word", "value")
            take("op", "=")
            val = take("str")
            take("op", "}")
            return lambda m: (m.get(field) or {}).get(key) == val
        op_tok = peek()
        if op_tok is None:
            raise _bad_query(q)
        op = take()
        if op.lower() == "contains":
            value = take("str")
            return lambda m: value.lower() in str(m.get(field, "")).lower()
        if op_tok[0] != "op":
            raise _bad_query(q)
        raw_value = peek()
        if raw_value is None:
            raise _bad_query(q)
        if raw_value[0] == "word" and raw_value[1].lower() in ("true", "false"):
            take()
            value: Any = raw_value[1].lower() == "true"
        else:
            value = take("str")
        if field in ("modifiedTime", "createdTime"):
            try:
                when = parse_rfc3339(value)
            except ValueError:
                raise _bad_query(q) from None
            return lambda m: _cmp(parse_rfc3339(m[field]), op, when)
        if field not in ("name", "mimeType", "trashed", "starred", "fullText"):
            raise _bad_query(q)
        return lambda m: _cmp(m.get(field), op, value)

    predicate = expr()
    if pos != len(toks):
        raise _bad_query(q)
    return predicate


def _cmp(a: Any, op: str, b: Any) -> bool:
    try:
        return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                ">=": a >= b}[op]
    except TypeError:
        return False


# -- handlers ---------------------------------------------------------------
def _apply_parents(meta: dict[str, Any], call: Call) -> None:
    add = [p for p in (call.params.get("addParents") or "").split(",") if p]
    remove = [p for p in (call.params.get("removeParents") or "").split(",") if p]
    parents = [p for p in meta.get("parents", []) if p not in remove]
    meta["parents"] = parents + [p for p in add if p not in parents]


@handles("drive.files.create")
def files_create(call: Call) -> dict[str, Any]:
    body = call.body or {}
    mime = body.get("mimeType") or call.media_type or "application/octet-stream"
    if mime.startswith(GOOGLE_PREFIX) and mime != FOLDER and mime not in CREATORS:
        raise GoogleError(400, f"The sandbox cannot create files of type {mime}.")
    name = body.get("name") or "Untitled"
    _check_parents(call, body.get("parents"))
    extra = {k: v for k, v in body.items() if k in _WRITABLE - {"name", "mimeType", "parents"}}
    meta = register_file(call.db, call, name=name, mime_type=mime, parents=body.get("parents"),
                         content=None if mime.startswith(GOOGLE_PREFIX) else (call.media or b""),
                         extra=extra)
    if mime in CREATORS:
        CREATORS[mime](call.db, meta["id"], call)
    return _shape(meta, call)


@handles("drive.files.get")
def files_get(call: Call) -> Any:
    meta = require_access(call, call.params["fileId"])
    if call.params.get("alt") == "media":
        if meta["mimeType"].startswith(GOOGLE_PREFIX):
            raise GoogleError(403, "Only files with binary content can be downloaded. Use Export "
                                   "with Docs Editors files.", reason="fileNotDownloadable",
                              location="alt")
        row = call.db.execute("SELECT content FROM drive_files WHERE id = ?", (meta["id"],)).fetchone()
        return Raw(bytes(row[0] or b""), meta["mimeType"])
    return _shape(meta, call)


@handles("drive.files.list")
def files_list(call: Call) -> dict[str, Any]:
    q = call.params.get("q")
    # Like Google, trashed files are listed unless the query says `trashed = false`.
    predicate = _compile(q) if q else (lambda m: True)
    rows = call.db.execute("SELECT meta FROM drive_files").fetchall()
    found = [m for m in (json.loads(r[0]) for r in rows)
             if predicate(m) and may_through_drive(call, m, listing=True)]
    order = call.params.get("orderBy") or "createdTime"
    for part in reversed([p.strip() for p in order.split(",") if p.strip()]):
        key, _, direction = part.partition(" ")
        found.sort(key=lambda m: str(m.get(key, "")).lower() if key == "name" else str(m.get(key, "")),
                   reverse=direction.lower() == "desc")
    size = min(max(int(call.params.get("pageSize") or 100), 1), 1000)
    token = call.params.get("pageToken")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise GoogleError(400, "Invalid Value", reason="invalid", location="pageToken") from None
    page = found[start:start + size]
    result: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False,
                              "files": [_shape(m, call) for m in page]}
    if start + size < len(found):
        result["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return result


@handles("drive.files.copy")
def files_copy(call: Call) -> dict[str, Any]:
    source = require_access(call, call.params["fileId"])
    body = call.body or {}
    parents = body.get("parents")
    if parents:
        _check_parents(call, parents)
    else:   # the copy goes beside its source where the caller may write, else to its root
        parents = [p for p in source.get("parents") or [] if p == "root" or (
            (folder := get_meta(call.db, p)) is not None
            and may_through_drive(call, folder, "writer"))] or ["root"]
    row = call.db.execute("SELECT content FROM drive_files WHERE id = ?", (source["id"],)).fetchone()
    extra = {k: v for k, v in source.items() if k in ("description", "properties", "appProperties")}
    extra.update({k: v for k, v in body.items() if k in _WRITABLE - {"name", "mimeType", "parents"}})
    meta = register_file(call.db, call, name=body.get("name") or f"Copy of {source['name']}",
                         mime_type=source["mimeType"], parents=parents,
                         content=row[0], extra=extra)
    if source["mimeType"] in COPIERS:
        COPIERS[source["mimeType"]](call.db, source["id"], meta["id"], call)
    return _shape(meta, call)


@handles("drive.files.update")
def files_update(call: Call) -> dict[str, Any]:
    meta = require_access(call, call.params["fileId"], "writer")
    _check_parents(call, [p for p in (call.params.get("addParents") or "").split(",") if p])
    if "trashed" in (call.body or {}) and not may(call, meta, "owner"):
        raise insufficient_permissions()   # in My Drive only the owner trashes a file
    body = call.body or {}
    if "mimeType" in body and body["mimeType"] != meta["mimeType"]:
        raise GoogleError(403, "The mimeType of a file cannot be changed.", reason="fieldNotWritable")
    for key, value in body.items():
        if key in ("properties", "appProperties"):
            merged = {**(meta.get(key) or {}), **value}
            meta[key] = {k: v for k, v in merged.items() if v is not None}
        elif key in _WRITABLE and key != "parents":
            meta[key] = value
        elif key not in _WRITABLE:
            raise GoogleError(403, f"The resource body includes fields which are not directly "
                                   f"writable: {key}", reason="fieldNotWritable")
    _apply_parents(meta, call)
    if call.media is not None:
        if meta["mimeType"].startswith(GOOGLE_PREFIX):
            raise GoogleError(400, "The sandbox does not convert uploads into Google files.")
        call.db.execute("UPDATE drive_files SET content = ? WHERE id = ?", (call.media, meta["id"]))
        _set_content_meta(meta, call.media)
    _save(call.db, meta)
    return _shape(touch(call.db, meta["id"], call), call)


@handles("drive.files.delete")
def files_delete(call: Call) -> Raw:
    # In My Drive only the owner deletes a file; an editor gets Drive's 403.
    meta = require_access(call, call.params["fileId"], "owner")
    call.db.execute("DELETE FROM drive_files WHERE id = ?", (meta["id"],))
    call.db.execute("DELETE FROM drive_app_files WHERE file_id = ?", (meta["id"],))
    if meta["mimeType"] in DELETERS:
        DELETERS[meta["mimeType"]](call.db, meta["id"])
    return Raw(b"", "text/html", status=204)   # Google answers 204 with no body


@handles("drive.files.export")
def files_export(call: Call) -> Raw:
    meta = require_access(call, call.params["fileId"])
    target = call.params["mimeType"]
    if not meta["mimeType"].startswith(GOOGLE_PREFIX) or meta["mimeType"] == FOLDER:
        raise GoogleError(403, "Export only supports Docs Editors files.",
                          reason="fileNotExportable")
    exporter = EXPORTERS.get((meta["mimeType"], target))
    if exporter is None:
        raise GoogleError(400, "The requested conversion is not supported.", reason="badRequest",
                          location="convertTo")
    return Raw(exporter(call.db, meta["id"]), target)
