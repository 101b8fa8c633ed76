"""The recipes' run.sh scripts: valid bash, every stage their header lists exists (and no other), and every
script and config they name is in the repository (so a renamed file cannot leave a recipe broken unnoticed)."""
import re
import subprocess

import pytest
from conftest import REPO_ROOT

SCRIPTS = sorted(REPO_ROOT.glob("recipes/*/run.sh")) + sorted(REPO_ROOT.glob("recipes/*/experiments.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_the_script_is_valid_bash_and_names_only_files_that_exist(script):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    recipe = script.parent.relative_to(REPO_ROOT).as_posix()
    text = text.replace("$R/", f"{recipe}/")
    named = set(re.findall(r"\b(recipes/[\w/.-]+\.(?:py|toml|sh|txt\.gz|txt))\b", text))
    assert named, script
    missing = sorted(n for n in named if not (REPO_ROOT / n).exists())
    assert not missing, f"{script.name} names files that do not exist: {missing}"


def test_the_mini_librispeech_run_sh_lists_exactly_its_stages_and_each_shipped_model_has_one():
    text = (REPO_ROOT / "recipes/mini_librispeech/run.sh").read_text()
    defined = re.findall(r"^if stage (\w+)", text, re.M)
    default = re.search(r'STAGES=\$\{\*:-([\w ]+)\}', text).group(1).split()
    listed = re.findall(r"^#   (\w+) {2,}", text, re.M)
    assert defined == default == listed  # the header, the default and the stages agree, in order
    for model in ("english", "english-stream", "english-phones"):
        assert model.replace("-", "_") in defined
        card = (REPO_ROOT / "asr/models" / model / "README.md").read_text()
        assert "recipes/mini_librispeech/run.sh" in card or "run.sh" in card, f"{model}'s card says not how to rebuild it"
