"""What a reader sees: the built site in headless Chromium (Debian's), served on 127.0.0.1.

Math must be rendered by KaTeX (no raw ``$$`` left), no request may leave localhost, and the
built-in search must find Chinese words (segmented by jieba at build time).
"""
import functools
import http.server
import shutil
import threading
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
PAGES = ["", "prerequisites/derivative/", "neural-network/linear/", "neural-network/backprop/",
         "neural-network/batchnorm/", "cnn/conv/", "rnn/rnn/", "lstm/lstm/", "lstm/gru/",
         "notebooks/mlp_digits/", "notebooks/sequences/", "api/"]


@pytest.fixture(scope="module")
def server(built_site):
    site, _ = built_site
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import os
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: apt-get install chromium fonts-wqy-microhei "
                    "(make test does this)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.outside = []
    pg.on("request", lambda r: urlparse(r.url).hostname not in ("127.0.0.1", None)
          and r.url.split(":")[0] in ("http", "https", "ws", "wss") and pg.outside.append(r.url))
    yield pg
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES)
def test_math_rendered_and_nothing_leaves_localhost(server, page, path):
    page.goto(server + path, wait_until="networkidle")
    page.wait_for_selector(".katex", state="attached", timeout=30000)  # the first may sit in a closed tab
    assert page.locator(".katex").count() > 0
    prose = page.evaluate("""() => { const c = document.querySelector('article').cloneNode(true);
        c.querySelectorAll('pre, code, script, style, .katex').forEach(e => e.remove()); return c.innerText; }""")
    assert "$$" not in prose and "\\(" not in prose, "raw TeX left on the page"
    assert page.locator(".katex-error").count() == 0, "KaTeX could not parse some formula"
    assert page.outside == [], f"requests left localhost: {page.outside}"


@pytest.mark.browser
@pytest.mark.parametrize("word,target", [("反向传播", "neural-network/backprop/"),
                                         ("权重矩阵", "neural-network/linear/"),
                                         ("池化", "cnn/pool/"),
                                         ("遗忘门", "lstm/lstm/")])
def test_chinese_search_finds_the_page(server, page, word, target):
    page.goto(server, wait_until="networkidle")
    box = page.locator("input.md-search__input")
    box.click()  # the header's search field (a wide window shows it directly)
    box.fill(word)
    box.press("End")
    page.wait_for_selector(".md-search-result__item", timeout=30000)
    links = page.eval_on_selector_all(".md-search-result__item a", "els => els.map(e => e.href)")
    assert any(target in href for href in links), f"{word!r} did not find {target}: {links}"
    assert page.outside == []
