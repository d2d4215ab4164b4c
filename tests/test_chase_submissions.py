"""chase-submissions, its submissions step: the paper form's responses ->
`Tham luận` and receipts in the outbox, on the seeded 2024 workshop with the
real clients. The seed has four papers submitted already: TL01 and TL02
through their pre-filled link, TL03 without the code (found by email), and
one from someone not on the list."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import threading
import time
import unicodedata
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from rich.console import Console

from sandbox.api.forms_responses import submit_responses
from tests.conftest import open_ws, run_cli, run_job_as_cli
from workflows import submissions
from workflows.base import print_summary
from workflows.chase_submissions import RECEIPT
from workspace.forms import Response
from workspace.outbox import open_ledger
from workspace.table import KeyedTable, col_letter, quote_tab

WRITES = {"sheets.spreadsheets.values.batchUpdate", "sheets.spreadsheets.values.append",
          "sheets.spreadsheets.values.update", "sheets.spreadsheets.batchUpdate",
          "sheets.spreadsheets.values.clear", "sheets.spreadsheets.values.batchClear"}
STAFF = ("due", "reviewer", "decision", "notes")
LINK = "https://drive.google.com/open?id="


def _chase(config, **kwargs):
    return run_job_as_cli(config, "chase-submissions", **kwargs)


def _table(config, name="papers"):
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        return KeyedTable(sh, getattr(config.sheets, name), name).read()


def _pdf(name: str) -> dict:
    return {"name": name, "content": f"%PDF-1.4\n% {name}\n%%EOF\n".encode()}


def _paper(row, **over) -> dict:
    """A writer's answers for a row of Tham luận (by canonical field)."""
    answers = {"author": row["author"], "email": row["email"], "unit": row["unit"],
               "topic": row["topic"], "title": row["title"], "file": _pdf(f"{row.key}.pdf"),
               "paper_code": row.key}
    answers.update(over)
    return answers


def _stranger(n: int, topic: str) -> dict:
    return {"author": f"Người Viết {n}", "email": f"nguoiviet{n}@thcs.example",
            "unit": "Trường THCS Lê Lợi", "topic": topic, "title": f"Tham luận số {n}",
            "file": _pdf(f"bai-{n}.pdf"), "paper_code": ""}


def _submit(server, config, answers: list[dict], edit: str | None = None) -> list[str]:
    form = config.google.forms.paper
    titled = [{form.fields[k]: v for k, v in a.items() if v != ""} for a in answers]
    return submit_responses(server.store, form.id, titled, edit_response_id=edit)


def _receipts(config) -> dict[str, list[str]]:
    """Receipt keys in the ledger, by paper code."""
    out: dict[str, list[str]] = {}
    with open_ledger(config, readonly=True) as ledger:
        for key in sorted(ledger.keys(RECEIPT)):
            out.setdefault(ledger.get(key).source_key, []).append(key)
    return out


def _set_cells(config, name: str, cells: dict[tuple[str, str], object]) -> None:
    """Staff type values into cells (key, field), as in the sheet's UI."""
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        table = getattr(config.sheets, name)
        snap = KeyedTable(sh, table, name).read()
        data = [{"range": f"{quote_tab(table.tab)}!{col_letter(snap.columns[f])}{snap.by_key[k].row}",
                 "values": [[v]]} for (k, f), v in cells.items()]
        sh.values_batch_update({"valueInputOption": "USER_ENTERED", "data": data})


def _today_local(config) -> str:
    return dt.datetime.now(ZoneInfo(config.timezone)).date().isoformat()


# -- the seeded submissions ---------------------------------------------------------------

def test_submissions_by_code_and_by_email_fill_their_rows_and_queue_one_receipt(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    before = _table(config)
    result = _chase(config)
    after = _table(config)
    for code in ("TL01", "TL02", "TL03"):      # TL03 was sent without its code: found by email
        row = after.by_key[code]
        assert row["status"] == "Đã nộp"
        assert row["submitted_at"] == _today_local(config)
        assert row["file"].startswith(LINK) and "\n" not in row["file"]
        assert row["file_history"] == "" and row["problem"] == ""
        for f in STAFF + ("author", "email", "title", "topic"):
            assert row[f] == before.by_key[code][f]
    # The link is the uploaded file, readable by the tool, no call per row needed to make it.
    with open_ws(config) as ws:
        drive = ws.service("drive", "v3")
        meta = drive.files().get(fileId=after.by_key["TL01"]["file"].removeprefix(LINK),
                                 fields="name,mimeType").execute()
    assert meta["name"].startswith("tham-luan-TL01") and meta["mimeType"] == "application/pdf"
    assert [r.key for r in after.records if r["status"] == "Chờ nộp"] == [f"TL{i:02d}" for i in range(4, 13)]
    receipts = _receipts(config)
    assert {code: len(keys) for code, keys in receipts.items() if code.startswith("TL0")} == {
        "TL01": 1, "TL02": 1, "TL03": 1}
    assert result.figures["tham luận mới nộp"] == 4 and result.figures["báo cáo mới nộp"] == 1
    assert result.figures["thư xác nhận xếp hàng"] == 5   # four papers and BC01's report
    # Mirrored to Hộp thư đi as every queued message is.
    outbox = _table(config, "outbox")
    mirrored = {r.key: r for r in outbox.records}
    for keys in receipts.values():
        assert mirrored[keys[0]]["status"] == "Chờ gửi"
        assert mirrored[keys[0]]["kind"] == "Xác nhận nhận tham luận"
    # The receipt itself: official register, the paper's title and code, the review council's date.
    with open_ledger(config, readonly=True) as ledger:
        raw = ledger.get(receipts["TL01"][0]).raw
    text = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
    assert text.startswith(f"Kính gửi: Tác giả {after.by_key['TL01']['author']}")
    assert "TL01" in text and after.by_key["TL01"]["title"] in text
    assert "Hội đồng thẩm định" in text and "Trân trọng." in text


def test_a_rerun_changes_nothing_and_queues_nothing(seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config)
    receipts = _receipts(config)
    snap = _table(config)
    before = seeded_server.store.last_request_seq()
    result = _chase(config)
    writes = [r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]
    assert len(writes) == 1 and "Nhật ký" in unquote(writes[0]["path"])   # its run log row only
    assert result.figures["thư xác nhận xếp hàng"] == 0 and result.figures["dòng cập nhật"] == 0
    assert _receipts(config) == receipts
    assert [(r.key, r.values) for r in _table(config).records] == [(r.key, r.values) for r in snap.records]
    log = _table(config, "runs").records[-1]
    assert log["job"] == "chase-submissions" and "thư xác nhận xếp hàng: 0" in log["figures"]


def test_someone_not_on_the_list_gets_one_new_row_to_confirm(seeded_server, seeded_config) -> None:
    config = seeded_config
    result = _chase(config)
    snap = _table(config)
    new = [r for r in snap.records if r.key.startswith("TL-")]
    assert len(new) == 1 and result.figures["không khớp danh sách"] == 1
    row = new[0]
    assert row["status"] == "Đã nộp" and row["file"].startswith(LINK)
    assert "không có trong danh sách" in row["problem"] and "xác nhận" in row["problem"]
    assert row["author"] and row["email"].endswith("@truong-thcs.example")
    assert row["due"] == "" and row["notes"] == ""
    assert len(_receipts(config)[row.key]) == 1
    # Again: the same row is found (its code comes from the response), none added.
    _chase(config)
    assert [r.key for r in _table(config).records] == [r.key for r in snap.records]
    # Staff confirm it by clearing the sentence: it stays cleared.
    _set_cells(config, "papers", {(row.key, "problem"): ""})
    _chase(config)
    assert _table(config).by_key[row.key]["problem"] == ""
    # A second paper from the same person (no code) lands on that row, not a third one.
    time.sleep(1.05)
    _submit(seeded_server, config, [{"author": row["author"], "email": row["email"],
                                     "unit": row["unit"], "topic": row["topic"],
                                     "title": row["title"], "file": _pdf("ban-sua.pdf")}])
    result = _chase(config)
    after = _table(config)
    assert len(after.records) == len(snap.records)
    assert after.by_key[row.key]["file"] != row["file"]
    assert row["file"] in after.by_key[row.key]["file_history"]
    assert result.figures["nộp lại"] == 1


# -- resubmissions ----------------------------------------------------------------------

def test_resubmission_replaces_the_link_keeps_the_old_one_and_gets_its_own_receipt(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config)
    first = _table(config).by_key["TL01"]
    time.sleep(1.05)
    # A new response through the same pre-filled link, with a corrected file.
    _submit(seeded_server, config, [_paper(first, file=_pdf("TL01-ban-sua.pdf"))])
    result = _chase(config)
    row = _table(config).by_key["TL01"]
    assert row["file"].startswith(LINK) and row["file"] != first["file"]
    assert row["file_history"] == f"{first['submitted_at']} {first['file']}"
    assert row["status"] == "Đã nộp" and result.figures["nộp lại"] == 1
    assert len(_receipts(config)["TL01"]) == 2
    # An edited response (same id, new file and time): replaced again, history grows, a third receipt.
    rid = _submit(seeded_server, config, [_paper(_table(config).by_key["TL04"])])[0]
    _chase(config)
    tl04 = _table(config).by_key["TL04"]
    time.sleep(1.05)
    _submit(seeded_server, config, [_paper(tl04, file=_pdf("TL04-v2.pdf"))], edit=rid)
    _chase(config)
    edited = _table(config).by_key["TL04"]
    assert edited["file"] != tl04["file"] and tl04["file"] in edited["file_history"]
    keys = _receipts(config)["TL04"]
    assert len(keys) == 2 and all(rid in k for k in keys)
    # And a rerun: nothing new anywhere.
    assert _chase(config).figures["thư xác nhận xếp hàng"] == 0
    assert _table(config).by_key["TL04"]["file_history"] == edited["file_history"]


def test_later_status_is_never_downgraded(seeded_server, seeded_config) -> None:
    config = seeded_config
    _set_cells(config, "papers", {("TL01", "status"): "Được chọn", ("TL02", "status"): "Đang thẩm định"})
    _chase(config)
    snap = _table(config)
    assert snap.by_key["TL01"]["status"] == "Được chọn"
    assert snap.by_key["TL02"]["status"] == "Đang thẩm định"
    assert snap.by_key["TL01"]["file"].startswith(LINK)   # the file is still recorded
    row = snap.by_key["TL02"]
    time.sleep(1.05)
    _submit(seeded_server, config, [_paper(row, file=_pdf("TL02-v2.pdf"))])
    _chase(config)
    assert _table(config).by_key["TL02"]["status"] == "Đang thẩm định"


def test_a_topic_outside_the_plan_is_a_problem_and_takes_nothing_away(
        seeded_server, seeded_config) -> None:
    config = seeded_config.model_copy(deep=True)
    old_topic = config.event.topics[0]
    config.event.topics = config.event.topics[1:]   # the plan dropped a topic the form still offers
    _chase(config)
    snap = _table(config)
    tl05 = snap.by_key["TL05"]
    time.sleep(1.05)
    rid = _submit(seeded_server, config, [_paper(tl05, topic=old_topic)])[0]
    _chase(config)
    row = _table(config).by_key["TL05"]
    assert row["status"] == "Đã nộp" and row["file"].startswith(LINK)   # the paper still counts
    assert f"«{old_topic}»" in row["problem"]
    assert "7 chủ đề" in row["problem"] and config.event.topics[-1] in row["problem"]
    # The author sends it again with a topic of the plan (written with NFD accents, odd
    # spaces and case): the sentence goes, the file of the first sending is kept in history.
    shaky = "  " + unicodedata.normalize("NFD", config.event.topics[2]).upper().replace(" ", "  ") + " "
    time.sleep(1.05)
    _submit(seeded_server, config, [_paper(row, topic=config.event.topics[2],
                                           file=_pdf("TL05-v2.pdf"))], edit=rid)
    # (the form's dropdown holds the exact text; the pure rule below takes the shaky one)
    _chase(config)
    again = _table(config).by_key["TL05"]
    assert again["problem"] == "" and row["file"] in again["file_history"]
    assert submissions.fold(shaky) == submissions.fold(config.event.topics[2])


# -- staff columns, sorting mid-run ------------------------------------------------------

def test_staff_columns_stay_beside_their_keys_when_staff_sort_mid_run(seeded_server, seeded_config) -> None:
    config = seeded_config
    staff = {}
    for i, code in enumerate(("TL01", "TL02", "TL03", "TL04", "TL07")):
        staff.update({(code, "notes"): f"Gọi lại lúc {8 + i} giờ", (code, "reviewer"): f"PGS. Phản Biện {i}",
                      (code, "decision"): "" if i % 2 else "Chờ họp hội đồng", (code, "due"): "2024-10-30"})
    _set_cells(config, "papers", staff)
    typed = _table(config)
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        tab = sh.worksheet(config.sheets.papers.tab)
        last = col_letter(len(typed.header) - 1)
        author_col = typed.columns["author"] + 1
        seeded_server.store.set_settings(latency_ms=150)
        start = seeded_server.store.last_request_seq()
        outcome: dict = {}
        job = threading.Thread(target=lambda: outcome.setdefault("result", _chase(config)))
        job.start()
        # As soon as the job has read the tab, a member of staff sorts it by author, Z first.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                r["method_id"] == "sheets.spreadsheets.values.batchGet"
                for r in seeded_server.store.requests(start)):
            time.sleep(0.01)
        tab.sort((author_col, "des"), range=f"A2:{last}{len(typed.records) + 1}")
        sorted_at = seeded_server.store.last_request_seq()
        job.join(60)
    seeded_server.store.set_settings(latency_ms=None)
    assert "result" in outcome
    log = seeded_server.store.requests(start)
    job_writes = [r["seq"] for r in log if r["method_id"] in WRITES and r["seq"] != sorted_at]
    assert job_writes and sorted_at < max(job_writes)   # the sort came while the job was writing
    after = _table(config)
    assert [r.key for r in after.records][:3] != [r.key for r in typed.records][:3]   # sorted
    for (code, field), value in staff.items():
        assert after.by_key[code][field] == typed.by_key[code][field], (code, field)
    for code in ("TL01", "TL02", "TL03"):
        assert after.by_key[code]["status"] == "Đã nộp" and after.by_key[code]["file"].startswith(LINK)
    for code in ("TL04", "TL07"):
        assert after.by_key[code]["status"] == "Chờ nộp" and after.by_key[code]["file"] == ""
    for r in typed.records:   # the copied and staff columns of every row, unchanged
        for f in ("author", "email", "unit", "topic", "title") + STAFF:
            assert after.by_key[r.key][f] == r[f]


# -- bulk I/O and dry runs ---------------------------------------------------------------

def test_request_count_is_the_same_for_5_and_for_50_responses(seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config)
    snap = _table(config)
    topic = config.event.topics[3]
    counts = []
    for codes, strangers in ((("TL05", "TL06"), range(3)), (("TL07", "TL08"), range(100, 148))):
        answers = [_paper(snap.by_key[c]) for c in codes] + [_stranger(n, topic) for n in strangers]
        _submit(seeded_server, config, answers)
        before = seeded_server.store.last_request_seq()
        result = _chase(config)
        calls = seeded_server.store.requests(before)
        counts.append(sorted(r["method_id"] for r in calls))
        assert result.figures["thư xác nhận xếp hàng"] == len(answers)
    print(f"\nrequests with 5 responses: {len(counts[0])}, with 50: {len(counts[1])}")
    print("\n".join(counts[1]))
    assert counts[0] == counts[1]
    # + one look at the tab titles (is `Báo cáo các phòng` there?); + the sheet id and one
    # setDataValidation giving the letters appended to Hộp thư đi their tick boxes
    assert len(counts[1]) <= 19
    assert len(_table(config).records) == 12 + 1 + 3 + 48


def test_dry_run_writes_nothing_and_shows_codes_only(seeded_server, seeded_config) -> None:
    config = seeded_config
    before = seeded_server.store.last_request_seq()
    result = _chase(config, dry_run=True)
    writes = [r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]
    assert writes == []
    assert not config.resolve(config.mail.ledger).exists()
    assert result.figures["tham luận mới nộp"] == 4 and result.figures["báo cáo mới nộp"] == 1
    assert result.figures["thư xác nhận xếp hàng"] == 5   # four papers and BC01's report
    assert all(r["status"] == "Chờ nộp" for r in _table(config).records)
    out = io.StringIO()
    print_summary(Console(file=out, width=200), "chase-submissions", result, dry_run=True)
    shown = out.getvalue()
    assert "TL01" in shown and "TL03" in shown
    for r in _table(config).records:
        assert r["author"] not in shown and r["email"] not in shown
    assert "@" not in shown


def test_today_option_on_the_command_line(seeded) -> None:
    config = str(seeded / "config.yaml")
    bad = run_cli("--config", config, "chase-submissions", "--today", "25/10/2024")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    out = run_cli("--config", config, "chase-submissions", "--today", "2024-10-20", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "tham luận mới nộp" in out.stdout and "TL01" in out.stdout


# -- the pure rules ----------------------------------------------------------------------

LABELS = {"key": "Mã tham luận", "tab": "Tham luận", "file": "Tệp", "email": "Email"}
TOPICS = ["Tổng quan về Dữ liệu lớn và AI trong giáo dục", "Mô hình trường học số tích hợp AI"]


def _response(rid: str, when: str, files=("F1",), **answers) -> Response:
    base = {"author": "Lê Văn Tám", "email": "tam@dhsg.example", "unit": "Trường Đại học Sài Gòn",
            "topic": TOPICS[0], "title": "Bài viết", "paper_code": ""}
    base.update(answers)
    values = {k: [v] for k, v in base.items() if v}
    if files:
        values["file"] = list(files)
    return Response(rid, when, when, values)


def _rows(**extra) -> dict:
    row = {"key": "TL01", "author": "Lê Văn Tám", "email": "Tam@DHSG.example ", "unit": "",
           "topic": TOPICS[0], "title": "Bài viết", "due": "", "status": "Chờ nộp", "file": "",
           "file_history": "", "submitted_at": "", "problem": "", "notes": ""}
    row.update(extra)
    return {"TL01": row}


def test_a_submission_without_a_file_keeps_the_earlier_link() -> None:
    rows = _rows(status="Đã nộp", file=LINK + "F0", submitted_at="2024-10-01")
    out = submissions.decide([_response("R1", "2024-10-02T03:00:00Z", files=())], rows, TOPICS,
                             "Asia/Ho_Chi_Minh", LABELS)
    assert "file" not in out.updates["TL01"] and "status" not in out.updates["TL01"]
    assert "không kèm tệp" in out.updates["TL01"]["problem"] and "01/10/2024" in out.updates["TL01"]["problem"]
    assert out.receipts == []
    # Never any file: still waiting, with the sentence.
    out = submissions.decide([_response("R1", "2024-10-02T03:00:00Z", files=())], _rows(), TOPICS,
                             "Asia/Ho_Chi_Minh", LABELS)
    assert "status" not in out.updates["TL01"] and "chưa tính là đã nộp" in out.updates["TL01"]["problem"]


def test_matching_by_email_and_topic_are_normalised_and_the_day_is_local() -> None:
    shaky = " " + TOPICS[1].upper().replace(" ", "  ")
    out = submissions.decide([_response("R1", "2024-10-20T18:30:00Z", email="TAM@dhsg.example",
                                        topic=shaky)],
                             _rows(), TOPICS, "Asia/Ho_Chi_Minh", LABELS)
    change = out.updates["TL01"]
    assert change["status"] == "Đã nộp" and change["submitted_at"] == "2024-10-21"   # 01:30 in HCMC
    assert change["file"] == LINK + "F1" and "problem" not in change
    assert out.receipts[0].version == "20241020183000" and out.receipts[0].email == "tam@dhsg.example"


def test_one_email_on_two_rows_is_decided_by_title_or_left_to_staff() -> None:
    rows = _rows()
    rows["TL02"] = {**rows["TL01"], "key": "TL02", "title": "Bài thứ hai"}
    out = submissions.decide([_response("R1", "2024-10-02T03:00:00Z", title="bài THỨ hai")], rows,
                             TOPICS, "Asia/Ho_Chi_Minh", LABELS)
    assert list(out.updates) == ["TL02"] and not out.inserts
    out = submissions.decide([_response("R1", "2024-10-02T03:00:00Z", title="Một bài khác")], rows,
                             TOPICS, "Asia/Ho_Chi_Minh", LABELS)
    assert not out.updates and len(out.inserts) == 1
    assert "TL01, TL02" in out.inserts[0]["problem"]
    assert out.inserts[0]["key"] == submissions.new_code("R1")


def test_a_paper_matched_by_email_stays_on_its_row(seeded_server, seeded_config) -> None:
    """TL03 was sent without its code and found by email. When staff add another row
    with the same email, or the statuses change, its file does not move or get copied."""
    config = seeded_config
    _chase(config)
    first = _table(config).by_key["TL03"]
    # Same author and title on a second, still waiting row: email, title and
    # "the only row still waiting" would all point at TL04 now.
    _set_cells(config, "papers", {("TL04", "email"): first["email"], ("TL04", "title"): first["title"]})
    _chase(config)
    after = _table(config)
    assert after.by_key["TL03"]["file"] == first["file"]
    assert after.by_key["TL04"]["file"] == "" and after.by_key["TL04"]["status"] == "Chờ nộp"
    assert len(after.records) == len(_table(config).records)
    assert not [r for r in after.records if r["file"] == first["file"] and r.key != "TL03"]


def test_receipts_give_the_dates_mốc_thời_gian_holds_now(seeded_server, seeded_config) -> None:
    """Staff moved the papers' deadline to 28/10 and the council's to 05/11: a paper
    received on 22/10 is told those dates, not config.yaml's."""
    from workflows.chase_submissions import deadlines, receipt

    config = seeded_config
    _set_cells(config, "milestones", {("M01", "due"): "28/10/2024", ("M03", "due"): "05/11/2024"})
    milestones = [{**m.values, "key": m.key} for m in _table(config, "milestones").records]
    dates = deadlines(config, milestones)
    assert (dates.papers, dates.review) == (dt.date(2024, 10, 28), dt.date(2024, 11, 5))
    row = _table(config).by_key["TL07"]
    made = receipt(config, submissions.Receipt(
        response_id="r1", version="1", code="TL07", author=row["author"], email=row["email"],
        unit=row["unit"], title=row["title"], topic=row["topic"], day="2024-10-22", again=False),
        dt.date(2024, 10, 22), dates)
    body = email.message_from_bytes(made.raw, policy=email.policy.default).get_body(
        ("plain",)).get_content()
    assert "ngày 05 tháng 11 năm 2024" in body and "ngày 28 tháng 10 năm 2024" in body
    assert "ngày 31 tháng 10 năm 2024" not in body and "ngày 25 tháng 10 năm 2024" not in body


def test_a_row_staff_set_back_to_waiting_stays_so_until_a_new_version(seeded_server, seeded_config) -> None:
    """Staff judge TL01's file unusable: they set the row back to `Chờ nộp` and
    clear `Tệp`. The tool does not record the same submission again; the row
    is chased again; the writer's next version is recorded as usual."""
    config = seeded_config
    config.reminders.invite_to_write = False
    _chase(config, today=dt.date(2024, 10, 17))
    assert _table(config).by_key["TL01"]["status"] == "Đã nộp"
    _set_cells(config, "papers", {("TL01", "status"): "Chờ nộp", ("TL01", "file"): ""})
    _chase(config, today=dt.date(2024, 10, 17))
    row = _table(config).by_key["TL01"]
    assert (row["status"], row["file"]) == ("Chờ nộp", "")
    _chase(config, today=dt.date(2024, 10, 18))                 # 7 days before 25/10
    assert str(_table(config).by_key["TL01"]["reminder_count"]) == "1"
    _submit(seeded_server, config, [_paper(_table(config).by_key["TL01"])])
    _chase(config, today=dt.date(2024, 10, 21))
    row = _table(config).by_key["TL01"]
    assert row["status"] == "Đã nộp" and row["file"].startswith(LINK)
    assert len(_receipts(config)["TL01"]) == 2
