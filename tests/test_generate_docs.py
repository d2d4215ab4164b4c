"""generate-docs on the seeded workshop with the real clients: five Docs
written in the Decree 30 layout with figures counted from the sheets; an
untouched draft is rewritten, an edited one is never overwritten (a new
version is made beside it), also when the edit lands between the tool's read
and its write; the date rule."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import run_job_as_cli
from tests.test_chase_submissions import _set_cells, _table
from workflows.doc_layout import place_date
from workflows.generate_docs import FILES, document_name
from workspace.errors import UsageError


def _generate(config, **kw) -> Any:
    return run_job_as_cli(config, "generate-docs", **kw)


def _rows(config) -> dict[str, Any]:
    return _table(config, "documents").by_key


def _staff(server, config):
    from sandbox.seed import _staff_credentials
    from workspace.clients import Workspace

    return Workspace(_staff_credentials(server, config.event.contact.email), server.url)


def _text(ws, doc_id: str) -> str:
    doc = ws.service("docs", "v1").documents().get(documentId=doc_id).execute()
    out = []

    def walk(content):
        for e in content:
            for part in (e.get("paragraph") or {}).get("elements", []):
                out.append((part.get("textRun") or {}).get("content", ""))
            for row in (e.get("table") or {}).get("tableRows", []):
                for cell in row["tableCells"]:
                    walk(cell["content"])
    walk(doc["body"]["content"])
    return "".join(out)


def _lose_once(server, method_id: str, doc_id: str = ""):
    """The next `method_id` call (on `doc_id`, if given) is done by Google but
    its answer is lost (503); returns the list of paths it hit and the stop."""
    hit: list[str] = []

    def lose(path: str):
        if (doc_id in path) and not hit:
            hit.append(path)
            return 503
        return None
    return hit, server.at(method_id, lose)


def _edit(ws, doc_id: str, text: str) -> None:
    """A person types a sentence at the start of the document's body."""
    docs = ws.service("docs", "v1").documents()
    docs.batchUpdate(documentId=doc_id, body={"requests": [
        {"insertText": {"location": {"index": 1}, "text": text}}]}).execute()


@pytest.mark.parametrize("day, text", [
    (dt.date(2025, 1, 5), "Thành phố Hồ Chí Minh, ngày 05 tháng 01 năm 2025"),
    (dt.date(2024, 6, 29), "Thành phố Hồ Chí Minh, ngày 29 tháng 6 năm 2024"),
    (dt.date(2024, 11, 22), "Thành phố Hồ Chí Minh, ngày 22 tháng 11 năm 2024"),
    (dt.date(2024, 2, 9), "Thành phố Hồ Chí Minh, ngày 09 tháng 02 năm 2024"),
    (None, "Thành phố Hồ Chí Minh, ngày    tháng    năm 2024"),
])
def test_the_date_line_follows_decree_30(day, text) -> None:
    assert place_date("Thành phố Hồ Chí Minh", day, 2024) == text


def test_only_names_a_document_in_english_or_vietnamese() -> None:
    assert document_name("programme") == document_name("chuong-trinh") == "programme"
    with pytest.raises(UsageError, match="phat-bieu-khai-mac"):
        document_name("bai-phat-bieu")


def test_five_documents_with_live_figures_recorded_in_van_ban(seeded_server, seeded_config) -> None:
    config = seeded_config
    run_job_as_cli(config, "sync-registrations")
    result = _generate(config)
    assert result.figures["đã ghi"] == 5
    rows = _rows(config)
    # Its own rows, beside the invitation letter's that staff keep (the seed's).
    assert sorted(rows) == sorted([slug for slug, _ in FILES.values()] + ["chuong-trinh-web", "giay-moi"])
    for slug, row in rows.items():
        if slug in ("chuong-trinh-web", "giay-moi"):
            continue
        assert row["doc_id"] and row["revision"] and str(row["version"]) == "1", slug
        assert row["link"].endswith(f"/d/{row['doc_id']}/edit") and "/file/d/" in row["pdf"]
    # The lead-in report's figures are the sheet's: counted again here from the tabs.
    delegations = _table(config, "delegations").records
    confirmed = sum(int(d["confirmed"] or 0) for d in delegations)
    invited = len(_table(config, "invitees").records)
    with _staff(seeded_server, config) as ws:
        text = _text(ws, rows["bao-cao-de-dan"]["doc_id"])
    assert f"đã mời {invited} đại biểu" in text and f"{confirmed} đại biểu được xác nhận" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "Độc lập - Tự do - Hạnh phúc" in text
    assert "Số:" in text and "/BC-SGDĐT" in text and "Nơi nhận:" in text

    # A registration changes; the untouched drafts follow, in place.
    first = {slug: row["doc_id"] for slug, row in rows.items()}   # the web page too: updated in place
    withdrawn = next(r.key for r in _table(config, "registrations").records if r["status"] == "Đã xác nhận")
    _set_cells(config, "registrations", {(withdrawn, "withdrawn"): True})
    run_job_as_cli(config, "sync-registrations")
    _generate(config)
    rows = _rows(config)
    assert {slug: row["doc_id"] for slug, row in rows.items()} == first
    with _staff(seeded_server, config) as ws:
        text = _text(ws, rows["bao-cao-de-dan"]["doc_id"])
    assert f"{confirmed - 1} đại biểu được xác nhận" in text


def test_an_edited_draft_is_kept_and_a_new_version_made_beside_it(seeded_server, seeded_config) -> None:
    config = seeded_config
    _generate(config, only="opening_speech")
    row = _rows(config)["phat-bieu-khai-mac"]
    edit = "Lời chào của đồng chí Giám đốc, do Văn phòng sửa. "
    with _staff(seeded_server, config) as ws:
        _edit(ws, row["doc_id"], edit)
    result = _generate(config, only="opening_speech")
    assert result.figures["bản mới vì có người sửa"] == 1
    assert any("đã có người sửa" in note for note in result.notes)
    after = _rows(config)["phat-bieu-khai-mac"]
    assert after["doc_id"] != row["doc_id"] and str(after["version"]) == "2"
    assert row["link"] in after["edited"]
    with _staff(seeded_server, config) as ws:
        assert _text(ws, row["doc_id"]).startswith(edit)            # the person's edit, intact
        assert edit not in _text(ws, after["doc_id"])
        name = ws.service("drive", "v3").files().get(fileId=after["doc_id"], fields="name").execute()
    assert name["name"] == "Phát biểu khai mạc Hội thảo (bản 2)"
    # The new version is the tool's own untouched draft: the next run rewrites it in place.
    _generate(config, only="opening_speech")
    assert _rows(config)["phat-bieu-khai-mac"]["doc_id"] == after["doc_id"]


def test_an_edit_between_the_read_and_the_write_is_not_overwritten(seeded_server, seeded_config) -> None:
    config = seeded_config
    _generate(config, only="programme")
    row = _rows(config)["chuong-trinh"]
    edit = "Ghi chú của Văn phòng. "
    staff = _staff(seeded_server, config)

    def person_types(path: str) -> None:
        if row["doc_id"] in path:
            stop()
            _edit(staff, row["doc_id"], edit)
    # Right after the tool reads the document (its revision is still the one recorded),
    # a person types; the tool's write under requiredRevisionId must be refused.
    stop = seeded_server.at("docs.documents.get", person_types)
    try:
        result = _generate(config, only="programme")
    finally:
        staff.close()
    assert result.figures["bản mới vì có người sửa"] == 1
    after = _rows(config)["chuong-trinh"]
    assert after["doc_id"] != row["doc_id"]
    with _staff(seeded_server, config) as ws:
        assert _text(ws, row["doc_id"]).startswith(edit)


def test_dry_run_prints_the_text_and_writes_nothing(seeded_server, seeded_config, capsys) -> None:
    config = seeded_config
    before = seeded_server.store.last_request_seq()
    _generate(config, dry_run=True, only="results_report")
    calls = seeded_server.store.requests(before)
    assert [c["method_id"] for c in calls if c["kind"] == "write" and c["method_id"] != "oauth.token"] == []
    out = capsys.readouterr().out
    assert "BÁO CÁO" in out and "Kết quả tổ chức" in out and "THÀNH PHẦN THAM DỰ" in out


def test_documents_carry_what_staff_set_in_van_ban(seeded_server, seeded_config, tmp_path) -> None:
    """Số, Ngày ban hành, the signature and the recipients come from the row, as
    staff type them; a lead-in report dated after the event is said by the run
    and by `check`; the results report may be (it is issued after)."""
    from tests.conftest import run_cli

    config = seeded_config
    _generate(config, only="lead_in_report")
    _generate(config, only="results_report")
    _set_cells(config, "documents", {
        ("bao-cao-de-dan", "number"): "05", ("bao-cao-de-dan", "issued_on"): "05/01/2025",
        ("bao-cao-de-dan", "authority"): "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC",
        ("bao-cao-de-dan", "signer"): "Lê Thụy Mỵ Châu",
        ("bao-cao-de-dan", "recipients"): "- Thường trực Thành ủy;\nLưu: VT, VP.",
        ("bao-cao-ket-qua", "number"): "215/BC-SGDĐT", ("bao-cao-ket-qua", "issued_on"): "29/11/2024"})
    result = _generate(config, only="lead_in_report")
    assert any("sau ngày diễn ra" in note for note in result.notes)
    row = _rows(config)["bao-cao-de-dan"]
    with _staff(seeded_server, config) as ws:
        text = _text(ws, row["doc_id"])
    assert "Số: 05/BC-SGDĐT" in text and "Thành phố Hồ Chí Minh, ngày 05 tháng 01 năm 2025" in text
    assert "KT. GIÁM ĐỐC" in text and "PHÓ GIÁM ĐỐC" in text and "Lê Thụy Mỵ Châu" in text
    assert "- Thường trực Thành ủy;" in text and "- Lưu: VT, VP." in text and "- -" not in text
    result = _generate(config, only="results_report")
    assert not any("sau ngày diễn ra" in note for note in result.notes)
    with _staff(seeded_server, config) as ws:
        text = _text(ws, _rows(config)["bao-cao-ket-qua"]["doc_id"])
    assert "Số: 215/BC-SGDĐT" in text and "BC-SGDĐT/BC" not in text
    out = run_cli("--config", str(config.source), "check")
    assert "! Văn bản Báo cáo đề dẫn Hội thảo: Ngày ban hành 05/01/2025 sau ngày diễn ra" in out.stdout
    assert "Báo cáo kết quả Hội thảo: Ngày ban hành" not in out.stdout


def test_attendance_counts_once_staff_tick_who_came(seeded_server, seeded_config) -> None:
    config = seeded_config
    run_job_as_cli(config, "sync-registrations")
    _generate(config, only="results_report")
    row = _rows(config)["bao-cao-ket-qua"]
    with _staff(seeded_server, config) as ws:
        before = _text(ws, row["doc_id"])
    assert "có mặt" not in before            # nobody ticked yet: no "0 present"
    came = [r.key for r in _table(config, "registrations").records if r["status"] == "Đã xác nhận"][:2]
    _set_cells(config, "registrations", {(key, "attended"): True for key in came})
    _generate(config, only="results_report")
    with _staff(seeded_server, config) as ws:
        after = _text(ws, _rows(config)["bao-cao-ket-qua"]["doc_id"])
    assert "có 2 đại biểu có mặt" in after


def test_the_programme_is_also_one_web_page_in_the_drive_folder(seeded_server, seeded_config) -> None:
    config = seeded_config
    run_job_as_cli(config, "chase-submissions")
    _set_cells(config, "papers", {("TL01", "decision"): "Được chọn",
                                  ("TL01", "slot"): "Phiên 1: Dữ liệu lớn <và> AI"})
    run_job_as_cli(config, "chase-submissions")
    _generate(config, only="programme")
    row = _rows(config)["chuong-trinh-web"]
    file_id = row["doc_id"]
    with _staff(seeded_server, config) as ws:
        drive = ws.service("drive", "v3").files()
        meta = drive.get(fileId=file_id, fields="name,mimeType,parents").execute()
        page = drive.get_media(fileId=file_id).execute().decode("utf-8")
    assert meta["name"] == "Chương trình Hội thảo.html" and meta["mimeType"] == "text/html"
    assert meta["parents"] == [config.google.drive_folder_id]
    title = _table(config).by_key["TL01"]["title"]
    assert '<html lang="vi">' in page and 'name="viewport"' in page and "@media print" in page
    assert "Phiên 1: Dữ liệu lớn &lt;và&gt; AI" in page and title in page   # escaped, never raw
    _generate(config, only="programme")                                   # updated in place
    assert _rows(config)["chuong-trinh-web"]["doc_id"] == file_id


def test_new_documents_are_shared_as_configured_and_their_pdf_kept_beside(seeded_server,
                                                                         seeded_config) -> None:
    from workspace.config import Share

    config = seeded_config
    config.documents.share_with = [Share(email="van.phong@sgddt-hcm.example", role="writer"),
                                   Share(email="lanh.dao@sgddt-hcm.example", role="reader")]
    _generate(config, only="lead_in_report")
    row = _rows(config)["bao-cao-de-dan"]
    with _staff(seeded_server, config) as ws:
        drive = ws.service("drive", "v3")
        perms = drive.permissions().list(fileId=row["doc_id"],
                                         fields="permissions(emailAddress,role)").execute()
        pdf_id = row["pdf"].split("/file/d/")[1].split("/")[0]
        pdf = drive.files().get(fileId=pdf_id, fields="name,mimeType,parents").execute()
        data = drive.files().get_media(fileId=pdf_id).execute()
    roles = {p.get("emailAddress"): p["role"] for p in perms["permissions"]}
    assert roles["van.phong@sgddt-hcm.example"] == "writer"
    assert roles["lanh.dao@sgddt-hcm.example"] == "reader"
    assert pdf == {"name": "Báo cáo đề dẫn Hội thảo.pdf", "mimeType": "application/pdf",
                   "parents": [config.google.drive_folder_id]} and data.startswith(b"%PDF")
    _generate(config, only="lead_in_report")           # the same PDF file, updated in place
    assert _rows(config)["bao-cao-de-dan"]["pdf"] == row["pdf"]


def test_a_lost_answer_to_the_tools_own_write_is_not_a_persons_edit(seeded_server, seeded_config) -> None:
    """Google applies the rewrite but its answer is lost; the retry is refused
    (the revision moved): the last change is the tool's own, so no new version."""
    config = seeded_config
    _generate(config, only="programme")
    row = _rows(config)["chuong-trinh"]
    lost, stop = _lose_once(seeded_server, "docs.documents.batchUpdate", row["doc_id"])
    try:
        result = _generate(config, only="programme")
    finally:
        stop()
    assert lost and result.figures["bản mới vì có người sửa"] == 0, result.notes
    after = _rows(config)["chuong-trinh"]
    assert after["doc_id"] == row["doc_id"] and after["edited"] == ""


def test_a_run_stopped_after_the_doc_is_made_is_recognised_next_time(seeded_server, seeded_config) -> None:
    """The Doc is created and recorded, then writing it fails: the next run
    writes that same Doc, never a second copy or a false "edited" note."""
    config = seeded_config
    failed, stop = _lose_once(seeded_server, "docs.documents.batchUpdate")
    try:
        from workspace.retry import RetryPolicy
        first = _generate(config, only="opening_speech", policy=RetryPolicy(attempts=1))
    finally:
        stop()
    assert first.figures["đã ghi"] in (0, 1)
    made = _rows(config)["phat-bieu-khai-mac"]["doc_id"]
    second = _generate(config, only="opening_speech")
    assert second.figures["bản mới vì có người sửa"] == 0, second.notes
    assert _rows(config)["phat-bieu-khai-mac"]["doc_id"] == made


def test_a_person_s_doc_of_the_same_name_is_never_taken_for_a_new_one(seeded_server, seeded_config) -> None:
    """Staff clear the row; the tool's copy goes through but its answer is lost:
    the tool finds its own new file by its mark, not the edited one by name."""
    config = seeded_config
    _generate(config, only="opening_speech")
    old = _rows(config)["phat-bieu-khai-mac"]
    edit = "Bản của Văn phòng. "
    with _staff(seeded_server, config) as ws:
        _edit(ws, old["doc_id"], edit)
    _set_cells(config, "documents", {("phat-bieu-khai-mac", f): "" for f in ("doc_id", "version", "revision")})
    lost, stop = _lose_once(seeded_server, "drive.files.copy")
    try:
        _generate(config, only="opening_speech")
    finally:
        stop()
    assert lost
    new = _rows(config)["phat-bieu-khai-mac"]["doc_id"]
    assert new != old["doc_id"]
    with _staff(seeded_server, config) as ws:
        assert _text(ws, old["doc_id"]).startswith(edit)          # untouched


def test_programme_sessions_keep_the_tabs_order_and_invitees_count_by_code_or_name() -> None:
    from workflows import doc_figures as fig

    papers = [{"key": "TL03", "status": "Được chọn", "file": "x", "slot": "Phiên 2: chiều", "title": "C"},
              {"key": "TL01", "status": "Được chọn", "file": "x", "slot": "Phiên 1: sáng", "title": "A"},
              {"key": "TL02", "status": "Được chọn", "file": "x", "slot": "Phiên 2: chiều", "title": "B"},
              {"key": "TL04", "status": "Được chọn", "file": "x", "slot": "", "title": "D"},
              {"key": "TL05", "status": "Đã nộp", "file": "x", "slot": "Phiên 1: sáng", "title": "E"}]
    sessions = fig.programme(papers)
    assert [(s["name"], [p["code"] for p in s["papers"]]) for s in sessions] == [
        ("Phiên 2: chiều", ["TL03", "TL02"]), ("Phiên 1: sáng", ["TL01"])]
    delegations, totals = fig.delegations(
        [{"key": "BDG", "name": "Sở GDĐT Bình Dương", "quota": 20, "confirmed": "1e400"}],
        [{"delegation": "BDG"}, {"delegation": "bdg"}, {"delegation": "Sở GDĐT  Bình Dương"}], [])
    assert delegations[0]["invited"] == 3 and delegations[0]["confirmed"] == 0


def test_check_says_which_documents_will_have_no_page_numbers(seeded, seeded_server) -> None:
    import yaml

    from tests.conftest import run_cli

    path = seeded / "config.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["google"]["doc_templates"]["programme"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = run_cli("--config", str(path), "check")
    assert "! google.doc_templates: chưa có Google Doc mẫu cho programme" in out.stdout
