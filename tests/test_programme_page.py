"""The programme's web page (generate-docs writes it beside the Docs for the
event's website), in a real browser: readable on a phone and on a desktop,
Vietnamese set in the fonts it asks for, nothing fetched from elsewhere."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser import needs_chromium, screenshot
from tests.conftest import run_job_as_cli
from tests.test_chase_submissions import _set_cells, _table
from tests.test_generate_docs import _rows, _staff

pytestmark = needs_chromium


def _page_file(server: Any, config: Any, folder: Path) -> Path:
    run_job_as_cli(config, "chase-submissions")
    _set_cells(config, "papers", {("TL01", "decision"): "Được chọn", ("TL01", "slot"): "Phiên 1: Dữ liệu lớn và AI",
                                  ("TL02", "decision"): "Được chọn", ("TL02", "slot"): "Phiên 2: Chuyển đổi số"})
    run_job_as_cli(config, "chase-submissions")
    run_job_as_cli(config, "generate-docs", only="programme")
    with _staff(server, config) as ws:
        page = ws.service("drive", "v3").files().get_media(
            fileId=_rows(config)["chuong-trinh-web"]["doc_id"]).execute()
    path = folder / "chuong-trinh.html"
    path.write_bytes(page)
    return path


def test_the_programme_page_reads_on_a_phone_and_a_desktop(seeded_server, seeded_config, browser_page,
                                                          tmp_path: Path) -> None:
    config, page = seeded_config, browser_page
    url = _page_file(seeded_server, config, tmp_path).as_uri()
    papers = _table(config).by_key
    for width, height, name in ((375, 812, "chuong-trinh-web-dien-thoai.png"),
                                (1280, 900, "chuong-trinh-web.png")):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        assert page.title().startswith("Chương trình Hội thảo")
        assert page.locator("html").get_attribute("lang") == "vi"
        # Nothing runs off the side: no sideways scrolling, even on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        sessions = page.locator("section h2").all_inner_texts()
        assert sessions[0] == "Khai mạc"
        assert "Phiên 1: Dữ liệu lớn và AI" in sessions and "Phiên 2: Chuyển đổi số" in sessions
        text = page.locator("main").inner_text()
        assert f'"{papers["TL01"]["title"]}"' in text and papers["TL02"]["author"] in text
        # Set in the serif the page names (Liberation Serif stands for Times New Roman here),
        # which has every Vietnamese letter on the page.
        family = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert family.startswith('"Times New Roman"')
        assert _fonts_used(page, "main") == {"Liberation Serif"}
        screenshot(page, tmp_path, name, full_page=True)
    # Printed, it keeps the layout and drops the screen colours.
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(0, 0, 0)"


def _fonts_used(page: Any, selector: str) -> set[str]:
    """The fonts chromium drew the element's own text with (DevTools'
    "Rendered Fonts"): a letter missing from the named font would show as a
    fallback font here."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    used: set[str] = set()
    for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": f"{selector} *"})["nodeIds"]:
        for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
            used.add(font["familyName"])
    return used
