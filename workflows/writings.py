"""What people write for the workshop, read from two tabs: `Tham luận` (the
papers of experts, units and companies) and `Báo cáo các phòng` (the reports
of the Department's divisions, plan V.2), where the spreadsheet has that tab.

Both are tracked the same way (a row per thing owed, keyed by its code;
submitted through the paper form with the code pre-filled; chased by the
milestone its tab follows), so the jobs see one set of rows, and the cells
they write go back to the tab each row came from. A code must be unique
across the two tabs: a report row whose code a paper already has is left out
(and said), never merged with the paper.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from workspace.table import Snapshot

from .base import JobContext

PAPERS, REPORTS = "papers", "reports"


@dataclass
class Writings:
    papers: list[dict[str, Any]]
    reports: list[dict[str, Any]] = field(default_factory=list)
    has_reports: bool = False
    # Report rows left out because a paper has the same code (codes).
    clashes: list[str] = field(default_factory=list)
    # The tabs as read, by table name (for notes on duplicate and blank keys).
    snapshots: dict[str, Snapshot] = field(default_factory=dict)

    @property
    def report_keys(self) -> set[str]:
        return {r["key"] for r in self.reports}

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every row by code, papers first."""
        return {r["key"]: r for r in self.papers + self.reports}

    def split(self, cells: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Cells by code -> {table name: cells by code}, each row to its own tab."""
        reports = self.report_keys
        out: dict[str, dict[str, Any]] = {}
        for key, values in cells.items():
            out.setdefault(REPORTS if key in reports else PAPERS, {})[key] = values
        return out

    def notes(self, reports_tab: str, papers_tab: str) -> list[str]:
        return [f"Trang '{reports_tab}': mã {code} trùng với một dòng ở trang '{papers_tab}' nên dòng "
                f"báo cáo này chưa được theo dõi: đổi mã báo cáo (ví dụ BC-…)." for code in self.clashes]


def _rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [{**r.values, "key": r.key} for r in snapshot.records]


def read(ctx: JobContext, *more: str, has_reports: bool | None = None) -> tuple[Writings, list[Snapshot]]:
    """Both tabs (the reports tab only where it exists) and the `more` tabs the
    caller names, in one values request after one look at the tab titles
    (none when `has_reports` says already whether the reports tab exists)."""
    if has_reports is None:
        has_reports = ctx.config.sheets.reports.tab in ctx.spreadsheet.tab_titles()
    names = (PAPERS,) + ((REPORTS,) if has_reports else ()) + more
    snapshots = ctx.spreadsheet.read(*names)
    papers = _rows(snapshots[0])
    reports = _rows(snapshots[1]) if has_reports else []
    codes = {r["key"] for r in papers}
    clashes = [r["key"] for r in reports if r["key"] in codes]
    kept = [r for r in reports if r["key"] not in codes]
    return (Writings(papers, kept, has_reports, clashes, dict(zip(names, snapshots[:len(names) - len(more)]))),
            snapshots[len(names) - len(more):])


def write(ctx: JobContext, writings: Writings, cells: Mapping[str, Mapping[str, Any]],
          owned: tuple[str, ...]) -> list[str]:
    """The cells, each row to its own tab (re-read by key, owned columns only);
    the codes of rows that were deleted meanwhile."""
    missing: list[str] = []
    for name, part in writings.split(cells).items():
        if part:
            missing += ctx.table(name).write(part, owned=owned).missing_keys
    return missing
