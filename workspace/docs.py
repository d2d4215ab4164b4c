"""Google Docs and Drive for personal letters: copy a template Doc, fill its
placeholders, export the copy as PDF, delete the copy.

Nothing else lives here: which placeholders mean what is the caller's
business. Every call goes through `ws.execute` (bounded retries; a failure
that a retry does not fix leaves as an ApiError with a plain sentence), so the
caller can make it one row's problem.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from .clients import Workspace
from .errors import ApiError
from .google_errors import error_status, google_call

DOC_MIME = "application/vnd.google-apps.document"
TAG = "hoithao_make"   # appProperties key marking a file this tool is making
PDF_MIME = "application/pdf"


class DocNotFound(ApiError):
    """The Doc id names no file the tool's account can see."""


class StaleRevision(ApiError):
    """A write made with `requiredRevisionId` met a newer revision: someone
    edited the document in between, and Google applied nothing."""


@dataclass(frozen=True)
class DocState:
    """A document as it is now: its revision, where its body ends, and whether
    it sits in the bin."""
    revision: str
    end_index: int
    trashed: bool
    link: str
    modified_by: str = ""    # Drive's lastModifyingUser: who made the latest change


class DocsAdapter:
    """The few Drive and Docs calls a personal letter needs."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._drive = ws.service("drive", "v3").files()
        self._docs = ws.service("docs", "v1").documents()

    def template_text(self, doc_id: str) -> tuple[str, str]:
        """The template's title and its body text (paragraphs and table cells);
        DocNotFound when there is no such Doc, ApiError when it is not a Doc."""
        try:
            meta = self.ws.execute(self._drive.get(fileId=doc_id, fields="id,name,mimeType,trashed",
                                                   supportsAllDrives=True), what="drive.files.get")
        except ApiError as exc:
            if exc.code == 404:
                raise DocNotFound(f"không có Google Doc với id {doc_id}", code=404) from None
            raise
        if meta.get("trashed"):
            raise DocNotFound(f"Google Doc {doc_id} đang ở Thùng rác", code=404)
        if meta.get("mimeType") != DOC_MIME:
            raise ApiError(f"tệp {doc_id} không phải Google Doc ({meta.get('mimeType')})")
        doc = self.ws.execute(self._docs.get(documentId=doc_id), what="docs.documents.get")
        return meta.get("name", ""), _text(doc.get("body", {}).get("content", []))

    def copy(self, doc_id: str, name: str, folder_id: str = "") -> str:
        """A copy of the Doc named `name` (in `folder_id` when given); its id.
        Not repeated blindly after an unclear answer (see make_file)."""
        return make_file(self.ws, name, folder_id, doc_id)

    def replace_all(self, doc_id: str, replacements: Mapping[str, str]) -> None:
        """Every `placeholder -> value` replaced in one batchUpdate (one Docs write)."""
        requests = [{"replaceAllText": {"containsText": {"text": find, "matchCase": True},
                                        "replaceText": value}}
                    for find, value in replacements.items()]
        # Replacing again finds nothing left to replace: safe to repeat.
        self.ws.execute(self._docs.batchUpdate(documentId=doc_id, body={"requests": requests}),
                        what="docs.documents.batchUpdate", idempotent=True)

    def export_pdf(self, doc_id: str) -> bytes:
        """The Doc as PDF bytes."""
        return self.ws.execute(self._drive.export(fileId=doc_id, mimeType=PDF_MIME),
                               what="drive.files.export")

    def delete(self, file_id: str) -> None:
        """Delete a file for good; one already gone counts as deleted (a retried
        delete whose first attempt went through answers 404)."""
        try:
            self.ws.execute(self._drive.delete(fileId=file_id, supportsAllDrives=True),
                            what="drive.files.delete")
        except ApiError as exc:
            if exc.code != 404:
                raise


class DocumentWriter:
    """The Drive and Docs calls generate-docs needs: make a Doc (a copy of a
    template Doc, which brings its page set-up and headers, or a new one),
    read its revision, write it under `requiredRevisionId`, keep its PDF
    beside it, share it."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.adapter = DocsAdapter(ws)
        self._drive = ws.service("drive", "v3").files()
        self._docs = ws.service("docs", "v1").documents()

    def create(self, name: str, folder_id: str, template_id: str = "") -> str:
        """A new Doc named `name` in the folder: a copy of `template_id` when given."""
        return make_file(self.ws, name, folder_id, template_id)

    def state(self, doc_id: str) -> DocState | None:
        """The document now, or None when the tool cannot see it any more."""
        try:
            meta = self.ws.execute(self._drive.get(
                fileId=doc_id, fields="trashed,webViewLink,lastModifyingUser(emailAddress)",
                supportsAllDrives=True), what="drive.files.get")
            doc = self.ws.execute(self._docs.get(documentId=doc_id,
                                                 fields="revisionId,body(content(endIndex))"),
                                  what="docs.documents.get")
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        content = (doc.get("body") or {}).get("content") or [{}]
        return DocState(str(doc.get("revisionId") or ""), int(content[-1].get("endIndex") or 1),
                        bool(meta.get("trashed")), str(meta.get("webViewLink") or ""),
                        str((meta.get("lastModifyingUser") or {}).get("emailAddress") or ""))

    def write(self, doc_id: str, requests: Sequence[Mapping[str, Any]], required_revision: str = ""
              ) -> str:
        """Apply `requests` in one batchUpdate; the revision it made. With
        `required_revision`, a document edited since is left as it is and
        StaleRevision says so. Repeating after an unclear answer is safe: a
        write that went through makes the repeat stale, never a second copy."""
        body: dict[str, Any] = {"requests": list(requests)}
        if required_revision:
            body["writeControl"] = {"requiredRevisionId": required_revision}
        request = self._docs.batchUpdate(documentId=doc_id, body=body)
        with google_call("docs.documents.batchUpdate"):
            try:
                reply = self.ws.policy.run(request.execute, what="docs.documents.batchUpdate",
                                           idempotent=bool(required_revision))
            except HttpError as exc:
                if exc.resp.status == 400 and error_status(exc.content) == "FAILED_PRECONDITION":
                    raise StaleRevision(f"văn bản {doc_id} đã được sửa trong lúc công cụ ghi",
                                        code=400, reason="FAILED_PRECONDITION", refused=True) from None
                raise
        return str((reply.get("writeControl") or {}).get("requiredRevisionId") or "")

    def save_pdf(self, doc_id: str, name: str, folder_id: str, pdf_id: str = "") -> str:
        """The Doc exported as PDF, stored in the folder as `name` (put_file)."""
        return self.put_file(name, self.adapter.export_pdf(doc_id), PDF_MIME, folder_id, pdf_id)

    def put_file(self, name: str, data: bytes, mime: str, folder_id: str, file_id: str = "") -> str:
        """`data` stored in the folder as `name`: the tool's own file
        (`file_id`) updated in place, else a new file; its id."""
        media = MediaInMemoryUpload(data, mimetype=mime, resumable=False)
        if file_id:
            try:
                return self.ws.execute(self._drive.update(fileId=file_id, media_body=media, fields="id",
                                                          supportsAllDrives=True),
                                       what="drive.files.update", idempotent=True)["id"]
            except ApiError as exc:
                if exc.code != 404:
                    raise
        body: dict[str, Any] = {"name": name, "mimeType": mime}
        if folder_id:
            body["parents"] = [folder_id]
        once = self.ws.service("drive", "v3", once=True).files()
        return self.ws.execute(once.create(body=body, media_body=media, fields="id",
                                           supportsAllDrives=True),
                               what="drive.files.create", idempotent=False)["id"]


def make_file(ws: Workspace, name: str, folder_id: str = "", template_id: str = "") -> str:
    """A new Doc named `name` (in `folder_id` when given), a copy of
    `template_id` when given; its id. Not repeated blindly after an unclear
    answer: the file is looked up by a mark only this attempt put on it
    (appProperties), never by name, so a person's Doc of the same name is
    never taken for it, and made again only when it is not there."""
    mark = {TAG: secrets.token_hex(8)}
    body: dict[str, Any] = {"name": name, "appProperties": mark}
    if not template_id:
        body["mimeType"] = DOC_MIME
    if folder_id:
        body["parents"] = [folder_id]
    # Sent once per attempt (httplib2 would replay it on a dropped connection).
    once = ws.service("drive", "v3", once=True).files()

    def request() -> Any:
        if template_id:
            return once.copy(fileId=template_id, body=body, fields="id", supportsAllDrives=True)
        return once.create(body=body, fields="id", supportsAllDrives=True)
    what = "drive.files.copy" if template_id else "drive.files.create"
    try:
        return ws.execute(request(), what=what, idempotent=False)["id"]
    except ApiError as exc:
        if not exc.ambiguous:
            raise
    query = f"appProperties has {{ key='{TAG}' and value='{mark[TAG]}' }} and trashed = false"
    found = ws.execute(ws.service("drive", "v3").files().list(
        q=query, fields="files(id)", pageSize=1, supportsAllDrives=True, includeItemsFromAllDrives=True),
        what="drive.files.list").get("files") or []
    if found:
        return found[0]["id"]
    return ws.execute(request(), what=what, idempotent=False)["id"]


def doc_link(doc_id: str) -> str:
    return f"https://docs.google.com/document/d/{doc_id}/edit"


def file_link(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


def _text(content: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for elem in content:
        for part in (elem.get("paragraph") or {}).get("elements", []):
            out.append((part.get("textRun") or {}).get("content", ""))
        for row in (elem.get("table") or {}).get("tableRows", []):
            for cell in row.get("tableCells", []):
                out.append(_text(cell.get("content", [])))
    return "".join(out)
