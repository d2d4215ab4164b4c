"""The 2024 workshop's people and plan, as seed data for the sandbox.

Every person is fictional: names are drawn from common Vietnamese name parts
with a fixed random seed, addresses use the reserved `.example` domain, and
phone numbers are random. Units, delegations, quotas, topics and milestones
follow the plan (shared/seed/ke-hoach-hoi-thao-2024.txt).
"""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Trương", "Đinh", "Lâm", "Mai"]
MALE_MIDDLE = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Hoàng", "Tấn", "Trọng"]
FEMALE_MIDDLE = ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Hồng", "Phương", "Bích", "Thùy"]
MALE_GIVEN = ["Anh", "Bình", "Cường", "Dũng", "Hải", "Hiếu", "Hòa", "Hùng", "Khoa", "Khánh",
              "Long", "Minh", "Nam", "Phúc", "Quang", "Sơn", "Tâm", "Thắng", "Trung", "Tuấn",
              "Việt", "Vinh", "Đạt", "Lộc", "Thịnh"]
FEMALE_GIVEN = ["Anh", "Châu", "Giang", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Nga",
                "Ngân", "Nhung", "Oanh", "Phương", "Quyên", "Thảo", "Trang", "Tuyết", "Uyên",
                "Vy", "Yến", "Hoa", "Diễm", "Thủy", "Loan"]
MOBILE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "032", "033", "034", "035",
                   "036", "037", "038", "039", "070", "076", "077", "078", "079", "081", "083",
                   "084", "085", "086", "088", "089"]

# (code, name, quota, domain) — quotas from the plan, section II.2.
DELEGATIONS = [
    ("BRVT", "Sở GDĐT Bà Rịa – Vũng Tàu", 20, "sgddt-bariavungtau.example"),
    ("TNI", "Sở GDĐT Tây Ninh", 20, "sgddt-tayninh.example"),
    ("BDG", "Sở GDĐT Bình Dương", 20, "sgddt-binhduong.example"),
    ("BPC", "Sở GDĐT Bình Phước", 20, "sgddt-binhphuoc.example"),
    ("DNI", "Sở GDĐT Đồng Nai", 20, "sgddt-dongnai.example"),
    ("CTO", "Sở GDĐT Cần Thơ", 20, "sgddt-cantho.example"),
    ("DNG", "Sở GDĐT Đà Nẵng", 20, "sgddt-danang.example"),
    ("HCM", "Sở GDĐT Thành phố Hồ Chí Minh", 100, "sgddt-hcm.example"),
    ("KHAC", "Đại biểu các cơ quan, đơn vị khác", None, "khach-moi.example"),
]
# A delegation's label in `Đoàn` is short; a person's unit is the body's formal
# name, as a salutation prints it (Decree 30/2020, Phụ lục II: "tỉnh" and
# "thành phố" lower case before a place name, upper case in "Thành phố Hồ Chí
# Minh", named after a person).
FORMAL_NAMES = {
    "BRVT": "Sở Giáo dục và Đào tạo tỉnh Bà Rịa - Vũng Tàu",
    "TNI": "Sở Giáo dục và Đào tạo tỉnh Tây Ninh",
    "BDG": "Sở Giáo dục và Đào tạo tỉnh Bình Dương",
    "BPC": "Sở Giáo dục và Đào tạo tỉnh Bình Phước",
    "DNI": "Sở Giáo dục và Đào tạo tỉnh Đồng Nai",
    "CTO": "Sở Giáo dục và Đào tạo thành phố Cần Thơ",
    "DNG": "Sở Giáo dục và Đào tạo thành phố Đà Nẵng",
    "HCM": "Sở Giáo dục và Đào tạo Thành phố Hồ Chí Minh",
}

DISTRICTS = ["Quận 1", "Quận 3", "Quận 4", "Quận 5", "Quận 6", "Quận 7", "Quận 8", "Quận 10",
             "Quận 11", "Quận 12", "Quận Bình Tân", "Quận Bình Thạnh", "Quận Gò Vấp",
             "Quận Phú Nhuận", "Quận Tân Bình", "Quận Tân Phú", "Huyện Bình Chánh",
             "Huyện Cần Giờ", "Huyện Củ Chi", "Huyện Hóc Môn", "Huyện Nhà Bè",
             "Thành phố Thủ Đức"]

# (group, position, unit, delegation code, domain)
_CHAIRS = [
    ("Chủ trì", "Thứ trưởng", "Bộ Giáo dục và Đào tạo", "KHAC", "moet.example"),
    ("Chủ trì", "Phó Chủ tịch", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "KHAC", "ubnd-hcm.example"),
    ("Chủ trì", "Phó Trưởng ban Thường trực",
     "Ban Chỉ đạo Chuyển đổi số ngành Giáo dục và Đào tạo Thành phố", "HCM", "sgddt-hcm.example"),
    ("Chủ trì", "Phó Giám đốc", "Sở Giáo dục và Đào tạo Thành phố Hồ Chí Minh", "HCM", "sgddt-hcm.example"),
    ("Chủ trì", "Phó Giám đốc", "Sở Giáo dục và Đào tạo Thành phố Hồ Chí Minh", "HCM", "sgddt-hcm.example"),
    ("Chủ trì", "Giám đốc", "Sở Thông tin và Truyền thông Thành phố Hồ Chí Minh", "KHAC", "stttt-hcm.example"),
    ("Chủ trì", "Giám đốc", "Trung tâm Chuyển đổi số Thành phố Hồ Chí Minh", "KHAC", "ttcds-hcm.example"),
]
_GUESTS = [
    ("Khách mời", "Cục trưởng", "Cục Công nghệ thông tin - Bộ Giáo dục và Đào tạo", "KHAC", "moet.example"),
    ("Khách mời", "Phó Giám đốc", "Sở Nội vụ Thành phố Hồ Chí Minh", "KHAC", "snv-hcm.example"),
    ("Khách mời", "Phó Giám đốc", "Sở Khoa học và Công nghệ Thành phố Hồ Chí Minh", "KHAC", "skhcn-hcm.example"),
    ("Khách mời", "Phó Giám đốc", "Sở Tài chính Thành phố Hồ Chí Minh", "KHAC", "stc-hcm.example"),
    ("Khách mời", "Trưởng phòng PC06", "Công an Thành phố Hồ Chí Minh", "KHAC", "congan-hcm.example"),
    ("Khách mời", "Phó Giám đốc", "Đại học Quốc gia Thành phố Hồ Chí Minh", "KHAC", "dhqg-hcm.example"),
    ("Khách mời", "Hiệu trưởng", "Trường Đại học Sư phạm Thành phố Hồ Chí Minh", "KHAC", "dhsp-hcm.example"),
    ("Khách mời", "Hiệu trưởng", "Trường Đại học Sài Gòn", "KHAC", "dhsg.example"),
    ("Doanh nghiệp", "Giám đốc", "Công ty Cổ phần Công nghệ Giáo dục Sao Việt", "KHAC", "saoviet-edtech.example"),
    ("Doanh nghiệp", "Giám đốc điều hành", "Công ty TNHH Học liệu số Phương Nam", "KHAC", "hoclieuso-pn.example"),
    ("Doanh nghiệp", "Giám đốc kỹ thuật", "Công ty Cổ phần Dữ liệu Giáo dục Mekong", "KHAC", "mekong-data.example"),
    ("Chuyên gia", "Viện trưởng", "Viện Trí tuệ nhân tạo ứng dụng", "KHAC", "vien-ai.example"),
    ("Chuyên gia", "Trưởng nhóm nghiên cứu khoa học dữ liệu", "Trung tâm Nghiên cứu Giáo dục số",
     "KHAC", "ttgds.example"),
]

MILESTONES = [
    ("M01", "Gửi nội dung tham luận về Văn phòng Sở", "2024-10-25", "Tham luận", "7, 3, 1"),
    ("M02", "Các phòng thuộc Sở gửi nội dung báo cáo về Văn phòng Sở", "2024-10-25",
     "Báo cáo các phòng", "7, 3, 1"),
    ("M03", "Hoàn tất thẩm định, trình duyệt báo cáo, tham luận và tài liệu", "2024-10-31",
     "Hội đồng thẩm định", "3, 1"),
    ("M04", "Rà soát và hoàn tất công tác chuẩn bị Hội thảo", "2024-11-01", "Ban Tổ chức", "3, 1"),
    ("M05", "Cập nhật chương trình, tham luận tại hoithao.hcm.edu.vn", "2024-11-11",
     "Ban Tổ chức", "3, 1"),
]

PAPER_TITLES = [
    "Bức tranh Dữ liệu lớn và AI trong giáo dục phổ thông Việt Nam",
    "Định danh học liệu số phục vụ kho Dữ liệu lớn ngành giáo dục",
    "Phân tích hành vi học tập trên nền tảng học trực tuyến bằng học máy",
    "Bảo vệ dữ liệu cá nhân học sinh theo Nghị định 13/2023/NĐ-CP",
    "Minh bạch thuật toán và trách nhiệm giải trình khi dùng AI trong nhà trường",
    "Mô hình trường học số tích hợp AI: kinh nghiệm triển khai tại Thành phố Thủ Đức",
    "AI tạo sinh hỗ trợ giáo viên soạn bài giảng môn Ngữ văn",
    "Đánh giá công cụ AI tạo sinh trong quản lý hồ sơ chuyên môn",
    "Dự báo kết quả học tập để can thiệp sớm: thí điểm tại 12 trường THPT",
    "Chính sách dữ liệu mở cho giáo dục vùng Đông Nam Bộ",
    "Chatbot tư vấn tuyển sinh đầu cấp: bài học từ năm học 2023–2024",
    "Khung năng lực số cho cán bộ quản lý giáo dục trong kỷ nguyên AI",
]


# The Department's divisions writing a report for the workshop (plan V.2) and
# what each reports on; each division's head is the person chased.
DIVISIONS = [
    ("Phòng Giáo dục Trung học",
     "Thực trạng khai thác dữ liệu và ứng dụng AI trong các trường trung học Thành phố"),
    ("Phòng Giáo dục Tiểu học",
     "Chuyển đổi số trong dạy học cấp tiểu học: kết quả năm học 2023–2024"),
    ("Phòng Khảo thí và Kiểm định chất lượng giáo dục",
     "Khai thác dữ liệu thi, kiểm tra phục vụ đánh giá chất lượng giáo dục"),
    ("Phòng Kế hoạch - Tài chính",
     "Nguồn lực đầu tư hạ tầng số của ngành giáo dục Thành phố giai đoạn 2021–2025"),
]


@dataclass
class Person:
    honorific: str
    full_name: str
    email: str
    phone: str


def ascii_fold(text: str) -> str:
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


class People:
    """Deterministic fictional people (same seed, same people)."""

    def __init__(self, seed: int = 2024):
        self.rng = random.Random(seed)
        self.used_names: set[str] = set()
        self.used_emails: set[str] = set()

    def person(self, domain: str) -> Person:
        rng = self.rng
        while True:
            female = rng.random() < 0.45
            middle = rng.choice(FEMALE_MIDDLE if female else MALE_MIDDLE)
            given = rng.choice(FEMALE_GIVEN if female else MALE_GIVEN)
            name = f"{rng.choice(FAMILY)} {middle} {given}"
            if name not in self.used_names:
                break
        self.used_names.add(name)
        parts = ascii_fold(name).lower().split()
        local = f"{parts[-1]}.{''.join(p[0] for p in parts[:-1])}"
        email, n = f"{local}@{domain}", 1
        while email in self.used_emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.used_emails.add(email)
        phone = rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(7))
        return Person("Bà" if female else "Ông", name, email, phone)


def inner_name(district: str) -> str:
    """A district's name inside a unit's name (Decree 30/2020, Phụ lục II): the
    kind is lower case before a proper name ("Ủy ban nhân dân quận Bình
    Thạnh", "thành phố Thủ Đức") and stays upper case before a number ("Phòng
    Giáo dục và Đào tạo Quận 3")."""
    if district.split()[-1].isdigit():
        return district
    return district[0].lower() + district[1:]


def invitees(people: People) -> list[dict[str, str]]:
    """The guest list of the plan (section II), one fictional person per seat."""
    rows: list[tuple[str, str, str, str, str]] = list(_CHAIRS) + list(_GUESTS)
    for code, name, quota, domain in DELEGATIONS:
        if quota is not None and code != "HCM":
            rows.append(("Đoàn các tỉnh", "Giám đốc", FORMAL_NAMES[code], code, domain))
            rows.append(("Đoàn các tỉnh", "Trưởng phòng Giáo dục phổ thông", FORMAL_NAMES[code], code,
                         domain))
    for district in DISTRICTS:
        inner = inner_name(district)
        slug = ascii_fold(district).lower().replace(" ", "")
        rows.append(("Quận, huyện", "Phó Chủ tịch", f"Ủy ban nhân dân {inner}", "KHAC",
                     f"ubnd-{slug}.example"))
        rows.append(("Quận, huyện", "Trưởng phòng", f"Phòng Giáo dục và Đào tạo {inner}", "HCM",
                     f"pgd-{slug}.example"))
    out = []
    for i, (group, position, unit, delegation, domain) in enumerate(rows, start=1):
        p = people.person(domain)
        out.append({"key": f"KM{i:03d}", "honorific": p.honorific, "full_name": p.full_name,
                    "position": position, "unit": unit, "delegation": delegation, "group": group,
                    "email": p.email, "phone": p.phone})
    return out


def papers(people: People, topics: list[str], due: str) -> list[dict[str, str]]:
    units = [("Trường Đại học Sư phạm Thành phố Hồ Chí Minh", "dhsp-hcm.example"),
             ("Trường Đại học Sài Gòn", "dhsg.example"),
             ("Đại học Quốc gia Thành phố Hồ Chí Minh", "dhqg-hcm.example"),
             ("Công ty Cổ phần Công nghệ Giáo dục Sao Việt", "saoviet-edtech.example"),
             ("Phòng Giáo dục và Đào tạo thành phố Thủ Đức", "pgd-thanhphothuduc.example"),
             ("Trường THPT Nguyễn Thị Minh Khai", "thpt-ntmk.example"),
             ("Viện Trí tuệ nhân tạo ứng dụng", "vien-ai.example")]
    out = []
    for i, title in enumerate(PAPER_TITLES, start=1):
        unit, domain = units[(i - 1) % len(units)]
        p = people.person(domain)
        out.append({"key": f"TL{i:02d}", "author": p.full_name, "email": p.email, "unit": unit,
                    "topic": topics[(i - 1) % len(topics)], "title": title, "due": due,
                    "status": "Chờ nộp"})
    return out


def reports() -> list[dict[str, str]]:
    """One row per division in `Báo cáo các phòng`: the head who is chased,
    and the Department leader in charge, copied when the report is late.
    Their own People, so the other sample people stay as they were."""
    people = People(seed=2030)
    leader = people.person("sgddt-hcm.example")
    out = []
    for i, (division, title) in enumerate(DIVISIONS, start=1):
        head = people.person("sgddt-hcm.example")
        out.append({"key": f"BC{i:02d}", "unit": division, "honorific": head.honorific,
                    "author": head.full_name, "position": "Trưởng phòng", "email": head.email,
                    "title": title, "due": "", "status": "Chờ nộp", "reminder_count": 0,
                    "head_email": leader.email})
    return out


def sample_reports(report_rows: list[dict[str, str]]) -> list[dict[str, object]]:
    """The first division's report, sent through the paper form with its code
    pre-filled (reports have no topic)."""
    row = report_rows[0]
    return [{"author": row["author"], "email": row["email"], "unit": row["unit"], "title": row["title"],
             "paper_code": row["key"],
             "file": {"name": f"bao-cao-{row['key']}.docx",
                      "content": f"Báo cáo {row['key']}".encode("utf-8")}}]


def phone_shapes(phone: str, i: int) -> str:
    """The shapes people really type a mobile number in."""
    digits = phone[1:]
    shapes = [phone, f"{phone[:4]} {phone[4:7]} {phone[7:]}", f"84{digits}",
              f"+84 {digits[:3]}-{digits[3:6]}-{digits[6:]}", f"{phone[:4]}.{phone[4:7]}.{phone[7:]}"]
    return shapes[i % len(shapes)]


def sample_registrations(people: People, invitee_rows: list[dict[str, str]],
                         delegation_names: dict[str, str]) -> list[dict[str, str]]:
    """A few responses as people really send them: invited guests through their
    pre-filled link, delegates without a code, mixed phone shapes, a name typed
    on a Mac (decomposed), and one person who submitted twice."""
    out: list[dict[str, str]] = []
    for i, inv in enumerate(invitee_rows[:12]):
        out.append({"full_name": inv["full_name"], "honorific": inv["honorific"],
                    "position": inv["position"], "unit": inv["unit"],
                    "delegation": delegation_names[inv["delegation"]],
                    "email": inv["email"], "phone": phone_shapes(inv["phone"], i),
                    "invitee_code": inv["key"], "consent": "Tôi đồng ý"})
    for i, (code, name, quota, domain) in enumerate(DELEGATIONS[:8]):
        for j in range(2):
            p = people.person(domain)
            out.append({"full_name": p.full_name, "honorific": p.honorific,
                        "position": "Chuyên viên phụ trách chuyển đổi số" if j else "Hiệu trưởng",
                        "unit": FORMAL_NAMES.get(code, name) if j
                        else f"Trường THPT số {i + 1} {FORMAL_NAMES.get(code, name).split('Đào tạo ')[-1]}",
                        "delegation": name, "email": p.email,
                        "phone": phone_shapes(p.phone, i + j), "invitee_code": "",
                        "consent": "Tôi đồng ý"})
    mac = dict(out[-1])
    mac["full_name"] = unicodedata.normalize("NFD", mac["full_name"])
    mac["email"] = mac["email"].upper()
    mac["phone"] = mac["phone"].replace(" ", "").replace("-", "")
    out.append(mac)  # the same person again, typed on another machine: a duplicate
    return out


def sample_papers(paper_rows: list[dict[str, str]], people: People) -> list[dict[str, object]]:
    """A few papers as writers send them through the paper form, each with a
    small file: two through their pre-filled link, one without the code (found
    by email), and one from someone not on the list."""
    def pdf(code: str) -> dict[str, object]:
        return {"name": f"tham-luan-{code}.pdf",
                "content": f"%PDF-1.4\n% Tham luận {code}\n%%EOF\n".encode("utf-8")}

    out: list[dict[str, object]] = []
    for row, with_code in ((paper_rows[0], True), (paper_rows[1], True), (paper_rows[2], False)):
        out.append({"author": row["author"], "email": row["email"], "unit": row["unit"],
                    "topic": row["topic"], "title": row["title"], "file": pdf(row["key"]),
                    "paper_code": row["key"] if with_code else ""})
    stranger = people.person("truong-thcs.example")
    out.append({"author": stranger.full_name, "email": stranger.email,
                "unit": "Trường THCS Nguyễn Du", "topic": paper_rows[5]["topic"],
                "title": "Ứng dụng AI trong đánh giá năng lực đọc hiểu của học sinh THCS",
                "file": pdf("moi"), "paper_code": ""})
    return out
