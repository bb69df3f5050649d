"""``make serve`` (``mkdocs serve``) shows the notebook pages with their run, and still does after a
live-reload rebuild.

The server runs in a copy of the repository (its ``.cache/`` included, filled by the session's
build), so that the test can edit a page without touching the checkout.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from html import unescape

import pytest

from tests.site_build import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def _wait_for(url: str, predicate, proc, seconds: float = 300) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, f"mkdocs serve stopped:\n{proc.stdout.read()[-3000:]}"
        html = _get(url)
        if html is not None and predicate(html):
            return html
        time.sleep(1)
    raise AssertionError(f"{url} never showed what was expected")


def _shows_its_run(html: str) -> bool:
    text = unescape(html).replace("\xa0", " ")
    return "In [1]:" in text and "In [ ]:" not in text and "测试集准确率" in text


@pytest.fixture
def repository_copy(built_site, tmp_path):
    """The checkout's files (tracked or new, not ignored), its .cache/ and a link to node_modules."""
    copy = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    shutil.copytree(ROOT / ".cache", copy / ".cache")
    (copy / "node_modules").symlink_to(ROOT / "node_modules")
    return copy


def test_serve_shows_notebook_runs_before_and_after_a_live_reload(repository_copy):
    port = _free_port()
    base = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
                            cwd=repository_copy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    try:
        _wait_for(base + "notebooks/mlp_digits/", _shows_its_run, proc)
        assert _get(base + "install/") and "nnref-" in _get(base + "install/")
        page = repository_copy / "docs" / "cnn" / "pool.md"
        page.write_text(page.read_text(encoding="utf-8") + "\n\n重新构建的记号 7f3a\n", encoding="utf-8")
        _wait_for(base + "cnn/pool/", lambda html: "重新构建的记号 7f3a" in html, proc)   # rebuilt
        assert _shows_its_run(_get(base + "notebooks/mlp_digits/")), "after the rebuild the notebook page lost its run"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
