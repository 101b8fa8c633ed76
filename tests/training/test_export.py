"""asr export: SavedModel and TFLite files that take a waveform, checked against the Keras model on samples/.

Each (model, format, quantization) is exported once per module, on first use (the English model's TFLite
conversions take 10-35 s each). Every parity test prints its largest log-probability difference to the Keras
model (`pytest -s tests/training/test_export.py` shows them) and puts it in its assertion message.
"""
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import asr
from asr import metrics
from asr.audio.load import load_audio
from asr.cli import main
from asr.decoding.ctc import greedy_decode
from asr.training import export
from asr.training.reference import KerasReference

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "samples"
CLIPS = {"english": sorted(SAMPLES.glob("librispeech-*.opus")), "digits": sorted(SAMPLES.glob("fsdd-*.wav"))}
CLIPS["english-phones"] = CLIPS["english"]
# Largest |log-prob difference| to the Keras model over every frame and token of the sample clips.
FLOAT_BOUND = {"savedmodel": 1e-5, "tflite": 1e-3}  # measured: 0 (same graph) and 2e-5
# (largest |log-prob difference|, CER of the greedy transcripts against the Keras model's); measured on
# samples/: dynamic 0.10 and 1.7 % (English; digits 0.08 and 0 %), int8 4.4 (digits; English 1.3) and 9.9 %.
QUANTIZED_BOUND = {"dynamic": (0.5, 0.05), "int8": (8.0, 0.20)}


@dataclass(frozen=True)
class Reference:
    clips: list  # float32 [samples] at the model rate
    log_probs: list  # float32 [frames, tokens], asr.training.reference.KerasReference's
    texts: list  # greedy transcripts (a phone model's in the dictionary's words)
    transcriber: object


@pytest.fixture(scope="module")
def keras():
    """keras(name) -> Reference: the shipped model's own outputs on its sample clips."""
    cache = {}

    def get(name: str) -> Reference:
        if name not in cache:
            model = asr.load_model(name, beam_width=1, use_lexicon=False, lm=False)
            clips = [load_audio(p, model.sample_rate_hz) for p in CLIPS[name]]
            reference = KerasReference(model.model_dir)
            log_probs = [reference.log_probs(c) for c in clips]
            texts = [model.in_words(greedy_decode(lp, model.vocab, model.frame_s)).text for lp in log_probs]
            cache[name] = Reference(clips, log_probs, texts, model)
        return cache[name]
    return get


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """exported(name, fmt, quantize) -> ExportedModel, written once per module (int8 calibrated on the clips)."""
    folder = tmp_path_factory.mktemp("exports")
    cache = {}

    def get(name: str, fmt: str, quantize: str = "none") -> export.ExportedModel:
        if (name, fmt, quantize) not in cache:
            out = folder / (f"{name}-{quantize}.tflite" if fmt == "tflite" else f"{name}-savedmodel")
            export.export(name, fmt, out, quantize, calibration_files=CLIPS[name] if quantize == "int8" else ())
            cache[name, fmt, quantize] = export.load_exported(out)
        return cache[name, fmt, quantize]
    return get


def largest_difference(model: export.ExportedModel, ref: Reference) -> float:
    outputs = [model.log_probs(c) for c in ref.clips]
    assert [o.shape for o in outputs] == [r.shape for r in ref.log_probs]
    return max(float(np.abs(o - r).max()) for o, r in zip(outputs, ref.log_probs))


# --- parity with the Keras model ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["english", "english-phones", "digits"])
@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_a_float_export_gives_the_keras_log_probs_and_transcripts(keras, exported, name, fmt):
    ref, model = keras(name), exported(name, fmt)
    difference = largest_difference(model, ref)
    print(f"\n{name} {fmt}: largest |log-prob difference| {difference:.1e}")
    assert difference <= FLOAT_BOUND[fmt], f"largest |log-prob difference| {difference:.1e}"
    assert [model.transcribe(c).text for c in ref.clips] == ref.texts


@pytest.mark.parametrize("name", ["english", "digits"])
@pytest.mark.parametrize("quantize", ["dynamic", "int8"])
def test_a_quantized_tflite_export_stays_close_to_the_keras_model(keras, exported, name, quantize):
    ref, model = keras(name), exported(name, "tflite", quantize)
    difference = largest_difference(model, ref)
    texts = [model.transcribe(c).text for c in ref.clips]
    cer = metrics.score(ref.texts, texts).cer
    print(f"\n{name} tflite {quantize}: largest |log-prob difference| {difference:.2f}, CER to Keras {cer:.1%}")
    max_difference, max_cer = QUANTIZED_BOUND[quantize]
    assert difference <= max_difference, f"largest |log-prob difference| {difference:.2f}"
    assert cer <= max_cer, f"CER {cer:.1%} against the Keras transcripts {ref.texts}: {texts}"


@pytest.mark.parametrize("quantize", ["dynamic", "int8"])
def test_the_quantized_digits_model_still_recognises_every_digit(keras, exported, quantize):
    model = exported("digits", "tflite", quantize)
    assert [model.transcribe(c).text for c in keras("digits").clips] == ["zero", "seven", "nine"]


def test_quantized_files_are_smaller(exported):
    sizes = {q: exported("english", "tflite", q).path.stat().st_size for q in ("none", "dynamic", "int8")}
    assert sizes["dynamic"] < sizes["none"] / 3 and sizes["int8"] < sizes["none"] / 3, sizes


# --- the serving signature and the metadata ------------------------------------------------------------------

def raw_signature(model: export.ExportedModel):
    """The exported file's own signature, as a runtime other than asr sees it: waveform -> dict of arrays."""
    if model.meta["format"] == "savedmodel":
        import tensorflow as tf
        serve = tf.saved_model.load(str(model.path)).signatures["serving_default"]
        return lambda waveform: {k: v.numpy() for k, v in serve(waveform=tf.constant(waveform)).items()}
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter(model_path=str(model.path)).get_signature_runner("serving_default")


def test_the_savedmodel_signature_names_its_input_and_outputs(exported):
    import tensorflow as tf
    serve = tf.saved_model.load(str(exported("digits", "savedmodel").path)).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["waveform"]
    assert set(serve.structured_outputs) == {"log_probs", "num_frames"}


def test_the_tflite_signature_names_its_input_and_outputs(exported):
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(exported("digits", "tflite").path))
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["waveform"], "outputs": ["log_probs", "num_frames"]}}


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_num_frames_is_the_length_and_a_too_short_waveform_has_none(keras, exported, fmt):
    run, ref = raw_signature(exported("digits", fmt)), keras("digits")
    out = run(waveform=ref.clips[0])
    assert out["log_probs"].shape == ref.log_probs[0].shape and int(out["num_frames"]) == len(ref.log_probs[0])
    window = int(ref.transcriber.sample_rate_hz * ref.transcriber.config.features.window_ms / 1000)
    for samples in (0, window - 1):
        out = run(waveform=np.zeros(samples, np.float32))
        assert out["log_probs"].shape == (0, ref.transcriber.vocab.size) and int(out["num_frames"]) == 0


@pytest.mark.parametrize("fmt, quantize", [("savedmodel", "none"), ("tflite", "dynamic")])
def test_an_export_describes_itself(keras, exported, fmt, quantize):
    meta, ref = exported("digits", fmt, quantize).meta, keras("digits").transcriber
    assert (meta["format"], meta["quantize"], meta["source_model"]) == (fmt, quantize, "digits")
    assert meta["sample_rate_hz"] == ref.sample_rate_hz and meta["frame_s"] == pytest.approx(ref.frame_s)
    assert meta["tokens"] == ref.vocab.symbols()


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_a_phone_model_exports_with_its_pronunciations(keras, exported, fmt):
    model, ref = exported("english-phones", fmt), keras("english-phones").transcriber
    assert model.meta["units"] == "phones" and model.meta["tokens"] == ref.vocab.symbols()
    assert model.vocab == ref.vocab  # every word's pronunciation, read back from the export
    assert exported("digits", fmt).meta["units"] == "chars" and exported("digits", fmt).pronunciations is None


def test_a_phone_export_without_its_pronunciations_is_an_error():
    tokens = asr.load_model("english-phones", lm=False).vocab.symbols()
    with pytest.raises(export.ExportError, match="x.tflite: a phone model without its pronunciations"):
        export.vocabulary(tokens, None, "x.tflite")


def test_loading_something_that_is_not_an_export_is_an_error(tmp_path):
    text = tmp_path / "notes.tflite"
    text.write_text("not a model\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    for path, message in [(text, "not a TFLite file"), (folder, "not an asr SavedModel"),
                          (tmp_path / "missing.tflite", "no such file or directory")]:
        with pytest.raises(export.ExportError, match=message):
            export.load_exported(path)


# --- the command ----------------------------------------------------------------------------------------------

def asr_command(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ASR_VERBOSE"}
    return subprocess.run([sys.executable, "-m", "asr.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=env, timeout=300)


def test_the_command_writes_a_tflite_file(tmp_path):
    out = tmp_path / "digits.tflite"
    run = asr_command("export", "--format", "tflite", "--quantize", "dynamic", "--model", "digits", "--out", out)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # the converter's notes are hidden
    path, size = run.stdout.rstrip("\n").split("\t")
    assert Path(path) == out and size == f"{out.stat().st_size / 1e6:.2f} MB"
    model = export.load_exported(out)
    assert model.meta["quantize"] == "dynamic"
    assert model.transcribe(load_audio(CLIPS["digits"][0], model.sample_rate_hz)).text == "zero"


def test_the_command_writes_a_savedmodel(tmp_path, capsys):
    out = tmp_path / "digits-savedmodel"
    assert main(["export", "--format", "savedmodel", "--model", "digits", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{out}\t")
    assert (out / "saved_model.pb").is_file() and (out / "assets.extra" / "asr.json").is_file()


@pytest.mark.parametrize("flags, message", [
    (["--format", "savedmodel", "--quantize", "dynamic"], "--quantize is for --format tflite"),
    (["--format", "tflite", "--quantize", "int8"], "--quantize int8 needs --calibration"),
    (["--format", "tflite", "--calibration", "samples"], "--calibration is only used by --quantize int8"),
    (["--format", "tflite", "--quantize", "int8", "--calibration", "no-such-dir"], "no-such-dir"),
])
def test_bad_arguments_are_one_line_usage_errors(tmp_path, flags, message):
    run = asr_command("export", *flags, "--out", tmp_path / "x")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("asr: error: ") and message in run.stderr, run.stderr
    assert not (tmp_path / "x").exists()


def test_an_unknown_model_is_a_one_line_usage_error(tmp_path, capsys):
    assert main(["export", "--format", "tflite", "--model", "no-such-model", "--out", str(tmp_path / "x")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("asr: error: no-such-model: no such model")
    assert captured.err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_an_unknown_format_is_a_usage_error(tmp_path):
    run = asr_command("export", "--format", "onnx", "--out", tmp_path / "x")
    assert run.returncode == 2 and "invalid choice: 'onnx'" in run.stderr


# --- transcribing with an export: the same recognizer, without TensorFlow ----------------------------------------

def test_transcribe_with_a_tflite_file_matches_the_keras_model_and_never_imports_tensorflow(keras, exported):
    ref = keras("english")
    model_path = Path(exported("english", "tflite").path)
    probe = ("import sys, json; from asr import load_model; m = load_model(sys.argv[1]); "
             "texts = [m.transcribe(p).text for p in sys.argv[2:]]; "
             "print(json.dumps({'texts': texts, 'tensorflow': 'tensorflow' in sys.modules}))")
    run = subprocess.run([sys.executable, "-c", probe, str(model_path), *map(str, CLIPS["english"])],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert result == {"texts": ref.texts, "tensorflow": False}


def test_asr_transcribe_takes_a_tflite_model(exported, keras):
    model_path = exported("digits", "tflite", "dynamic").path
    run = asr_command("transcribe", "--model", model_path, "--format", "jsonl", *CLIPS["digits"])
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["text"] for line in run.stdout.splitlines()] == ["zero", "seven", "nine"]
    assert run.stderr.startswith("asr: 3 of 3 file(s) transcribed") and run.stderr.count("\n") == 1
    broken = Path(model_path).with_name("broken.tflite")
    broken.write_bytes(b"not a model")
    run = asr_command("transcribe", "--model", broken, *CLIPS["digits"])
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "broken.tflite" in run.stderr, run.stderr
