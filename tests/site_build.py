"""The site builds the tests read, each built once per test session and shared by every pytest-xdist
worker: the default build (``built_site``) and the offline zip with a public address
(``offline_site``, tests/test_offline.py).

MkDocs builds share ``.cache/`` (executed notebooks, figures, the wheel) and are not safe to run
side by side, so one background process builds them one after the other, starting as soon as the
tests are collected (while the unit tests run); a fixture waits for the build it needs. The builds
land in a folder shared by the session's workers (``<basetemp>/site-builds``), each with a
``<name>.json`` holding its return code and log. The builder stops when the session's process
does (Ctrl-C).

``python -m tests.site_build FOLDER SESSION_PID NAME...`` is that background process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OFFLINE_ADDRESS = "https://nnref.example.org/docs/"
# name -> the build's own settings (NNREF_SITE_URL, NNREF_OFFLINE), in the order they are built
BUILDS = {
    "site": {},
    "offline": {"NNREF_OFFLINE": "true", "NNREF_SITE_URL": OFFLINE_ADDRESS},
}


def build_command(dest: Path, **env_vars: str):
    """The ``mkdocs build --strict`` command line and environment for a build into ``dest``.

    The build's own settings (``NNREF_SITE_URL``, ``NNREF_OFFLINE``) come from ``env_vars`` only,
    never from the caller's environment: the default build is the one with neither. Python writes
    its bytecode caches, as it does by default."""
    # PYTHONDONTWRITEBYTECODE too: by default Python writes __pycache__/ beside the figure helpers
    # that a build imports, and the site must not ship it (tests/test_site.py)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NNREF_SITE_URL", "NNREF_OFFLINE", "PYTHONDONTWRITEBYTECODE")}
    env.update(NO_MKDOCS_2_WARNING="1", PYTHONWARNINGS="ignore::DeprecationWarning", **env_vars)
    return [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)], env


def build_site(dest: Path, **env_vars: str):
    """Run ``mkdocs build --strict`` into ``dest``; return (returncode, combined output)."""
    command, env = build_command(dest, **env_vars)
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


# --- shared between the workers of one session ---------------------------------------------

def shared_folder(basetemp: Path) -> Path:
    """``<basetemp>/site-builds``, the same folder for every xdist worker of the session."""
    root = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    folder = root / "site-builds"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def session_pid() -> int:
    """The session's process: the xdist controller for a worker, else this process."""
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


def start_builds(folder: Path, names) -> bool:
    """Start the background builder for ``names`` unless a worker of this session already did."""
    try:
        fd = os.open(folder / "started", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    log = open(folder / "builder.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tests.site_build", str(folder), str(session_pid()), *names],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    os.write(fd, str(proc.pid).encode())
    os.close(fd)
    return True


def wait_for_build(folder: Path, name: str, timeout: float = 3600):
    """(site folder, returncode, log) of build ``name``, once the background builder has it."""
    result = folder / f"{name}.json"
    end = time.monotonic() + timeout
    while not result.exists():
        started = folder / "started"
        pid = int(started.read_text() or 0) if started.exists() else 0
        if pid and not _alive(pid) and not result.exists():
            raise RuntimeError(f"the site builder stopped before building {name!r}:\n"
                               f"{(folder / 'builder.log').read_text()[-3000:]}")
        if time.monotonic() > end:
            raise TimeoutError(f"no {name!r} site build after {timeout} s")
        time.sleep(0.5)
    data = json.loads(result.read_text(encoding="utf-8"))
    return Path(data["dest"]), data["returncode"], Path(data["log"]).read_text(encoding="utf-8")


def session_build(tmp_path_factory, name: str):
    """(site folder, log) of build ``name``, for a session fixture; fails loudly on any warning."""
    import pytest
    folder = shared_folder(tmp_path_factory.getbasetemp())
    assert (folder / "started").exists(), "the site builds start when the tests are collected (tests/conftest.py)"
    dest, code, log = wait_for_build(folder, name)
    if code != 0:
        pytest.fail(f"mkdocs build --strict ({name}) failed:\n{log[-6000:]}")
    return dest, log


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                       # a finished child of this process is a zombie until reaped
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _build_in_background(folder: Path, session: int, names):
    """Build each of ``names`` in turn; stop (and stop mkdocs) when the session's process is gone."""
    for name in names:
        dest = folder / name / "nnref-site"      # the offline build zips to <dest>.zip beside it
        log = folder / f"{name}.log"
        command, env = build_command(dest, **BUILDS[name])
        with open(log, "w") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            while proc.poll() is None:
                if not _alive_elsewhere(session):
                    proc.terminate()
                    proc.wait()
                    return
                time.sleep(0.5)
        tmp = folder / f"{name}.json.tmp"
        tmp.write_text(json.dumps({"dest": str(dest), "returncode": proc.returncode, "log": str(log)}))
        tmp.replace(folder / f"{name}.json")                # atomic: a reader sees all or nothing


def _alive_elsewhere(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


if __name__ == "__main__":
    _build_in_background(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
