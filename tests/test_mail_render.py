"""Letters: Vietnamese dates, salutations from the data, and every kind of
injection (placeholder, header, HTML, template) handled safely."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT
from workflows import letters as mail
from workspace.config import load
from workspace.errors import TemplateError

TODAY = dt.date(2024, 10, 1)


@pytest.fixture(scope="module")
def config():
    return load(ROOT / "config.yaml", environ={})


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _parts(msg: email.message.EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


def test_vn_datetime_writes_the_event_start_as_letters_do() -> None:
    moment = dt.datetime(2024, 11, 22, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert mail.vn_datetime(moment) == "08 giờ 00, thứ Sáu, ngày 22 tháng 11 năm 2024"
    assert mail.vn_date(dt.date(2024, 2, 4)) == "Chủ nhật, ngày 04 tháng 02 năm 2024"


def test_salutation_takes_honorific_title_and_unit_from_the_data() -> None:
    person = {"honorific": "Ông", "full_name": "Nguyễn  Văn A", "position": "Giám đốc",
              "unit": "Sở GDĐT Bà Rịa – Vũng Tàu"}
    assert mail.salutation(person) == "Ông Nguyễn Văn A, Giám đốc Sở GDĐT Bà Rịa – Vũng Tàu"
    assert mail.salutation({"honorific": "Bà", "full_name": "Trần Thị B"}) == "Bà Trần Thị B"
    # A division's head: the word the title and the unit share is said once.
    assert mail.salutation({"honorific": "Bà", "full_name": "Lâm Ngọc Uyên", "position": "Trưởng phòng",
                            "unit": "Phòng Giáo dục Tiểu học"}) == \
        "Bà Lâm Ngọc Uyên, Trưởng phòng Giáo dục Tiểu học"
    assert mail.salutation({"full_name": "Lê C", "position": "Hiệu trưởng", "unit": "Trường THPT X"}) \
        == "Lê C, Hiệu trưởng Trường THPT X"


def test_invitation_renders_event_facts_and_personal_link(config) -> None:
    context = mail.sample_context(config, "thu-moi", TODAY)
    rendered = mail.render("thu-moi", context)
    assert "Kính gửi: Ông Nguyễn Văn A, Giám đốc Sở Giáo dục và Đào tạo tỉnh Bà Rịa - Vũng Tàu." \
        in rendered.text
    assert "08 giờ 00, thứ Sáu, ngày 22 tháng 11 năm 2024" in rendered.text
    # The letter's own lines, as staff issue it (Decree 30): number, place and
    # date, the authority over the signer, and Nơi nhận.
    lines = rendered.text.splitlines()
    assert lines[:4] == ["ỦY BAN NHÂN DÂN", "THÀNH PHỐ HỒ CHÍ MINH", "SỞ GIÁO DỤC VÀ ĐÀO TẠO",
                         "Số: 125/GM-SGDĐT"]
    assert f"Thành phố Hồ Chí Minh, {mail.vn_day(TODAY)}" in lines
    tail = lines[lines.index("Trân trọng kính mời./."):]
    assert [x for x in tail if x] == ["Trân trọng kính mời./.", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC",
                                      config.event.signer.name, "Nơi nhận:", "- Như trên;",
                                      "- Lưu: VT, VP."]
    for line in ("Số: 125/GM-SGDĐT", "<strong>KT. GIÁM ĐỐC</strong>", "Nơi nhận:", "- Lưu: VT, VP."):
        assert line in rendered.html
    assert config.event.venue in rendered.html and context["registration_link"] in rendered.text
    assert rendered.subject.startswith("Thư mời tham dự Hội thảo khoa học")


def test_every_shipped_template_passes_check(config) -> None:
    assert mail.check_templates(config, TODAY) == []


def test_unknown_placeholder_is_found_by_check_before_anything_is_queued(config, tmp_path: Path) -> None:
    templates = tmp_path / "mail"
    shutil.copytree(mail.TEMPLATE_DIR, templates)
    (templates / "thu-moi.txt").write_text("Kính gửi {{ recipient.salutation }}, {{ ngay_hop }}\n",
                                           encoding="utf-8")
    (templates / "xac-nhan.html").write_text("<p>{{ recipient.nickname }}</p>\n", encoding="utf-8")
    problems = mail.check_templates(config, TODAY, templates)
    assert any("thu-moi.txt" in p and "ngay_hop" in p for p in problems)
    assert any("xac-nhan" in p and "nickname" in p for p in problems)


def test_missing_value_is_an_error_never_a_blank(config) -> None:
    context = mail.sample_context(config, "thu-moi", TODAY)
    del context["registration_link"]
    with pytest.raises(TemplateError, match="registration_link"):
        mail.render("thu-moi", context)


def test_crlf_in_a_name_cannot_add_a_header(config) -> None:
    rendered = mail.render("xac-nhan", mail.sample_context(config, "xac-nhan", TODAY))
    evil = "Nguyễn Văn A\r\nBcc: attacker@evil.example"
    with pytest.raises(TemplateError):
        mail.build_message(config, evil, "a@sgddt-hcm.example", rendered)
    with pytest.raises(TemplateError):
        mail.build_message(config, "A", "a@sgddt-hcm.example",
                           mail.Rendered(subject="Chào\r\nBcc: attacker@evil.example",
                                         text="x", html="x"))
    # The path letters take: names from sheets and forms are cleaned first.
    person = {"honorific": "Ông", "full_name": evil, "email": "a@sgddt-hcm.example"}
    context = {**mail.sample_context(config, "xac-nhan", TODAY), "recipient": mail.person_context(person)}
    msg = _parse(mail.build_message(config, context["recipient"]["full_name"], "a@sgddt-hcm.example",
                                    mail.render("xac-nhan", context)))
    assert msg["Bcc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@sgddt-hcm.example"]


def test_script_in_a_name_is_escaped_in_the_html_part(config) -> None:
    person = {"honorific": "Bà", "full_name": "<script>alert(1)</script>", "position": "",
              "unit": "Trường <b>THPT</b>"}
    context = {**mail.sample_context(config, "xac-nhan", TODAY), "recipient": mail.person_context(person)}
    rendered = mail.render("xac-nhan", context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "&lt;b&gt;THPT&lt;/b&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text  # plain text stays as typed


def test_template_syntax_typed_into_a_form_prints_literally(config) -> None:
    person = {"honorific": "Ông", "full_name": "{{ 7*7 }}", "position": "{% if true %}x{% endif %}",
              "unit": "{{ config.__class__ }}"}
    context = {**mail.sample_context(config, "xac-nhan", TODAY), "recipient": mail.person_context(person)}
    rendered = mail.render("xac-nhan", context)
    assert "Ông {{ 7*7 }}, {% if true %}x{% endif %} {{ config.__class__ }}" in rendered.text
    assert "49" not in rendered.text


def test_message_has_both_parts_sender_and_reply_to_from_config(config) -> None:
    rendered = mail.render("thu-moi", mail.sample_context(config, "thu-moi", TODAY))
    msg = _parse(mail.build_message(config, "Nguyễn Văn A", "a@sgddt-hcm.example", rendered))
    assert msg["From"].addresses[0].display_name == config.mail.sender_name
    assert msg["From"].addresses[0].addr_spec == config.google.sender_mailbox
    assert msg["Reply-To"] == config.mail.reply_to
    assert str(msg["Subject"]) == rendered.subject
    parts = _parts(msg)
    assert set(parts) == {"text/plain", "text/html"}
    assert "Kính gửi" in parts["text/plain"] and "<strong>Kính gửi:</strong>" in parts["text/html"]


def test_vn_day_pads_days_and_the_first_two_months() -> None:
    assert mail.vn_day(dt.date(2024, 2, 5)) == "ngày 05 tháng 02 năm 2024"
    assert mail.vn_day(dt.date(2024, 11, 22)) == "ngày 22 tháng 11 năm 2024"


def test_invitation_has_the_national_motto_and_place_date_line(config) -> None:
    rendered = mail.render("thu-moi", mail.sample_context(config, "thu-moi", TODAY))
    today = mail.vn_day(TODAY)     # the date the letter is issued, passed in
    for part in (rendered.text, rendered.html):
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in part and "Độc lập - Tự do - Hạnh phúc" in part
        assert f"Thành phố Hồ Chí Minh, {today}" in part
