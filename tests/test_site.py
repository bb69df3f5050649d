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


def test_every_notes_chapter_is_in_the_site(built_site):
    site, _ = built_site
    for page in ["prerequisites/derivative", "prerequisites/gradient", "neural-network/linear",
                 "neural-network/activation", "neural-network/bias", "neural-network/backprop"]:
        assert (site / page / "index.html").is_file(), page


def test_notebook_was_executed(built_site):
    site, _ = built_site
    html = (site / "notebooks/mlp_digits/index.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html, "the notebook's plot is missing: was it executed?"
