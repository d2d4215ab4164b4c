"""`sandbox export`: what a person would want to open after a run —
every tab as CSV, every message Gmail accepted as .eml, every Doc as .docx
and as .pdf (Drive's own two downloads of a Doc)."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from google.oauth2 import credentials as user_credentials
from googleapiclient.errors import HttpError

from workspace.clients import Workspace
from workspace.errors import HoithaoError
from workspace.private import make_private_dirs

from .api import gmail as gmail_api
from .credentials import KEY_FILE, key_credentials
from .server import SandboxServer
from .store import DB_NAME, create_private_file

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"
SHEET = "application/vnd.google-apps.spreadsheet"
DOC = "application/vnd.google-apps.document"


class NoSandboxError(HoithaoError, FileNotFoundError):
    """DATA holds no sandbox: one Vietnamese line for run.py, still a
    FileNotFoundError for callers that catch that."""


class OutRefused(HoithaoError):
    """OUT is not a folder an export may write into (the message says why)."""


# What an export writes into OUT (each kind's folder and the extensions of its
# files), and the note listing it (one path a line, relative to OUT): the next
# export into OUT removes those files and no other.
MARKER_NAME = ".hoithao-export"
KINDS = {"sheets": (".csv",), "mail": (".eml",), "docs": (".docx", ".pdf")}
# A name's bytes before the suffix and extension: readable, and well under the
# 255 bytes a file name may take (143 on an encrypted home folder).
NAME_BYTES = 120
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$", re.IGNORECASE)  # Windows devices


def safe_name(title: str) -> str:
    """A file name any system accepts, keeping Vietnamese letters: no path
    separators or control characters, at most NAME_BYTES bytes of UTF-8."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', "_", unicodedata.normalize("NFC", title))
    name = name.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore")  # whole letters only
    name = name.strip(" .") or "Không tên"
    return name + "_" if _RESERVED.match(name) else name


class _Names:
    """File names in one folder, never one already there (a person's file, or
    another title that reads the same once made safe): a clash takes a short
    suffix from the title's own key, the same at every export."""

    def __init__(self, folder: Path, ext: str):
        self.folder, self.ext = folder, ext
        # Case and Unicode form do not tell names apart on every system.
        self.taken = {self._fold(p.name) for p in folder.iterdir()}

    @staticmethod
    def _fold(name: str) -> str:
        return unicodedata.normalize("NFC", name).casefold()

    def create(self, title: str, key: str) -> tuple[Path, int]:
        """A new file (mode 0600) named after `title`: its path and open descriptor."""
        base, tag = safe_name(title), hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
        candidates = itertools.chain([f"{base}{self.ext}", f"{base} ({tag}){self.ext}"],
                                     (f"{base} ({tag}-{n}){self.ext}" for n in itertools.count(2)))
        for name in candidates:
            if self._fold(name) in self.taken:
                continue
            self.taken.add(self._fold(name))
            try:
                fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            os.fchmod(fd, 0o600)
            return self.folder / name, fd
        raise AssertionError("unreachable")


def _export_shaped(folder: Path) -> bool:
    """`folder` holds nothing but what an export writes: its note and
    sheets/*.csv, mail/*.eml, docs/*.docx and *.pdf (no links, nothing else)."""
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        if entry.name == MARKER_NAME and entry.is_file():
            continue
        if entry.name not in KINDS or not entry.is_dir():
            return False
        for item in entry.iterdir():
            if item.is_symlink() or not item.is_file() or item.suffix.lower() not in KINDS[entry.name]:
                return False
    return True


def is_export_folder(folder: Path) -> bool:
    """`folder` holds only what an export writes (an export made before the note
    existed included): `sandbox reset` may delete it with its sandbox."""
    return folder.is_dir() and not folder.is_symlink() and _export_shaped(folder)


def _listed(out: Path, text: str) -> list[Path]:
    """The files an earlier export's note lists, only those a kind's folder may hold."""
    files = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        parts = line.split("/")
        if len(parts) == 2 and parts[0] in KINDS and parts[1] not in ("", ".", ".."):
            files.append(out / parts[0] / parts[1])
    return files


def _previous_files(out: Path) -> list[Path]:
    """The files an earlier export into OUT wrote, to be replaced; OutRefused when
    OUT is neither new, empty nor an export's folder (nothing is touched)."""
    if not out.exists() and not out.is_symlink():
        return []
    if not out.is_dir():
        raise OutRefused(f"{out} là một tệp, không phải thư mục: chọn một thư mục mới hoặc trống "
                         f"cho --out.")
    for kind in KINDS:   # never follow a link out of the export (or write through one)
        inner = out / kind
        if inner.is_symlink() or (inner.exists() and not inner.is_dir()):
            raise OutRefused(f"{inner} không phải thư mục do `sandbox export` tạo (là một liên kết "
                             f"hoặc một tệp) nên không ghi gì vào {out}: chọn một thư mục mới hoặc "
                             f"trống cho --out.")
    marker = out / MARKER_NAME
    if marker.is_file() and not marker.is_symlink():
        return _listed(out, marker.read_text(encoding="utf-8", errors="replace"))
    if not any(out.iterdir()):
        return []
    # `demo` exported into DATA/export before exports left a note: that one is ours.
    if out.name == "export" and (out.parent / DB_NAME).is_file() and _export_shaped(out):
        return [item for kind in KINDS if (out / kind).is_dir() for item in (out / kind).iterdir()]
    raise OutRefused(f"Thư mục {out} đã có tệp và không phải nơi `sandbox export` đã xuất trước đây "
                     f"nên không ghi gì vào đó: chọn một thư mục mới hoặc trống cho --out.")


def _private_dir(path: Path) -> None:
    """`path` (made if missing, with any missing parent) mode 0700."""
    make_private_dirs(path)
    os.chmod(path, 0o700)


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


def _pdf(drive: Any, file_id: str) -> bytes | None:
    """A Doc as PDF; None on a machine without the fonts the sandbox draws PDFs
    with (its export then fails with 500 and says which package to install):
    the .docx is still written."""
    try:
        return drive.files().export(fileId=file_id, mimeType=PDF).execute()
    except HttpError as exc:
        if exc.resp.status == 500:
            return None
        raise


def export(data_dir: Path, out: Path) -> dict[str, int]:
    """Write OUT/sheets/<tab>.csv, OUT/mail/*.eml, OUT/docs/<title>.docx and
    OUT/docs/<title>.pdf; return counts (`docs`: the Docs exported).

    OUT is new, empty, or a folder an earlier export wrote (its note,
    OUT/.hoithao-export, lists the files it wrote): only those files are
    replaced, anything else there is left alone. Files are mode 0600 and
    folders 0700: the export holds names, addresses and letters."""
    data_dir, out = Path(data_dir), Path(out).absolute()
    if not (data_dir / DB_NAME).exists():
        raise NoSandboxError(f"Không có dữ liệu sandbox trong {data_dir}: chạy `python run.py sandbox seed "
                             f"--data {data_dir}` trước.")
    previous = _previous_files(out)
    counts = {"sheets": 0, "mail": 0, "docs": 0}
    with SandboxServer(data_dir) as server:
        ws = Workspace(_credentials(data_dir, server.url), server.url)
        try:
            _private_dir(out)
            for kind in KINDS:
                _private_dir(out / kind)
        except OSError as exc:
            raise OutRefused(f"Không tạo được thư mục {out}: chọn một thư mục khác cho --out "
                             f"(chi tiết: {exc.strerror or type(exc).__name__}).") from None
        # An export is a snapshot: what the earlier one wrote must not mix in.
        for path in previous:
            if path.is_file() or path.is_symlink():
                path.unlink()
        marker = out / MARKER_NAME
        tmp = out / f"{MARKER_NAME}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        create_private_file(tmp)
        tmp.write_text(f"# Các tệp `python run.py sandbox export` ghi lúc "
                       f"{dt.datetime.now().astimezone().isoformat(timespec='seconds')}; lần xuất sau "
                       f"vào thư mục này chỉ thay các tệp này, không xoá tệp nào khác.\n",
                       encoding="utf-8")
        os.replace(tmp, marker)
        names = {(kind, ext): _Names(out / kind, ext) for kind, exts in KINDS.items()
                 for ext in exts}

        with open(marker, "a", encoding="utf-8") as note:
            def new_file(kind: str, title: str, key: str, ext: str = "") -> int:
                path, fd = names[(kind, ext or KINDS[kind][0])].create(title, key)
                note.write(f"{kind}/{path.name}\n")  # noted as soon as it exists
                note.flush()
                return fd

            spreadsheet_id = _spreadsheet_id(data_dir, ws)
            if spreadsheet_id:
                sh = ws.spreadsheet(spreadsheet_id)
                titles = [w.title for w in sh.worksheets()]
                ranges = [f"'{t.replace(chr(39), chr(39) * 2)}'" for t in titles]
                values = sh.values_batch_get(ranges)["valueRanges"]
                for title, vr in zip(titles, values):
                    with os.fdopen(new_file("sheets", title, title), "w", encoding="utf-8",
                                   newline="") as fh:
                        csv.writer(fh).writerows(vr.get("values", []))
                    counts["sheets"] += 1

            for n, (message_id, raw) in enumerate(gmail_api.sent_messages(server.store), start=1):
                with os.fdopen(new_file("mail", f"{n:05d}-{message_id}", message_id), "wb") as fh:
                    fh.write(raw)
                counts["mail"] += 1

            drive = ws.service("drive", "v3")
            token = None
            while True:
                page = drive.files().list(q=f"mimeType = '{DOC}' and trashed = false",
                                          fields="nextPageToken,files(id,name)", pageSize=100,
                                          pageToken=token).execute()
                for f in page.get("files", []):
                    content = drive.files().export(fileId=f["id"], mimeType=DOCX).execute()
                    with os.fdopen(new_file("docs", f["name"], f["id"]), "wb") as fh:
                        fh.write(content)
                    counts["docs"] += 1
                    pdf = _pdf(drive, f["id"])
                    if pdf is not None:
                        with os.fdopen(new_file("docs", f["name"], f["id"], ".pdf"), "wb") as fh:
                            fh.write(pdf)
                token = page.get("nextPageToken")
                if not token:
                    break
    return counts
