"""The site builds with --strict and contains what a reader needs, offline."""
import re


def test_strict_build_has_no_warnings(built_site):
    _, log = built_site
    # mkdocs' own warnings ("WARNING -  ..."); --strict turns them into a failure already,
    # this names them. A notebook kernel's "[IPKernelApp] WARNING | ..." is not one.
    assert "WARNING -" not in log, log


def test_katex_is_shipped_and_no_cdn_is_referenced(built_site):
    site, _ = built_site
    assert (site / "assets/katex/katex.min.js").is_file()
    assert any((site / "assets/katex/fonts").glob("*.woff2"))
    remote = re.compile(r"""(?:src|href)=["'](?:https?:)?//(?!127\.0\.0\.1)""")
    offenders = [p.relative_to(site).as_posix() for p in site.rglob("*.html")
                 if remote.search(re.sub(r'<a [^>]*>', "", p.read_text(encoding="utf-8")))]
    assert not offenders, f"pages that load something from another host: {offenders}"


def test_every_page_and_notebook_in_docs_is_built(built_site):
    from tests.site_build import ROOT
    site, _ = built_site
    docs = ROOT / "docs"
    sources = [p for p in docs.rglob("*.md")] + list((docs / "notebooks").glob("*.py"))
    missing = []
    for src in sources:
        rel = src.relative_to(docs).with_suffix("").as_posix()
        out = site / ("index.html" if rel == "index" else rel.removesuffix("/index") + "/index.html")
        if not out.is_file():
            missing.append(rel)
    assert not missing, f"pages not in the built site: {missing}"


def test_notebooks_were_executed(built_site):
    site, _ = built_site
    for nb in ["mlp_digits", "overfitting", "cnn_digits", "sequences"]:
        html = (site / "notebooks" / nb / "index.html").read_text(encoding="utf-8")
        assert "data:image/png;base64" in html, f"{nb}: no plot in the page: was it executed?"


def test_figures_are_drawn_from_code(built_site):
    from tests.site_build import ROOT
    site, _ = built_site
    scripts = sorted(p.stem for p in (ROOT / "docs/figures").glob("*.py"))
    drawn = sorted(p.name for p in (site / "figures").glob("*.png"))
    assert scripts and drawn, "no figures"
    for page in site.rglob("*.html"):
        for ref in re.findall(r'src="(?:\.\./)*figures/([^"]+\.png)"', page.read_text(encoding="utf-8")):
            assert ref in drawn, f"{page}: figure {ref} was not drawn"
