"""Headless Chromium (Debian's) for the tests that look at the built site as a reader does, and
the local server that hands them the site: one place for the browser's flags and the fixtures'
plumbing (the fixtures themselves, ``server``, ``browser``, ``tab`` and ``page``, are in
tests/conftest.py).

Speed: a page opened in a new tab costs Chromium about twice the CPU of the same page opened in a
tab that already showed the site (a new renderer process, every script compiled again): 116 against
54 CPU-seconds for the 41 pages here. So each test worker keeps one tab per kind of reader
(:class:`Tabs`) and the tests take turns in it; between tests the tab forgets what a test did to it
(routes, storage, viewport, colour scheme), and every test opens its pages afresh."""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# no network beyond the site itself, no GPU, no first-run or sync traffic
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


def launch(playwright):
    """Chromium, headless; a missing chromium fails the test saying how to install it."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: apt-get install chromium fonts-wqy-microhei "
                    "(make test does this)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


@contextlib.contextmanager
def sync_playwright():
    """Playwright's synchronous API, or a skip saying it is not installed."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        yield p


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """``directory`` served on 127.0.0.1 (a free port) while the block runs; yields its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def record_outside(page):
    """``page.outside``: every request of ``page`` that leaves localhost (none may)."""
    page.outside = []
    page.on("request", lambda r: urlparse(r.url).hostname not in ("127.0.0.1", None)
            and r.url.split(":")[0] in ("http", "https", "ws", "wss") and page.outside.append(r.url))
    return page


class Tabs:
    r"""One reused tab per kind of reader: ``get(width, scheme, javascript)``.

    A width under 600 px is a phone (touch, mobile viewport); ``scheme`` is the system's colour
    scheme ("light" or "dark"). ``reset()`` after each test removes the test's routes, leaves the
    site for about:blank and clears its storage (Material keeps the chosen palette there, and writes
    it again as its page unloads), restores the viewport and scheme and empties ``page.outside``; a
    tab that cannot be reset is closed, and the next test gets a new one. Leaving the site costs
    about 10 % more CPU; without it the dark-theme test failed after the theme-toggle test."""

    def __init__(self, browser):
        self.browser, self.tabs, self.used = browser, {}, []

    def get(self, width=1280, scheme="light", javascript=True):
        key = (width, javascript)
        page = self.tabs.get(key)
        if page is None or page.is_closed():
            phone = width < 600
            context = self.browser.new_context(viewport=self.viewport(width), has_touch=phone, is_mobile=phone,
                                               java_script_enabled=javascript)
            page = self.tabs[key] = record_outside(context.new_page())
        page.emulate_media(color_scheme=scheme)
        if page not in self.used:
            self.used.append(page)
        return page

    @staticmethod
    def viewport(width):
        return {"width": width, "height": 844 if width < 600 else 900}

    def reset(self):
        for (width, javascript), page in list(self.tabs.items()):
            if page not in self.used:
                continue
            try:
                page.unroute_all(behavior="ignoreErrors")
                for other in page.context.pages:          # a popup the test opened
                    if other is not page:
                        other.close()
                page.context.clear_cookies()
                origin = "/".join(page.url.split("/")[:3]) if page.url.startswith("http") else None
                # leave the site first: Material writes the palette into storage as its page unloads
                page.goto("about:blank")
                if origin:
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
                    cdp.detach()
                page.set_viewport_size(self.viewport(width))
                page.emulate_media(media="null", color_scheme="light")   # "null": no media override
                page.outside.clear()
            except Exception:                              # the test left it broken: start afresh
                page.context.close()
                del self.tabs[(width, javascript)]
        self.used = []

    def close(self):
        for page in self.tabs.values():
            page.context.close()
        self.tabs = {}
