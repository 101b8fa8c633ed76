"""Transcription without TensorFlow: every inference path imports none, the compact decoding tables give what
parsing gives, and what needs an extra says which one to install."""
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO_ROOT

from asr import load_model, models
from asr.decoding import tables
from asr.decoding.lm import NGramLM, PackedLM, estimate, read_arpa, write_arpa
from asr.decoding.phones import PhoneVocabulary

SAMPLE = REPO_ROOT / "samples" / "librispeech-2428-83699-0011.opus"
DIGIT = REPO_ROOT / "samples" / "fsdd-7_nicolas_1.wav"


def run_python(*code: str, block: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the pieces of `code` in a fresh interpreter; the modules in `block` cannot be imported there (as if
    they were not installed)."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in block)
    source = prelude + "".join(textwrap.dedent(piece) for piece in code)
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=300)


NO_TENSORFLOW = """
for name in ("tensorflow", "keras", "tensorboard", "absl"):
    assert sys.modules.get(name) is None, f"{name} was imported"
print("no tensorflow")
"""


@pytest.mark.parametrize("name", models.shipped())
def test_loading_and_transcribing_each_shipped_model_imports_no_tensorflow(name):
    clip = DIGIT if name.startswith("digits") else SAMPLE
    run = run_python(f"""
        from asr import load_model
        model = load_model({name!r})
        print(model.transcribe({str(clip)!r}).text)
        """, NO_TENSORFLOW)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("no tensorflow") and run.stderr == ""


def test_the_streaming_api_imports_no_tensorflow():
    run = run_python(f"""
        from asr import load_model
        from asr.audio.load import load_audio
        from asr.live.streaming import StreamingTranscriber
        stream = StreamingTranscriber(load_model("english-stream"))
        samples = load_audio({str(SAMPLE)!r})
        events = [e for i in range(0, len(samples), 640) for e in stream.feed(samples[i:i + 640])] + stream.finish()
        assert any(e.type == "final" and e.text for e in events), events
        """, NO_TENSORFLOW)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("argv", [
    ["transcribe", str(SAMPLE), "--quiet"],
    ["transcribe", str(DIGIT), str(SAMPLE), "--model", "digits", "--jobs", "2", "--quiet"],
    ["models"],
    ["stream", "--source", str(SAMPLE), "--fast"],
])
def test_cli_commands_run_without_tensorflow_installed(argv):
    run = run_python(f"""
        from asr.cli import main
        code = main({argv!r})
        assert code == 0, code
        """, NO_TENSORFLOW, block=("tensorflow", "keras"))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def test_evaluate_runs_without_tensorflow_installed(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "audio": str(DIGIT), "text": "seven", "duration_s": 0.4}) + "\n")
    run = run_python(f"""
        from asr.cli import main
        assert main(["evaluate", {str(manifest)!r}, "--model", "digits", "--out", {str(tmp_path / 'out')!r}]) == 0
        """, NO_TENSORFLOW, block=("tensorflow", "keras"))
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "out" / "wer.json").read_text())["wer"] == 0.0


@pytest.mark.parametrize("argv", [
    ["train", "--train", "{m}", "--valid", "{m}", "--out", "{out}"],
    ["export", "--format", "tflite", "--model", "digits", "--out", "{out}/x.tflite"],
])
def test_train_and_export_without_tensorflow_name_the_extra(tmp_path, argv):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("")
    argv = [a.format(m=manifest, out=tmp_path) for a in argv]
    run = run_python(f"from asr.cli import main\nsys.exit(main({argv!r}))", block=("tensorflow", "keras"))
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert "needs TensorFlow" in run.stderr and "pip install 'asr[train]'" in run.stderr


def test_a_tflite_model_without_its_runtime_names_the_extra(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"not read: the runtime is missing first")
    run = run_python(f"from asr.cli import main\nsys.exit(main(['transcribe', {str(SAMPLE)!r}, '--model', "
                     f"{str(model)!r}]))", block=("ai_edge_litert", "ai_edge_litert.interpreter"))
    assert run.returncode == 2
    assert "pip install 'asr[export]'" in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0


# --- the tables ---------------------------------------------------------------------------------------------------

def test_a_packed_lm_scores_as_the_parsed_one(tmp_path):
    """The same scores up to the float16 rounding of the tables' probabilities and backoffs (tests/decoding/test_lm.py
    checks that rounding exactly)."""
    sentences = [s.split() for s in ["the cat sat on the mat", "the dog sat", "a cat and a dog", "on the mat",
                                     "the cat ran", "a dog ran on the mat"]]
    model = estimate(sentences, order=3, prune=(0, 0, 1))
    write_arpa(model, tmp_path / "lm.arpa")
    parsed = NGramLM(read_arpa(tmp_path / "lm.arpa"))
    packed = PackedLM(*PackedLM.pack(read_arpa(tmp_path / "lm.arpa")))
    rng = np.random.default_rng(0)
    words = sorted(parsed.vocab - {"<s>"}) + ["zebra"]  # one unknown word
    for _ in range(300):
        a, b = parsed.begin_state(), packed.begin_state()
        for word in rng.choice(words, size=rng.integers(1, 7)):
            (pa, a), (pb, b) = parsed.score(a, str(word)), packed.score(b, str(word))
            assert pb == pytest.approx(pa, abs=2e-3)  # float16 tables
    assert packed.vocab == parsed.vocab


def test_tables_of_another_format_version_are_ignored(tmp_path):
    """Tables written by another version of the format are not read (the ARPA file is parsed instead)."""
    write_arpa(estimate([["all", "night"], ["night", "it", "had"]], order=2), tmp_path / "lm.arpa")
    words, arrays = PackedLM.pack(read_arpa(tmp_path / "lm.arpa"))
    tables.write(tmp_path, {"arpa-lm.arpa": (["lm.arpa"], {"words": tables.blob(words), **arrays})})
    assert isinstance(tables.packed_lm(tmp_path / "lm.arpa"), PackedLM)
    manifest = tmp_path / "tables" / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"version": {tables.VERSION}', '"version": 1'))
    assert tables.VERSION != 1 and tables.packed_lm(tmp_path / "lm.arpa") is None


def test_packing_refuses_an_lm_whose_ngrams_lack_their_context(tmp_path):
    model = estimate([["a", "b", "c"]], order=3)
    del model.ngrams[1][("a", "b")]
    with pytest.raises(ValueError, match="has no context"):
        PackedLM.pack(model)


@pytest.fixture(scope="module")
def unpacked_english(tmp_path_factory):
    """A copy of the default model without its tables/."""
    copy = tmp_path_factory.mktemp("unpacked") / "english-phones"
    shutil.copytree(models.SHIPPED_DIR / models.DEFAULT_MODEL, copy, ignore=shutil.ignore_patterns("tables"))
    return copy


def test_the_shipped_models_tables_are_current():
    for name in models.shipped():
        folder = models.SHIPPED_DIR / name
        if (folder / "lm.arpa.gz").is_file():
            assert tables.packed_lm(folder / "lm.arpa.gz") is not None, name
            assert tables.decoding(folder, "lm.json" if (folder / "lm.json").is_file() else "lm.arpa.gz",
                                   load_model(name, lm=False).vocab) is not None, name


def test_tables_give_the_same_transcripts_as_parsing(unpacked_english):
    packed, parsed = load_model(), load_model(str(unpacked_english))
    assert isinstance(packed.lm.homophones, tables.Homophones) and isinstance(parsed.lm.homophones, dict)
    assert dict(packed.lm.homophones) == parsed.lm.homophones
    assert packed.lexicon.words == parsed.lexicon.words
    assert packed.vocab == parsed.vocab
    for clip in sorted((REPO_ROOT / "samples").glob("librispeech-*.opus")):
        a, b = packed.transcribe(clip, alternatives=3), parsed.transcribe(clip, alternatives=3)
        assert a.text == b.text and [h.text for h in a.alternatives] == [h.text for h in b.alternatives]
        # the LM tables hold float16: each word's log10 P is off by at most 2^-11 of itself, a hypothesis by hundredths
        assert [h.score for h in a.alternatives] == pytest.approx([h.score for h in b.alternatives], abs=0.05)


def test_asr_pack_writes_tables_that_are_used_and_dropped_when_a_source_changes(unpacked_english, tmp_path):
    from asr.cli import main
    model_dir = tmp_path / "m"
    shutil.copytree(unpacked_english, model_dir)
    assert tables.phone_vocabulary(model_dir) is None
    np.savez_compressed(model_dir / "model.npz", **dict(np.load(unpacked_english / "model.npz")))
    assert main(["pack", str(model_dir)]) == 0
    import zipfile
    with zipfile.ZipFile(model_dir / "model.npz") as stored:  # the weights stored, not deflated: the same arrays
        assert {info.compress_type for info in stored.infolist()} == {zipfile.ZIP_STORED}
    with np.load(model_dir / "model.npz") as got, np.load(unpacked_english / "model.npz") as expected:
        assert got.files == expected.files and all(np.array_equal(got[k], expected[k]) for k in got.files)
    manifest = json.loads((model_dir / "tables" / "manifest.json").read_text())
    assert {"pronunciations", "arpa-lm.arpa.gz", "sphinx-en-us", "decoding-lm.json"} <= set(manifest["tables"])
    assert isinstance(tables.phone_vocabulary(model_dir), PhoneVocabulary)
    assert isinstance(tables.packed_lm(model_dir / "lm.arpa.gz"), PackedLM)
    # a changed LM makes its tables stale: the file itself is read again, the pronunciations table stays
    write_arpa(estimate([["all", "night"], ["night", "it", "had"]], order=2), model_dir / "lm.arpa.gz")
    assert tables.packed_lm(model_dir / "lm.arpa.gz") is None
    assert tables.decoding(model_dir, "lm.json", tables.phone_vocabulary(model_dir)) is None
    assert tables.phone_vocabulary(model_dir) is not None
    model = load_model(str(model_dir))
    assert isinstance(model.lm.lm.parts[0][0], NGramLM)
    assert model.transcribe(SAMPLE).text


def test_asr_pack_of_a_missing_model_is_a_usage_error(tmp_path, capsys):
    from asr.cli import main
    assert main(["pack", str(tmp_path / "nothing")]) == 2
    assert "no such model" in capsys.readouterr().err


def test_jobs_keep_the_input_order_and_report_bad_files(tmp_path, capsys):
    from asr.cli import main
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not audio")
    clips = [REPO_ROOT / "samples" / n for n in ("fsdd-9_yweweler_2.wav", "fsdd-0_jackson_0.wav")]
    argv = ["transcribe", str(clips[0]), str(bad), str(clips[1]), "--model", "digits", "--quiet"]
    assert main(argv + ["--jobs", "2"]) == 1
    parallel = capsys.readouterr()
    assert main(argv) == 1
    serial = capsys.readouterr()
    assert parallel.out == serial.out
    assert [line.split("\t")[1] for line in parallel.out.splitlines()] == ["nine", "zero"]
    assert "bad.wav" in parallel.err


def test_jobs_must_be_positive(capsys):
    from asr.cli import main
    assert main(["transcribe", str(DIGIT), "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_every_file_of_the_shipped_models_is_package_data():
    """A plain `pip install .` carries what loading needs, the tables included (else start-up parses again)."""
    import fnmatch

    import tomllib
    patterns = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "asr.models"]
    files = [p.relative_to(models.SHIPPED_DIR).as_posix() for p in models.SHIPPED_DIR.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.name != "__init__.py"]
    assert any(f.startswith(f"{models.DEFAULT_MODEL}/tables/") for f in files)
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) and f.count("/") == pattern.count("/")
                                           for pattern in patterns)]
    assert missing == []


def test_serve_loads_its_model_without_tensorflow():
    run = run_python("""
        from asr.live import server  # noqa: F401  (the WebSocket server and its page)
        from asr.cli import _load_streaming, build_parser
        model = _load_streaming(build_parser().parse_args(["serve", "--port", "0"]))
        assert model.streaming() is not None
        """, NO_TENSORFLOW, block=("tensorflow", "keras"))
    assert run.returncode == 0, run.stderr


def test_nothing_transcription_loads_imports_the_training_package():
    """The door between the two sides: only cli.py names asr.training, inside the commands that need it."""
    import ast
    for path in sorted((REPO_ROOT / "asr").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "asr.training" or n.startswith("asr.training.") for n in names):
                assert path.name == "cli.py", f"{path.name} imports {names}"
                assert node.col_offset > 0, f"cli.py imports asr.training at the top level (line {node.lineno})"
