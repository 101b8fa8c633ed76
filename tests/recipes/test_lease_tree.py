"""gpu/lease_tree.sh: the model folders leave what a GPU call sends (the index and the visible untracked files)
and come back, the files on disk untouched, and no commit is taken while they are out."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "gpu" / "lease_tree.sh"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def _sent(repo: Path) -> set[str]:
    tracked = _git(repo, "ls-files").stdout.split()
    visible = _git(repo, "ls-files", "--others", "--exclude-standard").stdout.split()
    return set(tracked) | set(visible)


def test_on_leaves_the_model_folders_out_and_off_puts_them_back(tmp_path):
    repo = tmp_path / "repo"
    for name, text in {"asr/__init__.py": "", "asr/models/__init__.py": "", "asr/models/big/model.npz": "x" * 1000,
                       "asr/config.py": "A = 1\n"}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo.parent, "init", "-q", str(repo))
    _git(repo, "add", ".")
    assert _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start").returncode == 0
    before = _sent(repo)
    exclude = (repo / ".git" / "info" / "exclude").read_text() if (repo / ".git/info/exclude").exists() else ""

    on = subprocess.run(["bash", str(SCRIPT), "on"], cwd=repo, capture_output=True, text=True)
    assert on.returncode == 0, on.stderr
    assert _sent(repo) == before - {"asr/models/big/model.npz"}  # __init__.py stays
    assert (repo / "asr/models/big/model.npz").read_text() == "x" * 1000
    refused = _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "oops")
    assert refused.returncode != 0 and "lease_tree.sh off" in refused.stderr

    off = subprocess.run(["bash", str(SCRIPT), "off"], cwd=repo, capture_output=True, text=True)
    assert off.returncode == 0, off.stderr
    assert _sent(repo) == before
    assert _git(repo, "status", "--porcelain").stdout == ""
    assert (repo / ".git" / "info" / "exclude").read_text() == exclude
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
