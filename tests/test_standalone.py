"""The repository stands alone: no tracked file points at a folder beside the checkout."""
import subprocess

from tests.site_build import ROOT

# assembled here so this file does not match itself
FORBIDDEN = "shared" + "/"


def test_no_tracked_file_mentions_a_folder_beside_the_checkout():
    proc = subprocess.run(["git", "grep", "-n", "-I", "-F", FORBIDDEN], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr  # 1: no match
    assert proc.stdout == "", f"tracked files mention {FORBIDDEN!r}:\n{proc.stdout}"
