"""Whether the tool's account may edit the files the config names (Drive's
per-caller `capabilities`), so `check` can say which file to share, with
whom, before a job fails half-way on a file it may only read."""
from __future__ import annotations

from dataclasses import dataclass

from .clients import Workspace


@dataclass(frozen=True)
class Access:
    name: str
    can_edit: bool


def file_access(ws: Workspace, file_id: str) -> Access:
    """The file's name and whether the tool may edit it; a file it cannot see
    leaves as an ApiError whose sentence names the file and the account."""
    meta = ws.execute(ws.service("drive", "v3").files().get(
        fileId=file_id, supportsAllDrives=True, fields="name,capabilities(canEdit)"),
        what=f"xem quyền với tệp {file_id}")
    return Access(str(meta.get("name", "")), bool((meta.get("capabilities") or {}).get("canEdit")))
