"""Docs v1: documents.create / get / batchUpdate over the model in `docs_model`.

A document is a Drive file (`application/vnd.google-apps.document`): its name
is the document's title, and every batchUpdate touches the Drive record so
`modifiedTime`/`version`/`lastModifyingUser` move as in Google. The content is
one JSON model per document in `docs_documents`. A batch is all-or-nothing: a
refused request raises `GoogleError`, and the server rolls the transaction back.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import sqlite3
from typing import Any, Callable

from ..errors import GoogleError, invalid_argument
from ..store import new_id, register_schema
from . import Call, handles
from . import docs_model as m
from . import docs_export, docs_pdf, drive
from .docs_styles import DOCUMENT_STYLE, NAMED_STYLES, nesting_levels

MIME = "application/vnd.google-apps.document"

register_schema("""
CREATE TABLE IF NOT EXISTS docs_documents (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL
);
""")


def not_found() -> GoogleError:
    return GoogleError(404, "Requested entity was not found.", reason="notFound")


def load(db: sqlite3.Connection, doc_id: str) -> dict[str, Any]:
    row = db.execute("SELECT model FROM docs_documents WHERE id = ?", (doc_id,)).fetchone()
    if row is None:
        raise not_found()
    return json.loads(row[0])


def save(db: sqlite3.Connection, doc_id: str, model: dict[str, Any]) -> None:
    db.execute("INSERT INTO docs_documents(id, model) VALUES (?, ?) ON CONFLICT(id) DO UPDATE "
               "SET model = excluded.model", (doc_id, json.dumps(model, ensure_ascii=False)))


def revision_id(doc_id: str, rev: int) -> str:
    """An opaque revision id that changes with every committed batchUpdate."""
    digest = hashlib.sha256(f"{doc_id}:{rev}".encode()).digest()
    return "AL" + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:40]


_CONTROLS = ("requiredRevisionId", "targetRevisionId")


def check_write_control(doc_id: str, model: dict[str, Any], control: dict[str, Any] | None) -> None:
    """Refuse a batchUpdate whose writeControl Google would refuse.

    WriteControl (developers.google.com/docs/api/reference/rest/v1/documents/batchUpdate#writecontrol)
    holds a union field `control`: requiredRevisionId or targetRevisionId, not both;
    setting both is the protobuf JSON parser's 400 for any oneof.
    - requiredRevisionId that is not the latest revision: "the request is not processed
      and returns a 400 bad request error"; the message and FAILED_PRECONDITION status
      are those Google answers ("The required revision ID '...' does not match the
      latest revision.").
    - targetRevisionId: Google applies the write to that revision and merges the
      collaborator changes made since. The sandbox has no concurrent collaborators
      (every write is serialised), so a revision this document had is applied to the
      current content; an id it never had is refused with a 400, as Google refuses a
      target "too far behind the latest revision" (its wording is not documented).
    - writeMode SUGGEST (suggestions) is not modelled: refused as not implemented
      rather than silently applied as edits.
    """
    control = control or {}
    given = [key for key in control if key in _CONTROLS and control[key] is not None]
    if len(given) > 1:
        raise invalid_argument(f"Invalid value at 'write_control' (oneof), oneof field 'control' "
                               f"is already set. Cannot set '{given[1]}'")
    current = revision_id(doc_id, model["rev"])
    required = control.get("requiredRevisionId")
    if required and required != current:
        raise GoogleError(400, f"The required revision ID '{required}' does not match the latest "
                               "revision.", status="FAILED_PRECONDITION",
                          reason="failedPrecondition")
    target = control.get("targetRevisionId")
    if target and target not in {revision_id(doc_id, rev) for rev in range(1, model["rev"] + 1)}:
        raise invalid_argument(f"The target revision ID '{target}' is not a recent revision of "
                               "this document. Read the document again and use its revisionId.")
    if control.get("writeMode") == "SUGGEST":
        raise GoogleError(501, "writeControl.writeMode SUGGEST is not implemented by the sandbox.",
                          status="UNIMPLEMENTED", reason="notImplemented")


# -- Drive hooks ---------------------------------------------------------------
def _create_empty(db: sqlite3.Connection, file_id: str, call: Call) -> None:
    save(db, file_id, m.new_document())


def _copy(db: sqlite3.Connection, source_id: str, new_file_id: str, call: Call) -> None:
    model = load(db, source_id)
    model["rev"] = 1
    save(db, new_file_id, model)


def _delete(db: sqlite3.Connection, file_id: str) -> None:
    db.execute("DELETE FROM docs_documents WHERE id = ?", (file_id,))


drive.CREATORS[MIME] = _create_empty
drive.COPIERS[MIME] = _copy
drive.DELETERS[MIME] = _delete


# -- rendering as documents.get answers -----------------------------------------
def _span(start: int, end: int) -> dict[str, int]:
    # proto3 leaves zero values out: the section break has no startIndex
    return {"startIndex": start, "endIndex": end} if start else {"endIndex": end}


def _render_paragraph(par: dict[str, Any], start: int) -> dict[str, Any]:
    elements, pos = [], start
    for run in par["runs"]:
        pieces = run["text"].split(m.PAGE_BREAK)
        for n, piece in enumerate(pieces):
            if n:
                elements.append({**_span(pos, pos + 1),
                                 "pageBreak": {"textStyle": copy.deepcopy(run["style"])}})
                pos += 1
            if piece:
                size = m.u16(piece)
                elements.append({**_span(pos, pos + size), "textRun": {
                    "content": piece, "textStyle": copy.deepcopy(run["style"])}})
                pos += size
    style = {"namedStyleType": "NORMAL_TEXT", "direction": "LEFT_TO_RIGHT",
             **copy.deepcopy(par["style"])}
    out: dict[str, Any] = {**_span(start, pos),
                           "paragraph": {"elements": elements, "paragraphStyle": style}}
    if par.get("bullet"):
        out["paragraph"]["bullet"] = copy.deepcopy(par["bullet"])
    return out


_CELL_STYLE = {"rowSpan": 1, "columnSpan": 1, "backgroundColor": {},
               "paddingLeft": {"magnitude": 5, "unit": "PT"},
               "paddingRight": {"magnitude": 5, "unit": "PT"},
               "paddingTop": {"magnitude": 5, "unit": "PT"},
               "paddingBottom": {"magnitude": 5, "unit": "PT"}, "contentAlignment": "TOP"}


def render_content(content: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
    out, pos = [], start
    for elem in content:
        size = m.elem_len(elem)
        if "runs" in elem:
            out.append(_render_paragraph(elem, pos))
        else:
            rows, p = [], pos + 1
            for row in elem["table"]["rows"]:
                row_start, p = p, p + 1
                cells = []
                for cell in row:
                    cell_start, p = p, p + 1
                    inner = render_content(cell["content"], p)
                    p += m.content_len(cell["content"])
                    cells.append({**_span(cell_start, p), "content": inner,
                                  "tableCellStyle": copy.deepcopy(_CELL_STYLE)})
                rows.append({**_span(row_start, p), "tableCells": cells,
                             "tableRowStyle": {"minRowHeight": {"unit": "PT"}}})
            columns = len(elem["table"]["rows"][0])
            out.append({**_span(pos, pos + size), "table": {
                "rows": len(rows), "columns": columns, "tableRows": rows,
                "tableStyle": {"tableColumnProperties": [{"widthType": "EVENLY_DISTRIBUTED"}
                                                         for _ in range(columns)]}}})
        pos += size
    return out


def document_style(model: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(DOCUMENT_STYLE), **copy.deepcopy(model["documentStyle"])}


def render(doc_id: str, title: str, model: dict[str, Any], tabs: bool = False) -> dict[str, Any]:
    """The Document resource exactly as documents.get returns it."""
    section = {"endIndex": 1, "sectionBreak": {"sectionStyle": {
        "columnSeparatorStyle": "NONE", "contentDirection": "LEFT_TO_RIGHT",
        "sectionType": "CONTINUOUS"}}}
    content = {
        "body": {"content": [section] + render_content(model["body"], 1)},
        "documentStyle": document_style(model),
        "namedStyles": copy.deepcopy(NAMED_STYLES),
    }
    if model["lists"]:
        content["lists"] = copy.deepcopy(model["lists"])
    doc: dict[str, Any] = {"documentId": doc_id, "title": title}
    if tabs:
        doc["tabs"] = [{"tabProperties": {"tabId": "t.0", "title": "Tab 1", "index": 0},
                        "documentTab": content}]
    else:
        doc.update(content)
    doc["revisionId"] = revision_id(doc_id, model["rev"])
    doc["suggestionsViewMode"] = "SUGGESTIONS_INLINE"
    return doc


# -- handlers ------------------------------------------------------------------
@handles("docs.documents.create")
def documents_create(call: Call) -> dict[str, Any]:
    title = (call.body or {}).get("title") or "Untitled document"   # all else is ignored
    doc_id = new_id(44)
    drive.register_file(call.db, call, file_id=doc_id, name=title, mime_type=MIME)
    model = m.new_document()
    save(call.db, doc_id, model)
    return render(doc_id, title, model)


def _meta(db: sqlite3.Connection, doc_id: str) -> dict[str, Any]:
    meta = drive.get_meta(db, doc_id)
    if meta is None or meta["mimeType"] != MIME:
        raise not_found()
    return meta


@handles("docs.documents.get")
def documents_get(call: Call) -> dict[str, Any]:
    doc_id = call.params["documentId"]
    meta = _meta(call.db, doc_id)
    return render(doc_id, meta["name"], load(call.db, doc_id),
                  tabs=bool(call.params.get("includeTabsContent")))


def _mask(value: Any, allowed: set[str]) -> list[str]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    if not names:
        raise m.Refused("At least one field must be listed in 'fields'. "
                        "(Use '*' to indicate all fields.)")
    if names == ["*"]:
        return sorted(allowed)
    tops = []
    for name in names:
        top = name.split(".", 1)[0]
        if top not in allowed:
            raise m.Refused(f"Invalid field: {name}")
        tops.append(top)
    return tops


def _where(model: dict[str, Any], req: dict[str, Any]) -> int:
    """The index a request with `location` or `endOfSegmentLocation` points at."""
    location, at_end = req.get("location"), req.get("endOfSegmentLocation")
    if (location is None) == (at_end is None):
        raise m.Refused("Exactly one of location or endOfSegmentLocation must be set.")
    place = location if location is not None else at_end
    if place.get("segmentId"):
        raise m.Refused(f"The segment with ID {place['segmentId']} was not found.")
    if place.get("tabId") not in (None, "", "t.0"):
        raise m.Refused(f"The tab with ID {place['tabId']} was not found.")
    return location.get("index", 0) if location is not None else m.body_end(model) - 1


def _range(req: dict[str, Any]) -> tuple[int, int]:
    rng = req.get("range") or {}
    if rng.get("segmentId"):
        raise m.Refused(f"The segment with ID {rng['segmentId']} was not found.")
    if rng.get("tabId") not in (None, "", "t.0"):
        raise m.Refused(f"The tab with ID {rng['tabId']} was not found.")
    return rng.get("startIndex", 0), rng.get("endIndex", 0)


_TEXT_FIELDS = {"backgroundColor", "baselineOffset", "bold", "fontSize", "foregroundColor",
                "italic", "link", "smallCaps", "strikethrough", "underline", "weightedFontFamily"}
_PARAGRAPH_FIELDS = {"alignment", "avoidWidowAndOrphan", "borderBetween", "borderBottom",
                     "borderLeft", "borderRight", "borderTop", "direction", "indentEnd",
                     "indentFirstLine", "indentStart", "keepLinesTogether", "keepWithNext",
                     "lineSpacing", "namedStyleType", "pageBreakBefore", "shading",
                     "spaceAbove", "spaceBelow", "spacingMode", "tabStops"}
_DOCUMENT_FIELDS = {"background", "marginBottom", "marginFooter", "marginHeader", "marginLeft",
                    "marginRight", "marginTop", "pageNumberStart", "pageSize",
                    "useCustomHeaderFooterMargins", "useEvenPageHeaderFooter",
                    "useFirstPageHeaderFooter", "flipPageOrientation", "documentFormat"}


def _text_style(style: dict[str, Any]) -> dict[str, Any]:
    style = copy.deepcopy(style)
    family = style.get("weightedFontFamily")
    if family is not None:
        if not family.get("fontFamily"):
            raise m.Refused("weightedFontFamily.fontFamily must not be empty.")
        family.setdefault("weight", 400)
    return style


def _insert_text(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.insert_text(model, _where(model, req), req.get("text", ""))
    return {}


def _delete(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.delete_range(model, *_range(req))
    return {}


def _replace_all(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    crit = req.get("containsText") or {}
    n = m.replace_all_text(model, crit.get("text", ""), req.get("replaceText", ""),
                           bool(crit.get("matchCase")), bool(crit.get("searchByRegex")))
    return {"replaceAllText": {"occurrencesChanged": n} if n else {}}


def _text_style_req(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    names = _mask(req.get("fields"), _TEXT_FIELDS)
    m.update_text_style(model, *_range(req), _text_style(req.get("textStyle") or {}), names)
    return {}


def _paragraph_style_req(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    names = _mask(req.get("fields"), _PARAGRAPH_FIELDS)
    m.update_paragraph_style(model, *_range(req), req.get("paragraphStyle") or {}, names)
    return {}


def _bullets(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    preset = req.get("bulletPreset") or "BULLET_DISC_CIRCLE_SQUARE"
    if preset == "BULLET_GLYPH_PRESET_UNSPECIFIED":
        raise m.Refused("bulletPreset must be specified.")
    list_id = "kix." + new_id(12, "abcdefghijklmnopqrstuvwxyz0123456789")
    m.create_bullets(model, *_range(req), list_id)
    model["lists"][list_id] = {"listProperties": {"nestingLevels": nesting_levels(preset)}}
    return {}


def _delete_bullets(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.delete_bullets(model, *_range(req))
    return {}


def _table(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.insert_table(model, _where(model, req), req.get("rows", 0), req.get("columns", 0))
    return {}


def _page_break(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.insert_page_break(model, _where(model, req))
    return {}


def _document_style(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    names = _mask(req.get("fields"), _DOCUMENT_FIELDS)
    new = copy.deepcopy(req.get("documentStyle") or {})
    size = new.get("pageSize")
    if size is not None and any((size.get(k) or {}).get("magnitude", 0) <= 0
                                for k in ("width", "height")):
        raise m.Refused("The page size must be positive.")
    # only what differs from Google's defaults is stored; a cleared field is the default again
    model["documentStyle"] = m.apply_mask(model["documentStyle"], new, names)
    return {}


OPERATIONS: dict[str, Callable[[dict[str, Any], dict[str, Any], Call], dict[str, Any]]] = {
    "insertText": _insert_text, "deleteContentRange": _delete, "replaceAllText": _replace_all,
    "updateTextStyle": _text_style_req, "updateParagraphStyle": _paragraph_style_req,
    "createParagraphBullets": _bullets, "deleteParagraphBullets": _delete_bullets,
    "insertTable": _table, "insertPageBreak": _page_break,
    "updateDocumentStyle": _document_style,
}


@handles("docs.documents.batchUpdate")
def documents_batch_update(call: Call) -> dict[str, Any]:
    doc_id = call.params["documentId"]
    _meta(call.db, doc_id)
    model = load(call.db, doc_id)
    body = call.body or {}
    check_write_control(doc_id, model, body.get("writeControl"))
    replies = []
    for i, request in enumerate(body.get("requests") or []):
        kinds = list(request)
        if len(kinds) != 1:
            raise invalid_argument(f"Invalid requests[{i}]: exactly one kind of request must "
                                   f"be set, found {len(kinds)}.")
        kind = kinds[0]
        operation = OPERATIONS.get(kind)
        if operation is None:
            raise GoogleError(501, f"requests[{i}].{kind} is not implemented by the sandbox.",
                              status="UNIMPLEMENTED", reason="notImplemented")
        try:
            replies.append(operation(model, request[kind] or {}, call))
        except m.Refused as refusal:
            raise invalid_argument(f"Invalid requests[{i}].{kind}: {refusal}") from None
    # Every write is a new revision, and a change of the Drive file by the caller:
    # version, modifiedTime and lastModifyingUser move whoever the editor is.
    model["rev"] += 1
    save(call.db, doc_id, model)
    drive.touch(call.db, doc_id, call)
    return {"documentId": doc_id, "replies": replies,
            "writeControl": {"requiredRevisionId": revision_id(doc_id, model["rev"])}}


# -- Drive exports -----------------------------------------------------------------
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _export_docx(db: sqlite3.Connection, file_id: str) -> bytes:
    return docs_export.to_docx(load(db, file_id), _meta(db, file_id)["name"])


def _export_text(db: sqlite3.Connection, file_id: str) -> bytes:
    return docs_export.to_text(load(db, file_id))


drive.EXPORTERS[(MIME, DOCX)] = _export_docx
drive.EXPORTERS[(MIME, "text/plain")] = _export_text
drive.EXPORTERS[(MIME, "application/pdf")] = lambda db, file_id: docs_pdf.to_pdf(
    load(db, file_id), _meta(db, file_id)["name"])
