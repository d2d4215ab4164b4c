"""The import rules of .importlinter hold, and a broken one fails lint-imports
(which .ci/run runs): shown on a copy of the packages where a job imports gspread."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("workflows", "workspace", "sandbox", "rehearsal")


def _lint(folder: Path) -> subprocess.CompletedProcess[str]:
    # The one installed beside this Python (a virtualenv's), else the one on PATH.
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) \
        or shutil.which("lint-imports")
    assert lint, "lint-imports is not installed: pip install -r requirements.txt"
    return subprocess.run([lint, "--no-cache"], cwd=folder, capture_output=True, text=True,
                          timeout=120)


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_import_rules_are_kept(tmp_path: Path) -> None:
    out = _lint(_copy(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_a_job_importing_gspread_breaks_the_rules(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    job = folder / "workflows" / "sync_registrations.py"
    job.write_text(job.read_text(encoding="utf-8") + "\nimport gspread  # noqa: E402,F401\n",
                   encoding="utf-8")
    out = _lint(folder)
    assert out.returncode != 0
    assert "Jobs never import a Google client" in out.stdout and "BROKEN" in out.stdout
    assert "workflows.sync_registrations -> gspread" in out.stdout


def test_workspace_importing_the_sandbox_breaks_the_rules(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    clients = folder / "workspace" / "clients.py"
    clients.write_text(clients.read_text(encoding="utf-8")
                       + "\nfrom sandbox.server import SandboxServer  # noqa: E402,F401\n",
                       encoding="utf-8")
    out = _lint(folder)
    assert out.returncode != 0 and "workspace never imports the sandbox" in out.stdout
