"""What staff get from generate-docs, read back from `sandbox export` as
independently as possible: the `.docx` files in python-docx (the motto
block, Times New Roman, A4 and Decree 30's margins), their figures against
counts made here from the exported CSV sheets, and the PDF's first page with
the two header blocks side by side."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from docx import Document as Docx
from docx.shared import Mm
from pypdf import PdfReader

from tests.conftest import run_job_as_cli


def _csv(out: Path, tab: str) -> list[dict[str, str]]:
    with open(out / "sheets" / f"{tab}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _all_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts)


@pytest.fixture
def exported(seeded_server, seeded_config, seeded, tmp_path) -> Path:
    from sandbox.export import export

    config = seeded_config
    run_job_as_cli(config, "sync-registrations")
    run_job_as_cli(config, "chase-submissions")
    result = run_job_as_cli(config, "generate-docs")
    assert result.figures["đã ghi"] == 5, result.notes
    out = tmp_path / "out"
    export(seeded, out)
    return out


def test_the_docx_files_are_decree_30_documents_with_the_sheets_figures(exported: Path) -> None:
    docs = {p.stem: p for p in (exported / "docs").glob("*.docx")}
    for title in ("Báo cáo đề dẫn Hội thảo", "Báo cáo kết quả Hội thảo", "Kỷ yếu Hội thảo",
                  "Chương trình Hội thảo", "Phát biểu khai mạc Hội thảo"):
        assert title in docs, sorted(docs)
        doc = Docx(str(docs[title]))
        section = doc.sections[0]
        assert abs(section.page_width - Mm(210)) < Mm(1) and abs(section.page_height - Mm(297)) < Mm(1)
        assert Mm(20) - Mm(0.5) <= section.top_margin <= Mm(25) + Mm(0.5), title
        assert Mm(20) - Mm(0.5) <= section.bottom_margin <= Mm(25) + Mm(0.5), title
        assert Mm(30) - Mm(0.5) <= section.left_margin <= Mm(35) + Mm(0.5), title
        assert Mm(15) - Mm(0.5) <= section.right_margin <= Mm(20) + Mm(0.5), title
        fonts = {run.font.name for p in doc.paragraphs for run in p.runs if run.text.strip()}
        assert fonts == {"Times New Roman"}, (title, fonts)
        # The speech and the proceedings are no administrative documents: no top block.
        if title not in ("Phát biểu khai mạc Hội thảo", "Kỷ yếu Hội thảo"):
            top = doc.tables[0]
            assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in top.rows[0].cells[1].text
            assert "Độc lập - Tự do - Hạnh phúc" in top.rows[0].cells[1].text
            assert "SỞ GIÁO DỤC VÀ ĐÀO TẠO" in top.rows[0].cells[0].text

    # The figures, counted again from the exported sheets.
    invitees = _csv(exported, "Khách mời")
    delegations = _csv(exported, "Đoàn")
    papers = _csv(exported, "Tham luận")
    confirmed = sum(int(d["Đã xác nhận"] or 0) for d in delegations)
    received = sum(1 for p in papers if p["Tệp"].strip() and p["Trạng thái"] not in ("", "Chờ nộp"))
    lead_in = Docx(str(docs["Báo cáo đề dẫn Hội thảo"]))
    text = _all_text(lead_in)
    assert f"đã mời {len(invitees)} đại biểu" in text
    assert f"{confirmed} đại biểu được xác nhận" in text
    assert f"đã nhận {received}/{len(papers)} tham luận" in text
    by_name = {d["Tên đoàn"]: d for d in delegations}
    table = next(t for t in lead_in.tables if t.rows[0].cells[1].text == "Đoàn")
    for row in table.rows[1:-1]:
        cells = [c.text for c in row.cells]
        d = by_name[cells[1]]
        invited = sum(1 for i in invitees if i["Đoàn"] == d["Mã đoàn"])
        assert cells[3:] == [str(invited), d["Đã đăng ký"], d["Đã xác nhận"]], cells


def test_the_pdf_shows_the_two_header_blocks_side_by_side(exported: Path) -> None:
    pdf = exported / "docs" / "Báo cáo đề dẫn Hội thảo.pdf"
    assert pdf.exists(), sorted(p.name for p in (exported / "docs").iterdir())
    page = PdfReader(str(pdf)).pages[0]
    where: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, *_):
        for key in ("SỞ GIÁO DỤC VÀ ĐÀO TẠO", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "BÁO CÁO"):
            if key in text and key not in where:
                where[key] = (tm[4], tm[5])
    page.extract_text(visitor_text=visit)
    assert {"SỞ GIÁO DỤC VÀ ĐÀO TẠO", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"} <= set(where), where
    (lx, ly), (rx, ry) = where["SỞ GIÁO DỤC VÀ ĐÀO TẠO"], where["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"]
    assert rx > lx + 100                   # the motto block is to the right …
    assert abs(ry - ly) < 40               # … on the same lines, not under it
