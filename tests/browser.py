"""A real browser for the tests: Debian's chromium, driven by Playwright for
Python through the system executable (the registries here serve no
Playwright browser download). `.ci/run` installs the `chromium` package.

Every request the page makes goes through `loopback_only`: one for anything
but this machine (or a file, or data) is refused and recorded, and the test
fails on it, as the socket guard does for Python code."""
from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, as root in CI, on a machine whose network is closed: without the
# background-networking flags chromium keeps trying Google's hosts.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
# Where the tests' screenshots go as well as their own folder, when set: the
# README's pictures are taken this way (HOITHAO_SCREENSHOTS=docs/img).
SCREENSHOTS_ENV = "HOITHAO_SCREENSHOTS"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="a browser test needs Debian's chromium (apt-get install chromium)")


def _local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("file", "data", "about", "blob"):
        return True
    host = (parsed.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh page (its own context) that may only reach this machine."""
    context = chromium.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    outside: list[str] = []

    def loopback_only(route: Any) -> None:
        if _local(route.request.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
    assert not outside, f"the page tried to reach beyond this machine: {outside}"


def screenshot(page: Any, folder: Path, name: str, **options: Any) -> Path:
    """A PNG of the page in `folder`, and in $HOITHAO_SCREENSHOTS when set."""
    path = folder / name
    page.screenshot(path=str(path), **options)
    extra = os.environ.get(SCREENSHOTS_ENV)
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / name)
    return path
