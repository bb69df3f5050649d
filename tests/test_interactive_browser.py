r"""The interactive figures as a reader gets them: the built site in headless Chromium.

Each figure is driven through its controls (selects, buttons, the slider, the keyboard, touch)
over every setting and every step, and every number it shows (each carries ``data-q``, the
name of the quantity) must equal the independent computation of ``tests/test_interactive.py``
to the digits shown; the window, the winner of a max pool and the output cell being filled
are checked too. Also: the figures start after Material's instant navigation, a reader without
JavaScript sees the static first step, no caption or label names a repository file, nothing
sticks out at 390 px, and the text stays readable in the light and the dark colour scheme.

Each step's state is read in one round trip to the browser (``state``): the figures are driven
through some 700 steps.
"""
import json

import numpy as np
import pytest

from tests.test_interactive import (PAGES, expected_attention_values, expected_backprop, expected_conv,
                                    expected_gates, expected_optimizers, expected_pool, mismatches, module_attention,
                                    script, trace)

pytestmark = pytest.mark.browser
URLS = {figure: path[:-3] + "/" for figure, path in PAGES.items()}


def open_figure(pg, server, figure):
    pg.goto(server + URLS[figure])
    root = pg.locator(f'.nnref-interactive[data-figure="{figure}"][data-ready="ready"]')
    root.wait_for(state="attached", timeout=30000)
    return root


def state(root, extra="r => null", **within):
    """The figure's state in one round trip: ``where`` (the step it shows), ``numbers`` (as ``shown``),
    for each keyword the quantity names shown inside that CSS selector, and ``extra``: what the
    JavaScript function ``extra`` returns for the figure's root.

    It comes back as one JSON string: Playwright checks a returned structure value by value in
    Python, which took 7 of the attention test's 24 seconds."""
    return json.loads(root.evaluate("""(r, within) => {
        const q = (s, e = r) => [...e.querySelectorAll(s)];
        const out = {where: r.querySelector('.nnref-where').innerText,
                     numbers: q('[data-q]').map(e => [e.dataset.q, e.textContent])};
        for (const [k, sel] of Object.entries(within)) out[k] = q(sel + ' [data-q]').map(e => e.dataset.q);
        out.extra = (%s)(r);
        return JSON.stringify(out); }""" % extra, within))


def shown(root, within=""):
    """Every number the figure shows: (quantity name, text) pairs (as one JSON string, see ``state``)."""
    return json.loads(root.evaluate(f"""r => JSON.stringify([...r.querySelectorAll('{within} [data-q]')]
        .map(e => [e.dataset.q, e.textContent]))"""))


def where(root):
    return root.locator(".nnref-where").inner_text()


def assert_numbers(root, expected, tol=None, at="", numbers=None):
    numbers = shown(root) if numbers is None else numbers
    assert numbers, f"no numbers shown {at}"
    bad = mismatches(numbers, expected, tol)
    assert not bad, f"{at}: {bad[:6]}"
    return numbers


# the highlighted input cells: (tap, quantity) of each
HITS = """r => [...r.querySelectorAll('.nnref-cell.nnref-hit')].map(c => [c.dataset.tap, c.querySelector('[data-q]').dataset.q])"""


def test_conv_every_setting_and_window_by_keyboard(server, page):
    root = open_figure(page, server, "conv")
    figure = root.locator(".nnref-figure")
    ns = script("conv")
    for stride in ns["STRIDES"]:
        for padding in ns["PADDINGS"]:
            for dilation in ns["DILATIONS"]:
                for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation)):
                    root.locator(f'select[data-control="{name}"]').select_option(str(value))
                values, taps, (OH, OW), _ = expected_conv(stride, padding, dilation)
                figure.focus()
                for k in range(OH * OW):
                    at = f"stride {stride} padding {padding} dilation {dilation} window {k}"
                    now = state(root, HITS, grid=".nnref-grid")
                    assert now["where"] == f"窗口 {k + 1} / {OH * OW}", at
                    numbers = assert_numbers(root, values, tol=1e-9, at=at, numbers=now["numbers"])
                    i, j = divmod(k, OW)
                    # the window: the highlighted input cells are exactly the taps of output (i, j)
                    hits = [tuple(h) for h in now["extra"]]
                    assert sorted(hits) == sorted((f"{u},{v}", f"xp[{r},{c}]") for (a, b, u, v), (r, c) in taps.items()
                                                  if (a, b) == (i, j)), at
                    # its nine products, and the outputs filled so far (row-major up to this window)
                    assert {q for q, _ in numbers if q.startswith("prod[")} == {
                        f"prod[{i},{j},{u},{v}]" for u in range(3) for v in range(3)}, at
                    assert set(now["grid"]) >= {f"y[{n // OW},{n % OW}]" for n in range(k + 1)}, at
                    assert not set(now["grid"]) & {f"y[{n // OW},{n % OW}]" for n in range(k + 1, OH * OW)}, at
                    page.keyboard.press("ArrowRight")
                assert where(root) == f"窗口 {OH * OW} / {OH * OW}", "ArrowRight ran past the last window"
                page.keyboard.press("Home")
                assert where(root) == f"窗口 1 / {OH * OW}"


def test_conv_play_button_steps_and_pauses(server, page):
    root = open_figure(page, server, "conv")
    play = root.locator('button[data-control="play"]')
    play.click()
    page.wait_for_function("r => r.querySelector('.nnref-where').textContent.startsWith('窗口 3 ')",
                           arg=root.element_handle(), timeout=10000)
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    stopped = where(root)
    page.wait_for_timeout(1500)
    assert where(root) == stopped


def test_pool_every_setting_and_window_by_buttons(server, page):
    root = open_figure(page, server, "pool")
    ns = script("pool")
    for mode in ns["MODES"]:
        for kernel, stride in ns["WINDOWS"]:
            root.locator('select[data-control="mode"]').select_option(mode)
            root.locator('select[data-control="window"]').select_option(f"{kernel},{stride}")
            values, windows, (OH, OW), _ = expected_pool(mode, kernel, stride)
            for k, win in enumerate(windows):
                at = f"{mode} {kernel}x{kernel} stride {stride} window {k}"
                now = state(root, hit=".nnref-cell.nnref-hit", won=".nnref-cell.nnref-win", tie=".nnref-cell.nnref-tie")
                assert now["where"] == f"窗口 {k + 1} / {OH * OW}", at
                assert_numbers(root, values, tol=5e-4, at=at, numbers=now["numbers"])

                def cells(kind):
                    return sorted(q for q in now[kind] if q.startswith("x["))
                assert cells("hit") == sorted(f"x[{r},{c}]" for r, c in win["cells"]), at
                if mode == "max":
                    assert cells("won") == [f"x[{win['winner'][0]},{win['winner'][1]}]"], at
                    assert cells("tie") == sorted(f"x[{r},{c}]" for r, c in win["ties"]), at
                root.locator('button[data-control="next"]').click()
            root.locator('button[data-control="first"]').click()


def test_pool_shows_the_tie_going_to_the_first_maximum(server, page):
    root = open_figure(page, server, "pool")
    values, windows, _, _ = expected_pool("max", 2, 2)
    k = next(k for k, w in enumerate(windows) if w["ties"])
    for _ in range(k):
        root.locator('button[data-control="next"]').click()
    assert "只取第一个" in root.locator(".nnref-formula").inner_text()


def test_backprop_every_step_by_slider_and_keyboard(server, page):
    root = open_figure(page, server, "backprop")
    for activation in ("tanh", "sigmoid", "relu"):
        root.locator('select[data-control="activation"]').select_option(activation)
        values = expected_backprop(activation)
        steps = trace("backprop")["settings"][activation]["steps"]
        slider = root.locator('input[data-control="step"]')
        slider.focus()
        page.keyboard.press("Home")
        for k, step in enumerate(steps):
            at = f"{activation} step {k}"
            now = state(root, net=".nnref-net")
            assert now["where"] == f"{step['phase']} {k + 1} / {len(steps)}", at
            numbers = assert_numbers(root, values, at=at, numbers=now["numbers"])
            # the step's own numbers are all on screen, and no gradient shows before the backward pass
            assert {p["q"] for line in step["lines"] for p in line if isinstance(p, dict)} <= {q for q, _ in numbers}
            net = set(now["net"])
            assert bool({q for q in net if q.startswith("dL/d")}) == (step["phase"] == "反向"), at
            page.keyboard.press("ArrowRight")


def test_optimizers_every_learning_rate_by_touch_at_390px(server, tab):
    pg = tab(390)
    root = open_figure(pg, server, "optimizers")
    t = trace("optimizers")
    values = expected_optimizers(t)
    for kind, run in t["runs"].items():
        for lr in run["rates"]:
            root.locator(f'select[data-control="lr-{kind}"]').select_option(f"{lr:g}")
            root.locator('button[data-control="first"]').tap()
            for k in list(range(4)) + [t["steps"]]:
                if k == t["steps"]:
                    root.locator('button[data-control="last"]').tap()
                at = f"{kind} lr {lr:g} step {k}"
                now = state(root)
                assert now["where"] == f"第 {k} 步 / {t['steps']}", at
                numbers = assert_numbers(root, values, at=at, numbers=now["numbers"])
                assert {f"{kind}.{lr:g}.{q}[{k}]" for q in ("w1", "w2", "f")} <= {q for q, _ in numbers}, at
                if k < 3:
                    root.locator('button[data-control="next"]').tap()
            panel = root.locator(f'[data-optimizer="{kind}"]')
            assert ("发散" in panel.inner_text()) == run["paths"][f"{lr:g}"]["diverges"], (kind, lr)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_every_sequence_and_step_by_keyboard(server, page, cell):
    root = open_figure(page, server, cell)
    t = json.loads(root.get_attribute("data-trace"))                    # the weights the page was built with
    values = expected_gates(t)
    figure = root.locator(".nnref-figure")
    for n in range(len(t["sequences"])):
        root.locator('select[data-control="sequence"]').select_option(str(n))
        figure.focus()
        page.keyboard.press("End")
        page.keyboard.press("Home")
        for k in range(t["T"]):
            at = f"{cell} sequence {n} t {k}"
            now = state(root)
            assert now["where"] == f"t = {k + 1} / {t['T']}", at
            numbers = assert_numbers(root, values, at=at, numbers=now["numbers"])
            rows = {q for q, _ in numbers if q.startswith(f"{n}.") and q.endswith(f"[{k},0]")}
            assert len(rows) == len(t["rows"]), at                      # every row of the table
            assert (f"{n}.pred" in {q for q, _ in numbers}) == (k == t["T"] - 1), at
            page.keyboard.press("ArrowRight")


def attention_weights():
    r"""Fresh nnref.MultiheadAttention modules' weights (not the trace's) and the causal mask."""
    W = module_attention()
    return W, np.triu(np.ones(W.shape[-2:], dtype=bool), k=1)


# the marked heaviest key, and the map: each cell's (i, j, depth, masked, in the selected row)
MAP = """r => [[...r.querySelectorAll('.nnref-att-strong')].map(e => +e.dataset.j),
    [...r.querySelectorAll('.nnref-att-cell')].map(c => [+c.dataset.i, +c.dataset.j,
    +getComputedStyle(c).getPropertyValue('--w'), c.classList.contains('nnref-att-masked'), c.classList.contains('nnref-now')])]"""


def test_attention_every_head_and_query_by_keyboard(server, page):
    root = open_figure(page, server, "attention")
    values = expected_attention_values()
    W, blocked = attention_weights()
    sentence = trace("attention")["sentence"]
    L = len(sentence)
    figure = root.locator(".nnref-figure")
    for layer in range(W.shape[0]):
        for head in range(W.shape[1]):
            root.locator(f'button[data-control="head"][data-layer="{layer}"][data-head="{head}"]').click()
            pressed = root.evaluate("""r => [...r.querySelectorAll('button[data-control="head"][aria-pressed="true"]')]
                .map(b => [+b.dataset.layer, +b.dataset.head])""")
            assert pressed == [[layer, head]]
            figure.focus()
            page.keyboard.press("Home")
            for i in range(L):
                at = f"layer {layer} head {head} query {i}"
                now = state(root, MAP, row=".nnref-att-row")
                assert now["where"] == f"查询：第 {i + 1} / {L} 个字「{sentence[i]}」", at
                numbers = assert_numbers(root, values, at=at, numbers=now["numbers"])
                # the query's row lists every key it may see, and only those; its heaviest key is marked
                row = set(now["row"])
                assert row == {f"{layer}.{head}.w[{i},{j}]" for j in range(L) if not blocked[i, j]}, at
                assert {q for q, _ in numbers} >= row | {"loss_first", "loss_last", "steps"}, at
                strong, cells = now["extra"]
                assert len(cells) == L * L, at
                assert strong == [int(W[layer, head, i].argmax())], at
                # the map: each cell's depth is its weight, the masked cells are the causal mask, row i is marked
                for r, c, w, masked, now in cells:
                    assert masked == blocked[r, c] and now == (r == i), (at, r, c)
                    assert abs(w - (0.0 if masked else W[layer, head, r, c])) <= 5e-4, (at, r, c, w)
                page.keyboard.press("ArrowRight")
            assert where(root).startswith(f"查询：第 {L} / {L} "), "ArrowRight ran past the last query"


def test_attention_cells_by_touch_at_390px_and_by_pointer(server, tab, page):
    W, blocked = attention_weights()
    values = expected_attention_values()
    L = W.shape[-1]
    pg = tab(390)
    root = open_figure(pg, server, "attention")
    root.locator('button[data-control="head"][data-layer="1"][data-head="2"]').tap()
    for i, j in [(5, 2), (L - 1, 0), (3, 9)]:               # the last one is masked: key after the query
        cell = root.locator(f'.nnref-att-cell[data-i="{i}"][data-j="{j}"]')
        cell.tap()
        at = f"tap ({i}, {j})"
        assert where(root).startswith(f"查询：第 {i + 1} / {L} "), at
        info = root.locator(".nnref-att-info")
        assert [q for q, _ in shown(root, ".nnref-att-info")] == [f"1.2.w[{i},{j}]"], at
        assert ("被因果掩码挡住" in info.inner_text()) == bool(blocked[i, j]), at
        assert "nnref-att-picked" in cell.get_attribute("class"), at
        assert not mismatches(shown(root), values), at
    # a mouse: hovering a cell shows its weight without moving the selected row
    root = open_figure(page, server, "attention")
    root.locator('.nnref-att-cell[data-i="7"][data-j="4"]').hover()
    assert [q for q, _ in shown(root, ".nnref-att-info")] == ["0.0.w[7,4]"]
    assert where(root).startswith(f"查询：第 {L} / {L} ")
    assert not mismatches(shown(root), values)


def test_figures_start_after_instant_navigation(built_site, server, page):
    # Material swaps pages only for the URLs that sitemap.xml lists, which it does once the site is
    # deployed with a public address (NNREF_SITE_URL): list this server's pages there
    from tests.test_browser import all_pages
    urls = "".join(f"<url><loc>{server}{path}</loc></url>" for path in all_pages(built_site[0]))
    page.route("**/sitemap.xml", lambda route: route.fulfill(status=200, content_type="application/xml", body=(
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')))
    open_figure(page, server, "conv")
    page.evaluate("window.__sameDocument = true")
    page.locator('.md-nav a[href$="pool/"]').first.click()
    root = page.locator('.nnref-interactive[data-figure="pool"][data-ready="ready"]')
    root.wait_for(state="attached", timeout=30000)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded, not swapped"
    root.locator('button[data-control="next"]').click()
    assert where(root) == "窗口 2 / 4"


@pytest.mark.parametrize("figure", sorted(PAGES))
def test_without_javascript_the_static_first_step_shows_and_names_no_file(server, tab, figure):
    r"""A reader without JavaScript sees the static first step, described, and no ``docs/...py``: neither
    in its caption nor in its alt text (the page's 实现细节 block may name the script)."""
    pg = tab(javascript=False)
    pg.goto(server + URLS[figure], wait_until="load")
    static = pg.locator(f'.nnref-interactive[data-figure="{figure}"] .nnref-static')
    img = static.locator("img")
    img.scroll_into_view_if_needed()
    pg.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle(), timeout=10000)
    assert img.is_visible() and img.get_attribute("alt")
    for text in [static.locator("figcaption").inner_text(), img.get_attribute("alt")]:
        assert text.strip() and "docs/" not in text and ".py" not in text, f"{figure}: {text[:200]!r}"


def names_no_file(root, figure):
    r"""The drawn figure's text and label name no ``docs/...py``."""
    for text in [root.inner_text(), root.locator(".nnref-figure").get_attribute("aria-label")]:
        assert text.strip() and "docs/" not in text and ".py" not in text, f"{figure}: {text[:200]!r}"


@pytest.mark.parametrize("figure", sorted(PAGES))
def test_nothing_sticks_out_at_390px_and_no_file_is_named(server, tab, figure):
    pg = tab(390)
    root = open_figure(pg, server, figure)
    names_no_file(root, figure)
    pg.locator('button[data-control="last"]').first.click()
    box = root.evaluate("""r => { const f = r.querySelector('.nnref-figure'), c = document.querySelector('.md-content');
        return [f.scrollWidth, f.clientWidth, f.getBoundingClientRect().right, c.getBoundingClientRect().right]; }""")
    assert box[0] <= box[1] + 1, f"{figure} scrolls sideways at 390 px: {box}"
    assert box[2] <= box[3] + 1, f"{figure} sticks out of the column: {box}"


CONTRAST = r"""r => {
  // "rgb(r, g, b)", "rgba(r, g, b, a)" or color-mix's "color(srgb r g b / a)" (channels 0..1)
  const rgb = s => { const n = (s.match(/[\d.]+/g) || []).map(Number);
    return s.startsWith("color(") ? [...n.slice(0, 3).map(c => c * 255), ...n.slice(3)] : n; };
  const lum = ([R, G, B]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(R) + 0.7152 * f(G) + 0.0722 * f(B); };
  const over = (top, below) => { const a = top.length > 3 ? top[3] : 1; return [0, 1, 2].map(i => top[i] * a + below[i] * (1 - a)); };
  const page = rgb(getComputedStyle(document.body).backgroundColor);
  const background = el => { const chain = []; for (let e = el; e; e = e.parentElement) chain.push(e);
    return chain.reverse().reduce((acc, e) => { const c = rgb(getComputedStyle(e).backgroundColor);
      return c.length > 3 && c[3] === 0 ? acc : over(c, acc); }, page); };
  const worst = [];
  for (const el of r.querySelectorAll('.nnref-num, .nnref-figure p, .nnref-figure label, .nnref-btn')) {
    const st = getComputedStyle(el);
    const ink = el.closest('svg') ? rgb(st.fill) : rgb(st.color);
    const bg = el.closest('svg') ? page : background(el);
    const L1 = lum(over(ink, bg)), L2 = lum(bg);
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    if (ratio < 4.5) worst.push(`${el.dataset.q || el.className || el.tagName}: ${ratio.toFixed(2)}`);
  }
  return worst;
}"""


def color_scheme(pg, site, server, scheme):
    """Switch the page to Material's ``scheme``, loading Material's palette stylesheet if the site
    does not link it (it does once mkdocs.yml configures a palette)."""
    if not pg.locator('link[href*="assets/stylesheets/palette."]').count():
        palette = next((site / "assets" / "stylesheets").glob("palette.*.min.css")).name
        pg.add_style_tag(url=f"{server}assets/stylesheets/{palette}")
    pg.evaluate(f"document.body.setAttribute('data-md-color-scheme', '{scheme}')")
    dark = pg.evaluate("""() => { const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
        return r + g + b < 3 * 128; }""")
    assert dark == (scheme == "slate"), f"the {scheme} scheme did not take effect"


@pytest.mark.parametrize("figure", sorted(PAGES))
def test_text_is_readable_in_both_colour_schemes(built_site, server, page, figure):
    root = open_figure(page, server, figure)
    names_no_file(root, figure)                                    # and at a desktop width
    page.locator('button[data-control="last"]').first.click()      # every kind of number on screen
    for scheme in ["default", "slate"]:
        color_scheme(page, built_site[0], server, scheme)
        low = root.evaluate(CONTRAST)
        assert not low, f"{figure} in {scheme}: contrast below 4.5 for {low[:5]}"
