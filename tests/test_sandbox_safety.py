"""The sandbox commands never destroy what is not theirs, and keep personal
data private (issue 9), driven through the real command line: `seed` writes
only into a new or empty folder, `reset` deletes only a sandbox (never the
current folder, a parent of it, the home folder or a repository), `export`
writes only into a new, empty or earlier export's folder; every file holding
names and addresses is 0600 and its folders 0700 whatever the umask."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import ROOT, child_env, run_cli

# -- helpers ----------------------------------------------------------------------


def _user_folder(path: Path) -> Path:
    """A person's folder, like a clone of this repository: a config.yaml, a
    .git folder, notes and a subfolder with a document."""
    path.mkdir(parents=True)
    shutil.copy(ROOT / "config.yaml", path / "config.yaml")
    (path / ".git" / "objects").mkdir(parents=True)
    (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (path / "ghi-chu.txt").write_text("Ghi chú của tôi\n", encoding="utf-8")
    (path / "docs").mkdir()
    (path / "docs" / "Bài viết.docx").write_bytes(b"PK\x03\x04 not ours")
    (path / "sub").mkdir()
    return path


def _snapshot(root: Path) -> dict[str, Any]:
    """Every entry under `root`: a folder's relative path -> 'dir', a file's -> its bytes."""
    out: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = "dir" if path.is_dir() else path.read_bytes()
    return out


def _one_line_refusal(out: Any, *phrases: str) -> str:
    """Exit 1 with one Vietnamese line on stderr holding each phrase."""
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    line = lines[0]
    assert line.startswith("hoithao: ") and "Traceback" not in out.stderr
    for phrase in phrases:
        assert phrase in line, line
    return line


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    """This process's umask (which child processes inherit) for a while."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@contextlib.contextmanager
def _workspace(data: Path) -> Iterator[Any]:
    """The real client libraries over a server for `data`, signed in with its key."""
    from sandbox.credentials import key_credentials
    from sandbox.server import SandboxServer
    from workspace.clients import Workspace

    with SandboxServer(data) as server:
        yield Workspace(key_credentials(data, server.url), server.url)


def _docx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml").decode("utf-8")


# -- seed ---------------------------------------------------------------------------


def test_seed_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    user = _user_folder(tmp_path / "clone")
    before = _snapshot(user)
    out = run_cli("sandbox", "seed", "--data", ".", cwd=user)
    _one_line_refusal(out, "không phải sandbox", "không ghi gì")
    assert _snapshot(user) == before


def test_seed_into_an_empty_folder_marks_it_and_reset_deletes_it(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    data.mkdir()
    out = run_cli("sandbox", "seed", "--data", str(data), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(data / "config.yaml")
    marker = (data / ".hoithao-sandbox").read_text(encoding="utf-8")
    assert "sandbox seed" in marker
    assert (data / "sandbox.db").is_file()
    # A second seed keeps the folder's sandbox and says how to start over.
    again = run_cli("sandbox", "seed", "--data", str(data), cwd=tmp_path)
    _one_line_refusal(again, "đã có sandbox", "sandbox reset")

    gone = run_cli("sandbox", "reset", "--data", str(data), "--yes", cwd=tmp_path)
    assert gone.returncode == 0, gone.stderr
    assert not data.exists() and tmp_path.is_dir()


def test_a_half_made_sandbox_is_refused_by_seed_and_reset_clears_it(tmp_path: Path) -> None:
    from sandbox.store import write_marker

    data = tmp_path / "half"
    data.mkdir()
    write_marker(data)  # a seed that stopped before the database was made
    _one_line_refusal(run_cli("sandbox", "seed", "--data", str(data)), "chưa tạo xong", "reset")
    assert run_cli("sandbox", "reset", "--data", str(data), "--yes").returncode == 0
    assert not data.exists()


# -- reset --------------------------------------------------------------------------


def test_reset_refuses_the_current_folder(tmp_path: Path) -> None:
    user = _user_folder(tmp_path / "clone")
    before = _snapshot(user)
    out = run_cli("sandbox", "reset", "--data", ".", "--yes", cwd=user)
    _one_line_refusal(out, "Không xoá", "thư mục đang đứng")
    assert _snapshot(user) == before


def test_reset_refuses_a_parent_of_the_current_folder(tmp_path: Path) -> None:
    user = _user_folder(tmp_path / "clone")
    before = _snapshot(user)
    out = run_cli("sandbox", "reset", "--data", "..", "--yes", cwd=user / "sub")
    _one_line_refusal(out, "Không xoá", "thư mục chứa nó")
    assert _snapshot(user) == before
    # The rule holds for a real sandbox too: never pull the floor from under oneself.
    out = run_cli("sandbox", "reset", "--data", str(tmp_path), "--yes", cwd=user / "sub")
    _one_line_refusal(out, "Không xoá")
    assert _snapshot(user) == before


def test_reset_refuses_a_sandbox_from_inside_it(seeded: Path) -> None:
    before = _snapshot(seeded)
    out = run_cli("sandbox", "reset", "--data", "..", "--yes", cwd=seeded / "credentials")
    _one_line_refusal(out, "Không xoá", "thư mục đang đứng")
    assert _snapshot(seeded) == before


def test_reset_refuses_a_folder_with_git_even_holding_a_sandbox(seeded: Path, tmp_path: Path) -> None:
    (seeded / ".git" / "objects").mkdir(parents=True)
    (seeded / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    assert (seeded / "sandbox.db").is_file() and (seeded / ".hoithao-sandbox").is_file()
    before = _snapshot(seeded)
    out = run_cli("sandbox", "reset", "--data", str(seeded), "--yes", cwd=tmp_path)
    _one_line_refusal(out, "Không xoá", ".git")
    assert _snapshot(seeded) == before


def test_reset_refuses_the_home_folder(seeded: Path, tmp_path: Path) -> None:
    before = _snapshot(seeded)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run_cli("sandbox", "reset", "--data", str(seeded), "--yes", cwd=elsewhere,
                  env=child_env(HOME=str(seeded)))
    _one_line_refusal(out, "Không xoá", "thư mục nhà")
    assert _snapshot(seeded) == before


def test_reset_through_a_link_judges_the_folder_it_points_at(tmp_path: Path) -> None:
    user = _user_folder(tmp_path / "clone")
    before = _snapshot(user)
    link = tmp_path / "sandbox-data"
    link.symlink_to(user)
    out = run_cli("sandbox", "reset", "--data", str(link), "--yes", cwd=tmp_path)
    _one_line_refusal(out, "Không xoá", str(user), ".git")
    assert _snapshot(user) == before and link.is_symlink()


def test_reset_refuses_a_folder_that_is_not_a_sandbox(tmp_path: Path) -> None:
    folder = tmp_path / "tai-lieu"
    folder.mkdir()
    (folder / "sandbox.txt").write_text("không phải sandbox", encoding="utf-8")
    before = _snapshot(folder)
    out = run_cli("sandbox", "reset", "--data", str(folder), "--yes", cwd=tmp_path)
    _one_line_refusal(out, "không phải sandbox", ".hoithao-sandbox")
    assert _snapshot(folder) == before


def test_an_unmarked_sandbox_is_deleted_only_when_it_holds_nothing_else(seeded: Path,
                                                                         tmp_path: Path) -> None:
    """Sandboxes seeded before the marker existed: sandbox.db and only what a
    sandbox writes (config, key, ledger, locks, demo's export) may go."""
    (seeded / ".hoithao-sandbox").unlink()
    (seeded / "outbox.db").write_bytes(b"")
    (seeded / "locks").mkdir()
    (seeded / "locks" / "job-send-outbox.lock").write_bytes(b"")
    for kind, ext in (("sheets", ".csv"), ("mail", ".eml"), ("docs", ".docx")):
        (seeded / "export" / kind).mkdir(parents=True)
        (seeded / "export" / kind / f"cu{ext}").write_bytes(b"old")
    (seeded / "ke-hoach.xlsx").write_bytes(b"a person's own file")
    before = _snapshot(seeded)
    out = run_cli("sandbox", "reset", "--data", str(seeded), "--yes", cwd=tmp_path)
    _one_line_refusal(out, "ke-hoach.xlsx", "không xoá gì")
    assert _snapshot(seeded) == before

    (seeded / "ke-hoach.xlsx").unlink()
    out = run_cli("sandbox", "reset", "--data", str(seeded), "--yes", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not seeded.exists()


# -- export -------------------------------------------------------------------------


def test_export_refuses_a_folder_that_is_not_its_own(seeded: Path, tmp_path: Path) -> None:
    user = _user_folder(tmp_path / "clone")
    for kind in ("mail", "sheets"):
        (user / kind).mkdir()
        (user / kind / "cua-toi.txt").write_text("giữ nguyên", encoding="utf-8")
    before = _snapshot(user)
    out = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(user), cwd=tmp_path)
    _one_line_refusal(out, "không ghi gì", "--out")
    assert _snapshot(user) == before


def test_export_refuses_a_folder_shaped_like_an_old_export_outside_a_sandbox(seeded: Path,
                                                                             tmp_path: Path) -> None:
    """Only DATA/export (where `demo` exported before exports left a note) is
    taken for an old export: elsewhere a folder of .docx files is a person's."""
    work = tmp_path / "cong-viec"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "Báo cáo quý.docx").write_bytes(b"PK mine")
    before = _snapshot(work)
    out = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(work))
    _one_line_refusal(out, "không ghi gì")
    assert _snapshot(work) == before


def test_export_twice_replaces_only_its_own_files(seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "ket-qua"
    first = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    assert first.returncode == 0, first.stderr
    listed = [line for line in (out / ".hoithao-export").read_text(encoding="utf-8").splitlines()
              if not line.startswith("#")]
    assert "docs/Mẫu - Kỷ yếu Hội thảo.docx" in listed and "sheets/Khách mời.csv" in listed
    # A person adds files beside the export; a Doc is renamed before the next export.
    (out / "ghi-chu.txt").write_text("của tôi", encoding="utf-8")
    (out / "docs" / "Mẫu - Kỷ yếu Hội thảo (ghi chú).docx").write_bytes(b"mine")
    with _workspace(seeded) as ws:
        drive = ws.service("drive", "v3")
        docs = drive.files().list(q="mimeType = 'application/vnd.google-apps.document'",
                                  fields="files(id,name)").execute()["files"]
        doc = next(d for d in docs if d["name"] == "Mẫu - Kỷ yếu Hội thảo")
        drive.files().update(fileId=doc["id"], body={"name": "Kỷ yếu (bản mới)"}).execute()

    second = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    assert second.returncode == 0, second.stderr
    names = sorted(p.name for p in (out / "docs").glob("*.docx"))
    assert names == sorted(["Kỷ yếu (bản mới).docx", "Mẫu - Báo cáo kết quả Hội thảo.docx",
                            "Mẫu - Giấy mời.docx",
                            "Mẫu - Báo cáo đề dẫn.docx", "Mẫu - Phát biểu khai mạc.docx",
                            "Mẫu - Chương trình Hội thảo.docx",
                            "Mẫu - Kỷ yếu Hội thảo (ghi chú).docx"])  # the stale one is gone
    assert not (out / "docs" / "Mẫu - Kỷ yếu Hội thảo.pdf").exists()      # its PDF went with it
    assert (out / "ghi-chu.txt").read_text(encoding="utf-8") == "của tôi"
    assert (out / "docs" / "Mẫu - Kỷ yếu Hội thảo (ghi chú).docx").read_bytes() == b"mine"
    listed = {line for line in (out / ".hoithao-export").read_text(encoding="utf-8").splitlines()
              if not line.startswith("#")}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written - listed == {"ghi-chu.txt", ".hoithao-export",
                                "docs/Mẫu - Kỷ yếu Hội thảo (ghi chú).docx"}
    assert len(list((out / "sheets").glob("*.csv"))) == 9   # the seeded tabs (Báo cáo các phòng, Văn bản)


def test_export_replaces_an_old_export_inside_its_sandbox(seeded: Path) -> None:
    """`demo` exported into DATA/export before exports left a note: that
    folder is still the export's own."""
    old = seeded / "export"
    for kind, name in (("sheets", "Trang cũ.csv"), ("mail", "00001-cu.eml"), ("docs", "Cũ.docx")):
        (old / kind).mkdir(parents=True)
        (old / kind / name).write_bytes(b"old")
    out = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(old))
    assert out.returncode == 0, out.stderr
    assert not (old / "sheets" / "Trang cũ.csv").exists() and not (old / "docs" / "Cũ.docx").exists()
    assert (old / "sheets" / "Khách mời.csv").is_file() and (old / ".hoithao-export").is_file()


def _add_docs(ws: Any, titles: list[str]) -> None:
    """A Doc for each title, its text naming its place in the list."""
    docs = ws.service("docs", "v1")
    for n, title in enumerate(titles):
        doc = docs.documents().create(body={"title": title}).execute()
        docs.documents().batchUpdate(documentId=doc["documentId"], body={"requests": [
            {"insertText": {"location": {"index": 1}, "text": f"Nội dung văn bản số {n:02d}"}}]}
        ).execute()


def test_export_names_any_title_without_one_overwriting_another(seeded: Path, seeded_config: Any,
                                                                tmp_path: Path) -> None:
    long_title = "Báo cáo tổng kết hoạt động chuyên môn " * 6  # 228 characters, 300 bytes of UTF-8
    assert len(long_title.encode("utf-8")) > 255
    titles = [long_title, long_title + "(bản 2)", "Kế hoạch 2024/2025: dự thảo\nlần 2 🎉", "...", "..",
              "Đoàn/Tỉnh", "Đoàn_Tỉnh", "Đoàn:Tỉnh", "CON", "Mẫu - Báo cáo đề dẫn"]
    with _workspace(seeded) as ws:
        _add_docs(ws, titles)
        sheets = ws.service("sheets", "v4")
        sid = seeded_config.google.spreadsheet_id
        sheets.spreadsheets().batchUpdate(spreadsheetId=sid, body={"requests": [
            {"addSheet": {"properties": {"title": "Đoàn/Tỉnh"}}},
            {"addSheet": {"properties": {"title": "Đoàn_Tỉnh"}}}]}).execute()
        sheets.spreadsheets().values().batchUpdate(spreadsheetId=sid, body={
            "valueInputOption": "RAW", "data": [
                {"range": "'Đoàn/Tỉnh'!A1", "values": [["gạch chéo"]]},
                {"range": "'Đoàn_Tỉnh'!A1", "values": [["gạch dưới"]]}]}).execute()

    out = tmp_path / "out"
    result = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    assert result.returncode == 0, result.stderr
    docx = sorted((out / "docs").glob("*.docx"))
    assert len(docx) == 6 + len(titles)   # the seed's six templates, and these
    for path in docx + sorted((out / "sheets").iterdir()):
        assert len(path.name.encode("utf-8")) <= 255 and "\n" not in path.name
        assert not path.name.startswith(".")
    # Every Doc is in its own file: no title overwrote another.
    texts = "".join(_docx_text(p) for p in docx)
    for n in range(len(titles)):
        assert f"Nội dung văn bản số {n:02d}" in texts
    assert "Đoàn_Tỉnh.docx" in [p.name for p in docx]  # names stay readable
    assert any(p.name.startswith("Kế hoạch 2024_2025_ dự thảo_lần 2 🎉") for p in docx)
    csvs = {p.name: p.read_text(encoding="utf-8") for p in (out / "sheets").iterdir()}
    assert len(csvs) == 11
    tab_files = [name for name, text in csvs.items() if text.strip() in ("gạch chéo", "gạch dưới")]
    assert len(tab_files) == 2 and all(name.startswith("Đoàn_Tỉnh") for name in tab_files)
    assert sorted(csvs[n].strip() for n in tab_files) == ["gạch chéo", "gạch dưới"]

    # The same names at the next export: a clash's suffix comes from the title, not the order of luck.
    again = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert sorted((out / "docs").glob("*.docx")) == docx
    assert {p.name: p.read_text(encoding="utf-8") for p in (out / "sheets").iterdir()} == csvs


def test_export_a_doc_titled_with_300_characters(seeded: Path, tmp_path: Path) -> None:
    title = "Báo cáo tổng kết hoạt động chuyên môn " * 8  # 304 characters
    with _workspace(seeded) as ws:
        _add_docs(ws, [title])
    result = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    [named] = [p for p in (tmp_path / "out" / "docs").glob("*.docx") if p.name.startswith("Báo cáo tổng kết")]
    assert "Nội dung văn bản số 00" in _docx_text(named) and len(named.name.encode("utf-8")) <= 255


# -- file modes ---------------------------------------------------------------------


def test_demo_under_umask_022_keeps_personal_data_private(tmp_path: Path) -> None:
    data = tmp_path / "sandbox-data"
    with _umask(0o022):
        out = run_cli("demo", "--data", str(data), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for path in (data / "sandbox.db", data / "outbox.db", data / ".hoithao-sandbox",
                 data / "credentials" / "service-account.json", data / "export" / ".hoithao-export"):
        assert _mode(path) == 0o600, path
    exported = [p for kind in ("sheets", "mail", "docs") for p in (data / "export" / kind).iterdir()]
    assert {p.suffix for p in exported} == {".csv", ".eml", ".docx", ".pdf"}
    assert all(_mode(p) == 0o600 for p in exported)
    for folder in (data, data / "export", data / "export" / "sheets", data / "export" / "mail",
                   data / "export" / "docs", data / "credentials", data / "locks"):
        assert _mode(folder) == 0o700, folder
    # The outbox ledger is where the sandbox's config says it is.
    from workspace.config import load

    config = load(data / "config.yaml", environ={})
    assert config.resolve(config.mail.ledger) == data / "outbox.db"


def test_sqlite_side_files_are_private_too(tmp_path: Path) -> None:
    """SQLite writes -wal and -shm beside a database in WAL mode: they hold the
    same data, and take the database file's own mode."""
    from sandbox.store import Store
    from workspace.outbox import Ledger, NewMessage

    with _umask(0o022):
        store = Store(tmp_path / "moi" / "sandbox-data")
        ledger = Ledger(tmp_path / "so-cai" / "thu" / "outbox.db")
        ledger.queue([NewMessage(key="thu-moi:KM001:1", kind="thu-moi", email="a@b.vn",
                                 subject="Thư mời", raw=b"Subject: x\r\n\r\nx")])
        try:
            for db in (store.path, ledger.path):
                for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                    assert path.exists() and _mode(path) == 0o600, path
            for folder in (tmp_path / "moi", tmp_path / "moi" / "sandbox-data", tmp_path / "so-cai",
                           tmp_path / "so-cai" / "thu"):
                assert _mode(folder) == 0o700, folder
        finally:
            ledger.close()
            store.close()


# -- submit with a file -------------------------------------------------------------


def _paper(config: Any, file: Any) -> dict[str, Any]:
    return {"author": "Lê Thị Chi", "email": "chi@thpt.example", "unit": "Trường THPT Gia Định",
            "topic": config.event.topics[0], "title": "Dữ liệu lớn trong trường học", "file": file}


def test_submit_uploads_the_file_the_answers_name(seeded: Path, seeded_config: Any,
                                                  tmp_path: Path) -> None:
    """Into the seeded paper form's file-upload question `Tệp tham luận`: a
    path relative to the ANSWERS file's folder, or a list of paths."""
    form_id = seeded_config.google.forms.paper.id
    folder = tmp_path / "tra-loi"
    (folder / "bai").mkdir(parents=True)
    (folder / "bai" / "Tham luận.docx").write_bytes(b"PK\x03\x04 tham luan 1")
    (tmp_path / "ban-in.pdf").write_bytes(b"%PDF-1.4 ban in")
    answers = folder / "answers.json"
    answers.write_text(json.dumps([_paper(seeded_config, "bai/Tham luận.docx"),
                                   _paper(seeded_config, [str(tmp_path / "ban-in.pdf")])],
                                  ensure_ascii=False), encoding="utf-8")
    out = run_cli("sandbox", "submit", "--data", str(seeded), "paper", str(answers), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split()

    with _workspace(seeded) as ws:
        forms, drive = ws.service("forms", "v1"), ws.service("drive", "v3")

        def uploads(response_id: str) -> list[tuple[str, bytes]]:
            got = forms.forms().responses().get(formId=form_id, responseId=response_id).execute()
            [answer] = [a for a in got["answers"].values() if "fileUploadAnswers" in a]
            return [(f["fileName"], drive.files().get_media(fileId=f["fileId"]).execute())
                    for f in answer["fileUploadAnswers"]["answers"]]

        [(name, content)] = uploads(first)
        assert name.startswith("Tham luận") and name.endswith(".docx")
        assert content == b"PK\x03\x04 tham luan 1"
        [(name, content)] = uploads(second)
        assert name.startswith("ban-in") and content == b"%PDF-1.4 ban in"
    help_page = run_cli("sandbox", "submit", "--help", env=child_env(COLUMNS="300")).stdout
    assert "đường dẫn tới tệp tham luận" in help_page


def test_submit_names_a_missing_file_and_adds_nothing(seeded: Path, seeded_config: Any,
                                                      tmp_path: Path) -> None:
    from sandbox.store import Store

    def responses() -> int:
        store = Store(seeded)
        try:
            return store._conn().execute("SELECT COUNT(*) FROM forms_responses").fetchone()[0]
        finally:
            store.close()

    before = responses()
    (tmp_path / "co-that.docx").write_bytes(b"PK")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps([_paper(seeded_config, "co-that.docx"),
                                   _paper(seeded_config, ["co-that.docx", "khong-co.docx"])],
                                  ensure_ascii=False), encoding="utf-8")
    out = run_cli("sandbox", "submit", "--data", str(seeded), "paper", str(answers))
    _one_line_refusal(out, "Không thấy tệp tham luận", str(tmp_path / "khong-co.docx"), "mục 2")
    assert responses() == before
    answers.write_text(json.dumps(_paper(seeded_config, {"name": "x.docx"})), encoding="utf-8")
    out = run_cli("sandbox", "submit", "--data", str(seeded), "paper", str(answers))
    _one_line_refusal(out, "trường file phải là đường dẫn")
    assert responses() == before


@pytest.mark.parametrize("folder_kind", ["missing", "empty"])
def test_export_writes_into_a_new_or_empty_folder(seeded: Path, tmp_path: Path, folder_kind: str) -> None:
    out = tmp_path / "a" / "b"
    if folder_kind == "empty":
        out.mkdir(parents=True)
    with _umask(0o022):
        result = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(list((out / "docs").glob("*.docx"))) == 6   # the seed's templates
    assert _mode(out) == 0o700
    if folder_kind == "missing":  # the folders it made for the export are private too
        assert _mode(tmp_path / "a") == 0o700


def test_serve_never_writes_into_a_folder_of_someone_elses_files(tmp_path: Path) -> None:
    user = tmp_path / "tai-lieu"
    user.mkdir()
    (user / "ghi-chu.txt").write_text("của tôi", encoding="utf-8")
    result = run_cli("sandbox", "serve", "--data", str(user), "--port", "0", timeout=60)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "không phải sandbox" in result.stderr
    assert sorted(p.name for p in user.iterdir()) == ["ghi-chu.txt"]


def test_reset_keeps_a_sandbox_someone_has_put_their_own_files_into(seeded: Path,
                                                                    tmp_path: Path) -> None:
    (seeded / "luan-van.txt").write_text("của tôi", encoding="utf-8")
    before = _snapshot(seeded)
    out = run_cli("sandbox", "reset", "--data", str(seeded), "--yes", cwd=tmp_path)
    _one_line_refusal(out, "luan-van.txt", "không do sandbox tạo")
    assert _snapshot(seeded) == before


def test_export_never_follows_a_link_planted_in_its_own_folder(seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    assert first.returncode == 0, first.stderr
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    exported = sorted((out / "docs").iterdir())[0]
    shutil.copy(exported, victim / exported.name)     # a same-named file of the person's
    (victim / "keep.txt").write_text("quý", encoding="utf-8")
    shutil.rmtree(out / "docs")
    (out / "docs").symlink_to(victim)
    before = _snapshot(victim)
    again = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out))
    _one_line_refusal(again, "liên kết")
    assert _snapshot(victim) == before and _mode(victim) == 0o755
