"""What a reader sees: the built site in headless Chromium (Debian's), served on 127.0.0.1.

On every page math must be rendered by KaTeX (no raw ``$$`` left), no request may leave
localhost, nothing wide may be cut off and every diagram's labels must stay legible at a desktop
and at a phone width (the page opened once, the window resized); the built-in search
must rank the page that teaches a Chinese word first (the pages are cut into words by jieba at
build time, the query into the same words in the browser).
"""
import re

import pytest

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


def search(page, word):
    """Type ``word`` into the search field of ``page`` (a page of the site); the result pages' URLs,
    best first. The field is emptied first, and the results of the last query with it."""
    box = page.locator("input.md-search__input")
    if not page.locator("#__search").is_checked():              # the search is not open yet
        button = page.locator("label[for=__search]").first      # a phone's search button
        button.click() if button.is_visible() else box.click()  # a wide window shows the field
    if not box.evaluate("b => b === document.activeElement"):
        box.focus()
    box.fill("")
    page.wait_for_selector(".md-search-result__item", state="detached", timeout=30000)
    box.fill(word)
    box.press("End")
    page.wait_for_selector(".md-search-result__item", timeout=30000)
    return page.eval_on_selector_all(
        ".md-search-result__list > li > a:first-child", "els => els.map(e => e.href)")


@pytest.fixture(scope="session")     # once per worker: its tests need not run one after the other
def home(browser, server):
    """The home page in a tab of its own, kept open for every search of this module (Material
    builds its search index once per page load; a reader searches again without reloading)."""
    from tests.chromium import record_outside
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = record_outside(context.new_page())
    page.goto(server, wait_until="networkidle")
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("word,target", SEARCHES)
def test_chinese_search_ranks_the_page_that_teaches_the_word_first(server, home, word, target):
    links = search(home, word)
    assert links and links[0].split("#")[0].split("?")[0] == server + target, f"{word!r}: top hit is not {target}: {links[:4]}"
    # the whole word is highlighted, not its first character alone
    marks = home.eval_on_selector_all(".md-search-result mark", "els => els.map(e => e.textContent)")
    assert word in marks, f"{word!r} not highlighted as a word: {sorted(set(marks))[:10]}"
    assert home.outside == []


@pytest.mark.browser
def test_search_previews_show_no_tex(home):
    search(home, "梯度")
    previews = home.eval_on_selector_all(".md-search-result__article", "els => els.map(e => e.innerText)")
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


WIDTHS = [1280, 390]


@pytest.mark.browser
@pytest.mark.parametrize("path", nav_pages())
def test_math_rendered_nothing_cut_off_diagrams_legible_and_nothing_leaves_localhost(built_site, server, page, path):
    from tests.test_reader import diagram_problems
    page.goto(server + path, wait_until="load")
    page.evaluate("document.fonts.ready.then(() => true)")                  # KaTeX's fonts, before measuring
    if page.locator(".arithmatex").count():
        page.wait_for_selector(".katex", state="attached", timeout=30000)  # the first may sit in a closed tab
        prose = page.evaluate("""() => { const c = document.querySelector('article').cloneNode(true);
            c.querySelectorAll('pre, code, script, style, .katex').forEach(e => e.remove()); return c.innerText; }""")
        assert "$$" not in prose and "\\(" not in prose, "raw TeX left on the page"
        assert page.locator(".arithmatex:not(:has(.katex))").count() == 0, "a formula left untypeset"
        assert page.locator(".katex-error").count() == 0, "KaTeX could not parse some formula"
    # the same page at a desktop and at a phone width (the layout follows the window's width)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        bad = page.evaluate(OVERFLOW)
        assert not bad, f"{path or 'home'} at {width} px: {bad[:3]}"
        bad = diagram_problems(page, built_site[0], path, width)
        assert not bad, f"at {width} px: {bad}"
    # every request the page makes, until the network has been quiet for 500 ms (that quiet time
    # mostly passed while the checks above ran)
    page.wait_for_load_state("networkidle")
    assert page.outside == [], f"requests left localhost: {page.outside}"
