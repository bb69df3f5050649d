"""Headless Chromium (Debian's) for the tests that look at the built site as a reader does, and
the local server that hands them the site: one place for the browser's flags and the fixtures'
plumbing (the fixtures themselves, ``server``, ``browser`` and ``page``, are in tests/conftest.py)."""
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
