"""The Vietnamese administrative layout (Decree 30/2020/NĐ-CP, Phụ lục I),
once, for every document and letter the tool writes (pure; the sandbox seed
uses it too, for the letter template it ships): the top block as a
two-column borderless table (the parent body over the issuing body, a short
rule, `Số: …`; the national motto, `Độc lập - Tự do - Hạnh phúc` with a rule
as long as the text, the place-and-date line in italic), and the signature
band: `Nơi nhận:` at the left, the authority line, the title and the
signer's name centred at the right. workflows.doc_layout composes documents
with them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .doc_model import Cell, Page, Para, Run, Table

# Decree 30/2020, Phụ lục I, sizes in points.
MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
# The top block's two columns, of the text width: the right one holds the
# place-and-date line on one line (no place name split across lines).
_LEFT, _RIGHT = 0.40, 0.60


@dataclass
class Issue:
    """What staff decide about one document (the `Văn bản` tab, else config)."""
    number: str = ""                  # "125": blank leaves room to write it by hand
    symbol: str = ""                  # "BC-SGDĐT" (the template's `ky-hieu`)
    date: dt.date | None = None       # the issue date staff set; None leaves it blank
    authority: list[str] = field(default_factory=list)   # ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"]
    signer: str = ""
    recipients: list[str] = field(default_factory=list)
    # The place-and-date line as printed, when set (a letter template's
    # `Thành phố Hồ Chí Minh, {{ngay_ban_hanh}}`): overrides `date`.
    date_text: str = ""


def place_date(place: str, day: dt.date | None, year: int) -> str:
    """`Thành phố Hồ Chí Minh, ngày 05 tháng 01 năm 2025` (a leading zero for
    days below 10 and for months 1 and 2); undated: room to write the day."""
    if day is None:
        return f"{place}, ngày    tháng    năm {year}"
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"


def _rule_indents(width: float, text: str, size: float, share: float) -> tuple[float, float]:
    """Indents that make a centred rule `share` as long as `text` (estimated:
    Times New Roman upper case averages about 0.62 em a letter, lower case 0.48)."""
    em = sum(0.62 if c.isupper() else 0.48 for c in text) * size * share
    side = max((width - em) / 2, 0)
    return side, side


def _centre(text: str, size: float, bold: bool = False, italic: bool = False, after: float = 0) -> Para:
    return Para([Run(text)], align="CENTER", size=size, bold=bold, italic=italic, space_after=after,
                line_spacing=100)


def number_line(number: str, symbol: str) -> str:
    """`Số: 05/BC-SGDĐT`: a number below 10 takes a leading zero (the sheet
    turns a typed 05 into 5); a number typed with its symbol is used as
    typed; none leaves room to write it."""
    number = number.strip().removeprefix("Số:").strip()
    if "/" in number:
        return f"Số: {number}"
    if number.isdigit():
        number = f"{int(number):02d}"
    number = number or "     "
    return f"Số: {number}/{symbol}" if symbol else f"Số: {number}"


def _rule(width: float, text: str, size: float, share: float) -> Para:
    """An empty, low paragraph whose bottom border is the rule, centred under
    `text` and `share` as long (its indents set the length)."""
    para = Para([], align="CENTER", size=4, space_after=4, line_spacing=100)
    para.indent_start, para.indent_end = _rule_indents(width, text, size, share)
    para.rule = True
    return para


def _lines(lines: list[str], size: float, bold: bool = False) -> Para:
    """Lines kept as given: one paragraph, a line break between them."""
    runs = []
    for i, line in enumerate(lines):
        runs.append(Run(("\n" if i else "") + line))
    return Para(runs, align="CENTER", size=size, bold=bold, space_after=0, line_spacing=100)


def top_block(parent: str | list[str], body: str | list[str], issue: Issue, place: str, year: int,
              page: Page) -> Table:
    """`parent`/`body`: a name (printed upper case on one line) or its lines."""
    left_w, right_w = page.text_width * _LEFT, page.text_width * _RIGHT
    parent_lines = [parent.upper()] if isinstance(parent, str) else parent
    body_lines = [body.upper()] if isinstance(body, str) else body
    left = [_lines(parent_lines, 13)] if any(parent_lines) else []
    left += [_lines(body_lines, 13, bold=True),
             _rule(left_w, max(body_lines, key=len, default=""), 13, 0.4)]
    left.append(_centre(number_line(issue.number, issue.symbol), 13))
    right = [_centre(MOTTO, 13, bold=True), _centre(MOTTO_2, 14, bold=True),
             _rule(right_w, MOTTO_2, 14, 1.0),
             _centre(issue.date_text or place_date(place, issue.date, year), 13, italic=True)]
    return Table([[Cell(left), Cell(right)]], [left_w, right_w], borders=False)


def recipient_lines(recipients: list[str]) -> list[str]:
    """`- Như trên;` … `- Lưu: VT, VP.`: each recipient as staff may type it
    ("- Như trên;"), the dash and the end mark the layout's."""
    items = [r.strip().lstrip("-–— ").rstrip(";.,").strip() for r in recipients]
    items = [r for r in items if r]
    return [f"- {item}{'.' if i == len(items) - 1 else ';'}" for i, item in enumerate(items)]


def signature_band(issue: Issue, page: Page, recipients: bool = True, as_given: bool = False) -> Table:
    """`Nơi nhận:` and its list at the left, the authority lines, room to sign
    and the signer's name at the right. `as_given`: the recipients and the
    authority printed exactly as given (a template's placeholders)."""
    left: list[Para] = []
    if recipients and issue.recipients:
        left.append(Para([Run("Nơi nhận:")], align="START", size=12, bold=True, italic=True,
                         space_after=0, line_spacing=100))
        for line in issue.recipients if as_given else recipient_lines(issue.recipients):
            left.append(Para([Run(line)], align="START", size=11, space_after=0, line_spacing=100))
    right = [_centre(line if as_given else line.upper(), 14, bold=True)
             for line in issue.authority if line.strip()]
    right += [_centre("", 14) for _ in range(4)]   # room for the signature and the seal
    if issue.signer:
        right.append(_centre(issue.signer, 14, bold=True))
    return Table([[Cell(left or [Para([])]), Cell(right)]],
                 [page.text_width * 0.45, page.text_width * 0.55], borders=False)
