r"""MkDocs hook: the whole site as one zip that works opened from disk (``file://``), search included.

``make offline`` builds with ``NNREF_OFFLINE=true``, which enables Material's built-in ``offline``
plugin (mkdocs.yml): it turns directory URLs off (``page.html``, not ``page/``), copies the search
index into a script (a ``file://`` page cannot fetch JSON) and runs the search worker through the
iframe-worker shim (a ``file://`` page cannot start a Worker); instant navigation is turned off here
for that build, as Material's documentation asks. The plugin names that shim by its
address on a CDN, which the reader's browser would fetch; here it is replaced by the same package
from npm (``package.json``; ``npm ci`` installs it), served with the site. After the build, when
the plugin has written its search script, the site folder is zipped next to itself:
``-d build/nnref-site`` gives ``build/nnref-site.zip``, whose top folder is ``nnref-site/``.
Without ``NNREF_OFFLINE`` this hook does nothing.
"""
from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "node_modules" / "iframe-worker" / "shim" / "index.js"
SHIM_URI = "assets/javascripts/iframe-worker-shim.js"
log = logging.getLogger("mkdocs.hooks.offline")


def enabled(config) -> bool:
    plugin = next((p for p in config.plugins.values() if type(p).__name__ == "OfflinePlugin"), None)
    return plugin is not None and plugin.config.enabled


@event_priority(-100)  # after the offline plugin has added the shim's CDN address
def on_config(config):
    if enabled(config):
        polyfills = config.extra.get("polyfills", [])
        config.extra["polyfills"] = [SHIM_URI if "iframe-worker" in url else url for url in polyfills]
        # instant navigation cannot work from file:// and, switched on there, Material completes its
        # document$ stream before the page has loaded: nothing that waits on it (KaTeX) would run
        features = config.theme["features"]
        features[:] = [f for f in features if not f.startswith("navigation.instant")]
    return config


def on_files(files, config):
    if enabled(config):
        if not SHIM.is_file():
            raise PluginError(f"offline: {SHIM} not found: run `npm ci` first")
        files.append(File.generated(config, SHIM_URI, abs_src_path=str(SHIM)))
    return files


def zip_folder(folder: Path, archive: Path) -> None:
    """``archive`` holds ``folder`` under its own name, files in a fixed order."""
    tmp = archive.with_name(archive.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, Path(folder.name, path.relative_to(folder)).as_posix())
    os.replace(tmp, archive)


@event_priority(-200)  # after the offline plugin has written search/search_index.js
def on_post_build(config):
    if not enabled(config):
        return
    site = Path(config["site_dir"]).resolve()
    archive = site.with_name(site.name + ".zip")
    zip_folder(site, archive)
    log.info("offline: the site, to open from disk, is %s (%.1f MB)", archive, archive.stat().st_size / 1e6)
