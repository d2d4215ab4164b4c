"""Google Forms: the questions of a form and its responses, in bulk."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from .clients import Workspace
from .errors import HoithaoError

PAGE_SIZE = 5000  # responses.list's largest page


@dataclass
class Response:
    response_id: str
    created: str
    submitted: str          # lastSubmittedTime (RFC 3339, UTC)
    answers: dict[str, list[str]]   # canonical field -> answer values


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


class FormsAdapter:
    def __init__(self, ws: Workspace):
        self.ws = ws
        self.forms = ws.service("forms", "v1").forms()

    def question_ids(self, form_id: str, fields: Mapping[str, str]) -> dict[str, str]:
        """questionId -> canonical field, from the config's field -> question title map."""
        form = self.ws.execute(self.forms.get(formId=form_id), what="forms.get")
        by_title: dict[str, str] = {}
        for item in form.get("items", []):
            question = item.get("questionItem", {}).get("question")
            if question:
                by_title[_nfc(item.get("title", ""))] = question["questionId"]
        missing = [t for t in fields.values() if _nfc(t) not in by_title]
        if missing:
            raise HoithaoError(
                f"Biểu mẫu {form_id} không có câu hỏi {', '.join(repr(m) for m in missing)}: sửa tên "
                f"câu hỏi trong biểu mẫu, hoặc sửa google.forms.*.fields trong config.yaml.")
        return {by_title[_nfc(title)]: field for field, title in fields.items()}

    def shown_text(self, form_id: str) -> str:
        """Everything the form shows besides its answers: title, description,
        each item's title and help text (NFC, whitespace collapsed)."""
        form = self.ws.execute(self.forms.get(formId=form_id), what="forms.get")
        info = form.get("info") or {}
        parts = [info.get("title", ""), info.get("description", "")]
        for item in form.get("items", []):
            parts += [item.get("title", ""), item.get("description", "")]
        return " ".join(" ".join(_nfc(p).split()) for p in parts if p)

    def prefill_url(self, form_id: str, question_title: str) -> str:
        """The form's public link pre-filling one question, to be completed with the
        (URL-encoded) answer: `…/viewform?usp=pp_url&entry.<n>=`. A pre-filled
        link's entry number is the question id (hexadecimal) read as a number."""
        form = self.ws.execute(self.forms.get(formId=form_id), what="forms.get")
        for item in form.get("items", []):
            question = item.get("questionItem", {}).get("question")
            if question and _nfc(item.get("title", "")) == _nfc(question_title):
                entry = int(question["questionId"], 16)
                return f"{form['responderUri']}?usp=pp_url&entry.{entry}="
        raise HoithaoError(f"Biểu mẫu {form_id} không có câu hỏi {question_title!r}: sửa tên câu hỏi "
                           f"trong biểu mẫu, hoặc sửa google.forms.*.fields trong config.yaml.")

    def responses(self, form_id: str, fields: Mapping[str, str]) -> list[Response]:
        """Every response, oldest first, answers keyed by canonical field."""
        ids = self.question_ids(form_id, fields)
        out: list[Response] = []
        token = None
        while True:
            page = self.ws.execute(self.forms.responses().list(
                formId=form_id, pageSize=PAGE_SIZE, pageToken=token), what="forms.responses.list")
            for r in page.get("responses", []):
                answers: dict[str, list[str]] = {}
                for qid, answer in (r.get("answers") or {}).items():
                    field = ids.get(qid)
                    if field is None:
                        continue
                    answers[field] = _values(answer)
                out.append(Response(r["responseId"], r.get("createTime", ""),
                                    r.get("lastSubmittedTime", r.get("createTime", "")), answers))
            token = page.get("nextPageToken")
            if not token:
                break
        out.sort(key=lambda r: (r.submitted, r.response_id))
        return out


def _values(answer: Mapping[str, Any]) -> list[str]:
    if "textAnswers" in answer:
        return [a.get("value", "") for a in answer["textAnswers"].get("answers", [])]
    if "fileUploadAnswers" in answer:
        return [a.get("fileId", "") for a in answer["fileUploadAnswers"].get("answers", [])]
    return []
