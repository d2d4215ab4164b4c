"""Cleaning what people type into a form: text, emails, Vietnamese phone
numbers, and a sort key for Vietnamese names. Pure functions, no I/O.

Every cleaner returns the cleaned value and, when the value cannot be used,
a short Vietnamese problem sentence (None when all is well): bad input is
reported in the sheet, it never raises.
"""
from __future__ import annotations

import datetime as dt

import re
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_CELL_CHARS = 50_000  # Google Sheets refuses a longer cell

# Old 11-digit mobile prefixes, renumbered in 2018 (Ministry of Information and
# Communications, Circular 22/2014 and decision 798/QĐ-BTTTT): old -> new, without the leading 0.
OLD_MOBILE_PREFIXES = {
    # Viettel
    "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37",
    "168": "38", "169": "39",
    # MobiFone
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
    # VinaPhone
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
    # Vietnamobile, Gmobile
    "186": "56", "188": "58", "199": "59",
}

_PHONE_CHARS = re.compile(r"^[0-9\s()+\-./]+$")


def clean_text(value: Any) -> str:
    """Returns a `str`: NFC text on one line, control, zero-width and bidi
    characters removed, runs of whitespace (CR/LF and tabs included) collapsed
    to one space, trimmed. None is ""; any other value is read as `str(value)`."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        value = str(value)
    if value.isprintable():
        # Fast path: no control, format, line-break or non-ASCII space character.
        return " ".join(unicodedata.normalize("NFC", value).split())
    out = []
    for ch in unicodedata.normalize("NFC", value):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            # Line breaks and tabs separate words: keep a space, drop the rest.
            out.append(" " if ch in "\t\n\r\v\f\x85\u2028\u2029" else "")
        elif cat in ("Cf", "Co", "Cs", "Cn"):
            # Cf: zero-width space/joiners, bidi marks and overrides, BOM, soft hyphen.
            continue
        else:
            out.append(ch)
    # Removing a character between a letter and its mark can change composition.
    return " ".join(unicodedata.normalize("NFC", "".join(out)).split())


def cut(value: str, limit: int = MAX_CELL_CHARS) -> tuple[str, bool]:
    """The value cut to `limit` characters, and whether it was cut."""
    if len(value) <= limit:
        return value, False
    return value[:limit], True


def normalise_email(value: str) -> tuple[str, str | None]:
    """Returns `(address, problem)`.

    Valid: `(ascii_address, None)`, the address trimmed, lower-cased and in its
    ASCII form (an accented domain in punycode, `a@sở.vn` -> `a@xn--s-lym.vn`),
    the form every mail header and the ledger can carry. Invalid: `(text as
    typed, cleaned, Vietnamese problem sentence)`, so staff still see what was
    typed. Blank: `("", None)` (a missing answer is reported as missing).
    Checked by email-validator (syntax only, no DNS); accented letters before
    the @ are refused: few mail servers accept them (SMTPUTF8)."""
    text = clean_text(value)   # a space inside is an error to show, not to guess away
    if not text:
        return "", None
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        local = text.rpartition("@")[0]
        if local and not local.isascii():
            return text, ("Email có chữ có dấu hoặc ký tự đặc biệt trước dấu @, nhiều hệ thống thư "
                          "không nhận được: liên hệ người đăng ký để lấy địa chỉ viết không dấu "
                          "(ví dụ: binh.le@donvi.edu.vn)")
        return text, ("Email không đúng định dạng (ví dụ đúng: ten@donvi.edu.vn): "
                      "liên hệ người đăng ký để lấy địa chỉ đúng")
    return checked.ascii_email.lower(), None


def normalise_phone(value: str) -> tuple[str, str | None]:
    """A Vietnamese number in E.164 (`+84912345678`) from the shapes people type
    (`0912 345 678`, `84912345678`, `+84 912-345-678`, `0912.345.678`, old
    11-digit `0168…`, mapped to today's prefix); a foreign number given with
    `+` is kept in E.164 too. The text as typed and a problem when it is not a number."""
    text = clean_text(value)
    if not text:
        return "", None
    problem = ("Số điện thoại không hợp lệ (ví dụ đúng: 0912 345 678 hoặc +84 912 345 678): "
               "liên hệ người đăng ký để lấy số đúng")
    if not _PHONE_CHARS.match(text):
        return text, problem
    digits = re.sub(r"\D", "", text)
    foreign = text.startswith("+") and not digits.startswith("84")
    if foreign:
        candidate = "+" + digits
    else:
        if digits.startswith("0"):
            national = digits[1:]
        elif digits.startswith("84") and len(digits) >= 11:
            national = digits[2:]
        else:
            national = digits
        national = national[1:] if national.startswith("0") else national  # "+84 0912 …"
        if len(national) == 10 and national[:3] in OLD_MOBILE_PREFIXES:
            national = OLD_MOBILE_PREFIXES[national[:3]] + national[3:]
        candidate = "+84" + national
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return text, problem
    if not phonenumbers.is_valid_number(number):
        return text, problem
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def vn_number(n: int) -> str:
    """`100000` -> `100.000`: thousands separated by a dot, as Vietnamese writes them."""
    return f"{n:,}".replace(",", ".")


def sheet_time(seconds: float | None, tz: str) -> str:
    """A moment as every time column of the spreadsheet shows it:
    `2024-10-01 08:02:03` in the event's time zone ("" for none)."""
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(seconds, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
