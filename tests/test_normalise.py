"""workflows.normalise: cleaning what people type into a form (pure functions)."""
from __future__ import annotations

import unicodedata

import pytest

from workflows.normalise import (MAX_CELL_CHARS, clean_text, cut, normalise_email,
                                 normalise_phone)


def test_clean_text_nfd_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")
    assert nfd != "Nguyễn Thị Hồng Nhung"
    assert clean_text(nfd) == "Nguyễn Thị Hồng Nhung"
    assert unicodedata.is_normalized("NFC", clean_text(nfd))


def test_clean_text_tone_mark_placement_is_kept_as_typed() -> None:
    # "Hoà" (old style, mark on a) and "Hòa" (new style, mark on o) are both correct
    # Vietnamese and different strings even in NFC; cleaning must not merge them.
    old, new = clean_text("Hoà"), clean_text("Hòa")
    assert old == "Hoà" and new == "Hòa" and old != new


def test_clean_text_line_breaks_and_tabs_become_one_space() -> None:
    assert clean_text("Trần\r\nThị\tLan \n\n  Anh") == "Trần Thị Lan Anh"


def test_clean_text_zero_width_bidi_and_control_characters_removed() -> None:
    dirty = "\ufeffLê\u200b Văn\u200d \u202eTám\u202c\u2066\x00\x07 \u00adHải\u200e"
    assert clean_text(dirty) == "Lê Văn Tám Hải"


def test_clean_text_zero_width_inside_decomposed_letter_still_composes() -> None:
    broken = "Ho" + "\u0300" + "\u200b" + "a"      # NFD ò, then a zero-width space
    assert clean_text(broken) == "Hòa"


def test_clean_text_non_breaking_and_ideographic_spaces_collapse() -> None:
    assert clean_text("\u00a0Phạm\u00a0\u00a0Minh\u3000Đức ") == "Phạm Minh Đức"


def test_clean_text_empty_stays_empty() -> None:
    assert clean_text("") == "" and clean_text(" \u200b\r\n ") == ""


def test_cut_long_field_to_cell_limit() -> None:
    text, was_cut = cut("x" * 60_000)
    assert len(text) == MAX_CELL_CHARS == 50_000 and was_cut
    assert cut("ngắn") == ("ngắn", False)


def test_normalise_email_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Lan.Nguyen@SGDDT-HCM.Example ") == ("lan.nguyen@sgddt-hcm.example", None)
    assert normalise_email("nguyen@hcm.edu.vn\u200b") == ("nguyen@hcm.edu.vn", None)


@pytest.mark.parametrize("bad", ["nguyen.hcm.edu.vn", "a@b", "x@@y.vn", "=HYPERLINK(\"x\")",
                                 "lan@truong .vn sai", "a@localhost"])
def test_normalise_email_malformed_gives_a_vietnamese_problem(bad: str) -> None:
    value, problem = normalise_email(bad)
    assert problem and "Email không đúng định dạng" in problem
    assert value  # what was typed stays visible for staff


def test_normalise_email_accented_local_part_refused_with_a_sentence() -> None:
    value, problem = normalise_email("Bình.Lê@gmail.com")
    assert value == "Bình.Lê@gmail.com"
    assert problem and "chữ có dấu" in problem and "không dấu" in problem


def test_normalise_email_accented_domain_becomes_its_ascii_form() -> None:
    assert normalise_email("Lan@Sở.vn") == ("lan@xn--s-lym.vn", None)
    address, _ = normalise_email(unicodedata.normalize("NFD", "lan@sở.vn"))
    assert address == "lan@xn--s-lym.vn" and address.isascii()


def test_clean_text_accepts_none_and_non_text() -> None:
    assert clean_text(None) == "" and clean_text(20) == "20"


def test_normalise_email_blank_is_no_problem_here() -> None:
    assert normalise_email("  ") == ("", None)   # a missing answer is reported as missing


@pytest.mark.parametrize("shape", ["0912 345 678", "84912345678", "+84 912-345-678",
                                   "0912.345.678", "0912345678", "(+84) 912 345 678",
                                   "+84 0912 345 678", "912345678"])
def test_normalise_phone_shapes_become_e164(shape: str) -> None:
    assert normalise_phone(shape) == ("+84912345678", None)


@pytest.mark.parametrize("old,new", [("01689 123 456", "+84389123456"),
                                     ("0120 123 4567", "+84701234567"),
                                     ("+84 126 123 4567", "+84761234567"),
                                     ("841271234567", "+84811234567"),
                                     ("0199.123.4567", "+84591234567")])
def test_normalise_phone_old_eleven_digit_prefix_mapped(old: str, new: str) -> None:
    assert normalise_phone(old) == (new, None)


def test_normalise_phone_landline_and_foreign_number() -> None:
    assert normalise_phone("028 3829 1234") == ("+842838291234", None)
    assert normalise_phone("+1 650 253 0000") == ("+16502530000", None)


@pytest.mark.parametrize("bad", ["12345", "0912 345 678 (anh Nam)", "=2+2", "0999999999999999",
                                 "01009123456"])
def test_normalise_phone_not_a_number_gives_a_vietnamese_problem(bad: str) -> None:
    value, problem = normalise_phone(bad)
    assert value and problem and "Số điện thoại không hợp lệ" in problem


