"""Docs v1: documents.create / get / batchUpdate over the model in `docs_model`.

A document is a Drive file (`application/vnd.google-apps.document`): its name
is the document's title, and every batchUpdate touches the Drive record so
`modifiedTime`/`version`/`lastModifyingUser` move as in Google. The content is
one JSON model per document in `docs_documents`. A batch is all-or-nothing: a
refused request raises `GoogleError`, and the server rolls the transaction back.

Besides the body, a document may have headers and footers (`createHeader`,
`createFooter`, and the first-page header `useFirstPageHeaderFooter` brings):
segments whose indexes begin at 0, which text and paragraph requests reach
with `location.segmentId` / `range.segmentId`, and which documents.get shows
under `headers` / `footers` with their ids in `documentStyle`. Tables keep
what `updateTableCellStyle` and `updateTableColumnProperties` set. A page
number (an AutoText) only a person can insert, in the editor:
`add_page_number_header` does it for the seed and the tests.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import sqlite3
import time
from typing import Any, Callable

from ..errors import GoogleError, invalid_argument
from ..store import Store, new_id, register_schema
from . import Call, handles
from . import docs_model as m
from . import docs_export, docs_pdf, drive
from .docs_styles import CELL_STYLE, DOCUMENT_STYLE, NAMED_STYLES, nesting_levels

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
        text = ""
        for ch in run["text"] + "\0":   # "\0" flushes the last piece (it cannot be in a run)
            if ch not in m.SPECIAL and ch != "\0":
                text += ch
                continue
            if text:
                size = m.u16(text)
                elements.append({**_span(pos, pos + size), "textRun": {
                    "content": text, "textStyle": copy.deepcopy(run["style"])}})
                pos += size
                text = ""
            if ch == m.PAGE_BREAK:
                elements.append({**_span(pos, pos + 1),
                                 "pageBreak": {"textStyle": copy.deepcopy(run["style"])}})
                pos += 1
            elif ch in m.AUTO_TEXT:
                elements.append({**_span(pos, pos + 1), "autoText": {
                    "type": m.AUTO_TEXT[ch], "textStyle": copy.deepcopy(run["style"])}})
                pos += 1
    style = {"namedStyleType": "NORMAL_TEXT", "direction": "LEFT_TO_RIGHT",
             **copy.deepcopy(par["style"])}
    out: dict[str, Any] = {**_span(start, pos),
                           "paragraph": {"elements": elements, "paragraphStyle": style}}
    if par.get("bullet"):
        out["paragraph"]["bullet"] = copy.deepcopy(par["bullet"])
    return out


def cell_style(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's TableCellStyle as documents.get shows it."""
    return copy.deepcopy({**CELL_STYLE, **m.proto3(cell.get("style") or {})})


def column_properties(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's TableColumnProperties as documents.get shows them; a column
    nobody set is EVENLY_DISTRIBUTED."""
    _, columns = m.table_size(table)
    stored = table["table"].get("columns") or []
    out = []
    for i in range(columns):
        props = m.proto3(stored[i]) if i < len(stored) else {}
        out.append(copy.deepcopy({"widthType": "EVENLY_DISTRIBUTED", **props}))
    return out


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
                                  "tableCellStyle": cell_style(cell)})
                rows.append({**_span(row_start, p), "tableCells": cells,
                             "tableRowStyle": {"minRowHeight": {"unit": "PT"}}})
            _, columns = m.table_size(elem)
            out.append({**_span(pos, pos + size), "table": {
                "rows": len(rows), "columns": columns, "tableRows": rows,
                "tableStyle": {"tableColumnProperties": column_properties(elem)}}})
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
    # Headers and footers, keyed by id; "The indexes for a header's content begin at zero."
    for kind in ("headers", "footers"):
        if model.get(kind):
            id_key = "headerId" if kind == "headers" else "footerId"
            content[kind] = {seg_id: {id_key: seg_id, "content": render_content(seg["content"], 0)}
                             for seg_id, seg in model[kind].items()}
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


def _segment(model: dict[str, Any], segment_id: str | None) -> dict[str, Any]:
    """The segment a Location or Range names: the body when `segmentId` is empty
    ("An empty segment ID signifies the document's body"), else one of the
    document's headers or footers, whose indexes begin at zero."""
    if not segment_id:
        return model
    for kind in ("headers", "footers"):
        found = (model.get(kind) or {}).get(segment_id)
        if found is not None:
            return m.segment(found["content"], kind[:-1])
    raise m.Refused(f"The segment with ID {segment_id} was not found.")


def _tab(place: dict[str, Any]) -> None:
    if place.get("tabId") not in (None, "", "t.0"):
        raise m.Refused(f"The tab with ID {place['tabId']} was not found.")


def _where(model: dict[str, Any], req: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The segment and index a request with `location` or `endOfSegmentLocation`
    points at ("immediately before the last newline in the document segment")."""
    location, at_end = req.get("location"), req.get("endOfSegmentLocation")
    if (location is None) == (at_end is None):
        raise m.Refused("Exactly one of location or endOfSegmentLocation must be set.")
    place = location if location is not None else at_end
    _tab(place)
    seg = _segment(model, place.get("segmentId"))
    return seg, location.get("index", 0) if location is not None else m.body_end(seg) - 1


def _range(model: dict[str, Any], req: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    rng = req.get("range") or {}
    _tab(rng)
    return _segment(model, rng.get("segmentId")), rng.get("startIndex", 0), rng.get("endIndex", 0)


def _segments(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The body, then every header and footer."""
    return [model] + [m.segment(seg["content"], kind[:-1]) for kind in ("headers", "footers")
                      for seg in (model.get(kind) or {}).values()]


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
    m.insert_text(*_where(model, req), req.get("text", ""))
    return {}


def _delete(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.delete_range(*_range(model, req))
    return {}


def _replace_all(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    """Every match in the body, the headers and the footers (the placeholders of
    a letterhead are replaced too)."""
    crit = req.get("containsText") or {}
    n = sum(m.replace_all_text(seg, crit.get("text", ""), req.get("replaceText", ""),
                               bool(crit.get("matchCase")), bool(crit.get("searchByRegex")))
            for seg in _segments(model))
    return {"replaceAllText": {"occurrencesChanged": n} if n else {}}


def _text_style_req(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    names = _mask(req.get("fields"), _TEXT_FIELDS)
    m.update_text_style(*_range(model, req), _text_style(req.get("textStyle") or {}), names)
    return {}


def _paragraph_style_req(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    names = _mask(req.get("fields"), _PARAGRAPH_FIELDS)
    m.update_paragraph_style(*_range(model, req), m.proto3(req.get("paragraphStyle") or {}), names)
    return {}


def _bullets(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    preset = req.get("bulletPreset") or "BULLET_DISC_CIRCLE_SQUARE"
    if preset == "BULLET_GLYPH_PRESET_UNSPECIFIED":
        raise m.Refused("bulletPreset must be specified.")
    list_id = "kix." + new_id(12, "abcdefghijklmnopqrstuvwxyz0123456789")
    m.create_bullets(*_range(model, req), list_id)
    model["lists"][list_id] = {"listProperties": {"nestingLevels": nesting_levels(preset)}}
    return {}


def _delete_bullets(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.delete_bullets(*_range(model, req))
    return {}


def _table(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.insert_table(*_where(model, req), req.get("rows", 0), req.get("columns", 0))
    return {}


def _page_break(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    m.insert_page_break(*_where(model, req))
    return {}


def _segment_id() -> str:
    """A header's or footer's id as Google makes them ("kix." and 12 letters or digits)."""
    return "kix." + new_id(12, "abcdefghijklmnopqrstuvwxyz0123456789")


def new_segment(model: dict[str, Any], kind: str, style_key: str) -> str:
    """A new header or footer (kind "headers"/"footers") holding one empty
    paragraph, named in the document style under `style_key`; its id."""
    seg_id = _segment_id()
    model.setdefault(kind, {})[seg_id] = {"content": [m.new_paragraph()]}
    model["documentStyle"][style_key] = seg_id
    return seg_id


def _document_style(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    """UpdateDocumentStyleRequest. Turning `useFirstPageHeaderFooter` on gives the
    document a first-page header, empty, when it has none: CreateHeaderRequest
    offers only the DEFAULT type, and the way to a first-page header is to turn
    this on and read `documentStyle.firstPageHeaderId` back (as in
    gist.github.com/tanaikech/d430543089cc687e5d9c2bc96d3178ff)."""
    names = _mask(req.get("fields"), _DOCUMENT_FIELDS)
    new = m.proto3(req.get("documentStyle") or {})
    size = new.get("pageSize")
    if size is not None and any((size.get(k) or {}).get("magnitude", 0) <= 0
                                for k in ("width", "height")):
        raise m.Refused("The page size must be positive.")
    # only what differs from Google's defaults is stored; a cleared field is the default again
    model["documentStyle"] = m.apply_mask(model["documentStyle"], new, names)
    if model["documentStyle"].get("useFirstPageHeaderFooter") and \
            not model["documentStyle"].get("firstPageHeaderId"):
        new_segment(model, "headers", "firstPageHeaderId")
    return {}


def _create_segment(kind: str, model: dict[str, Any], req: dict[str, Any]) -> str:
    """CreateHeaderRequest / CreateFooterRequest: `type` DEFAULT (the only one the
    API offers), applied to the DocumentStyle when `sectionBreakLocation` is unset
    or is the first section break (index 0, the only one a sandbox document has);
    a header of that type already there is a 400 ("If a header of the specified
    type already exists, a 400 bad request error is returned")."""
    word = kind[:-1]
    if req.get("type") != "DEFAULT":
        raise m.Refused(f"The {word} type must be DEFAULT.")
    location = req.get("sectionBreakLocation")
    if location is not None:
        _tab(location)
        if location.get("segmentId") or location.get("index", 0) != 0:
            raise m.Refused(f"The section break location with index {location.get('index', 0)} "
                            f"is not the start of a section.")
    key = "defaultHeaderId" if kind == "headers" else "defaultFooterId"
    if model["documentStyle"].get(key):
        raise m.Refused(f"A default {word} already exists.")
    return new_segment(model, kind, key)


def _create_header(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    return {"createHeader": {"headerId": _create_segment("headers", model, req)}}


def _create_footer(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    return {"createFooter": {"footerId": _create_segment("footers", model, req)}}


_CELL_FIELDS = {"backgroundColor", "borderBottom", "borderLeft", "borderRight", "borderTop",
                "contentAlignment", "paddingBottom", "paddingLeft", "paddingRight", "paddingTop"}
_COLUMN_FIELDS = {"width", "widthType"}
_ALIGNMENTS = {"TOP", "MIDDLE", "BOTTOM"}


class _Oneof(Exception):
    """Two fields of one union set in request i: the protobuf JSON parser's 400,
    worded as for writeControl (`check_write_control`); `str()` has "{i}" to fill."""


def _oneof(req: dict[str, Any], union: str, names: tuple[str, ...], kind: str) -> str:
    """The one field of a union that is set; two set is the JSON parser's oneof
    error, none set is refused."""
    given = [name for name in names if req.get(name) is not None]
    if len(given) > 1:
        raise _Oneof(f"Invalid value at 'requests[{{i}}].{kind}' (oneof), oneof field "
                     f"'{union}' is already set. Cannot set '{given[1]}'")
    if not given:
        raise m.Refused(f"One of {' or '.join(names)} must be set.")
    return given[0]


def _table_at(model: dict[str, Any], location: dict[str, Any] | None) -> dict[str, Any]:
    """The table a `tableStartLocation` names (in the body or a header/footer)."""
    location = location or {}
    _tab(location)
    return m.find_table(_segment(model, location.get("segmentId")), location.get("index", 0))


def _cell_style_req(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    """UpdateTableCellStyleRequest (developers.google.com/docs/api/reference/rest/v1/
    documents/request#updatetablecellstylerequest): the cells are the whole table
    (`tableStartLocation`) or a `tableRange` (a cell location, rowSpan, columnSpan);
    `fields` masks `tableCellStyle`. "Table cell borders cannot be transparent. To
    hide a table cell border, make its width 0." (TableCellBorder): a border set
    without a colour is refused. A border shared with a neighbouring cell changes
    on both sides, in the order right, left, bottom, top."""
    names = _mask(req.get("fields"), _CELL_FIELDS)
    which = _oneof(req, "cells", ("tableRange", "tableStartLocation"), "update_table_cell_style")
    if which == "tableStartLocation":
        table = _table_at(model, req["tableStartLocation"])
        rows, columns = m.table_size(table)
        cells = [(r, c) for r in range(rows) for c in range(len(table["table"]["rows"][r]))]
    else:
        rng = req["tableRange"]
        where = rng.get("tableCellLocation") or {}
        table = _table_at(model, where.get("tableStartLocation"))
        rows, columns = m.table_size(table)
        r0, c0 = where.get("rowIndex", 0), where.get("columnIndex", 0)
        row_span, column_span = rng.get("rowSpan", 0), rng.get("columnSpan", 0)
        if row_span < 1 or column_span < 1:
            raise m.Refused("The table range must span at least one row and one column.")
        if r0 < 0 or c0 < 0 or r0 + row_span > rows or c0 + column_span > columns:
            raise m.Refused(f"The table range (row {r0}, column {c0}, {row_span} x "
                            f"{column_span}) is outside the table of {rows} rows and "
                            f"{columns} columns.")
        cells = [(r, c) for r in range(r0, r0 + row_span) for c in range(c0, c0 + column_span)]
    style = copy.deepcopy(req.get("tableCellStyle") or {})
    for name in m.BORDERS:
        if name in names and name in style:
            border = style[name]
            if not (border.get("color") or {}).get("color"):
                raise m.Refused(f"The {name} color cannot be transparent. To hide a table "
                                f"cell border, set its width to 0.")
            border.setdefault("dashStyle", "SOLID")
            border.setdefault("width", {"unit": "PT"})
    alignment = style.get("contentAlignment")
    if "contentAlignment" in names and alignment is not None and alignment not in _ALIGNMENTS:
        raise m.Refused(f"Invalid contentAlignment: {alignment}.")
    m.update_cell_style(table, cells, m.proto3(style), names)
    return {}


def _column_req(model: dict[str, Any], req: dict[str, Any], call: Call) -> dict[str, Any]:
    """UpdateTableColumnPropertiesRequest: `columnIndices` (all columns when
    empty), `tableColumnProperties` masked by `fields`. "If the value of
    table_column_properties#width is less than 5 points (5/72 inch), a 400 bad
    request error is returned." """
    names = _mask(req.get("fields"), _COLUMN_FIELDS)
    table = _table_at(model, req.get("tableStartLocation"))
    _, columns = m.table_size(table)
    indices = list(req.get("columnIndices") or [])
    for index in indices:
        if not 0 <= index < columns:
            raise m.Refused(f"Column index {index} is out of bounds: the table has "
                            f"{columns} columns.")
    props = copy.deepcopy(req.get("tableColumnProperties") or {})
    if props.get("widthType") == "WIDTH_TYPE_UNSPECIFIED" and "widthType" in names:
        raise m.Refused("widthType must be FIXED_WIDTH or EVENLY_DISTRIBUTED.")
    if "width" in names and (props.get("width") or {}).get("magnitude", 0) < 5:
        raise m.Refused("The column width must be at least 5 points.")
    m.update_columns(table, indices, m.proto3(props), names)
    return {}


OPERATIONS: dict[str, Callable[[dict[str, Any], dict[str, Any], Call], dict[str, Any]]] = {
    "insertText": _insert_text, "deleteContentRange": _delete, "replaceAllText": _replace_all,
    "updateTextStyle": _text_style_req, "updateParagraphStyle": _paragraph_style_req,
    "createParagraphBullets": _bullets, "deleteParagraphBullets": _delete_bullets,
    "insertTable": _table, "insertPageBreak": _page_break,
    "updateDocumentStyle": _document_style,
    "createHeader": _create_header, "createFooter": _create_footer,
    "updateTableCellStyle": _cell_style_req, "updateTableColumnProperties": _column_req,
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
        except _Oneof as parse_error:
            raise invalid_argument(str(parse_error).format(i=i)) from None
    # Every write is a new revision, and a change of the Drive file by the caller:
    # version, modifiedTime and lastModifyingUser move whoever the editor is.
    model["rev"] += 1
    save(call.db, doc_id, model)
    drive.touch(call.db, doc_id, call)
    return {"documentId": doc_id, "replies": replies,
            "writeControl": {"requiredRevisionId": revision_id(doc_id, model["rev"])}}


# -- what only the Docs editor can do ---------------------------------------------
def add_page_number_header(store_or_db: Store | sqlite3.Connection, doc_id: str,
                           first_page_different: bool = True,
                           text_style: dict[str, Any] | None = None) -> str:
    """Give a document page numbers in its header, as a person does in the Docs
    editor (Insert > Page numbers): the Docs API cannot insert an AutoText. The
    DEFAULT header (made if missing) becomes one centred paragraph holding an
    `autoText` of type PAGE_NUMBER (`text_style` its TextStyle, {} inheriting the
    header's); with `first_page_different`, `useFirstPageHeaderFooter` is on and
    the first page has its own header, empty, so numbers show from page 2 (Decree
    30/2020: no number on the first page). Returns the default header's id.
    The document gets a new revision, and its Drive file is touched by its owner."""
    if isinstance(store_or_db, sqlite3.Connection):
        return _add_page_number_header(store_or_db, store_or_db, doc_id, first_page_different,
                                       text_style)
    with store_or_db.transaction() as db:
        return _add_page_number_header(db, store_or_db, doc_id, first_page_different,
                                       text_style)


def _add_page_number_header(db: sqlite3.Connection, store: Any, doc_id: str,
                            first_page_different: bool,
                            text_style: dict[str, Any] | None) -> str:
    meta = drive.get_meta(db, doc_id)
    if meta is None or meta["mimeType"] != MIME:
        raise ValueError(f"no Google Doc with id {doc_id!r}")
    model = load(db, doc_id)
    style = model["documentStyle"]
    header_id = style.get("defaultHeaderId")
    if not header_id or header_id not in (model.get("headers") or {}):
        header_id = new_segment(model, "headers", "defaultHeaderId")
    run_style = _text_style(text_style or {})
    model["headers"][header_id]["content"] = [{
        "runs": [{"text": m.PAGE_NUMBER, "style": run_style}, {"text": "\n", "style": run_style}],
        "style": {"alignment": "CENTER"}}]
    if first_page_different:
        style["useFirstPageHeaderFooter"] = True
        if not style.get("firstPageHeaderId") or \
                style["firstPageHeaderId"] not in model["headers"]:
            new_segment(model, "headers", "firstPageHeaderId")
    else:
        style.pop("useFirstPageHeaderFooter", None)
    model["rev"] += 1
    save(db, doc_id, model)
    owner = ((meta.get("owners") or [{}])[0]).get("emailAddress") or "owner@docs.sandbox"
    call = Call(db=db, store=store, method_id="docs.editor", params={}, body=None,
                principal=owner, settings={}, now=time.time())
    drive.touch(db, doc_id, call)
    return header_id


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
