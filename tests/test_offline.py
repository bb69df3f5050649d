"""The whole site to take away (``make offline``, hooks/offline.py): a zip that works opened from disk.

Built as ``make offline`` builds it, with a public address configured (``NNREF_SITE_URL``): the zip
is unpacked into an empty folder and opened in headless Chromium from ``file://``, with no server.
A reader moves between pages, sees the formulas rendered and searches in Chinese; no request
leaves the disk.
"""
import re
import zipfile

import pytest

from tests.site_build import OFFLINE_ADDRESS as ADDRESS, session_build


@pytest.fixture(scope="module")
def offline_site(tmp_path_factory):
    """The offline build of tests/site_build.py (built once per session, in the background) unzipped."""
    dest, log = session_build(tmp_path_factory, "offline")
    archive = dest.parent / "nnref-site.zip"
    assert archive.is_file(), f"the offline build wrote no zip:\n{log[-3000:]}"
    unpacked = tmp_path_factory.mktemp("offline-unpacked")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        z.extractall(unpacked)
    return unpacked / "nnref-site", names, archive


def test_zip_holds_the_whole_site_under_one_folder(offline_site):
    site, names, _ = offline_site
    assert all(n.startswith("nnref-site/") for n in names)
    for needed in ["index.html", "cnn/conv.html", "search/search_index.js", "install.html",
                   "assets/javascripts/iframe-worker-shim.js", "notebooks/mlp_digits.html"]:
        assert (site / needed).is_file(), f"{needed} is not in the zip"
    assert list(site.glob("downloads/nnref-*.whl")), "the wheel is not in the zip"
    assert list(site.glob("neural-network/linear.ipynb")), "the page notebooks are not in the zip"


def test_offline_pages_load_nothing_from_another_host(offline_site):
    site, _, _ = offline_site
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*(?:src|href)=["'](?:https?:)?//""")
    offenders = [p.relative_to(site).as_posix() for p in site.rglob("*.html")
                 if remote.search(re.sub(r'<link rel="canonical"[^>]*>', "", p.read_text(encoding="utf-8")))]
    assert not offenders, f"pages that load something from another host: {offenders[:5]}"


def test_configured_address_is_used_for_canonical_links_and_page_notebooks(offline_site):
    site, _, _ = offline_site
    html = (site / "cnn" / "conv.html").read_text(encoding="utf-8")
    assert f'<link rel="canonical" href="{ADDRESS}cnn/conv.html">' in html
    assert ADDRESS in (site / "sitemap.xml").read_text(encoding="utf-8")
    notebook = (site / "lstm" / "lstm.ipynb").read_text(encoding="utf-8")
    assert f"({ADDRESS}rnn/vanishing-gradients.html)" in notebook, "page notebook links are not absolute"
    assert f"{ADDRESS}install.html" in notebook and "127.0.0.1" not in notebook


@pytest.mark.browser
def test_site_opened_from_disk_navigates_renders_math_and_searches(offline_site, browser):
    site, _, _ = offline_site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / "index.html").as_uri(), wait_until="load")
        page.click("nav.md-nav--primary a[href$='cnn/conv.html']")        # a reader moves to a page
        page.wait_for_url("**/cnn/conv.html")
        page.wait_for_selector(".katex", state="attached", timeout=30000)
        assert page.locator(".katex").count() > 50 and page.locator(".katex-error").count() == 0
        box = page.locator("input.md-search__input")
        box.click()
        box.fill("过拟合")
        box.press("End")
        page.wait_for_selector(".md-search-result__item", timeout=30000)
        links = page.eval_on_selector_all(".md-search-result__list > li > a:first-child", "els => els.map(e => e.href)")
        assert links and links[0].split("?")[0] == (site / "neural-network" / "overfitting.html").as_uri(), links[:3]
        marks = page.eval_on_selector_all(".md-search-result mark", "els => els.map(e => e.textContent)")
        assert "过拟合" in marks, f"not highlighted as one word (hooks/search.py's worker fix): {sorted(set(marks))[:8]}"
        page.click(".md-search-result__list > li > a:first-child")            # and follows the hit
        page.wait_for_url("**/neural-network/overfitting.html*")
        page.wait_for_selector(".katex", state="attached", timeout=30000)
        outside = [u for u in requests if not u.startswith(("file:", "data:", "about:", "blob:"))]
        assert not outside, f"requests left the disk: {outside[:5]}"
        assert not errors, errors
    finally:
        page.close()              # the browser lives on for the session's other tests
