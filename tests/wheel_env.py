"""A fresh virtual environment with nnref installed from the site's wheel, as a reader installs it.

Nothing is downloaded, and the checkout is never on the environment's path:

- the environment is made with ``venv`` (no pip of its own; this project's pip installs into it
  with ``--python``);
- the packages the wheel declares are not installed again: one ``.pth`` line puts a folder on its
  path that holds links to exactly the distributions those requirements need (followed
  recursively through the project venv's metadata), nothing else. A ``.pth`` line is a plain path
  entry, so the project venv's editable ``nnref`` finder is never activated, and a package nnref
  uses without declaring it is simply missing, as on a reader's machine;
- the wheel is installed with ``pip install --no-index`` *with* dependency resolution, so pip
  itself checks that the wheel's metadata asks for what is there and nothing more.
"""
from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def wheel_requirements(wheel: Path) -> list[str]:
    """The ``Requires-Dist`` lines of a wheel file."""
    import zipfile
    from email.parser import Parser
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(name).decode("utf-8")).get_all("Requires-Dist") or []


def closure(requirements: list[str], extras: tuple[str, ...] = ()) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` (with ``extras``) need, recursively."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), set(extras)) for r in requirements]
    while todo:
        req, active = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (active or {""})):
            continue
        key = canonicalize_name(req.name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{req} is needed but not installed in the project venv") from None
        assert req.specifier.contains(dist.version, prereleases=True), f"{req}: installed {dist.version}"
        found[key] = dist
        todo += [(Requirement(r), set(req.extras)) for r in dist.requires or []]
    return list(found.values())


def link_distributions(dists: list[metadata.Distribution], folder: Path) -> Path:
    """A folder with a link to each top-level file or package of ``dists`` (from their RECORD)."""
    folder.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD"
        base = Path(dist.locate_file(""))
        for top in {Path(f).parts[0] for f in dist.files if not str(f).startswith("..")} - {"__pycache__"}:
            if (base / top).exists() and not (folder / top).exists():
                (folder / top).symlink_to(base / top)
    return folder


def make_venv(where: Path, requirements: list[str], extras: tuple[str, ...] = ()) -> Path:
    """A venv at ``where`` whose path holds just what ``requirements`` need; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = link_distributions(closure(requirements, extras), where.parent / f"{where.name}-deps")
    Path(purelib, "_nnref_test_deps.pth").write_text(str(deps) + "\n")
    return python


def clean_env() -> dict:
    """The environment for commands run in the fresh venv: no PYTHONPATH, no user site."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def pip(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """This project's pip, acting on the venv of ``python`` (which has no pip of its own)."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args, "--disable-pip-version-check"],
                          cwd=cwd, capture_output=True, text=True, env=clean_env())


def pip_install(python: Path, requirement: str, cwd: Path) -> subprocess.CompletedProcess:
    """``pip install --no-index <requirement>``, resolving its dependencies among what is there."""
    return pip(python, "install", "--no-index", "--no-build-isolation", requirement, cwd=cwd)


def run(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True, text=True, env=clean_env())


def kernel_dir(python: Path, folder: Path, name: str = "nnref-wheel") -> Path:
    """A Jupyter kernel spec folder whose kernel runs ``python`` (for ``KernelSpecManager``)."""
    spec = folder / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nnref from the wheel", "language": "python",
        "env": {"PYTHONNOUSERSITE": "1", "PYTHONPATH": ""}}))
    return folder
