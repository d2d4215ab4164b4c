"""Sheets v4: spreadsheets as grids of typed cells, stored in SQLite.

A spreadsheet is a Drive file (`application/vnd.google-apps.spreadsheet`);
its title lives in the Drive record, everything else here. The workbook
model (`Book`, `Tab`, cell values, the Spreadsheet resource) is in
`sheets_model`; this module holds spreadsheets.create / get and the Drive
hooks. values.* is in `sheets_values`, batchUpdate requests in
`sheets_requests`, developer metadata in `sheets_metadata`.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from ..errors import GoogleError
from . import Call, drive, handles, sheets_requests
from .sheets_model import (
    DEFAULT_LOCALE,
    DEFAULT_TIME_ZONE,
    MIME,
    Book,
    load,
    new_tab,
    render,
    spreadsheet_json,
)


# -- Drive integration --------------------------------------------------------
def init_book(db: sqlite3.Connection, book_id: str, title: str,
              props: dict[str, Any] | None = None, sheets: list[dict[str, Any]] | None = None) -> Book:
    # A new spreadsheet has its creator's locale and time zone; the sandbox's
    # creators are service accounts, which Google gives en_US and Etc/GMT.
    base = {"locale": DEFAULT_LOCALE, "autoRecalc": "ON_CHANGE", "timeZone": DEFAULT_TIME_ZONE}
    base.update({k: v for k, v in (props or {}).items() if k != "title"})
    book = Book(book_id, title, base, [], [])
    for i, spec in enumerate(sheets or [{}]):
        p = spec.get("properties", {})
        sheet_id = p.get("sheetId", 0 if i == 0 else book.new_sheet_id())
        if book.tab_by_id(sheet_id) is not None:
            raise GoogleError(400, f"Invalid sheets[{i}]: Duplicate sheet ID: {sheet_id}")
        name = p.get("title") or f"Sheet{i + 1}"
        if book.tab_by_title(name) is not None:
            raise GoogleError(400, f"Invalid sheets[{i}]: A sheet with the name \"{name}\" already "
                                   f"exists. Please enter another name.")
        book.tabs.append(new_tab(sheet_id, name, i, p))
    if all(t.hidden for t in book.tabs):
        raise GoogleError(400, "You can't hide all the sheets in a document.")
    book.save(db)
    return book


def _create_empty(db: sqlite3.Connection, file_id: str, call: Call) -> None:
    init_book(db, file_id, drive.get_meta(db, file_id)["name"])


def _copy(db: sqlite3.Connection, src: str, dst: str, call: Call) -> None:
    book = Book.load(db, src)
    book.id, book.title = dst, drive.get_meta(db, dst)["name"]
    book.save(db)


def _delete(db: sqlite3.Connection, file_id: str) -> None:
    db.execute("DELETE FROM sheets_tabs WHERE book_id = ?", (file_id,))
    db.execute("DELETE FROM sheets_tab_extras WHERE book_id = ?", (file_id,))
    db.execute("DELETE FROM sheets_books WHERE id = ?", (file_id,))


def _export_csv(db: sqlite3.Connection, file_id: str) -> bytes:
    import csv
    import io
    book = Book.load(db, file_id)
    tab = book.tabs[0]
    n_rows, n_cols = tab.last_data_extent()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for r in range(n_rows):
        writer.writerow([render(tab.value(r, c), "FORMATTED_VALUE", tab.number_format(r, c), book.locale)
                         or "" for c in range(n_cols)])
    return out.getvalue().encode("utf-8")


drive.CREATORS[MIME] = _create_empty
drive.COPIERS[MIME] = _copy
drive.DELETERS[MIME] = _delete
drive.EXPORTERS[(MIME, "text/csv")] = _export_csv


# -- spreadsheets.create / get -------------------------------------------------
@handles("sheets.spreadsheets.create")
def spreadsheets_create(call: Call) -> dict[str, Any]:
    body = call.body or {}
    props = body.get("properties") or {}
    title = props.get("title") or "Untitled spreadsheet"
    meta = drive.register_file(call.db, call, name=title, mime_type=MIME)
    book = init_book(call.db, meta["id"], title, props, body.get("sheets"))
    for spec in body.get("sheets") or []:
        tab = book.tab_by_title(spec.get("properties", {}).get("title") or "") or book.tabs[0]
        for block in spec.get("data") or []:
            try:
                sheets_requests.write_rows(tab, block.get("startRow", 0), block.get("startColumn", 0),
                                           block.get("rowData") or [], "*")
            except sheets_requests.Refusal as why:
                raise GoogleError(400, f"Invalid sheets data: {why}") from None
    book.save(call.db)
    return spreadsheet_json(book)


@handles("sheets.spreadsheets.get")
def spreadsheets_get(call: Call) -> dict[str, Any]:
    book = load(call)
    return spreadsheet_json(book, call.params.get("ranges"), bool(call.params.get("includeGridData")))
