"""What a reader of the built site gets beyond the pages themselves, checked in headless Chromium at a
desktop width (1280 px) and a phone width (390 px): the home page and its chapter list (equal to
the nav), light and dark themes that follow the system, back to top, tooltips for the site's terms
from the one glossary, search previews without TeX or holes, figures that enlarge on click or tap,
diagrams whose labels stay legible (checked on every page by tests/test_browser.py, with
``diagram_problems``), and figures that stay legible in the dark theme.
"""
import contextlib
import json
import re
import xml.etree.ElementTree as etree

import pytest

from hooks.site_nav import read_config
from tests.site_build import ROOT

WIDTHS = [1280, 390]
MIN_LABEL_PX = 9           # the smallest label of a diagram, rendered, in CSS px


def mkdocs_nav():
    return read_config()["nav"]


def url_of(path):
    """The site URL of a nav entry's file (directory URLs)."""
    stem = re.sub(r"\.(md|py|ipynb)$", "", path)
    return "" if stem == "index" else stem.removesuffix("/index") + "/"


def expected_chapters():
    """[(chapter, [(page title, url)])] as the nav says, the home page left out; a page on its own
    (or a chapter that is one untitled page) is a chapter whose one link carries its name."""
    out = []
    for item in mkdocs_nav():
        (title, value), = item.items() if isinstance(item, dict) else [(item, item)]
        if value == "index.md":
            continue
        if isinstance(value, str):
            out.append((title, [(title, url_of(value))]))
            continue
        pages = []
        for sub in value:
            (t, v), = sub.items() if isinstance(sub, dict) else [(title, sub)]
            pages.append((t, url_of(v)))
        out.append((title, pages))
    return out


# --- pages in Chromium: ``tab(width, scheme)`` is the tab of a reader at that width (under 600 px a
# phone, with touch) whose system is light or dark (tests/conftest.py)

def press(page, locator, width):
    """A click at a desktop width, a tap on a phone."""
    locator.scroll_into_view_if_needed()
    locator.tap() if width < 600 else locator.click()


# --- the home page --------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_home_chapter_list_equals_the_nav(server, tab, width):
    page = tab(width)
    page.goto(server, wait_until="networkidle")
    cards = page.eval_on_selector_all(".nnref-chapters > ul > li", """cards => cards.map(c => [
        c.querySelector('p').innerText.trim(),
        [...c.querySelectorAll('a')].map(a => [a.innerText.trim(), a.href]),
        c.getBoundingClientRect().width])""")
    got = [(title, [(text, href.removeprefix(server)) for text, href in links]) for title, links, _ in cards]
    assert got == expected_chapters()
    # every card is on screen, none squeezed: one column on a phone, two or more on a desktop
    widths = [w for *_, w in cards]
    column = page.evaluate("document.querySelector('article').getBoundingClientRect().width")
    assert all(w > (0.9 * column if width < 600 else 0.3 * column) for w in widths), widths
    assert page.outside == []


@pytest.mark.browser
def test_home_page_is_for_learners_and_contributors_have_their_own_page(server, tab):
    page = tab(1280)
    page.goto(server, wait_until="load")
    text = page.inner_text("article")
    headings = page.eval_on_selector_all("article h2", "hs => hs.map(h => h.innerText.replace('¶', '').trim())")
    links = page.eval_on_selector_all("article a[href]", "as => as.map(a => a.getAttribute('href'))")
    page.goto(server + "contributing/", wait_until="load")
    contributing = page.inner_text("article")
    assert headings[:2] == ["这里有什么不同", "从哪里开始"] and "章节" in headings and "获取 nnref" in headings
    for promise in ["每个数字都经过测试", "笔记勘误", "练习", "笔记本", "下载本页为 Jupyter 笔记本"]:
        assert promise in text, f"the home page does not say {promise!r}"
    links = [link.split("#")[0].removeprefix(server) for link in links]   # instant loading makes them absolute
    assert "glossary/" in links and "contributing/" in links
    assert "install/" in links, "the home page must say how to get nnref (the install page)"
    for workshop in ["make test", "inspect.getsource", "NNREF_BACKEND", "CuPy"]:
        assert workshop not in text, f"contributor material on the home page: {workshop!r}"
        assert workshop in contributing, f"{workshop!r} missing from 参与开发"


def test_contributing_examples_are_run_by_the_page_tests():
    # docs/contributing.md is a page like any other: its python blocks and 输出 blocks are checked
    text = (ROOT / "docs" / "contributing.md").read_text(encoding="utf-8")
    assert text.count("```python") >= 3 and text.count('title="输出"') >= 2
    assert "contributing.md" in json.dumps(mkdocs_nav())


# --- themes and navigation --------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_theme_follows_the_system_and_the_toggle(server, tab, width):
    for system, scheme in [("light", "default"), ("dark", "slate")]:
        page = tab(width, system)
        page.goto(server + "neural-network/backprop/", wait_until="load")
        assert scheme_once_applied(page, scheme) == scheme, f"system {system}"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (_luminance(background) > 0.5) == (system == "light"), background
    # the toggle: automatic -> light -> dark, remembered on the next page
    page = tab(width, "dark")
    page.goto(server + "neural-network/backprop/", wait_until="load")
    seen = []
    for _ in range(3):
        page.locator("form[data-md-component=palette] label:visible").first.click()
        seen.append(page.get_attribute("body", "data-md-color-scheme"))
    assert seen == ["default", "slate", "slate"], seen     # the third click: back to the system's (dark)
    page.locator("form[data-md-component=palette] label:visible").first.click()    # light
    page.goto(server + "cnn/conv/", wait_until="load")
    assert scheme_once_applied(page, "default") == "default", "the choice is not remembered"


def scheme_once_applied(page, expected, timeout=10000):
    """The page's colour scheme, once Material's script had time to apply ``expected``: the body
    starts as "default" and the script sets the system's scheme after the page loaded, which on a
    busy machine can come after the network fell quiet."""
    try:
        page.wait_for_function("s => document.body.getAttribute('data-md-color-scheme') === s",
                               arg=expected, timeout=timeout)
    except Exception:              # PlaywrightTimeoutError: say what the page shows instead
        pass
    return page.get_attribute("body", "data-md-color-scheme")


def _luminance(css_color):
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_back_to_top(server, tab, width):
    page = tab(width)
    page.goto(server + "cnn/conv/", wait_until="load")
    top = page.locator(".md-top")
    assert top.count() == 1 and page.evaluate("document.querySelector('.md-top').hidden")
    page.mouse.wheel(0, 4000)
    page.wait_for_function("() => window.scrollY >= 4000", timeout=5000)
    page.mouse.wheel(0, -400)             # Material shows the button when the reader scrolls back up
    page.wait_for_function("() => !document.querySelector('.md-top').hidden", timeout=5000)
    page.wait_for_function(ANIMATIONS_DONE, timeout=5000)      # the button slides in
    press(page, top, width)
    page.wait_for_function("() => window.scrollY === 0", timeout=5000)


# --- glossary tooltips --------------------------------------------------------------------------

GLOSSARY = ROOT / "docs" / "glossary.md"


def glossary_rows():
    from hooks.glossary import read_glossary
    return read_glossary(GLOSSARY)


def test_glossary_is_one_table_whose_terms_are_taught_where_it_says(built_site):
    site, _ = built_site
    rows = glossary_rows()
    assert len(rows) >= 50
    for forms, english, page in rows:
        assert page, f"{forms}: the glossary links every term to the page that teaches it"
        html = (site / url_of(page) / "index.html").read_text(encoding="utf-8")
        assert any(form in html for form in forms), f"{forms} ({english}) does not occur on {page}"


def test_tooltips_reach_the_site_only_never_the_page_tests_or_notebooks():
    # the glossary is added to the site's Markdown by a hook, not appended to the pages' text
    from hooks.page_notebooks import page_notebook
    from hooks.snippets import expand_snippets, snippet_options
    page = ROOT / "docs" / "neural-network" / "backprop.md"
    for text in [expand_snippets(page.read_text(encoding="utf-8"), snippet_options()),
                 "\n".join(c.source for c in page_notebook(page).cells)]:
        assert not re.search(r"^\*\[.+\]:", text, re.M), "abbreviation lines in the page's text"
        assert "<abbr" not in text


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_terms_show_their_english_name_on_hover_or_tap(server, tab, width, built_site):
    site, _ = built_site
    english = {form: en for forms, en, _ in glossary_rows() for form in forms}
    page = tab(width)
    page.goto(server + "neural-network/backprop/", wait_until="load")
    terms = page.eval_on_selector_all("article abbr[title]", "as => as.map(a => [a.textContent, a.title])")
    assert len(terms) >= 10 and all(english[t] == title for t, title in terms), terms[:5]
    term = page.locator("article p abbr[title]").first
    name = term.get_attribute("title")
    if width < 600:
        press(page, term, width)
    else:
        term.scroll_into_view_if_needed()
        term.hover()
    tip = page.locator(".md-tooltip2--active")
    tip.wait_for(state="visible", timeout=5000)
    assert tip.inner_text().strip() == name
    # the tip is on screen, near the term
    box, at = tip.bounding_box(), term.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= width and abs(box["y"] - at["y"]) < 80
    # a term in a code block, a formula, a heading or a link is left alone
    html = (site / "neural-network" / "backprop" / "index.html").read_text(encoding="utf-8")
    for inside in [r"<code[^>]*>[^<]*<abbr", r"<h[1-6][^>]*>[^<]*<abbr", r'<span class="arithmatex">[^<]*<abbr',
                   r"<a [^>]*>[^<]*<abbr"]:
        assert not re.search(inside, html), inside
    assert "<abbr" not in (site / "glossary" / "index.html").read_text(encoding="utf-8").split("<article")[1]


# --- search ---------------------------------------------------------------------------------

GAP = re.compile(r"[ \t\xa0][，。；：、！？）]|（[ \t\xa0]|[ \t\xa0]{2,}")   # a hole where something was left out
TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$")


def test_tex_becomes_readable_text():
    from hooks.tex_text import tex_to_text
    cases = {r"\(\frac{\partial L}{\partial W}\)": "∂L/∂W", r"\(h_t = \tanh(W_{hh} h_{t-1} + b_h)\)": "hₜ = tanh(Wₕₕ hₜ₋₁ + bₕ)",
             r"\(Y = XW^\top + b\)": "Y = XWᵀ + b", r"$\lVert\partial L/\partial h_t\rVert$": "‖∂L/∂hₜ‖",
             r"\(\hat{\boldsymbol y}\)": "ŷ", r"\(\sqrt{\hat\sigma^2+\epsilon}\)": "√(σ̂²+ϵ)", r"\(n_\text{in}\)": "nᵢₙ",
             r"\(\mathbb{R}^{n\times m}\)": "ℝ^(n × m)", r"\(x_{n,c}\)": "x_(n,c)", r"\(10^{-4}\)": "10⁻⁴",
             r"\[ \begin{aligned} a &= b,\\ c &= d \end{aligned} \]": "a = b; c = d",
             r"\(\unknowncommand{x}\)": "unknowncommandx"}
    for tex, text in cases.items():
        assert tex_to_text(tex) == text, tex


def test_every_formula_in_the_index_is_readable_text_without_holes(built_site):
    site, _ = built_site
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    holes, tex = [], []
    for doc in index["docs"]:
        text = re.sub(r"<code>.*?</code>", "C", doc["text"].replace("\u200b", ""))   # jieba's word marks
        holes += [(doc["location"], text[max(0, m.start() - 20):m.end() + 10]) for m in GAP.finditer(text)]
        tex += [doc["location"] for _ in TEX.finditer(text)]
    assert not holes, f"{len(holes)} holes in the search index, e.g. {holes[:5]}"
    assert not tex, f"TeX in the search index: {tex[:5]}"
    # and the formulas are there, as text
    backprop = " ".join(d["text"] for d in index["docs"] if d["location"].startswith("neural-network/backprop/"))
    assert "∂L/∂" in backprop.replace("\u200b", "")


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_search_previews_hold_no_tex_and_no_holes(server, tab, width):
    from tests.test_browser import search
    page = tab(width)
    page.goto(server, wait_until="networkidle")
    previews = []
    for word in ["梯度", "反向传播", "卷积", "损失"]:      # typed one after the other, as a reader does
        search(page, word)
        page.wait_for_timeout(300)
        previews += page.eval_on_selector_all(".md-search-result__article",
                                              "els => els.map(e => e.innerText)")
    assert len(previews) > 10
    previews = [p.replace("\u200b", "") for p in previews]
    assert not [p for p in previews if TEX.search(p)], [p for p in previews if TEX.search(p)][:3]
    holes = [p[max(0, m.start() - 20):m.end() + 10] for p in previews for m in GAP.finditer(p)]
    assert not holes, holes[:5]
    assert any(re.search(r"[∂ᵀₜ²→θ]", p) for p in previews), "no formula reads as text in the previews"


# --- figures ---------------------------------------------------------------------------------

def figure_pages(site):
    """{page url: [figure file names]} for every page that shows a figure from figures/."""
    pages = {}
    for path in sorted(site.rglob("index.html")):
        url = path.parent.relative_to(site).as_posix() + "/"
        if url.startswith("print_page"):
            continue
        names = re.findall(r'<img [^>]*src="(?:\.\./)*figures/([^"]+)"', path.read_text(encoding="utf-8"))
        if names:
            pages["" if url == "./" else url] = names
    return pages


def smallest_label(svg):
    """(viewBox width, smallest label size) of a figure's SVG, from the file itself."""
    ns = "{http://www.w3.org/2000/svg}"
    root = etree.parse(svg).getroot()
    sizes = []
    for text in root.iter(f"{ns}text"):
        found = [float(v) for el in (text, *text.iter(f"{ns}tspan"))
                 for v in re.findall(r"font-size:\s*([\d.]+)px", el.get("style", ""))]
        sizes.append(max(found))      # the label's size; its sub- and superscripts are smaller by design
    return float(root.get("viewBox").split()[2]), min(sizes)


def diagram_problems(page, site, url, width):
    """What is wrong with the SVG diagrams of the page open in ``page`` (the page at ``url``, the
    window ``width`` px wide): a label under MIN_LABEL_PX as drawn, a diagram cut off without a
    visible scroll bar, or one that scrolls sideways on a desktop. Every page is checked so, at a
    desktop and at a phone width, by ``test_browser.py``'s test of each page."""
    problems = []
    names = page.eval_on_selector_all('article img[src*="figures/"]', "is => is.map(i => i.getAttribute('src'))")
    for name in sorted({n.rsplit("figures/", 1)[1] for n in names if n.endswith(".svg")}):
        img = page.locator(f'article img[src$="figures/{name}"]').first
        img.scroll_into_view_if_needed()
        shown = img.evaluate("""i => { const f = i.closest('.nnref-diagram') || i.parentElement;
            const s = getComputedStyle(f); return {width: i.getBoundingClientRect().width,
            frame: f.clientWidth, scroll: f.scrollWidth, overflow: s.overflowX, bar: s.scrollbarColor,
            column: document.querySelector('article').getBoundingClientRect().width} }""")
        view_width, smallest = smallest_label(site / "figures" / name)
        label_px = shown["width"] / view_width * smallest
        if label_px < MIN_LABEL_PX - 0.05:
            problems.append(f"{url} {name}: smallest label {label_px:.1f} px")
        if shown["scroll"] > shown["frame"] + 1 and (shown["overflow"] not in ("auto", "scroll")
                                                      or re.search(r"^(auto|transparent)", shown["bar"])):
            problems.append(f"{url} {name}: cut off at {shown['frame']} of {shown['scroll']} px, no visible scroll bar")
        if width >= 1000 and shown["scroll"] > shown["frame"] + 1:
            problems.append(f"{url} {name}: scrolls sideways on a desktop")
    return problems


def test_the_site_has_diagrams_whose_labels_are_checked(built_site):
    site, _ = built_site
    svgs = [n for names in figure_pages(site).values() for n in names if n.endswith(".svg")]
    assert len(svgs) >= 9, f"only {len(svgs)} diagrams found"
    for name in set(svgs):
        view_width, smallest = smallest_label(site / "figures" / name)
        assert view_width > 0 and smallest > 0, name


PLOTS = ["activation", "bias", "nondifferentiable", "optimizers", "resnet_gradient", "rnn_gradients", "rnn_clipping"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_plots_are_drawn_without_glyph_warnings(built_site):
    _, log = built_site
    assert not re.search(r"[Gg]lyph .*missing|missing from (current )?font", log), "glyph warnings in the build log"


@pytest.mark.browser
def test_plot_text_is_chinese_and_drawn(server, tab):
    # titles, legends and axes of the plots (and of the notebooks' plots) are Chinese text that the
    # browser draws: each Chinese label takes the width of its characters and leaves ink
    page = tab(1280)
    for name in PLOTS:
        page.goto(server + f"figures/{name}.svg", wait_until="load")
        labels = page.eval_on_selector_all("text", """ts => ts.map(t => { const b = t.getBBox();
            return [t.textContent, b.width, b.height, parseFloat(getComputedStyle(t).fontSize)] })""")
        chinese = [(text, w, h, size) for text, w, h, size in labels if CJK.search(text)]
        assert len(chinese) >= 2, f"{name}: Chinese labels {chinese}"
        narrow = [text for text, w, h, size in chinese if w < 0.8 * size * len(CJK.findall(text)) or h < 0.8 * size]
        assert not narrow, f"{name}: labels drawn narrower than their characters: {narrow}"
    page.goto(server + "notebooks/mlp_digits/", wait_until="networkidle")
    plots = page.eval_on_selector_all(".jp-RenderedSVG img", """is => is.map(i =>
        new TextDecoder().decode(Uint8Array.from(atob(i.src.split(',')[1]), c => c.charCodeAt(0))))""")
    assert plots and any("验证集" in p for p in plots), "the notebook's plots have no Chinese labels"


SHOWN = ".glightbox-container .gslide.current img"
ANIMATIONS_DONE = "() => document.getAnimations().length === 0"


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_figures_enlarge_on_click_or_tap(server, tab, width):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    page = tab(width)
    for url, name in [("cnn/conv/", "conv_window.svg"), ("neural-network/optimizers/", "optimizers.svg")]:
        page.goto(server + url, wait_until="load")
        img = page.locator(f'article img[src*="figures/{name}"]').first
        before = img.bounding_box()["width"]
        press(page, img, width)
        shown = page.locator(SHOWN)
        shown.wait_for(state="visible", timeout=10000)
        page.wait_for_function(ANIMATIONS_DONE, timeout=10000)     # the opening animation (~0.5 s)
        after = shown.bounding_box()
        caption = page.locator(".glightbox-container .gslide.current .gslide-title").inner_text()
        alt = img.get_attribute("alt")
        assert caption.strip() == alt.strip(), "the enlarged figure is described by its alt text"
        if width >= 1000:
            assert after["width"] > 1.15 * before, f"{name}: {after['width']:.0f} px, in the page {before:.0f} px"
        else:
            # the whole figure across the phone's screen, and a pinch zooms into it
            assert after["width"] >= 0.9 * width, f"{name}: {after['width']:.0f} px on a {width} px screen"
            cdp = page.context.new_cdp_session(page)
            cdp.send("Input.synthesizePinchGesture", {"x": after["x"] + after["width"] / 2, "y": after["y"] + after["height"] / 2,
                                                     "scaleFactor": 2.5, "gestureSourceType": "touch"})
            with contextlib.suppress(PlaywrightTimeout):          # the assertion below says what it is
                page.wait_for_function(f"() => document.querySelector('{SHOWN}').getBoundingClientRect().width"
                                       f" > {1.5 * width}", timeout=5000)
            zoomed = shown.bounding_box()["width"]
            assert zoomed > 1.5 * width, f"{name}: a pinch leaves it {zoomed:.0f} px wide"
            assert page.evaluate("visualViewport.scale") == 1, "the page zoomed, not the figure"
            cdp.detach()
        page.keyboard.press("Escape")
        page.wait_for_selector(".glightbox-container", state="detached", timeout=10000)
    page.wait_for_load_state("networkidle")               # late requests count too
    assert page.outside == []


def _plate(png: bytes):
    """The figure's background: the luminance (0–1) of its most common pixel colour."""
    import io

    import numpy as np
    from PIL import Image
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(np.int32)
    # each colour as one integer (0xRRGGBB): np.unique over rows took ~0.2 s a screenshot, this 0.02
    colours, counts = np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2], return_counts=True)
    top = colours[counts.argmax()]
    r, g, b = (top >> 16) / 255, (top >> 8 & 255) / 255, (top & 255) / 255
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_figures_and_plots_are_legible_in_the_dark_theme(server, tab, width):
    page = tab(width, "dark")
    dark = []
    # a page of diagrams (SVG), a page with a plot, and a notebook's plots drawn in its run
    for url in ["cnn/conv/", "neural-network/optimizers/", "notebooks/mlp_digits/"]:
        page.goto(server + url, wait_until="load")
        assert scheme_once_applied(page, "slate") == "slate", url
        figures = page.locator('article img[src*="figures/"], .jp-OutputArea-output img, .jp-RenderedSVG svg')
        assert figures.count() > 0, f"no figure on {url}"
        for i in range(figures.count()):
            figure = figures.nth(i)
            figure.scroll_into_view_if_needed()
            # what is on screen of it: a diagram wider than a phone's column scrolls in its frame
            clip = figure.evaluate("""e => { const r = e.getBoundingClientRect();
                const f = (e.closest('.nnref-diagram') || e.parentElement).getBoundingClientRect();
                const x = Math.max(r.left, f.left, 0), y = Math.max(r.top, 0);
                return {x, y, width: Math.min(r.right, f.right, innerWidth) - x, height: Math.min(r.bottom, innerHeight) - y} }""")
            if _plate(page.screenshot(clip=clip)) < 0.8:      # dark ink needs a light plate
                dark.append(f"{url} #{i}")
    assert not dark, f"figures on a dark background: {dark}"


# --- notebook pages ----------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("notebook", ["mlp_digits", "overfitting", "cnn_digits", "sequences"])
def test_notebook_table_of_contents_leads_to_its_headings(server, tab, notebook):
    page = tab(1280)
    page.goto(server + f"notebooks/{notebook}/", wait_until="load")
    toc = page.eval_on_selector_all(".md-sidebar--secondary a.md-nav__link", """as => as.map(a =>
        [a.hash, a.innerText.trim(), (document.getElementById(decodeURIComponent(a.hash.slice(1))) || {}).innerText])""")
    headings = page.eval_on_selector_all("article h1, article h2, article h3", "hs => hs.map(h => h.id)")
    assert len(toc) >= 2, toc
    for href, title, target in toc:
        assert target is not None and target.replace("¶", "").strip() == title, f"{href} ({title}) leads nowhere"
    assert all(headings), f"headings without an id: {headings}"
