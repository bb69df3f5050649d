"""What a reader sees: the built site in headless Chromium (Debian's), served on 127.0.0.1.

Math must be rendered by KaTeX (no raw ``$$`` left), no request may leave localhost, the
built-in search must rank the page that teaches a Chinese word first (the pages are cut into
words by jieba at build time, the query into the same words in the browser), and nothing wide
may be cut off at a desktop or a phone width.
"""
import re

import pytest

PAGES = ["prerequisites/derivative/", "neural-network/linear/", "neural-network/backprop/",
         "neural-network/batchnorm/", "cnn/conv/", "rnn/rnn/", "lstm/lstm/", "lstm/gru/",
         "notebooks/mlp_digits/", "notebooks/sequences/", "api/"]


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
def test_clicking_through_pages_works_without_a_configured_address(server, page):
    """Instant navigation reads sitemap.xml, which is empty without NNREF_SITE_URL: links must still
    lead to their pages, with the formulas rendered."""
    page.goto(server, wait_until="networkidle")
    page.click("nav.md-nav--primary a[href$='cnn/conv/']")
    page.wait_for_url(server + "cnn/conv/")
    page.wait_for_selector(".katex", state="attached", timeout=30000)
    page.click("a.md-footer__link--next")                     # the footer's link to the next page
    page.wait_for_url(server + "cnn/pool/")
    page.wait_for_selector("article h1:has-text('池化层')")
    page.wait_for_selector(".katex", state="attached", timeout=30000)
    assert page.outside == []


@pytest.mark.browser
@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits", "overfitting", "sequences"])
def test_notebook_page_shows_its_outputs_and_figures(server, page, name):
    page.goto(server + f"notebooks/{name}/", wait_until="networkidle")
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    assert prompts and all(re.fullmatch(r"In\s\[\d+\]:", p.strip()) for p in prompts), prompts[:5]
    assert page.locator(".jp-OutputArea-output pre").count() > 0, "no printed output"
    figures = page.eval_on_selector_all(
        ".jp-OutputArea-output img", "els => els.map(e => [e.complete && e.naturalWidth, e.getBoundingClientRect().width])")
    assert figures and all(natural > 0 and shown > 100 for natural, shown in figures), figures


SEARCHES = [("过拟合", "neural-network/overfitting/"), ("早停", "neural-network/overfitting/"),
            ("梯度消失", "rnn/vanishing-gradients/"), ("卷积核", "cnn/conv/"),
            ("反向传播", "neural-network/backprop/"), ("批归一化", "neural-network/batchnorm/"),
            ("遗忘门", "lstm/lstm/"), ("残差", "cnn/resnet/"), ("权重矩阵", "neural-network/linear/"),
            ("池化", "cnn/pool/"), ("注意力", "attention/attention/"), ("自注意力", "attention/multihead/"),
            ("多头", "attention/multihead/"), ("位置编码", "attention/positional/"), ("掩码", "attention/attention/")]


def search(page, server, word):
    """Type ``word`` into the header's search field; the result pages' URLs, best first."""
    page.goto(server, wait_until="networkidle")
    box = page.locator("input.md-search__input")
    box.click()  # the header's search field (a wide window shows it directly)
    box.fill(word)
    box.press("End")
    page.wait_for_selector(".md-search-result__item", timeout=30000)
    return page.eval_on_selector_all(
        ".md-search-result__list > li > a:first-child", "els => els.map(e => e.href)")


@pytest.mark.browser
@pytest.mark.parametrize("word,target", SEARCHES)
def test_chinese_search_ranks_the_page_that_teaches_the_word_first(server, page, word, target):
    links = search(page, server, word)
    assert links and links[0].split("#")[0].split("?")[0] == server + target, f"{word!r}: top hit is not {target}: {links[:4]}"
    # the whole word is highlighted, not its first character alone
    marks = page.eval_on_selector_all(".md-search-result mark", "els => els.map(e => e.textContent)")
    assert word in marks, f"{word!r} not highlighted as a word: {sorted(set(marks))[:10]}"
    assert page.outside == []


@pytest.mark.browser
def test_search_previews_show_no_tex(server, page):
    search(page, server, "梯度")
    previews = page.eval_on_selector_all(".md-search-result__article", "els => els.map(e => e.innerText)")
    tex = [p for p in previews if "\\" in p or "$" in p]
    assert previews and not tex, tex[:3]


def all_pages(site):
    return sorted(p.relative_to(site).parent.as_posix() + "/" for p in site.rglob("index.html")
                  if p.parent != site and not (p.parent / "search_index.json").exists()
                  and p.parent.name != "print_page") + [""]  # the print edition: tests/test_print.py


# an element wider than its box must scroll, with a scroll bar coloured so that the reader sees
# it before scrolling, and must itself stay inside the content column
OVERFLOW = r"""() => {
  // the content column (on a phone Material lets code and formulas run to the screen's edges)
  const column = document.querySelector('.md-content').getBoundingClientRect();
  const bad = [];
  for (const el of document.querySelectorAll(
      '.katex-display, div.arithmatex, article pre, article pre > code, .jupyter-wrapper pre')) {
    if (el.closest('details:not([open]), .tabbed-block:not(:first-of-type)')) continue;  // not on screen
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    const what = el.className || el.tagName;
    const start = el.firstElementChild?.getBoundingClientRect().left;
    if (el.matches('.katex-display') && start < box.left - 1)  // overflow on the left never scrolls
      bad.push(`${what} starts ${Math.round(box.left - start)} px left of its box`);
    if (box.right > column.right + 1 || box.left < column.left - 1)
      bad.push(`${what} sticks out of the column (${Math.round(box.right)} > ${Math.round(column.right)})`);
    if (el.scrollWidth > el.clientWidth + 1) {
      // the box that scrolls it: the element itself or an ancestor inside the column
      let scroller = el;
      while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX))
        scroller = scroller.parentElement?.closest('article') ? scroller.parentElement : null;
      const st = scroller && getComputedStyle(scroller);
      // 'auto' colours are the platform's overlay bars on phones and macOS: hidden until scrolled
      const thumb = st && (st.scrollbarColor.match(/rgba?\([^)]*\)|transparent|auto/g) || ['auto'])[0];
      if (!scroller || st.scrollbarWidth === 'none' || /auto|transparent|rgba\([^)]*, 0\)/.test(thumb))
        bad.push(`${what} is cut off (scrollWidth ${el.scrollWidth} > ${el.clientWidth}; ` +
                 (scroller ? `scroll bar of ${scroller.className || scroller.tagName}: ${st.scrollbarWidth} ${st.scrollbarColor})`
                           : 'nothing scrolls it)'));
    }
  }
  return bad;
}"""


def nav_pages():
    """The URL of every page in mkdocs.yml's nav ('' for the home page), known before the build, so
    that each page is a test of its own (spread over the xdist workers)."""
    from hooks.site_nav import nav_entries, read_config
    urls = []
    for _, path in nav_entries(read_config()["nav"]):
        url = re.sub(r"\.(md|py|ipynb)$", "/", path).removesuffix("index/")
        urls.append(url)
    return sorted(urls)


def test_every_built_page_is_checked_for_overflow(built_site):
    assert nav_pages() == sorted(all_pages(built_site[0])), "the overflow check below misses a built page"


@pytest.mark.browser
@pytest.mark.parametrize("path", nav_pages())
@pytest.mark.parametrize("width", [1280, 390])
def test_nothing_is_cut_off_without_a_visible_scroll_bar(server, browser, width, path):
    context = browser.new_context(viewport={"width": width, "height": 900})
    pg = context.new_page()
    pg.goto(server + path, wait_until="networkidle")
    if pg.locator(".arithmatex").count():
        pg.wait_for_selector(".katex", state="attached", timeout=30000)
    bad = pg.evaluate(OVERFLOW)
    context.close()
    assert not bad, f"{path or 'home'} at {width} px: {bad[:3]}"
