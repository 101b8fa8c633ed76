"""Bad input end to end: every kind of broken, odd or unreadable input through `asr transcribe` (a real process,
and in-process through `asr.cli.main`) and through the Python API (`load_model().transcribe`).

Each input gets a transcript (possibly empty) or one line "<path>: <problem>", never a traceback; good inputs in
the same batch are still transcribed, in order; exit code 0 when all succeeded, 1 when some failed, 2 for a
usage error. What load_audio itself does with each file is tested in tests/audio/test_audio.py.
"""
import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

import asr.models
import asr.transcribe
from asr.audio.load import AudioError
from asr.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
ZERO = "fsdd-0_jackson_0.wav"  # "zero", 8 kHz int16
DIGIT_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
ANY = object()  # a transcript whose text is not pinned (noise, silence, half a word)

# name -> what the CLI gives, what the API gives: ("text", expected text or ANY), ("error", problem) or
# ("either", problem): a transcript or that error (a file cut short: libsndfile may read its first part).
CASES = {
    "pcm-u8.wav": (("text", "zero"), ("text", "zero")),  # 8-bit WAV is unsigned
    "pcm-24.wav": (("text", "zero"), ("text", "zero")),
    "float-32.wav": (("text", "zero"), ("text", "zero")),
    "stereo-44k1.wav": (("text", "zero"), ("text", "zero")),
    "rate-8k.wav": (("text", "zero"), ("text", "zero")),
    "shorter-than-a-frame.wav": (("text", ""), ("text", "")),
    "zero-samples.wav": (("text", ""), ("text", "")),
    "silence.wav": (("text", ANY), ("text", ANY)),
    "clipped-noise.wav": (("text", ANY), ("text", ANY)),
    "beyond-full-scale.wav": (("text", ANY), ("text", ANY)),
    "header-only.wav": (("either", "not a readable audio file"), ("either", "not a readable audio file")),
    "cut-in-data.wav": (("either", "not a readable audio file"), ("either", "not a readable audio file")),
    "empty.wav": (("error", "file is empty"), ("error", "file is empty")),
    "garbage.mp3": (("error", "not a readable audio file"), ("error", "not a readable audio file")),
    "text.wav": (("error", "not a readable audio file (Format not recognised)"),
                 ("error", "not a readable audio file (Format not recognised)")),
    "truncated-header.wav": (("error", "not a readable audio file"), ("error", "not a readable audio file")),
    "nan.wav": (("error", "contains NaN or infinite samples"), ("error", "contains NaN or infinite samples")),
    "inf.wav": (("error", "contains NaN or infinite samples"), ("error", "contains NaN or infinite samples")),
    "fifo.wav": (("error", "not a regular file"), ("error", "not a regular file")),  # reading one would block
    "folder.wav": (("error", "no audio files found"), ("error", "is a directory")),
    "no-audio": (("error", "no audio files found"), ("error", "is a directory")),
    "plain.txt/under-a-file.wav": (("error", "no such file or directory"), ("error", "no such file")),
    "dangling-link.wav": (("error", "no such file or directory"), ("error", "no such file")),
    "n" * 300 + ".wav": (("error", "File name too long"), ("error", "File name too long")),
}
PATH_PROBLEMS = ("no audio files found", "no such file or directory", "File name too long")  # asr.audio.load.find_audio_files
OK = {name for name, (cli, _) in CASES.items() if cli[0] != "error"}


def write(path: Path, samples, rate_hz: int, **kwargs) -> None:
    soundfile.write(str(path), samples, rate_hz, **kwargs)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, samples_dir) -> dict[str, Path]:
    """Every case of CASES as a path in one folder (most of them files written with soundfile)."""
    folder = tmp_path_factory.mktemp("bad-input")
    zero, rate_hz = soundfile.read(str(samples_dir / ZERO), dtype="float32")
    assert rate_hz == 8000
    rng = np.random.default_rng(0)
    paths = {name: folder / name for name in CASES}
    write(paths["pcm-u8.wav"], zero, rate_hz, subtype="PCM_U8")
    write(paths["pcm-24.wav"], zero, rate_hz, subtype="PCM_24")
    write(paths["float-32.wav"], zero, rate_hz, subtype="FLOAT")
    left = soxr.resample(zero, rate_hz, 44100)
    write(paths["stereo-44k1.wav"], np.stack([left, left], axis=1), 44100, subtype="PCM_16")
    write(paths["rate-8k.wav"], zero, 8000, subtype="PCM_16")
    write(paths["shorter-than-a-frame.wav"], zero[:100], 16000, subtype="PCM_16")  # 6 ms < one 25 ms window
    write(paths["zero-samples.wav"], np.zeros(0, np.float32), 16000, subtype="PCM_16")
    write(paths["silence.wav"], np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    write(paths["clipped-noise.wav"], np.clip(rng.normal(0, 3, 16000), -1, 1), 16000, subtype="PCM_16")
    write(paths["beyond-full-scale.wav"], rng.normal(0, 30, 16000).astype(np.float32), 16000, subtype="FLOAT")
    whole = (samples_dir / ZERO).read_bytes()
    assert whole[:4] == b"RIFF" and whole[36:40] == b"data"  # a plain 44-byte header, then the samples
    paths["header-only.wav"].write_bytes(whole[:44])
    paths["cut-in-data.wav"].write_bytes(whole[:44 + (len(whole) - 44) // 2 + 1])  # half the data, odd length
    paths["truncated-header.wav"].write_bytes(whole[:20])  # RIFF and half of the fmt chunk
    paths["empty.wav"].write_bytes(b"")
    paths["garbage.mp3"].write_bytes(b"ID3\x03\x00" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    paths["text.wav"].write_text("these are not the samples you are looking for\n" * 20)
    for name, bad in (("nan.wav", np.nan), ("inf.wav", -np.inf)):
        samples = zero.copy()
        samples[1000] = bad
        write(paths[name], samples, rate_hz, subtype="FLOAT")
    os.mkfifo(paths["fifo.wav"])
    paths["folder.wav"].mkdir()
    (paths["folder.wav"] / "notes.txt").write_text("a folder named like a file\n")
    paths["no-audio"].mkdir()
    (paths["no-audio"] / "readme.md").write_text("no audio here\n")
    (folder / "plain.txt").write_text("a file, not a folder\n")
    paths["dangling-link.wav"].symlink_to(folder / "gone.wav")
    return paths


_LOADED = {}


@pytest.fixture
def one_digits_model(monkeypatch):
    """The CLI loads its model once per call: share one model per set of arguments between in-process calls
    (loading is tested in tests/test_cli.py); these tests are about inputs."""
    load_model = asr.transcribe.load_model

    def cached(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in _LOADED:
            _LOADED[key] = load_model(*args, **kwargs)
        return _LOADED[key]
    monkeypatch.setattr(asr.transcribe, "load_model", cached)


def run_asr(*args, preexec_fn=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ASR_VERBOSE"}
    return subprocess.run([sys.executable, "-m", "asr.cli", *map(str, args)], check=False, capture_output=True,
                          text=True, cwd=REPO_ROOT, env=env, timeout=300, preexec_fn=preexec_fn)


def error_lines(stderr: str) -> list[str]:
    """The messages of the "asr: error: <message>" lines of stderr; fails on a traceback or library noise
    (one closing "asr: ..." status line is allowed, and the warnings that beyond-full-scale.wav was clipped and
    that the WAV files cut short are)."""
    assert "Traceback" not in stderr, stderr
    expected = ("beyond-full-scale.wav: float samples reach ", "header-only.wav: truncated WAV file: ",
                "cut-in-data.wav: truncated WAV file: ")
    lines = [line for line in stderr.splitlines()
             if not (line.startswith("asr: warning: ") and any(e in line for e in expected))]
    others = [line for line in lines if not line.startswith("asr: error: ")]
    assert len(others) <= 1 and all(line.startswith("asr: ") for line in others), stderr
    return [line[len("asr: error: "):] for line in lines if line not in others]


def assert_error(message: str, path: Path, problem: str):
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert problem in message, message


def assert_transcript(rec: dict, text):
    assert set(rec) == {"path", "text", "duration_s", "words"}, rec
    if text is not ANY:
        assert rec["text"] == text
    assert [w["word"] for w in rec["words"]] == rec["text"].split()
    assert set(rec["text"].split()) <= DIGIT_WORDS  # the digits model's lexicon holds even on noise
    for w in rec["words"]:
        assert 0 <= w["start_s"] < w["end_s"] <= rec["duration_s"] + 1e-3 and 0 <= w["confidence"] <= 1


def check_record(rec: dict, path: Path, expect):
    kind, value = expect
    if kind == "text" or (kind == "either" and "error" not in rec):
        assert_transcript(rec, value if kind == "text" else ANY)
    else:
        assert set(rec) == {"path", "error"}, rec
        assert_error(rec["error"], path, value)


# --- the command, as a real process: one batch of everything, good files in between --------------------------

def test_a_batch_of_every_bad_input_reports_each_in_place_and_transcribes_the_good_ones(inputs, samples_dir):
    good = [samples_dir / "fsdd-7_nicolas_1.wav", samples_dir / "fsdd-9_yweweler_2.wav", samples_dir / ZERO]
    bad = list(inputs.values())
    paths = [good[0], *bad[:10], good[1], *bad[10:], good[2]]
    run = run_asr("transcribe", "--model", "digits", "--format", "jsonl", *paths)

    assert run.returncode == 1  # some inputs failed
    lines = run.stdout.splitlines()
    assert all(line.startswith("{") for line in lines), run.stdout
    recs = [json.loads(line) for line in lines]
    assert [r["path"] for r in recs] == [str(p) for p in paths]  # one record per input, in input order
    for rec, text in zip((recs[0], recs[11], recs[-1]), ("seven", "nine", "zero")):
        assert_transcript(rec, text)
    for rec, (name, path) in zip(recs[1:11] + recs[12:-1], inputs.items()):
        check_record(rec, path, CASES[name][0])
    failed = [r["error"] for r in recs if "error" in r]
    assert len(failed) >= len(CASES) - len(OK)
    # one stderr line per failed input, the same words, in order: first the paths that are not there (told before
    # the model loads), then the files that could not be read
    unusable_paths = [e for e in failed if e.endswith(PATH_PROBLEMS)]
    assert unusable_paths and error_lines(run.stderr) == unusable_paths + [e for e in failed if e not in unusable_paths]


def _drop_file_permission_override():
    """preexec_fn: remove CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the capability bounding set
    (prctl PR_CAPBSET_DROP), so that after exec even root is refused a file or folder of mode 000."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
def unreadable(tmp_path, samples_dir):
    """A chmod-000 file, a chmod-000 folder and a file inside it; and a preexec_fn under which they really are
    unreadable (as root, chmod alone does not stop reads: the capabilities that override it are dropped)."""
    locked = tmp_path / "locked.wav"
    shutil.copy(samples_dir / ZERO, locked)
    locked_dir = tmp_path / "locked-folder"
    locked_dir.mkdir()
    shutil.copy(samples_dir / ZERO, locked_dir / "inside.wav")
    locked.chmod(0)
    locked_dir.chmod(0)
    preexec_fn = _drop_file_permission_override if os.geteuid() == 0 else None
    try:
        probe = subprocess.run(["cat", str(locked)], check=False, capture_output=True, preexec_fn=preexec_fn)
    except (OSError, subprocess.SubprocessError) as error:
        probe = error
    if not isinstance(probe, subprocess.CompletedProcess) or probe.returncode == 0:
        locked_dir.chmod(0o700)
        pytest.skip(f"cannot make a file unreadable for this user (uid {os.geteuid()}): {probe}")
    yield {"file": locked, "folder": locked_dir, "inside": locked_dir / "inside.wav"}, preexec_fn
    locked_dir.chmod(0o700)  # so that pytest can clean up


def test_unreadable_files_and_folders_are_one_line_errors(unreadable, samples_dir):
    paths, preexec_fn = unreadable
    good = samples_dir / "fsdd-9_yweweler_2.wav"
    order = [paths["file"], paths["inside"], good, paths["folder"]]
    run = run_asr("transcribe", "--model", "digits", "--format", "jsonl", *order, preexec_fn=preexec_fn)

    assert run.returncode == 1
    recs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["path"] for r in recs] == [str(p) for p in order]
    assert_transcript(recs[2], "nine")
    for rec, path in zip(recs[:2] + recs[3:], order[:2] + order[3:]):
        assert_error(rec.get("error", ""), path, "Permission denied")
    assert len(error_lines(run.stderr)) == 3


# --- the command, in-process: each input alone, its exit code and its output ----------------------------------

@pytest.mark.parametrize("name", CASES)
def test_each_input_alone(inputs, one_digits_model, capsys, name):
    path = inputs[name]
    code = main(["transcribe", "--model", "digits", str(path)])
    out, err = capsys.readouterr()
    kind, value = CASES[name][0]
    messages = error_lines(err)
    if kind == "text" or (kind == "either" and code == 0):
        assert (code, messages) == (0, [])
        assert out.count("\n") == 1  # the text of one input is one line, possibly empty
        if kind == "text" and value is not ANY:
            assert out == value + "\n"
    else:
        assert code == 1 and out == ""
        assert len(messages) == 1
        assert_error(messages[0], path, value)


def test_only_bad_inputs_exit_1_with_nothing_on_stdout(inputs, one_digits_model, capsys):
    bad = [inputs[name] for name in CASES if name not in OK]
    assert main(["transcribe", "--model", "digits", *map(str, bad)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(error_lines(err)) == len(bad)


def test_output_dir_writes_the_good_inputs_and_summarises_the_bad_ones_in_place(inputs, one_digits_model,
                                                                                 samples_dir, tmp_path, capsys):
    paths = [inputs["empty.wav"], samples_dir / ZERO, inputs["fifo.wav"], inputs["pcm-u8.wav"]]
    out_dir = tmp_path / "out"
    assert main(["transcribe", "--model", "digits", "--output-dir", str(out_dir), *map(str, paths)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(error_lines(err)) == 2
    assert sorted(p.name for p in out_dir.iterdir()) == ["fsdd-0_jackson_0.txt", "pcm-u8.txt", "summary.jsonl"]
    summary = [json.loads(line) for line in (out_dir / "summary.jsonl").read_text().splitlines()]
    assert [r["path"] for r in summary] == [str(p) for p in paths]
    assert [r.get("text") for r in summary] == [None, "zero", None, "zero"]
    assert_error(summary[0]["error"], paths[0], "file is empty")
    assert_error(summary[2]["error"], paths[2], "not a regular file")


def test_a_usage_error_wins_over_bad_inputs(inputs, capsys):
    code = main(["transcribe", "--model", "no-such-model", str(inputs["empty.wav"]), str(inputs["fifo.wav"])])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    messages = error_lines(err)
    assert len(messages) == 1 and messages[0].startswith("no-such-model: no such model; shipped models: ")


# --- the Python API -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return asr.transcribe.load_model("digits")


@pytest.mark.parametrize("name", CASES)
def test_the_api_gives_a_transcript_or_a_one_line_audio_error(inputs, digits, name):
    path = inputs[name]
    kind, value = CASES[name][1]
    try:
        result = digits.transcribe(path)
    except AudioError as error:  # any other exception type fails the test
        assert kind != "text", f"{path}: {error}"
        assert_error(str(error), path, value)
        assert error.path == path
    else:
        assert kind != "error", f"{path}: expected an error, got {result}"
        assert_transcript({"path": str(path), **result.to_dict()}, value if kind == "text" else ANY)
        assert result.duration_s == pytest.approx(soundfile.info(str(path)).duration, abs=1e-3)


@pytest.mark.parametrize("model", asr.models.shipped())
def test_pure_silence_gives_empty_text(inputs, model):
    assert asr.transcribe.load_model(model).transcribe(inputs["silence.wav"]).text == ""


@pytest.mark.parametrize("model", asr.models.shipped())
@pytest.mark.parametrize("signal", ["silence", "dc offset", "faint noise", "dc offset and faint noise"])
def test_no_sound_gives_empty_text_for_every_model(model, signal):
    rng = np.random.default_rng(0)
    samples = {"silence": np.zeros(16000), "dc offset": np.full(16000, 0.3),
               "faint noise": rng.normal(0, 3e-4, 16000),
               "dc offset and faint noise": -0.2 + rng.normal(0, 3e-4, 16000)}[signal].astype(np.float32)
    result = asr.transcribe.load_model(model).transcribe(samples)
    assert result.text == "" and result.words == () and result.duration_s == pytest.approx(1.0)


@pytest.mark.parametrize("bad, message", [
    (dict(audio=np.full(8000, np.nan, np.float32)), "NaN or infinite"),
    (dict(audio=np.full(8000, np.inf, np.float32)), "NaN or infinite"),
    (dict(audio=np.zeros(8000, np.float32), sample_rate=0), "too low"),
    (dict(audio=np.zeros(8000, np.float32), sample_rate=1), "too low"),
    (dict(audio=np.zeros(8000, np.float32), sample_rate=-16000), "too low"),
    (dict(audio=np.zeros((2, 3, 4), np.float32)), "shape"),
])
def test_the_python_api_refuses_samples_that_cannot_be_speech(bad, message):
    with pytest.raises(ValueError, match=message):
        asr.transcribe.load_model("digits").transcribe(**bad)


def test_float_samples_outside_the_unit_range_are_clipped_with_a_warning(tmp_path, capsys):
    from asr.audio.load import AudioWarning
    samples = (50 * np.sin(np.arange(8000) / 3)).astype(np.float32)
    with pytest.warns(AudioWarning, match="reach 50"):
        asr.transcribe.load_model("digits").transcribe(samples, sample_rate=8000)
    path = tmp_path / "loud.wav"
    soundfile.write(path, samples, 8000, subtype="FLOAT")
    assert main(["transcribe", "--model", "digits", str(path), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"asr: warning: {path}: float samples reach 50") and err.count("\n") == 1


def test_a_sample_rate_too_low_for_speech_is_an_error_naming_the_file(tmp_path, capsys):
    path = tmp_path / "1hz.wav"
    soundfile.write(path, np.zeros(10, np.int16), 1)
    assert main(["transcribe", "--model", "digits", str(path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == f"asr: error: {path}: sample rate 1 Hz is too low to hold speech (at least 4000 Hz)\n"


def test_a_truncated_wav_is_transcribed_with_a_one_line_warning_naming_it(tmp_path, samples_dir, capsys):
    import warnings

    from asr.audio.load import AudioWarning, load_audio, load_audio_bytes, stream_audio
    whole = (samples_dir / "fsdd-0_jackson_0.wav").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(whole[:len(whole) * 2 // 3])  # a copy cut short: the header still gives the whole length
    with pytest.warns(AudioWarning, match=r"cut\.wav: truncated WAV file: its header says 0\.\d\d s"):
        cut = load_audio(path)
    with pytest.warns(AudioWarning, match="^-: truncated WAV file"):
        assert np.array_equal(load_audio_bytes(path.read_bytes()), cut)
    with pytest.warns(AudioWarning, match="truncated WAV file"):
        assert sum(map(len, stream_audio(path))) == len(cut)
    assert 0 < len(cut) < len(load_audio(samples_dir / "fsdd-0_jackson_0.wav"))
    open_ended = tmp_path / "piped.wav"  # a writer into a pipe leaves the lengths at 0xFFFFFFFF: not truncated
    data = bytearray(whole)
    data[4:8] = data[data.index(b"data") + 4:data.index(b"data") + 8] = b"\xff\xff\xff\xff"
    open_ended.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        load_audio(open_ended)
        load_audio(samples_dir / "fsdd-0_jackson_0.wav")
    assert main(["transcribe", "--model", "digits", str(path), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"asr: warning: {path}: truncated WAV file") and err.count("\n") == 1
    assert out.strip()  # what is there is transcribed
