"""`sandbox export`: what a person would want to open after a run —
every tab as CSV, every message Gmail accepted as .eml, every Doc as .docx."""
from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path
from typing import Any

import yaml
from google.oauth2 import credentials as user_credentials

from workspace.clients import Workspace
from workspace.errors import HoithaoError

from .api import gmail as gmail_api
from .credentials import KEY_FILE, key_credentials
from .server import SandboxServer
from .store import DB_NAME

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SHEET = "application/vnd.google-apps.spreadsheet"
DOC = "application/vnd.google-apps.document"


class NoSandboxError(HoithaoError, FileNotFoundError):
    """DATA holds no sandbox: one Vietnamese line for run.py, still a
    FileNotFoundError for callers that catch that."""


def safe_name(title: str) -> str:
    """A file name any system accepts, keeping Vietnamese letters."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", title).strip(" .")
    return name[:150] or "untitled"


def _credentials(data_dir: Path, url: str) -> Any:
    if (data_dir / KEY_FILE).exists():
        return key_credentials(data_dir, url)
    return user_credentials.Credentials(token="sandbox-export")  # a sandbox made without `seed`


def _spreadsheet_id(data_dir: Path, ws: Workspace) -> str | None:
    config = data_dir / "config.yaml"
    if config.exists():
        google = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("google") or {}
        if google.get("spreadsheet_id"):
            return str(google["spreadsheet_id"])
    files = ws.service("drive", "v3").files().list(
        q=f"mimeType = '{SHEET}'", orderBy="modifiedTime desc", pageSize=1).execute()["files"]
    return files[0]["id"] if files else None


def export(data_dir: Path, out: Path) -> dict[str, int]:
    """Write OUT/sheets/<tab>.csv, OUT/mail/*.eml, OUT/docs/<title>.docx; return counts."""
    data_dir = Path(data_dir)
    if not (data_dir / DB_NAME).exists():
        raise NoSandboxError(f"Không có dữ liệu sandbox trong {data_dir}: chạy `python run.py sandbox seed "
                             f"--data {data_dir}` trước.")
    counts = {"sheets": 0, "mail": 0, "docs": 0}
    with SandboxServer(data_dir) as server:
        ws = Workspace(_credentials(data_dir, server.url), server.url)
        sheets_dir, mail_dir, docs_dir = out / "sheets", out / "mail", out / "docs"
        for d in (sheets_dir, mail_dir, docs_dir):
            # An export is a snapshot: what an earlier export left must not mix in.
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)

        spreadsheet_id = _spreadsheet_id(data_dir, ws)
        if spreadsheet_id:
            sh = ws.spreadsheet(spreadsheet_id)
            titles = [w.title for w in sh.worksheets()]
            ranges = [f"'{t.replace(chr(39), chr(39) * 2)}'" for t in titles]
            values = sh.values_batch_get(ranges)["valueRanges"]
            for title, vr in zip(titles, values):
                with open(sheets_dir / f"{safe_name(title)}.csv", "w", encoding="utf-8",
                          newline="") as fh:
                    csv.writer(fh).writerows(vr.get("values", []))
                counts["sheets"] += 1

        for n, (message_id, raw) in enumerate(gmail_api.sent_messages(server.store), start=1):
            (mail_dir / f"{n:05d}-{message_id}.eml").write_bytes(raw)
            counts["mail"] += 1

        drive = ws.service("drive", "v3")
        token = None
        while True:
            page = drive.files().list(q=f"mimeType = '{DOC}' and trashed = false",
                                      fields="nextPageToken,files(id,name)", pageSize=100,
                                      pageToken=token).execute()
            for f in page.get("files", []):
                content = drive.files().export(fileId=f["id"], mimeType=DOCX).execute()
                target = docs_dir / f"{safe_name(f['name'])}.docx"
                if target.exists():
                    target = docs_dir / f"{safe_name(f['name'])} ({f['id'][:8]}).docx"
                target.write_bytes(content)
                counts["docs"] += 1
            token = page.get("nextPageToken")
            if not token:
                break
    return counts
