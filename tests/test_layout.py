"""The package's folders follow the data flow and their imports run one way: audio -> decoding -> model ->
the API at the top (recognizer, transcribe) -> live -> the commands (cli, evaluate, which scores streamed
decoding too); training (TensorFlow) sits beside them and
nothing that transcribes imports it. config.py and the shipped-models registry (asr/models) are the ground floor
every folder may stand on."""
import ast
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "asr"
FOLDERS = ("audio", "decoding", "model", "live", "training")
GROUND = {"config", "models"}
# what each part may import, besides itself and the ground floor
ALLOWED = {
    "audio": set(),
    "decoding": {"audio"},
    "model": {"audio", "decoding"},
    "top": {"audio", "decoding", "model", "top"},  # recognizer, transcribe, evaluate, formats, metrics, pack, ...
    "live": {"audio", "decoding", "model", "top"},
    "training": {"audio", "decoding", "model", "top"},
}


def part(module: str) -> str:
    """The folder of a module name under asr (or "top", or a ground-floor name)."""
    pieces = module.split(".")
    if len(pieces) == 1:
        return "top"
    return pieces[1] if pieces[1] in FOLDERS or pieces[1] in GROUND else "top"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "asr":
            found |= {f"asr.{a.name}" for a in node.names} if node.module == "asr" else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "asr"}
    return found


def test_imports_flow_one_way_between_the_folders():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        source = part(module)
        if source in GROUND or module in {"asr", "asr.cli", "asr.evaluate"}:
            continue  # the commands and the package's API may import anything (cli: training only lazily)
        for name in imports(path):
            target = part(name)
            if target != source and target not in GROUND and target not in ALLOWED[source]:
                wrong.append(f"{path.relative_to(REPO_ROOT)} ({source}) imports {name} ({target})")
    assert not wrong, "\n".join(wrong)


def test_each_folder_says_what_it_holds_and_the_tests_mirror_the_folders():
    for folder in FOLDERS:
        init = PACKAGE / folder / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 10, f"{init}: no docstring saying what the folder holds"
        modules = {p.stem for p in (PACKAGE / folder).glob("*.py")} - {"__init__"}
        assert modules, folder
        assert (REPO_ROOT / "tests" / folder).is_dir() or folder == "training", folder
    for folder in ("audio", "decoding", "model", "live", "training"):
        assert sorted((REPO_ROOT / "tests" / folder).glob("test_*.py")), f"tests/{folder} holds no tests"
    stray = [p.name for p in PACKAGE.glob("*.py")
             if p.stem in {"audio", "features", "vad", "segment", "decode", "lm", "phones", "text", "streaming"}]
    assert not stray, f"modules left at the top that belong in a folder: {stray}"
