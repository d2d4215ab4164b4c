"""What staff decide about a document or letter they issue (pure): its
number, issue date, signer and recipients, from its row in the `Văn bản` tab,
else from config's `documents:` defaults. A document is dated on the day
staff set there, never on the day a job runs; one dated after the event is
worth a look (check and the run say so).

generate-docs reads the rows of its five documents; send-invitations reads
the invitation letter's row (`giay-moi`), which staff add themselves.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from workspace.config import Config
from workspace.doc_layout import Issue
from workspace.table import is_error_value

from .chase_input import parse_date
from .normalise import clean_text

LETTER = "giay-moi"                    # `Mã văn bản` of the invitation letter
LETTER_NAME = "Giấy mời tham dự Hội thảo"
LETTER_SYMBOL = "GM"                   # "Số: 125/GM-SGDĐT"
# Issued after the event: the results report and the proceedings.
AFTER_EVENT = ("bao-cao-ket-qua", "ky-yeu")


def _text(value: Any) -> str:
    """A cell as text: a number typed in `Số` (3125, read back 3125.0) as typed."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_text(str(value if value is not None else ""))


def _lines(value: Any) -> list[str]:
    return [clean_text(x) for x in _text(value).replace(";", "\n").split("\n") if clean_text(x)]


LABELS = {"number": "Số", "issued_on": "Ngày ban hành", "authority": "Chức vụ người ký",
          "signer": "Người ký", "recipients": "Nơi nhận"}


def issue_of(config: Config, row: Mapping[str, Any] | None, symbol: str,
             recipients: list[str] | None = None) -> tuple[Issue, list[str]]:
    """What staff set in the row (config's defaults where they set nothing;
    `recipients` instead of config's where given), and a sentence for each
    cell that cannot be used (a formula's error, a date that cannot be read),
    naming the cell; such a cell counts as empty."""
    row = dict(row or {})
    where = f"dòng {row.get('key') or '?'} trang '{config.sheets.documents.tab}'"
    problems = []
    for field, label in LABELS.items():
        if is_error_value(row.get(field)):
            problems.append(f"Ô {label} ({where}) báo lỗi công thức {str(row[field]).strip()}: sửa ô đó.")
            row[field] = ""
    day = None
    try:
        day = parse_date(row.get("issued_on"))
    except ValueError:
        problems.append(f"Không đọc được Ngày ban hành «{_text(row.get('issued_on'))[:20]}» ({where}): "
                        f"ghi dạng 22/11/2024.")
    default_recipients = list(config.documents.recipients) if recipients is None else recipients
    return Issue(number=_text(row.get("number")), symbol=symbol, date=day,
                 authority=_lines(row.get("authority")) or list(config.documents.authority),
                 signer=_text(row.get("signer")) or config.event.signer.name,
                 recipients=_lines(row.get("recipients")) or default_recipients), problems


def letter_recipients(config: Config) -> list[str]:
    """`Nơi nhận` of an invitation when staff set none: the person invited
    (`Như trên`) and the archive line of config's recipients (`Lưu: VT, VP`)."""
    archive = [r for r in config.documents.recipients if r.strip().casefold().startswith("lưu")]
    return ["Như trên", *(archive[-1:] or ["Lưu: VT"])]


def letter_issue(config: Config, row: Mapping[str, Any] | None) -> tuple[Issue, list[str]]:
    """The invitation letter's issue (the `giay-moi` row of `Văn bản`)."""
    return issue_of(config, row, f"{LETTER_SYMBOL}-{config.documents.body_code}".strip("-"),
                    letter_recipients(config))


def date_warnings(config: Config, row: Mapping[str, Any]) -> list[str]:
    """A document dated after the event (staff's `Ngày ban hành`) is worth a
    look (Vietnamese lines)."""
    title = str(row.get("name") or row.get("key") or "")
    try:
        day = parse_date(row.get("issued_on"))
    except ValueError:
        return [f"Văn bản {title}: không đọc được Ngày ban hành «{str(row.get('issued_on'))[:20]}»; ghi "
                f"dạng 22/11/2024."]
    event_day = config.event.starts_at.date()
    if day and day > event_day and row.get("key") not in AFTER_EVENT:
        return [f"Văn bản {title}: Ngày ban hành {day:%d/%m/%Y} sau ngày diễn ra {config.event.kind} "
                f"({event_day:%d/%m/%Y}); kiểm tra lại trong trang '{config.sheets.documents.tab}'."]
    return []


def past_event(config: Config, today: dt.date) -> str:
    """A sentence when the event is already over: a run now is a rehearsal on
    old data, or a mistake ("" otherwise)."""
    day = config.event.starts_at.date()
    if today <= day:
        return ""
    return (f"{config.event.kind} đã diễn ra ngày {day:%d/%m/%Y}: đây là buổi tập dượt trên dữ liệu cũ, "
            f"hoặc config.yaml còn là của năm trước (event.starts_at).")
