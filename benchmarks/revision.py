"""An old revision of the package, importable beside the current one."""
from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def unpack_revision(rev: str) -> Path:
    """``git archive REV nnref`` unpacked as a package ``nnref_before``; returns the folder that
    holds it (put it on ``sys.path``). nnref imports itself only relatively, so the copy runs as
    it did then."""
    tmp = Path(tempfile.mkdtemp(prefix="nnref-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "nnref"],
                             check=True, capture_output=True).stdout
    tar_path = tmp / "old.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(tmp, filter="data")
    shutil.move(str(tmp / "nnref"), str(tmp / "nnref_before"))
    return tmp
