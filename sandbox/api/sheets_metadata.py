"""Sheets v4 developer metadata: create/delete requests, search and get.

Metadata anchored to rows or columns moves with them when dimensions are
inserted or deleted (see `sheets_requests._move_spans`) and disappears with
them, so a row tagged `formResponseId=...` can be found again after staff
sort, insert or delete rows. Search supports `developerMetadataLookup`
filters (metadataId, metadataKey, metadataValue, visibility, locationType,
metadataLocation with EXACT or INTERSECTING matching).
"""
from __future__ import annotations

import copy
import random
from typing import Any

from ..errors import GoogleError
from . import Call, handles
from .sheets_model import Book, load, location_sheet
from .sheets_requests import REQUESTS, Refusal, dimension_range, require_tab


def _location(book: Book, loc: dict[str, Any]) -> dict[str, Any]:
    if loc.get("spreadsheet"):
        return {"locationType": "SPREADSHEET", "spreadsheet": True}
    if "sheetId" in loc:
        require_tab(book, loc["sheetId"])
        return {"locationType": "SHEET", "sheetId": loc["sheetId"]}
    if "dimensionRange" in loc:
        tab, dim, start, end = dimension_range(book, loc["dimensionRange"])
        limit = tab.row_count if dim == "ROWS" else tab.col_count
        if not 0 <= start < end <= limit:
            raise Refusal(f"Invalid dimension range: startIndex {start}, endIndex {end}.")
        return {"locationType": "ROW" if dim == "ROWS" else "COLUMN",
                "dimensionRange": {"sheetId": tab.sheet_id, "dimension": dim,
                                   "startIndex": start, "endIndex": end}}
    raise Refusal("Developer metadata must have a location.")


def create_developer_metadata(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    spec = req.get("developerMetadata") or {}
    if not spec.get("visibility") or spec["visibility"] == "DEVELOPER_METADATA_VISIBILITY_UNSPECIFIED":
        raise Refusal("Developer metadata must always have a visibility specified.")
    if not spec.get("metadataKey"):
        raise Refusal("Developer metadata must have a metadataKey.")
    used = {md["metadataId"] for md in book.metadata}
    metadata_id = spec.get("metadataId") or random.randint(1, 2_000_000_000)
    if metadata_id in used:
        raise Refusal(f"Developer metadata with ID {metadata_id} already exists.")
    md = {"metadataId": metadata_id, "metadataKey": spec["metadataKey"],
          "location": _location(book, spec.get("location") or {}), "visibility": spec["visibility"]}
    if "metadataValue" in spec:
        md["metadataValue"] = spec["metadataValue"]
    book.metadata.append(md)
    return {"createDeveloperMetadata": {"developerMetadata": copy.deepcopy(md)}}


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["startIndex"] < b["endIndex"] and b["startIndex"] < a["endIndex"]


def lookup_matches(book: Book, md: dict[str, Any], lookup: dict[str, Any]) -> bool:
    """Whether one piece of metadata satisfies a DeveloperMetadataLookup (all criteria)."""
    for key in ("metadataId", "metadataKey", "metadataValue", "visibility"):
        if key in lookup and md.get(key) != lookup[key]:
            return False
    loc = md["location"]
    if lookup.get("locationType") and loc["locationType"] != lookup["locationType"]:
        return False
    where = lookup.get("metadataLocation")
    if where:
        intersecting = lookup.get("locationMatchingStrategy") == "INTERSECTING_LOCATION"
        if where.get("spreadsheet"):
            return intersecting or loc["locationType"] == "SPREADSHEET"
        if "sheetId" in where:
            return (loc.get("sheetId") == where["sheetId"] or
                    intersecting and location_sheet(md) == where["sheetId"])
        if "dimensionRange" in where:
            want = where["dimensionRange"]
            have = loc.get("dimensionRange")
            if have is None or have["sheetId"] != want.get("sheetId", 0) or \
                    have["dimension"] != want.get("dimension"):
                return False
            if intersecting:
                return _overlaps(have, {"startIndex": want.get("startIndex", 0),
                                        "endIndex": want.get("endIndex", 0)})
            return (have["startIndex"], have["endIndex"]) == (want.get("startIndex", 0),
                                                              want.get("endIndex", 0))
    return True


def search_metadata(book: Book, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{developerMetadata, dataFilters}] for metadata matched by any filter, in store order."""
    found = []
    for f in filters:
        if set(f) - {"developerMetadataLookup"}:
            raise GoogleError(501, "The sandbox searches developer metadata by "
                                   "developerMetadataLookup only.", status="UNIMPLEMENTED",
                              reason="notImplemented")
    for md in book.metadata:
        hits = [f for f in filters if lookup_matches(book, md, f.get("developerMetadataLookup") or {})]
        if hits:
            found.append({"developerMetadata": copy.deepcopy(md), "dataFilters": hits})
    return found


def delete_developer_metadata(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    gone = [m["developerMetadata"] for m in search_metadata(book, [req.get("dataFilter") or {}])]
    ids = {md["metadataId"] for md in gone}
    book.metadata[:] = [md for md in book.metadata if md["metadataId"] not in ids]
    return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": gone} if gone else {}}


REQUESTS["createDeveloperMetadata"] = create_developer_metadata
REQUESTS["deleteDeveloperMetadata"] = delete_developer_metadata


@handles("sheets.spreadsheets.developerMetadata.search")
def developer_metadata_search(call: Call) -> dict[str, Any]:
    book = load(call)
    found = search_metadata(book, (call.body or {}).get("dataFilters") or [])
    return {"matchedDeveloperMetadata": found} if found else {}


@handles("sheets.spreadsheets.developerMetadata.get")
def developer_metadata_get(call: Call) -> dict[str, Any]:
    book = load(call)
    for md in book.metadata:
        if md["metadataId"] == call.params["metadataId"]:
            return md
    raise GoogleError(404, f"No developer metadata with ID: {call.params['metadataId']}")
