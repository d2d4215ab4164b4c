"""A document as the tool writes it, before it becomes Docs API requests
(workspace.doc_render): paragraphs of styled runs, bullet lists, tables,
page breaks, and the page. Pure data: the jobs build it (from templates),
the renderer turns it into one `batchUpdate`.

Sizes are in points (pt). A paragraph's style says all it needs: the
renderer sets every property it names, so a document looks the same
whatever the Doc it is written into held before.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MM = 72 / 25.4   # points in a millimetre


@dataclass(frozen=True)
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    underline: bool = False
    size: float | None = None         # None: the paragraph's size


@dataclass
class Para:
    runs: list[Run]
    align: str = "JUSTIFIED"          # START, CENTER, END, JUSTIFIED (Docs' names)
    size: float = 14.0
    bold: bool = False
    italic: bool = False
    indent_first: float = 0.0         # first-line indent, pt
    indent_start: float = 0.0         # left indent, pt
    indent_end: float = 0.0           # right indent, pt
    space_before: float = 0.0
    space_after: float = 6.0
    line_spacing: float = 115.0       # percent of single
    bullet: bool = False
    keep_with_next: bool = False
    # A line under the paragraph, between its indents (the rules under the
    # issuing body and the motto: indent the paragraph to the line's length).
    rule: bool = False

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@dataclass
class Cell:
    paras: list[Para]


@dataclass
class Table:
    rows: list[list[Cell]]
    widths: list[float]               # each column, pt
    borders: bool = True
    header_rows: int = 0              # rows repeated in bold (data tables)


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Para | Table | PageBreak


@dataclass(frozen=True)
class Page:
    """A4 portrait with Decree 30/2020's margins (Phụ lục I: top and bottom
    20-25 mm, left 30-35 mm, right 15-20 mm)."""
    width: float = 210 * MM
    height: float = 297 * MM
    top: float = 20 * MM
    bottom: float = 20 * MM
    left: float = 30 * MM
    right: float = 15 * MM
    font: str = "Times New Roman"

    @property
    def text_width(self) -> float:
        return self.width - self.left - self.right


@dataclass
class Document:
    title: str                        # the Doc's name in Drive
    blocks: list[Block] = field(default_factory=list)
    page: Page = field(default_factory=Page)

    def text(self) -> str:
        """The document as plain text (for --dry-run and tests)."""
        out: list[str] = []
        for block in self.blocks:
            if isinstance(block, Para):
                out.append(("• " if block.bullet else "") + block.text)
            elif isinstance(block, Table):
                for row in block.rows:
                    out.append(" | ".join(" / ".join(p.text for p in cell.paras) for cell in row))
            else:
                out.append("-" * 20)
        return "\n".join(out)
