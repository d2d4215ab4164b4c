"""Docs v1 in the sandbox, driven by the real googleapiclient over HTTP."""
from __future__ import annotations

import io
import json
from typing import Any

import docx
import pytest
from googleapiclient.errors import HttpError

DOC_MIME = "application/vnd.google-apps.document"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def docs(service) -> Any:
    # building a resource pretty-prints the whole schema (~0.1 s): do it once per test
    return service("docs", "v1").documents()


@pytest.fixture
def drive(service) -> Any:
    return service("drive", "v3").files()


def new_doc(docs: Any, title: str = "Kế hoạch hội thảo") -> str:
    return docs.create(body={"title": title}).execute()["documentId"]


def update(docs: Any, doc_id: str, *requests: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return docs.batchUpdate(documentId=doc_id,
                                        body={"requests": list(requests), **extra}).execute()


def get(docs: Any, doc_id: str) -> dict[str, Any]:
    return docs.get(documentId=doc_id).execute()


def insert(text: str, index: int = 1) -> dict[str, Any]:
    return {"insertText": {"location": {"index": index}, "text": text}}


def paragraphs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["body"]["content"] if "paragraph" in e]


def text_of(element: dict[str, Any]) -> str:
    return "".join(pe.get("textRun", {}).get("content", "")
                   for pe in element["paragraph"]["elements"])


def body_text(doc: dict[str, Any]) -> str:
    return "".join(text_of(p) for p in paragraphs(doc))


def error_of(excinfo: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    return json.loads(excinfo.value.content)["error"]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_create_returns_empty_document_like_google(docs, drive) -> None:
    doc = docs.create(body={"title": "Thư mời"}).execute()
    assert doc["title"] == "Thư mời" and doc["revisionId"]
    section, par = doc["body"]["content"]
    assert section == {"endIndex": 1, "sectionBreak": {"sectionStyle": {
        "columnSeparatorStyle": "NONE", "contentDirection": "LEFT_TO_RIGHT",
        "sectionType": "CONTINUOUS"}}}
    assert par["startIndex"] == 1 and par["endIndex"] == 2
    assert par["paragraph"]["elements"] == [
        {"startIndex": 1, "endIndex": 2, "textRun": {"content": "\n", "textStyle": {}}}]
    assert par["paragraph"]["paragraphStyle"]["namedStyleType"] == "NORMAL_TEXT"
    assert doc["documentStyle"]["pageSize"]["width"] == {"magnitude": 612, "unit": "PT"}
    names = [s["namedStyleType"] for s in doc["namedStyles"]["styles"]]
    assert {"NORMAL_TEXT", "TITLE", "HEADING_1", "HEADING_6"} <= set(names)
    meta = drive.get(fileId=doc["documentId"], fields="name,mimeType").execute()
    assert meta == {"name": "Thư mời", "mimeType": DOC_MIME}


def test_create_ignores_everything_but_title(docs) -> None:
    body = {"title": "x", "body": {"content": [{"paragraph": {"elements": []}}]}}
    doc = docs.create(body=body).execute()
    assert body_text(doc) == "\n"


def test_insert_text_counts_utf16_code_units(docs) -> None:
    doc_id = new_doc(docs)
    first = "Hội thảo 😀 Khoa học\n"
    update(docs, doc_id, insert(first + "Sở GD&ĐT"))
    pars = paragraphs(get(docs, doc_id))
    assert [text_of(p) for p in pars] == [first, "Sở GD&ĐT\n"]
    assert utf16(first) == len(first) + 1            # the emoji is two code units
    assert pars[0]["endIndex"] == 1 + utf16(first) == pars[1]["startIndex"]
    assert pars[1]["endIndex"] == pars[1]["startIndex"] + utf16("Sở GD&ĐT\n")
    # right after the emoji is index 1 + len("Hội thảo ") + 2
    update(docs, doc_id, insert("!", 1 + len("Hội thảo ") + 2))
    assert text_of(paragraphs(get(docs, doc_id))[0]) == "Hội thảo 😀! Khoa học\n"


def test_insert_inside_surrogate_pair_is_refused(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("a😀b"))
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, insert("x", 3))
    assert err.value.resp.status == 400
    assert error_of(err)["message"] == ("Invalid requests[0].insertText: The insertion index "
                                        "cannot be within a grapheme cluster.")


@pytest.mark.parametrize("index, message", [
    (0, "The insertion index must be inside the bounds of an existing paragraph. "
        "You can still create new paragraphs by inserting newlines."),
    (7, "Index 7 must be less than the end index of the referenced segment, 7."),
    (50, "Index 50 must be less than the end index of the referenced segment, 7."),
])
def test_insert_outside_the_body_is_refused(docs, index, message) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Xin chào"[:5]))
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, insert("x", index))
    body = error_of(err)
    assert err.value.resp.status == 400 and body["status"] == "INVALID_ARGUMENT"
    assert body["message"] == f"Invalid requests[0].insertText: {message}"


def test_insert_then_delete_restores_the_text(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Đại biểu\nKhách mời\n"))
    update(docs, doc_id, insert("Các ", 1))
    assert body_text(get(docs, doc_id)) == "Các Đại biểu\nKhách mời\n\n"
    update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 5}}})
    assert body_text(get(docs, doc_id)) == "Đại biểu\nKhách mời\n\n"


def test_delete_across_paragraphs_merges_them(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Một\nHai\nBa"))
    # from "ột" (2) to before "a" in "Ba" (10): "ột\nHai\nB" goes
    update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 2, "endIndex": 10}}})
    pars = paragraphs(get(docs, doc_id))
    assert [text_of(p) for p in pars] == ["Ma\n"]
    assert (pars[0]["startIndex"], pars[0]["endIndex"]) == (1, 4)


def test_delete_final_newline_is_refused(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("abc"))
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 5}}})
    assert error_of(err)["message"] == ("Invalid requests[0].deleteContentRange: The range "
                                        "cannot include the newline character at the end of "
                                        "the segment.")


def test_replace_all_text_fills_a_copied_template(docs, drive) -> None:
    template = new_doc(docs, "Mẫu thư mời")
    update(docs, template, insert("Kính mời tham dự {{ten_hoi_thao}}.\n"
                                  "Hội thảo {{TEN_HOI_THAO}} tại {{dia_diem}}."))
    copy = drive.copy(fileId=template, body={"name": "Thư mời - Nguyễn Văn A"}).execute()
    reply = update(docs, copy["id"],
                   {"replaceAllText": {"containsText": {"text": "{{ten_hoi_thao}}",
                                                        "matchCase": True},
                                       "replaceText": "Chuyển đổi số 😀"}},
                   {"replaceAllText": {"containsText": {"text": "{{ten_hoi_thao}}"},
                                       "replaceText": "CĐS"}},
                   {"replaceAllText": {"containsText": {"text": "{{không có}}"},
                                       "replaceText": "x"}})
    assert reply["replies"] == [{"replaceAllText": {"occurrencesChanged": 1}},
                                {"replaceAllText": {"occurrencesChanged": 1}},
                                {"replaceAllText": {}}]
    filled = get(docs, copy["id"])
    assert filled["title"] == "Thư mời - Nguyễn Văn A"
    assert body_text(filled) == ("Kính mời tham dự Chuyển đổi số 😀.\n"
                                 "Hội thảo CĐS tại {{dia_diem}}.\n")
    last = paragraphs(filled)[-1]
    assert last["endIndex"] == paragraphs(filled)[0]["endIndex"] + utf16(text_of(last))
    assert "{{ten_hoi_thao}}" in body_text(get(docs, template))   # the template is untouched


def test_text_and_paragraph_styles_show_in_get(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Tiêu đề\nNội dung chính"),
           {"updateTextStyle": {"range": {"startIndex": 9, "endIndex": 12},
                                "textStyle": {"bold": True, "italic": True,
                                              "fontSize": {"magnitude": 13, "unit": "PT"},
                                              "weightedFontFamily": {"fontFamily": "Times New Roman"}},
                                "fields": "bold,italic,fontSize,weightedFontFamily"}},
           {"updateParagraphStyle": {"range": {"startIndex": 1, "endIndex": 2},
                                     "paragraphStyle": {"namedStyleType": "HEADING_1",
                                                        "alignment": "CENTER"},
                                     "fields": "namedStyleType,alignment"}},
           {"updateParagraphStyle": {"range": {"startIndex": 9, "endIndex": 20},
                                     "paragraphStyle": {"alignment": "JUSTIFIED",
                                                        "lineSpacing": 150,
                                                        "spaceAbove": {"magnitude": 6, "unit": "PT"},
                                                        "indentFirstLine": {"magnitude": 36, "unit": "PT"}},
                                     "fields": "alignment,lineSpacing,spaceAbove,indentFirstLine"}})
    heading, body = paragraphs(get(docs, doc_id))[:2]
    style = heading["paragraph"]["paragraphStyle"]
    assert style["namedStyleType"] == "HEADING_1" and style["alignment"] == "CENTER"
    assert style["headingId"].startswith("h.")
    runs = body["paragraph"]["elements"]
    assert runs[0] == {"startIndex": 9, "endIndex": 12, "textRun": {"content": "Nội", "textStyle": {
        "bold": True, "italic": True, "fontSize": {"magnitude": 13, "unit": "PT"},
        "weightedFontFamily": {"fontFamily": "Times New Roman", "weight": 400}}}}
    assert runs[1]["textRun"] == {"content": " dung chính\n", "textStyle": {}}
    pstyle = body["paragraph"]["paragraphStyle"]
    assert pstyle["alignment"] == "JUSTIFIED" and pstyle["lineSpacing"] == 150
    assert pstyle["indentFirstLine"] == {"magnitude": 36, "unit": "PT"}
    # a field in the mask but not in the style is cleared
    update(docs, doc_id, {"updateTextStyle": {"range": {"startIndex": 9, "endIndex": 12},
                                              "textStyle": {}, "fields": "italic"}})
    first = paragraphs(get(docs, doc_id))[1]["paragraph"]["elements"][0]["textRun"]["textStyle"]
    assert "italic" not in first and first["bold"] is True


def test_update_text_style_without_fields_is_refused(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("abc"))
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, {"updateTextStyle": {"range": {"startIndex": 1, "endIndex": 3},
                                                  "textStyle": {"bold": True}}})
    assert err.value.resp.status == 400
    assert error_of(err)["message"] == ("Invalid requests[0].updateTextStyle: At least one field "
                                        "must be listed in 'fields'. (Use '*' to indicate all "
                                        "fields.)")


def test_unknown_field_in_a_request_is_refused(docs) -> None:
    doc_id = new_doc(docs)
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, {"insertText": {"location": {"index": 1}, "text": "a", "colour": 1}})
    assert err.value.resp.status == 400 and 'Unknown name "colour"' in error_of(err)["message"]


def test_unknown_document_is_404(docs) -> None:
    with pytest.raises(HttpError) as err:
        docs.get(documentId="khong-ton-tai").execute()
    assert err.value.resp.status == 404
    assert error_of(err)["message"] == "Requested entity was not found."
    assert error_of(err)["status"] == "NOT_FOUND"
    with pytest.raises(HttpError) as err:
        update(docs, "khong-ton-tai", insert("x"))
    assert err.value.resp.status == 404


def test_table_has_googles_structural_indexes(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, {"insertTable": {"rows": 2, "columns": 3, "location": {"index": 1}}})
    content = get(docs, doc_id)["body"]["content"]
    assert [(e.get("startIndex"), e["endIndex"]) for e in content] == [
        (None, 1), (1, 2), (2, 17), (17, 18)]
    table = content[2]["table"]
    assert (table["rows"], table["columns"]) == (2, 3)
    row0, row1 = table["tableRows"]
    assert [(r["startIndex"], r["endIndex"]) for r in (row0, row1)] == [(3, 10), (10, 17)]
    cells = [(c["startIndex"], c["endIndex"], c["content"][0]["startIndex"])
             for c in row0["tableCells"]]
    assert cells == [(4, 6, 5), (6, 8, 7), (8, 10, 9)]
    assert row1["tableCells"][2]["content"][0]["startIndex"] == 16
    # fill cells from the last to the first so earlier indexes stay valid
    update(docs, doc_id, insert("Ông", 16), insert("Họ tên", 5))
    content = get(docs, doc_id)["body"]["content"]
    texts = [[text_of(c["content"][0]) for c in r["tableCells"]]
             for r in content[2]["table"]["tableRows"]]
    assert texts == [["Họ tên\n", "\n", "\n"], ["\n", "\n", "Ông\n"]]
    assert content[2]["endIndex"] == 17 + 6 + 3


def test_insert_at_a_table_start_is_refused(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, {"insertTable": {"rows": 1, "columns": 1, "location": {"index": 1}}})
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, insert("x", 2))
    assert "inside the bounds of an existing paragraph" in error_of(err)["message"]
    with pytest.raises(HttpError) as err:   # the newline before a table cannot go alone
        update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 2}}})
    assert "Invalid deletion range" in error_of(err)["message"]


def test_delete_inside_a_cell_and_a_whole_table(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Trước"),
           {"insertTable": {"rows": 1, "columns": 2, "endOfSegmentLocation": {}}})
    # "Trước\n" 1..7, table 7..13 (cells' paragraphs at 10 and 12), "\n" 13..14
    update(docs, doc_id, insert("Xóa bớt", 10))
    update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 10, "endIndex": 14}}})
    table = get(docs, doc_id)["body"]["content"][2]
    assert text_of(table["table"]["tableRows"][0]["tableCells"][0]["content"][0]) == "bớt\n"
    with pytest.raises(HttpError) as err:   # a cell keeps its last newline
        update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 10, "endIndex": 14}}})
    assert "Invalid deletion range" in error_of(err)["message"]
    with pytest.raises(HttpError):          # nor can a range cut a table in two
        update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 5, "endIndex": 11}}})
    end = table["endIndex"]
    update(docs, doc_id, {"deleteContentRange": {"range": {"startIndex": 7, "endIndex": end}}})
    content = get(docs, doc_id)["body"]["content"]
    assert [text_of(e) for e in content[1:]] == ["Trước\n", "\n"]
    assert content[-1]["endIndex"] == 8


def test_page_size_margins_and_page_break(docs) -> None:
    doc_id = new_doc(docs)
    a4 = {"width": {"magnitude": 595.3, "unit": "PT"}, "height": {"magnitude": 841.9, "unit": "PT"}}
    update(docs, doc_id, insert("Trang một"),
           {"insertPageBreak": {"endOfSegmentLocation": {}}},
           {"updateDocumentStyle": {"documentStyle": {
               "pageSize": a4, "marginLeft": {"magnitude": 85, "unit": "PT"},
               "marginTop": {"magnitude": 56.7, "unit": "PT"}},
               "fields": "pageSize,marginLeft,marginTop"}})
    doc = get(docs, doc_id)
    style = doc["documentStyle"]
    assert style["pageSize"] == a4 and style["marginLeft"]["magnitude"] == 85
    assert style["marginRight"] == {"magnitude": 72, "unit": "PT"}
    elements = paragraphs(doc)[0]["paragraph"]["elements"]
    assert elements[1] == {"startIndex": 10, "endIndex": 11, "pageBreak": {"textStyle": {}}}
    assert [text_of(p) for p in paragraphs(doc)] == ["Trang một\n", "\n"]
    with pytest.raises(HttpError):
        update(docs, doc_id, {"updateDocumentStyle": {"documentStyle": {"pageSize": a4}}})


def test_bullets_make_a_list(docs) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Khai mạc\n\tPhát biểu\nBế mạc\nNgoài"),
           {"createParagraphBullets": {"range": {"startIndex": 1, "endIndex": 25},
                                       "bulletPreset": "NUMBERED_DECIMAL_ALPHA_ROMAN"}})
    doc = get(docs, doc_id)
    pars = paragraphs(doc)[:3]
    assert [text_of(p) for p in pars] == ["Khai mạc\n", "Phát biểu\n", "Bế mạc\n"]  # tab consumed
    bullets = [p["paragraph"]["bullet"] for p in pars]
    list_id = bullets[0]["listId"]
    assert all(b["listId"] == list_id for b in bullets)
    assert bullets[1]["nestingLevel"] == 1 and "nestingLevel" not in bullets[0]
    assert doc["lists"][list_id]["listProperties"]["nestingLevels"][0]["glyphType"] == "DECIMAL"
    assert "bullet" not in paragraphs(doc)[3]["paragraph"]


def test_batch_is_all_or_nothing(docs, drive) -> None:
    doc_id = new_doc(docs)
    update(docs, doc_id, insert("Giữ nguyên"))
    before = get(docs, doc_id)
    version = drive.get(fileId=doc_id, fields="version").execute()["version"]
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, insert("Thêm "),
               {"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 999}}})
    assert err.value.resp.status == 400
    assert error_of(err)["message"].startswith("Invalid requests[1].deleteContentRange:")
    assert get(docs, doc_id) == before
    assert drive.get(fileId=doc_id, fields="version").execute()["version"] == version


def test_batch_update_touches_the_drive_file(docs, drive) -> None:
    doc_id = new_doc(docs)
    version = int(drive.get(fileId=doc_id, fields="version").execute()["version"])
    reply = update(docs, doc_id, insert("a"), insert("b"))
    assert reply["replies"] == [{}, {}] and reply["documentId"] == doc_id
    assert reply["writeControl"]["requiredRevisionId"] == get(docs, doc_id)["revisionId"]
    assert int(drive.get(fileId=doc_id, fields="version").execute()["version"]) > version


def test_required_revision_mismatch_is_refused(docs) -> None:
    doc_id = new_doc(docs)
    old = get(docs, doc_id)["revisionId"]
    update(docs, doc_id, insert("a"), writeControl={"requiredRevisionId": old})
    with pytest.raises(HttpError) as err:
        update(docs, doc_id, insert("b"), writeControl={"requiredRevisionId": old})
    assert err.value.resp.status == 400 and "revision" in error_of(err)["message"]
    assert body_text(get(docs, doc_id)) == "a\n"


def test_drive_create_and_delete_of_a_doc(docs, drive) -> None:
    made = drive.create(body={"name": "Trống", "mimeType": DOC_MIME}).execute()
    doc = get(docs, made["id"])
    assert doc["title"] == "Trống" and body_text(doc) == "\n"
    drive.delete(fileId=made["id"]).execute()
    with pytest.raises(HttpError) as err:
        get(docs, made["id"])
    assert err.value.resp.status == 404


def _styled_document(docs: Any) -> str:
    doc_id = new_doc(docs, "Chương trình")
    update(docs, doc_id, insert("Chương trình hội thảo\nNội dung đậm\nĐoạn cuối"),
           {"updateParagraphStyle": {"range": {"startIndex": 1, "endIndex": 2},
                                     "paragraphStyle": {"namedStyleType": "TITLE",
                                                        "alignment": "CENTER"},
                                     "fields": "namedStyleType,alignment"}},
           {"updateTextStyle": {"range": {"startIndex": 23, "endIndex": 26},
                                "textStyle": {"bold": True,
                                              "weightedFontFamily": {"fontFamily": "Times New Roman"},
                                              "fontSize": {"magnitude": 14, "unit": "PT"}},
                                "fields": "bold,weightedFontFamily,fontSize"}},
           {"insertTable": {"rows": 2, "columns": 2, "endOfSegmentLocation": {}}})
    table = get(docs, doc_id)["body"]["content"][-2]
    cells = [c["content"][0]["startIndex"] for r in table["table"]["tableRows"]
             for c in r["tableCells"]]
    update(docs, doc_id, insert("Đơn vị", cells[3]), insert("Họ tên", cells[0]),
           {"insertPageBreak": {"endOfSegmentLocation": {}}},
           {"updateDocumentStyle": {"documentStyle": {"pageSize": {
               "width": {"magnitude": 595.3, "unit": "PT"},
               "height": {"magnitude": 841.9, "unit": "PT"}}}, "fields": "pageSize"}})
    return doc_id


def test_docx_export_opens_with_python_docx(docs, drive) -> None:
    doc_id = _styled_document(docs)
    data = drive.export(fileId=doc_id, mimeType=DOCX_MIME).execute()
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    assert texts[:3] == ["Chương trình hội thảo", "Nội dung đậm", "Đoạn cuối"]
    title = document.paragraphs[0]
    assert title.style.name == "Title" and title.alignment == 1   # CENTER
    bold = document.paragraphs[1].runs[0]
    assert (bold.text, bold.bold, bold.font.name, bold.font.size.pt) == (
        "Nội", True, "Times New Roman", 14)
    assert not document.paragraphs[1].runs[1].bold
    table = document.tables[0]
    assert [[c.text for c in row.cells] for row in table.rows] == [["Họ tên", ""], ["", "Đơn vị"]]
    assert round(document.sections[0].page_width.pt, 1) == 595.3
    assert round(document.sections[0].left_margin.pt) == 72
    assert b'w:type="page"' in _document_xml(data)


def _document_xml(data: bytes) -> bytes:
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("word/document.xml")


def test_text_export_has_one_line_per_paragraph(docs, drive) -> None:
    doc_id = _styled_document(docs)
    data = drive.export(fileId=doc_id, mimeType="text/plain").execute()
    text = data.decode("utf-8")
    assert text.startswith("\ufeffChương trình hội thảo\r\nNội dung đậm\r\nĐoạn cuối\r\n")
    assert "Họ tên" in text and "Đơn vị" in text


def test_export_to_an_unsupported_type_is_refused(docs, drive) -> None:
    doc_id = new_doc(docs)
    with pytest.raises(HttpError) as err:
        drive.export(fileId=doc_id, mimeType="image/png").execute()
    assert err.value.resp.status == 400
    assert error_of(err)["message"] == "The requested conversion is not supported."
