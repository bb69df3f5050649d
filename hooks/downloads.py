r"""MkDocs hook: nnref's wheel and source archive, built from the code the pages show, served by the site.

The build starts in the background when the build starts (``on_config``): ``python -m build
--no-isolation`` (the ``build`` frontend and setuptools are in the ``docs`` extras, so nothing is
downloaded) makes the sdist from a copy of ``pyproject.toml``, ``README.md`` and ``nnref/``, then
the wheel from that sdist (so a file missing from the sdist breaks the build here, not for a reader).
Both are kept in ``.cache/dist/<key>/``, where ``key`` hashes those files: a rebuild of the site
reuses them until the package changes. They are served as ``downloads/<file name>``.

Pages name them without hard-coding the version: ``{{ nnref_wheel }}``, ``{{ nnref_sdist }}``,
``{{ nnref_version }}``, ``{{ nnref_requires }}`` (the wheel's dependencies) and
``{{ nnref_parity }}`` (what the ``parity`` extra adds) are replaced in every page's Markdown.
``config.extra["nnref"]`` holds the same names for the other hooks (the page notebooks' first cell).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from email.parser import Parser
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "dist"
SOURCES = ("pyproject.toml", "README.md", "nnref")
PLACEHOLDER = re.compile(r"\{\{\s*nnref_(\w+)\s*\}\}")


def source_files(root: Path = ROOT) -> list[Path]:
    """The files the package is built from, in a fixed order."""
    files = []
    for name in SOURCES:
        path = root / name
        files += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
    return files


def cache_key(root: Path = ROOT) -> str:
    import build
    import setuptools
    h = hashlib.sha256(f"build {build.__version__}|setuptools {setuptools.__version__}".encode())
    for path in source_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:20]


def build_dist(root: Path = ROOT, cache: Path = CACHE) -> Path:
    """The folder holding the sdist and the wheel of the package at ``root``; built when not cached."""
    out = cache / cache_key(root)
    if not out.is_dir():
        with tempfile.TemporaryDirectory(prefix="nnref-dist-") as tmp:
            src, dist = Path(tmp) / "src", Path(tmp) / "dist"
            for path in source_files(root):
                target = src / path.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)],
                                  capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
            if proc.returncode != 0:
                raise PluginError(f"downloads: building nnref's wheel failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
            cache.mkdir(parents=True, exist_ok=True)
            tmp_out = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp_out, ignore_errors=True)
            shutil.copytree(dist, tmp_out)
            tmp_out.rename(out)                  # complete or absent, never half written
    for old in cache.iterdir():                  # one version in the cache
        if old != out:
            shutil.rmtree(old, ignore_errors=True)
    return out


def describe(dist: Path) -> dict:
    """File names, version and dependencies, read from the built wheel's metadata."""
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        meta = Parser().parsestr(z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA")))
                                 .decode("utf-8"))
    requires = meta.get_all("Requires-Dist") or []
    plain = [r for r in requires if "extra ==" not in r]
    parity = [r.split(";")[0].strip() for r in requires if re.search(r"""extra\s*==\s*["']parity["']""", r)]
    return {"wheel": wheel.name, "sdist": sdist.name, "version": meta["Version"],
            "requires": "、".join(f"`{r}`" for r in plain), "parity": "、".join(f"`{r}`" for r in parity),
            "dir": str(dist)}


_running = None  # (executor, future of build_dist) started by on_config


def on_config(config):
    """Start building at once, in the background, while the figures are drawn."""
    global _running
    executor = ThreadPoolExecutor(max_workers=1)
    _running = (executor, executor.submit(build_dist))
    return config


@event_priority(150)  # after the figures (200), before the page notebooks (0), which name the wheel
def on_files(files, config):
    global _running
    if _running is None:
        on_config(config)
    executor, future = _running
    _running = None
    try:
        info = describe(future.result())
    finally:
        executor.shutdown()
    config.extra["nnref"] = info
    for name in (info["wheel"], info["sdist"]):
        files.append(File.generated(config, f"downloads/{name}", abs_src_path=str(Path(info["dir"]) / name)))
    return files


def on_page_markdown(markdown, page, config, files):
    info = config.extra["nnref"]

    def value(match):
        if match.group(1) not in info or match.group(1) == "dir":
            raise PluginError(f"downloads: {page.file.src_uri} names an unknown value {match.group(0)}")
        return info[match.group(1)]

    return PLACEHOLDER.sub(value, markdown)
