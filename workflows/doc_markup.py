"""The document templates' markup -> workspace.doc_model blocks (pure).

`templates/docs/*.html` are Jinja2 templates (autoescaped, StrictUndefined)
whose output is a small HTML subset, so that conditional sections (`{% if %}`)
and repeated table rows (`{% for %}`) are plain Jinja, and the text a person
reads is written as they would write it:

    <vanban loai="BÁO CÁO" trich-yeu="Đề dẫn Hội thảo …" layout="hanh-chinh">
      <p class="can-cu">Căn cứ …</p>
      <h1>I. MỤC ĐÍCH</h1>
      <p>Đoạn văn, có <b>chữ đậm</b> và <i>chữ nghiêng</i>.</p>
      <ul><li>ý một</li><li>ý hai</li></ul>
      <table widths="8,52,20,20" header="1">
        <tr><th>TT</th><th>Đoàn</th>…</tr>
        {% for d in delegations %}<tr><td>{{ loop.index }}</td>…</tr>{% endfor %}
      </table>
      <pagebreak/>
    </vanban>

`<p>` classes: (none) body text — justified, first line indented 1 cm;
`can-cu` italic (the legal bases); `giua` centred; `phai` right; `trai` left
without indent; `dam` bold. `<h1>`/`<h2>` are bold headings (upper-case
text is written so by the template). `<br>` is a line break inside a
paragraph. Table `widths` are percentages of the text width. Unknown tags
are a TemplateError naming the tag, never silently dropped.
"""
from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass, field

from workspace.doc_model import MM, Cell, PageBreak, Para, Run, Table
from workspace.errors import TemplateError

BODY_SIZE = 14.0
FIRST_LINE = 10 * MM     # 1 cm (Decree 30: 1-1.27 cm)
_INLINE = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline"}
_CLASSES = {"", "can-cu", "giua", "phai", "trai", "dam"}
_SPACE = re.compile(r"[ \t\r\n]+")


@dataclass
class Parsed:
    attrs: dict[str, str] = field(default_factory=dict)     # the <vanban> element's
    blocks: list = field(default_factory=list)


def _para(kind: str, runs: list[Run], bullet: bool = False) -> Para:
    if kind == "h1":
        return Para(runs, align="START", bold=True, space_before=6, space_after=6, keep_with_next=True)
    if kind == "h2":
        return Para(runs, align="START", bold=True, italic=False, space_after=6, keep_with_next=True,
                    indent_first=FIRST_LINE)
    if kind == "cell":
        return Para(runs, align="START", size=13, space_after=0, line_spacing=100)
    if kind == "th":
        return Para(runs, align="CENTER", size=13, bold=True, space_after=0, line_spacing=100)
    if bullet:
        return Para(runs, align="JUSTIFIED", indent_start=FIRST_LINE, space_after=3, bullet=True)
    cls = kind
    return Para(runs, align={"giua": "CENTER", "phai": "END", "trai": "START"}.get(cls, "JUSTIFIED"),
                indent_first=FIRST_LINE if cls in ("", "can-cu", "dam") else 0.0,
                italic=cls == "can-cu", bold=cls == "dam")


class _Parser(html.parser.HTMLParser):
    def __init__(self, text_width: float):
        super().__init__(convert_charrefs=True)
        self.text_width = text_width
        self.out = Parsed()
        self.style: list[str] = []          # open inline tags
        self.runs: list[Run] | None = None  # the paragraph being read
        self.kind = ""
        self.bullet = False
        self.table: dict | None = None      # {"widths", "header", "rows": [[[Para]]]}
        self.cell: list[Para] | None = None
        self.cell_kind = "cell"

    # -- helpers ------------------------------------------------------------
    def _open(self, kind: str, bullet: bool = False) -> None:
        self._close()
        self.runs, self.kind, self.bullet = [], kind, bullet

    def _close(self) -> None:
        if self.runs is None:
            return
        runs = _trim(self.runs)
        para = _para(self.kind, runs, self.bullet)
        if self.cell is not None:
            if self.cell_kind == "th":
                para = _para("th", runs)
            if runs:   # whitespace between a cell's paragraphs is no paragraph
                self.cell.append(para)
        elif runs or self.kind not in ("cell",):
            self.out.blocks.append(para)
        self.runs = None

    # -- the parser's events ------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "vanban":
            self.out.attrs = a
        elif tag in ("p", "h1", "h2"):
            cls = a.get("class", "")
            if tag == "p" and cls not in _CLASSES:
                raise TemplateError(f"lớp đoạn văn không biết: <p class=\"{cls}\"> (dùng: "
                                    f"{', '.join(sorted(c for c in _CLASSES if c))})")
            if self.cell is not None:
                self._close()
                self.runs, self.kind, self.bullet = [], "cell", False
            else:
                self._open(tag if tag != "p" else cls)
        elif tag == "ul":
            self._close()
        elif tag == "li":
            self._open("", bullet=True)
        elif tag in _INLINE:
            self.style.append(_INLINE[tag])
        elif tag == "br":
            if self.runs is not None:
                self.runs.append(Run("\n"))
        elif tag == "table":
            self._close()
            try:
                widths = [float(w) for w in a.get("widths", "").split(",") if w.strip()]
            except ValueError:
                raise TemplateError(f"widths của <table> phải là các số phần trăm: {a.get('widths')}") \
                    from None
            self.table = {"widths": widths, "header": int(a.get("header", "0") or 0), "rows": [],
                          "borders": a.get("borders", "co") != "khong"}
        elif tag == "tr":
            if self.table is None:
                raise TemplateError("<tr> nằm ngoài <table>")
            self.table["rows"].append([])
        elif tag in ("td", "th"):
            if self.table is None or not self.table["rows"]:
                raise TemplateError(f"<{tag}> nằm ngoài <tr>")
            self.cell, self.cell_kind = [], tag
            self.runs, self.kind, self.bullet = [], "cell", False
        elif tag == "pagebreak":
            self._close()
            self.out.blocks.append(PageBreak())
        else:
            raise TemplateError(f"thẻ không biết trong mẫu văn bản: <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "pagebreak"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "h1", "h2", "li"):
            self._close()
        elif tag in _INLINE:
            if self.style:
                self.style.pop()
        elif tag in ("td", "th"):
            self._close()
            if self.cell is not None and self.table is not None:
                self.table["rows"][-1].append(self.cell or [_para("cell", [])])
            self.cell = None
        elif tag == "table" and self.table is not None:
            self.out.blocks.append(self._table(self.table))
            self.table = None

    def handle_data(self, data: str) -> None:
        text = _SPACE.sub(" ", data)
        if not text.strip() and self.runs is None:
            return
        if self.runs is None:   # loose text: a body paragraph of its own
            if self.table is not None and self.cell is None:
                return
            self._open("")
        s = set(self.style)
        self.runs.append(Run(text, bold="bold" in s, italic="italic" in s, underline="underline" in s))

    def _table(self, t: dict) -> Table:
        rows = t["rows"]
        if not rows:
            raise TemplateError("<table> không có dòng nào")
        cols = max(len(r) for r in rows)
        widths = t["widths"] or [100 / cols] * cols
        if len(widths) != cols:
            raise TemplateError(f"<table widths> có {len(widths)} cột, bảng có {cols} cột")
        total = sum(widths)
        return Table([[Cell(c) for c in r] for r in rows],
                     [self.text_width * w / total for w in widths], borders=t["borders"],
                     header_rows=t["header"])


def _trim(runs: list[Run]) -> list[Run]:
    """Whitespace at the paragraph's ends and after a line break goes."""
    out = [r for r in runs if r.text]
    if out:
        out[0] = Run(out[0].text.lstrip(), out[0].bold, out[0].italic, out[0].underline, out[0].size)
        out[-1] = Run(out[-1].text.rstrip(), out[-1].bold, out[-1].italic, out[-1].underline,
                      out[-1].size)
    fixed = []
    for i, r in enumerate(out):
        if i and out[i - 1].text.endswith("\n"):
            r = Run(r.text.lstrip(" "), r.bold, r.italic, r.underline, r.size)
        fixed.append(r)
    return [r for r in fixed if r.text]


def parse(markup: str, text_width: float) -> Parsed:
    """The blocks the markup describes; TemplateError (Vietnamese) when it uses
    what the renderer does not know."""
    parser = _Parser(text_width)
    parser.feed(markup)
    parser.close()
    parser._close()
    return parser.out
