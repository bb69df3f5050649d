"""The printable edition (mkdocs-print-site-plugin, ``/print_page/``): the whole site on one page in
navigation order, formulas rendered by KaTeX, figures and Chinese text present, nothing fetched from
another host. Print it from the browser (or ``chromium --headless --print-to-pdf``) for a PDF.
"""
import importlib.util
import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hooks.site_nav import nav_entries, read_config
from tests.site_build import ROOT


def nav_pages():
    """The Markdown pages of mkdocs.yml's nav, in order."""
    return [path for _, path in nav_entries(read_config()["nav"]) if path.endswith(".md")]


def test_print_page_is_built_in_nav_order(built_site):
    site, _ = built_site
    html = (site / "print_page" / "index.html").read_text(encoding="utf-8")
    # each page becomes a <section class="print-page" id="<page path>">, in navigation order
    ids = [f'id="{p.removesuffix(".md").removesuffix("/index").replace("/", "-")}"' for p in nav_pages() if p != "index.md"]
    positions = [html.find(i) for i in ids]
    missing = [i for i, pos in zip(ids, positions) if pos < 0]
    assert not missing, f"pages missing from the print page: {missing}"
    assert positions == sorted(positions), "the print page is not in navigation order"


@pytest.fixture(scope="session")     # once: the tests that read it run on one worker (TOGETHER)
def edition(browser, server):
    """The print page opened once, in a tab of its own, for the tests below (it is 2.8 MB; opening it
    takes Chromium some 5 CPU-seconds). What the reader sees as it opens is recorded first, before
    any test prints it: ``page.at_open``."""
    from tests.chromium import record_outside
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = record_outside(context.new_page())
    page.goto(server + "print_page/", wait_until="networkidle", timeout=120000)
    page.wait_for_timeout(500)
    page.at_open = page.evaluate("""() => ({
        total: document.querySelectorAll('.arithmatex').length,
        typeset: document.querySelectorAll('.arithmatex .katex').length,
        lazy: [...document.querySelectorAll('#print-site-page section.print-page:not(.md-section)')]
              .every(s => getComputedStyle(s).contentVisibility === 'auto')})""")
    # formulas are typeset near the screen while reading: scrolled to, a later one is
    target = page.locator("#cnn-conv .arithmatex").first
    target.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('#cnn-conv .arithmatex .katex')", timeout=10000)
    yield page
    context.close()


@pytest.mark.browser
def test_print_page_prints_math_chinese_figures_and_answers_offline(edition):
    page = edition
    # what printing gives: formulas are typeset before it. The whole edition, at half the scale:
    # the same content on some 230 pages instead of 470, in two thirds of the CPU time
    pdf = page.pdf(scale=0.5)
    page.emulate_media(media="print")
    text = page.inner_text("article")
    katex = page.locator(".katex").count()
    untypeset = page.locator(".arithmatex:not(:has(.katex))").count()
    errors = page.locator(".katex-error").count()
    figures = page.eval_on_selector_all(
        "article img[src*='figures/']", "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])")
    closed = page.locator("details:not([open])").count()
    answers = page.eval_on_selector_all("details.success", "ds => ds.map(d => d.lastElementChild.checkVisibility())")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1_000_000
    for words in ["反向传播", "卷积层", "长短期记忆网络", "参考答案"]:
        assert words in text, f"{words!r} not on the print page"
    assert katex > 1500 and untypeset == 0, f"{katex} formulas typeset for printing, {untypeset} left as TeX"
    assert errors == 0, "KaTeX could not parse some formula"
    assert figures and all(ok for _, ok in figures), f"figures not loaded: {[s for s, ok in figures if not ok]}"
    assert closed == 0, f"{closed} collapsed blocks would print closed"
    assert len(answers) > 40 and all(answers), "an exercise's answer is not printed"
    assert page.outside == [], f"requests left localhost: {page.outside}"


@pytest.mark.browser
def test_every_link_on_the_print_page_leads_somewhere(server, edition):
    page = edition
    # one JSON string: Playwright would check some 15,000 returned values one by one in Python
    links = json.loads(page.eval_on_selector_all("a[href]", """as => JSON.stringify(as.map(a => [
        a.getAttribute('href'), a.href,
        a.hash && a.pathname === location.pathname
          ? !!(document.getElementById(decodeURIComponent(a.hash.slice(1))) ||
               document.getElementsByName(decodeURIComponent(a.hash.slice(1))).length)
          : null]))"""))
    in_page = [(href, ok) for href, _, ok in links if ok is not None]
    assert len(in_page) > 500, f"only {len(in_page)} in-page links"
    dangling = [href for href, ok in in_page if not ok]
    assert not dangling, f"{len(dangling)} in-page links lead nowhere: {dangling[:10]}"
    # a link to another file of the site (a figure, a notebook download) points at a file that exists
    site = server.rstrip("/")
    files = {url.split("#")[0] for _, url, ok in links if ok is None and url.startswith(site)}
    import urllib.request
    missing = [url for url in sorted(files) if not _exists(urllib.request, url)]
    assert not missing, missing[:10]


def _exists(request, url):
    try:
        with request.urlopen(request.Request(url, method="HEAD"), timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def test_print_page_is_light(built_site):
    """What made the edition slow to open (7.3 MB, ~20 s here) stays out: the notebooks' style sheets
    four times over, the API page's source listings, per-line code anchors, pages nested as whole
    documents, and all ~2,000 formulas typeset while the page opens."""
    site, _ = built_site
    html = (site / "print_page" / "index.html").read_text(encoding="utf-8")
    assert len(html.encode()) < 5_000_000, f"{len(html.encode()) / 1e6:.1f} MB"
    styles = re.findall(r"<style\b[^>]*>.*?</style>", html, re.S)
    assert len(styles) == len(set(styles)), "a style sheet appears more than once"
    assert "mkdocstrings-source" not in html and "__codelineno-" not in html
    assert html.count("<html") == 1 and html.count("<body") == 1, "pages nested as whole documents"
    assert "javascripts/print-math.js" in html and "javascripts/katex-init.js" not in html
    features = json.loads(re.search(r'<script id="__config" type="application/json">(.*?)</script>', html, re.S)[1])["features"]
    assert not {"content.tooltips", "content.code.copy", "navigation.instant", "toc.follow"} & set(features)


@pytest.mark.browser
def test_print_page_opens_without_typesetting_every_formula(edition):
    # formulas are typeset near the screen while reading (the fixture scrolled to one, and it was),
    # every one of them before printing
    opened = edition.at_open
    total, at_open = opened["total"], opened["typeset"]
    assert total > 1500 and at_open < total / 3, f"{at_open} of {total} formulas typeset while the page opens"
    assert opened["lazy"], "the pages of the edition are laid out all at once"


def _articles(site):
    """Each built page's ``<article>`` HTML (the part the print page rewrites), by URL."""
    for path in sorted(site.rglob("index.html")):
        url = path.parent.relative_to(site).as_posix() + "/"
        if url.startswith("print_page"):
            continue
        html = path.read_text(encoding="utf-8")
        start, end = html.find("<article"), html.rfind("</article>")
        if start >= 0:
            yield ("" if url == "./" else url), html[start:end]


def _print_page_hook():
    spec = importlib.util.spec_from_file_location("print_page", ROOT / "hooks" / "print_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


print_page = _print_page_hook()
TOKENS = ["<", "<h2", "<li", "<a", "<span", 'id="', ' id="', 'ID="', '"', "x", ">", "\n", " ", 'href="#y"',
          'href="../c/"', 'href="https://e.org/"', 'href="d.png"']


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
@example('<h2 id="a"><h2 id="b"><li id="c">')
@example('<h2 id="a"><span>x</span>\n<li>y<aid="b">\n<h2 id="\n"> <sup id="c">')
def test_anchor_matching_equals_the_plugins_regex(html):
    # the skip-ahead scan must find exactly the matches (and groups) the plugin's regex finds
    ours = [(m.span(), m.groups()) for m in print_page.anchor_matches(html)]
    assert ours == [(m.span(), m.groups()) for m in print_page.ANCHOR.finditer(html)]
    assert print_page.update_anchor_ids(html, "k") == print_page.ORIGINAL["update_anchor_ids"](html, "k")
    args = (html, "k", "a/b/", True)
    assert print_page.fix_href_links(*args) == print_page.ORIGINAL["fix_href_links"](*args)


def test_print_page_link_rewriting_equals_the_plugins(built_site):
    # hooks/print_page.py replaces two quadratic functions of the plugin: same output required
    site, _ = built_site
    pages = list(_articles(site))
    assert len(pages) > 25
    for url, html in pages:
        if url == "api/":
            html = html[:100_000]   # the plugin's quadratic loop on the whole API page takes ~18 s
        key = print_page.urls.get_page_key(url)
        for name, original in print_page.ORIGINAL.items():
            ours = getattr(print_page, name)
            args = (html, key, url, True) if name == "fix_href_links" else (html, key)
            assert ours(*args) == original(*args), f"{name} differs from the plugin's on {url or 'index'}"
