"""Every command in README.md runs as written. A ```console block shows real output: each `$ command` in it is run
and its stdout compared with the lines shown under it (JSON numbers within 0.05, since BLAS builds round
differently). Each command of a ```bash block is run too, unless it needs what a test cannot have (a microphone,
a server left running, TensorFlow training or export, the output of an earlier recipe): those are parsed by the
`asr` command's own parser, and every repository path they name must exist."""
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
REPO_DIRS = ("samples/", "asr/", "recipes/", "tests/", "benchmarks/")
# commands of ```bash blocks that are checked, not run: (a pattern, why)
NOT_RUN = [
    (r"^pip install", "installs packages"),
    (r"^bash tests/system-deps\.sh", "installs system packages"),
    (r"^asr stream( --list-devices)?$|^asr stream --list-devices", "needs a microphone"),
    (r"^asr serve", "a server that runs until stopped (tests/live/test_serve.py runs it)"),
    (r"^asr (train|export)\b", "TensorFlow training or export: minutes (tests/training/ runs both)"),
    (r"^bash recipes/|^python3? recipes/", "a recipe: minutes to hours"),
    (r"^tensorboard\b", "a server that runs until stopped"),
    (r"exp/|en8\.tflite", "the output of an earlier recipe or export"),
]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def commands(block: str) -> list[str]:
    """The block's command lines, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in block.splitlines():
        if pending:
            line = pending + " " + line.strip()
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1].rstrip()
            continue
        pending = ""
        line = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
        out += [line] if line else []
    return out


def console_examples() -> list[tuple[str, str]]:
    """(command, the stdout shown under it) of every ```console block."""
    out = []
    for block in blocks("console"):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, shown = part.partition("\n")
            out.append((command.strip(), shown.rstrip("\n")))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder where the README's relative paths resolve (samples/, asr/, ...) and its outputs (out/) land."""
    folder = tmp_path_factory.mktemp("readme")
    for name in REPO_DIRS:
        (folder / name.rstrip("/")).symlink_to(REPO_ROOT / name.rstrip("/"))
    return folder


def run_shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """`command` in bash, with the `asr` of this interpreter's environment first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**{k: v for k, v in os.environ.items() if k != "ASR_VERBOSE"},
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def same(shown, got) -> bool:
    if isinstance(shown, dict):
        return isinstance(got, dict) and shown.keys() == got.keys() and all(same(shown[k], got[k]) for k in shown)
    if isinstance(shown, list):
        return isinstance(got, list) and len(shown) == len(got) and all(map(same, shown, got))
    if isinstance(shown, float) or isinstance(got, float):
        return isinstance(got, (int, float)) and math.isclose(shown, got, abs_tol=0.05)
    return shown == got


def test_the_readme_has_examples_of_both_kinds():
    assert len(console_examples()) >= 4 and sum(len(commands(b)) for b in blocks("bash")) >= 15


@pytest.mark.parametrize("command, shown", console_examples(), ids=lambda x: x[:60] if "\n" not in x else "")
def test_each_console_example_prints_what_the_readme_shows(command, shown, workdir):
    run = run_shell(command, workdir)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    got = run.stdout.rstrip("\n").splitlines()
    lines = shown.splitlines()
    assert len(got) == len(lines), f"{command}\nshown:\n{shown}\ngot:\n{run.stdout}"
    for want, have in zip(lines, got):
        if want.startswith("{"):
            assert same(json.loads(want), json.loads(have)), f"{command}\nshown: {want}\ngot:   {have}"
        else:
            assert have == want, f"{command}\nshown: {want}\ngot:   {have}"


def bash_commands() -> list[str]:
    return [c for b in blocks("bash") for c in commands(b)]


def _why_not_run(command: str) -> str | None:
    return next((why for pattern, why in NOT_RUN if re.search(pattern, command)), None)


def _repo_paths(command: str) -> list[str]:
    words = shlex.split(command.replace("<", " "))
    return [w for w in words if w.startswith(REPO_DIRS) and "exp/" not in w]


@pytest.mark.parametrize("command", bash_commands())
def test_each_bash_command_runs_or_is_well_formed(command, workdir):
    for path in _repo_paths(command):
        assert list(REPO_ROOT.glob(path.rstrip("/"))), f"{command}: {path} does not exist"
    words = shlex.split(command.split("<")[0])
    if words[0] == "asr":
        from asr.cli import build_parser
        build_parser().parse_args(words[1:])  # a usage error exits here, naming the option
    elif words[0] == "pip":
        extras = re.findall(r"\[([a-z,]+)\]", command)
        pyproject = (REPO_ROOT / "pyproject.toml").read_text()
        for extra in ",".join(extras).split(",") if extras else []:
            assert re.search(rf"^{extra} = \[", pyproject, re.M), f"{command}: no extra {extra!r}"
    why = _why_not_run(command)
    if why is not None:
        return  # checked above; not run: `why`
    run = run_shell(command, workdir)
    assert run.returncode == 0, f"{command}\n{run.stderr}"
    assert "Traceback" not in run.stderr and "error" not in run.stderr.lower(), run.stderr
