"""Văn bản: each Google Doc in the sandbox, listed as Drive lists it and shown
as its pages (Drive's PDF export, each page drawn as a PNG by poppler's
pdftoppm), with Drive's two downloads, .docx and .pdf.

Everything goes through the Drive API with the tool's own account, as the
jobs see the files. Page images are kept in memory by file id and
modifiedTime, so an edited Doc is drawn again."""
from __future__ import annotations

import collections
import datetime as dt
import io
import logging
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template, send_file
from googleapiclient.errors import HttpError

from sandbox.api.docs_pdf import FONT_PACKAGE, METRIC_PACKAGE
from sandbox.export import safe_name

from ..state import console

log = logging.getLogger(__name__)

bp = Blueprint("docs", __name__, url_prefix="/van-ban")

DOC = "application/vnd.google-apps.document"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"
TEXT = "text/plain"
FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
DPI = 96
PDFTOPPM_TIMEOUT_S = 60
# Documents whose page images are kept (the most recently shown).
CACHE_DOCS = 16
DATE_FORMAT = "%d/%m/%Y %H:%M"

NO_FONTS = (f"Máy này chưa có phông chữ để dựng bản PDF của văn bản nên trang chỉ hiển thị phần chữ; "
            f"xin cài các gói {FONT_PACKAGE} và {METRIC_PACKAGE} (apt-get install {FONT_PACKAGE} "
            f"{METRIC_PACKAGE}) rồi tải lại trang để xem đúng trình bày.")
NO_POPPLER = ("Máy này chưa có chương trình pdftoppm để vẽ các trang nên trang chỉ hiển thị phần chữ; "
              "xin cài gói poppler-utils (apt-get install poppler-utils) rồi tải lại trang để xem đúng "
              "trình bày.")
PDF_UNAVAILABLE = (f"Không tải được bản PDF vì máy này chưa có phông chữ để dựng PDF; xin cài các gói "
                   f"{FONT_PACKAGE} và {METRIC_PACKAGE} (apt-get install {FONT_PACKAGE} {METRIC_PACKAGE}), "
                   f"hoặc tải bản .docx.")
DRAW_FAILED = ("Không vẽ được các trang của văn bản này nên trang chỉ hiển thị phần chữ; xin tải bản .pdf "
               "để xem, hoặc kiểm tra lại gói poppler-utils (apt-get install --reinstall poppler-utils).")


class Unrendered(Exception):
    """The pages could not be drawn; the message says why, for a person."""


class PageCache:
    """Page images (PNG bytes) by (data folder, file id, modifiedTime), least
    recently used dropped first."""

    def __init__(self, size: int = CACHE_DOCS):
        self.size = size
        self._items: collections.OrderedDict[tuple[str, str, str], list[bytes]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._drawing = threading.Lock()     # one pdftoppm at a time

    def get(self, key: tuple[str, str, str]) -> list[bytes] | None:
        with self._lock:
            pages = self._items.get(key)
            if pages is not None:
                self._items.move_to_end(key)
            return pages

    def put(self, key: tuple[str, str, str], pages: list[bytes]) -> None:
        with self._lock:
            self._items[key] = pages
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pages(self, meta: dict[str, Any]) -> list[bytes]:
        """The Doc's pages, drawn once per version; Unrendered when they cannot be."""
        key = (str(console().data_dir), meta["id"], meta.get("modifiedTime", ""))
        found = self.get(key)
        if found is not None:
            return found
        with self._drawing:
            found = self.get(key)
            if found is None:
                found = draw(export(meta["id"], PDF, unrendered=True))
                self.put(key, found)
        return found


PAGES = PageCache()


def _drive() -> Any:
    return console().service().service("drive", "v3")


def documents() -> list[dict[str, Any]]:
    """Every Doc the tool's account sees, most recently modified first."""
    drive = _drive()
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = drive.files().list(q=f"mimeType = '{DOC}' and trashed = false",
                                  fields="nextPageToken,files(id,name,modifiedTime)", pageSize=100,
                                  pageToken=token).execute()
        found.extend(page.get("files", []))
        token = page.get("nextPageToken")
        if not token:
            break
    found.sort(key=lambda f: f.get("modifiedTime", ""), reverse=True)
    return found


def document(file_id: str) -> dict[str, Any]:
    """The Doc's metadata, or 404 for an id that is not a Doc the tool sees."""
    if not FILE_ID.fullmatch(file_id):
        abort(404)
    try:
        meta = _drive().files().get(fileId=file_id, fields="id,name,mimeType,modifiedTime,trashed").execute()
    except HttpError as exc:
        if exc.resp.status in (403, 404):
            abort(404)
        raise
    if meta.get("mimeType") != DOC or meta.get("trashed"):
        abort(404)
    return meta


def export(file_id: str, mime: str, unrendered: bool = False) -> bytes:
    """Drive's export of the Doc as `mime`. With `unrendered`, a PDF the sandbox
    cannot draw (500: no fonts) raises Unrendered."""
    try:
        content = _drive().files().export(fileId=file_id, mimeType=mime).execute()
    except HttpError as exc:
        if unrendered and exc.resp.status == 500:
            log.warning("PDF export of %s failed (status 500)", file_id)
            raise Unrendered(NO_FONTS) from None
        raise
    return content if isinstance(content, bytes) else content.encode("utf-8")


def draw(pdf: bytes) -> list[bytes]:
    """Each page of `pdf` as a PNG, drawn by pdftoppm in a private temporary folder."""
    program = shutil.which("pdftoppm")
    if program is None:
        raise Unrendered(NO_POPPLER)
    with tempfile.TemporaryDirectory(prefix="hoithao-van-ban-") as folder:   # mode 0700
        source = Path(folder) / "van-ban.pdf"
        source.write_bytes(pdf)
        try:
            subprocess.run([program, "-png", "-r", str(DPI), str(source), str(Path(folder) / "trang")],
                           check=True, capture_output=True, timeout=PDFTOPPM_TIMEOUT_S,
                           stdin=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            log.warning("pdftoppm failed: %s", type(exc).__name__)
            raise Unrendered(DRAW_FAILED) from None
        # pdftoppm names pages trang-1.png ... (zero-padded to the page count's width).
        images = sorted(Path(folder).glob("trang-*.png"), key=lambda p: int(p.stem.rpartition("-")[2]))
        pages = [p.read_bytes() for p in images]
    if not pages:
        raise Unrendered(DRAW_FAILED)
    return pages


def _when(stamp: str) -> str:
    """Drive's RFC 3339 modifiedTime as the console shows times."""
    if not stamp:
        return ""
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return moment.astimezone(ZoneInfo(console().config.timezone)).strftime(DATE_FORMAT)


@bp.get("")
def index() -> Any:
    docs = [dict(f, when=_when(f.get("modifiedTime", ""))) for f in documents()]
    return render_template("docs.html", docs=docs)


@bp.get("/<file_id>")
def view(file_id: str) -> Any:
    meta = document(file_id)
    pages = 0
    why = text = None
    try:
        pages = len(PAGES.pages(meta))
    except Unrendered as exc:
        why = str(exc)
        text = export(file_id, TEXT).decode("utf-8-sig", "replace").replace("\r\n", "\n")
    return render_template("docs_view.html", doc=meta, when=_when(meta.get("modifiedTime", "")),
                           pages=pages, why=why, text=text)


@bp.get("/<file_id>/trang/<int:n>.png")
def page(file_id: str, n: int) -> Any:
    meta = document(file_id)
    try:
        pages = PAGES.pages(meta)
    except Unrendered:
        abort(404)
    if not 1 <= n <= len(pages):
        abort(404)
    return send_file(io.BytesIO(pages[n - 1]), mimetype="image/png", max_age=0)


@bp.get("/<file_id>/tai.docx")
def download_docx(file_id: str) -> Any:
    meta = document(file_id)
    return send_file(io.BytesIO(export(file_id, DOCX)), mimetype=DOCX, as_attachment=True,
                     download_name=safe_name(meta.get("name") or "") + ".docx", max_age=0)


@bp.get("/<file_id>/tai.pdf")
def download_pdf(file_id: str) -> Any:
    meta = document(file_id)
    try:
        pdf = export(file_id, PDF, unrendered=True)
    except Unrendered:
        return render_template("docs_missing.html", why=PDF_UNAVAILABLE, doc=meta), 503
    return send_file(io.BytesIO(pdf), mimetype=PDF, as_attachment=True,
                     download_name=safe_name(meta.get("name") or "") + ".pdf", max_age=0)


@bp.errorhandler(404)
def missing(_exc: Exception) -> Any:
    return render_template("docs_missing.html", why=None, doc=None), 404
