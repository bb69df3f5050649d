"""Build the site once per test session (strict), for the build test and the browser test."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_site(dest: Path, **env_vars: str):
    """Run ``mkdocs build --strict`` into ``dest``; return (returncode, combined output).

    The build's own settings (``NNREF_SITE_URL``, ``NNREF_OFFLINE``) come from ``env_vars`` only,
    never from the caller's environment: the default build is the one with neither."""
    env = {k: v for k, v in os.environ.items() if k not in ("NNREF_SITE_URL", "NNREF_OFFLINE")}
    env.update(NO_MKDOCS_2_WARNING="1", PYTHONWARNINGS="ignore::DeprecationWarning", **env_vars)
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr
