"""The `asr` command, run as a real process (`python -m asr.cli`) for its contract (exit codes, stdout/stderr,
one record per input); output renderings are checked in-process through `asr.cli.main`, which is the same code
without the ~6 s TensorFlow start-up per call."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asr import load_model
from asr.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
DIGITS = {"fsdd-0_jackson_0.wav": "zero", "fsdd-7_nicolas_1.wav": "seven", "fsdd-9_yweweler_2.wav": "nine"}
LIBRI = "librispeech-2428-83699-0011.opus"
WORD_KEYS = {"word", "start_s", "end_s", "confidence"}


def asr(*args, cwd=REPO_ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ASR_VERBOSE"}
    return subprocess.run([sys.executable, "-m", "asr.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def records(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    assert all(line.startswith("{") for line in lines), stdout  # nothing but JSON lines on stdout
    return [json.loads(line) for line in lines]


CLOSING = re.compile(r"asr: (\d+) of (\d+) file\(s\) transcribed, ([\d.]+) s of audio in ([\d.]+) s "
                     r"\(real-time factor ([\d.]+|-)\)")


def assert_clean_stderr(stderr: str, errors: int):
    """Exactly `errors` one-line "asr: error: ..." messages, then at most the closing summary line of
    `transcribe`; no traceback, no library noise."""
    lines = stderr.splitlines()
    assert "Traceback" not in stderr
    if lines and CLOSING.fullmatch(lines[-1]):
        lines = lines[:-1]
    assert len(lines) == errors, stderr
    assert all(line.startswith("asr: error: ") for line in lines), stderr


def assert_transcript_record(rec: dict, text: str):
    assert set(rec) == {"path", "text", "duration_s", "words"}
    assert rec["text"] == text
    assert rec["duration_s"] > 0
    assert [w["word"] for w in rec["words"]] == text.split()
    for w in rec["words"]:
        assert set(w) == WORD_KEYS
        assert 0 <= w["start_s"] < w["end_s"] <= rec["duration_s"] + 1e-3 and 0 <= w["confidence"] <= 1


# --- transcribe: one record per input, in order; bad inputs reported in place --------------------------------

@pytest.fixture(scope="module")
def jsonl_run():
    order = ["fsdd-7_nicolas_1.wav", "fsdd-0_jackson_0.wav", "fsdd-9_yweweler_2.wav"]  # not sorted on purpose
    paths = [f"samples/{name}" for name in order]
    return paths, asr("transcribe", "--model", "digits", *paths, "--format", "jsonl")


def test_transcribe_jsonl_one_object_per_input_in_order(jsonl_run):
    paths, run = jsonl_run
    assert run.returncode == 0, run.stderr
    recs = records(run.stdout)
    assert [r["path"] for r in recs] == paths
    for rec, path in zip(recs, paths):
        assert_transcript_record(rec, DIGITS[Path(path).name])


def test_transcribe_writes_only_its_closing_line_to_stderr_on_success(jsonl_run):
    paths, run = jsonl_run
    closing = CLOSING.fullmatch(run.stderr.rstrip("\n"))
    assert closing, run.stderr
    done, total, audio_s, wall_s, rtf = closing.groups()
    assert int(done) == int(total) == len(paths)
    assert float(audio_s) == pytest.approx(sum(r["duration_s"] for r in records(run.stdout)), abs=0.06)
    assert float(rtf) == pytest.approx(float(wall_s) / float(audio_s), abs=0.002 + 0.06 / float(audio_s))


def test_quiet_transcribe_writes_nothing_to_stderr(samples_dir):
    run = asr("transcribe", "--model", "digits", samples_dir / "fsdd-0_jackson_0.wav", "--quiet")
    assert run.returncode == 0 and run.stdout == "zero\n" and run.stderr == ""


def test_a_bad_file_in_a_batch_is_reported_in_its_place(tmp_path, samples_dir):
    bad = tmp_path / "bad.wav"
    bad.write_text("this is not audio\n")
    missing = tmp_path / "missing.wav"
    paths = [samples_dir / "fsdd-0_jackson_0.wav", bad, missing, samples_dir / "fsdd-9_yweweler_2.wav"]
    run = asr("transcribe", "--model", "digits", *paths, "--format", "jsonl")
    assert run.returncode == 1
    recs = records(run.stdout)
    assert [r["path"] for r in recs] == [str(p) for p in paths]
    assert_transcript_record(recs[0], "zero")
    assert_transcript_record(recs[3], "nine")
    assert set(recs[1]) == set(recs[2]) == {"path", "error"}
    assert recs[1]["error"].startswith(f"{bad}: not a readable audio file")
    assert recs[2]["error"] == f"{missing}: no such file or directory"
    assert_clean_stderr(run.stderr, errors=2)
    # the missing path is told before the model loads; the unreadable file when its turn comes
    assert str(missing) in run.stderr.splitlines()[0] and str(bad) in run.stderr.splitlines()[1]


def test_missing_paths_are_told_before_the_model_loads_and_no_model_loads_for_none(tmp_path, samples_dir):
    missing = tmp_path / "missing.wav"
    run = asr("transcribe", "--model", tmp_path / "no-such-model", missing, samples_dir / "fsdd-0_jackson_0.wav")
    assert run.returncode == 2  # the model is a usage error, but the missing input was named first
    lines = run.stderr.splitlines()
    assert lines[0] == f"asr: error: {missing}: no such file or directory", lines
    assert "no-such-model" in lines[1] and "Traceback" not in run.stderr
    run = asr("transcribe", "--model", tmp_path / "no-such-model", missing, "--format", "jsonl")
    assert run.returncode == 1  # nothing to transcribe: the model is never loaded
    assert records(run.stdout) == [{"path": str(missing), "error": f"{missing}: no such file or directory"}]
    assert "no-such-model" not in run.stderr


def test_folders_are_walked_recursively_and_an_empty_one_is_an_error(tmp_path, samples_dir):
    tree, empty = tmp_path / "tree", tmp_path / "no-audio"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "c").mkdir()
    empty.mkdir()
    shutil.copy(samples_dir / "fsdd-0_jackson_0.wav", tree / "a" / "b" / "x.wav")
    shutil.copy(samples_dir / "fsdd-7_nicolas_1.wav", tree / "c" / "y.WAV")
    (tree / "notes.txt").write_text("not audio, not listed\n")
    (empty / "readme.txt").write_text("no audio here\n")
    run = asr("transcribe", "--model", "digits", tree, empty, "--format", "jsonl")
    assert run.returncode == 1
    recs = records(run.stdout)
    assert [r["path"] for r in recs] == [str(tree / "a" / "b" / "x.wav"), str(tree / "c" / "y.WAV"), str(empty)]
    assert [r.get("text") for r in recs[:2]] == ["zero", "seven"]
    assert recs[2] == {"path": str(empty), "error": f"{empty}: no audio files found"}
    assert_clean_stderr(run.stderr, errors=1)


# --- usage errors: exit 2, one line ---------------------------------------------------------------------------

def test_an_unknown_format_is_a_usage_error(samples_dir):
    run = asr("transcribe", "--model", "digits", samples_dir / "fsdd-0_jackson_0.wav", "--format", "docx")
    assert run.returncode == 2
    assert run.stdout == "" and "Traceback" not in run.stderr
    assert "invalid choice: 'docx'" in run.stderr


def test_an_unknown_model_is_a_one_line_usage_error(samples_dir):
    run = asr("transcribe", "--model", "no-such-model", samples_dir / "fsdd-0_jackson_0.wav")
    assert run.returncode == 2
    assert run.stdout == ""
    assert_clean_stderr(run.stderr, errors=1)
    assert "no-such-model: no such model; shipped models: digits" in run.stderr


@pytest.mark.parametrize("argv", [["transcribe"], ["evaluate", "m.jsonl"], ["frobnicate"], []])
def test_missing_or_unknown_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("asr") and "error:" in err and "--help)" in err


@pytest.mark.parametrize("argv, option", [
    (["transcribe", "x.wav", "--beam", "0"], "--beam"), (["transcribe", "x.wav", "--beam", "-3"], "--beam"),
    (["transcribe", "x.wav", "--lm-weight", "nan"], "--lm-weight"),
    (["transcribe", "x.wav", "--lm-weight", "inf"], "--lm-weight"),
    (["transcribe", "x.wav", "--lm-weight", "1e9"], "--lm-weight"),
    (["transcribe", "x.wav", "--word-bonus", "nan"], "--word-bonus"),
    (["evaluate", "m.jsonl", "--out", "o", "--beam", "0"], "--beam"),
    (["stream", "--word-bonus", "-inf"], "--word-bonus"),
])
def test_a_bad_decoding_option_is_a_one_line_usage_error_naming_it(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {option}" in err


def test_version(capsys):
    from asr import __version__
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"asr {__version__}"


def test_a_missing_default_model_is_a_one_line_usage_error(samples_dir, capsys, monkeypatch):
    from asr import models
    monkeypatch.setattr(models, "DEFAULT_MODEL", "not-shipped")  # as if the package had lost its default model
    assert main(["transcribe", str(samples_dir / "fsdd-0_jackson_0.wav")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("asr: error: not-shipped: no such model; shipped models: "
                                 f"{', '.join(models.shipped())}, or give a model directory\n")


# --- renderings (in-process) ----------------------------------------------------------------------------------

def transcribe_in_process(capsys, *args) -> tuple[int, str, str]:
    code = main(["transcribe", "--model", "digits", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_of_one_input_is_just_the_text(samples_dir, capsys):
    code, out, err = transcribe_in_process(capsys, samples_dir / "fsdd-0_jackson_0.wav")
    assert (code, out) == (0, "zero\n")
    assert_clean_stderr(err, errors=0)


def test_alternatives_in_jsonl_and_text(samples_dir, capsys):
    clip = samples_dir / "fsdd-7_nicolas_1.wav"
    code, out, _ = transcribe_in_process(capsys, clip, "--alternatives", "3", "--format", "jsonl", "--no-lexicon")
    rec = records(out)[0]
    assert code == 0 and len(rec["alternatives"]) == 3 and rec["alternatives"][0]["text"] == rec["text"]
    scores = [a["score"] for a in rec["alternatives"]]
    assert scores == sorted(scores, reverse=True) and len({a["text"] for a in rec["alternatives"]}) == 3
    code, out, _ = transcribe_in_process(capsys, clip, "--alternatives", "3", "--no-lexicon")
    lines = out.splitlines()
    assert lines[0] == rec["text"] and len(lines) == 3
    assert all(re.fullmatch(r"  alternative \(-?[\d.]+\): .*", line) for line in lines[1:]), out


@pytest.mark.parametrize("flags, message", [(["--hotword", "x:y"], "hotword 'x:y': boost 'y' is not a number"),
                                            (["--hotword", "two words"], "must be one word"),
                                            (["--alternatives", "0"], "--alternatives must be at least 1")])
def test_bad_decoding_flags_are_one_line_usage_errors(samples_dir, capsys, flags, message):
    code, out, err = transcribe_in_process(capsys, samples_dir / "fsdd-7_nicolas_1.wav", *flags)
    assert code == 2 and out == ""
    assert_clean_stderr(err, errors=1)
    assert message in err


def test_a_hotword_changes_the_beam_search(samples_dir, capsys):
    clip = samples_dir / "fsdd-7_nicolas_1.wav"
    english = ["--model", "english", "--no-lm", "--beam", "8"]
    _, plain, _ = transcribe_in_process(capsys, clip, *english)
    _, boosted, _ = transcribe_in_process(capsys, clip, *english, "--hotword", "seven:20")
    assert plain.strip() != "seven" and boosted.strip() == "seven"


def test_text_of_several_inputs_is_path_tab_text(samples_dir, capsys):
    paths = [samples_dir / name for name in DIGITS]
    code, out, _ = transcribe_in_process(capsys, *paths, "--format", "text")
    assert code == 0
    assert out.splitlines() == [f"{p}\t{text}" for p, text in zip(paths, DIGITS.values())]


def test_json_is_one_array_of_records(samples_dir, capsys):
    paths = [samples_dir / name for name in DIGITS] + [samples_dir / "missing.wav"]
    code, out, err = transcribe_in_process(capsys, *paths, "--format", "json")
    assert code == 1
    recs = json.loads(out)
    assert [r["path"] for r in recs] == [str(p) for p in paths]
    for rec, text in zip(recs, DIGITS.values()):
        assert_transcript_record(rec, text)
    assert set(recs[3]) == {"path", "error"}
    assert_clean_stderr(err, errors=1)


SRT_TIMING = re.compile(r"^00:00:00,000 --> 00:00:00,\d{3}$")
VTT_TIMING = re.compile(r"^00:00:00\.000 --> 00:00:00\.\d{3}$")


def test_srt_of_one_input(samples_dir, capsys):
    code, out, _ = transcribe_in_process(capsys, samples_dir / "fsdd-0_jackson_0.wav", "--format", "srt")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "1" and SRT_TIMING.match(lines[1]) and lines[2] == "zero"
    assert lines[3:] == [""]


def test_vtt_of_one_input(samples_dir, capsys):
    code, out, _ = transcribe_in_process(capsys, samples_dir / "fsdd-7_nicolas_1.wav", "--format", "vtt")
    assert code == 0
    assert out.startswith("WEBVTT\n\n")
    lines = out.splitlines()
    assert VTT_TIMING.match(lines[2]) and lines[3] == "seven"


def test_srt_of_several_inputs_has_a_header_per_input(samples_dir, capsys):
    paths = [samples_dir / name for name in DIGITS]
    code, out, _ = transcribe_in_process(capsys, *paths, "--format", "srt")
    assert code == 0
    blocks = out.split("==> ")[1:]
    assert [b.splitlines()[0] for b in blocks] == [f"{p} <==" for p in paths]
    for block, text in zip(blocks, DIGITS.values()):
        lines = block.splitlines()
        assert lines[1] == "1" and SRT_TIMING.match(lines[2]) and lines[3] == text


def test_a_trained_model_directory_works_as_model(tiny_model_dir, samples_dir, capsys):
    code = main(["transcribe", "--model", str(tiny_model_dir), str(samples_dir / LIBRI)])
    assert (code, capsys.readouterr().out) == (0, "all night it had been blowing and raining\n")


def test_no_lexicon_flag_decodes_greedily(samples_dir, capsys):
    code = main(["transcribe", "--model", "digits", "--no-lexicon", str(samples_dir / "fsdd-9_yweweler_2.wav")])
    assert (code, capsys.readouterr().out) == (0, "nine\n")


# --- --output-dir -------------------------------------------------------------------------------------------

def test_output_dir_gets_one_file_per_input_and_a_summary(tmp_path, samples_dir):
    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copy(samples_dir / "fsdd-0_jackson_0.wav", twin / "fsdd-0_jackson_0.wav")  # same name, other folder
    paths = [samples_dir / name for name in DIGITS] + [twin / "fsdd-0_jackson_0.wav"]
    out = tmp_path / "out"
    run = asr("transcribe", "--model", "digits", *paths, "--format", "srt", "--output-dir", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert_clean_stderr(run.stderr, errors=0)
    assert sorted(p.name for p in out.iterdir()) == ["fsdd-0_jackson_0-2.srt", "fsdd-0_jackson_0.srt",
                                                     "fsdd-7_nicolas_1.srt", "fsdd-9_yweweler_2.srt", "summary.jsonl"]
    for name, text in [*((Path(n).stem, t) for n, t in DIGITS.items()), ("fsdd-0_jackson_0-2", "zero")]:
        lines = (out / f"{name}.srt").read_text().splitlines()
        assert lines[0] == "1" and SRT_TIMING.match(lines[1]) and lines[2] == text
    summary = records((out / "summary.jsonl").read_text())
    assert [r["path"] for r in summary] == [str(p) for p in paths]
    assert [r["text"] for r in summary] == [*DIGITS.values(), "zero"]
    assert [Path(r["output"]).name for r in summary] == [f"{Path(n).stem}.srt" for n in DIGITS] + [
        "fsdd-0_jackson_0-2.srt"]  # which file holds which input's transcript


def test_output_dir_keeps_the_paths_inside_a_folder(tmp_path, samples_dir):
    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir(parents=True)
    shutil.copy(samples_dir / "fsdd-0_jackson_0.wav", tmp_path / "in" / "a" / "x.wav")
    shutil.copy(samples_dir / "fsdd-7_nicolas_1.wav", tmp_path / "in" / "b" / "x.wav")
    out = tmp_path / "out"
    assert main(["transcribe", "--model", "digits", str(tmp_path / "in"), "--output-dir", str(out), "--quiet"]) == 0
    assert (out / "a" / "x.txt").read_text() == "zero\n" and (out / "b" / "x.txt").read_text() == "seven\n"
    summary = records((out / "summary.jsonl").read_text())
    assert [r["output"] for r in summary] == [str(out / "a" / "x.txt"), str(out / "b" / "x.txt")]


def test_audio_on_standard_input(samples_dir):
    run = subprocess.run([sys.executable, "-m", "asr.cli", "transcribe", "-", "--model", "digits", "--quiet"],
                         input=(samples_dir / "fsdd-9_yweweler_2.wav").read_bytes(), capture_output=True,
                         cwd=REPO_ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode().strip() == "nine"
    empty = subprocess.run([sys.executable, "-m", "asr.cli", "transcribe", "-", "--model", "digits", "--quiet"],
                           input=b"", capture_output=True, cwd=REPO_ROOT, timeout=300)
    assert empty.returncode == 1 and b"asr: error: -: no data (pipe an audio file into it)" in empty.stderr
    assert b"Traceback" not in empty.stderr


def test_fewer_alternatives_than_asked_are_noted(samples_dir, capsys):
    assert main(["transcribe", "--model", "digits", str(samples_dir / "fsdd-7_nicolas_1.wav"),
                 "--alternatives", "50", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"asr: note: .*fsdd-7_nicolas_1.wav: \d+ of the 50 alternatives asked for exist", err)


# --- models, evaluate, train ----------------------------------------------------------------------------------

def test_models_lists_digits_in_a_table_that_fits_100_columns():
    run = asr("models")
    assert run.returncode == 0 and run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "weights", "params"]
    assert any(line.split()[0] == "digits" and "WER 0.0%" in line for line in lines[1:])
    assert max(map(len, lines)) <= 100


def test_models_name_gives_the_details(capsys):
    assert main(["models", "digits"]) == 0
    out = capsys.readouterr().out
    assert "2 x BiLSTM-128" in out and "FSDD test: WER 0.00%" in out and "card:" in out
    assert max(map(len, out.splitlines())) <= 100
    assert main(["models", "no-such-model"]) == 2


@pytest.mark.parametrize("command", [["transcribe"], ["evaluate"], ["export"], ["plot"]])
def test_help_names_the_model_used_when_none_is_given(command, capsys):
    from asr.models import DEFAULT_MODEL
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, even at a hyphen
    assert f"default:{DEFAULT_MODEL}" in help_text


def test_evaluate_writes_recogs_errs_and_wer(tmp_path, sample_rows):
    rows = [sample_rows["0_jackson_0"], sample_rows["7_nicolas_1"],
            {**sample_rows["9_yweweler_2"], "id": "gone", "audio": str(tmp_path / "gone.wav")},
            sample_rows["9_yweweler_2"], sample_rows["2428-83699-0011"]]  # the last is beyond --limit
    manifest = tmp_path / "digits.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    run = asr("evaluate", manifest, "--model", "digits", "--out", out, "--limit", 4)
    assert run.returncode == 1, run.stderr  # scored, but one clip could not be read: like transcribe, exit 1
    assert "Traceback" not in run.stderr
    assert f"skipped {tmp_path / 'gone.wav'}: no such file" in run.stderr  # reported on stderr, not fatal
    assert {p.name for p in out.iterdir()} == {"recogs.txt", "errs.txt", "wer.json", "summary.json"}
    wer = json.loads((out / "wer.json").read_text())
    assert wer["wer"] == 0.0 and wer["cer"] == 0.0 and wer["utterances"] == 3 and wer["reference_words"] == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["wer"] == 0.0 and summary["skipped"] == 1 and summary["utterances"] == 3
    assert summary["beam_width"] >= 8 and summary["model"].endswith("digits")
    assert (out / "recogs.txt").read_text().splitlines() == [
        "0_jackson_0\tref=zero\thyp=zero", "7_nicolas_1\tref=seven\thyp=seven", "9_yweweler_2\tref=nine\thyp=nine"]
    assert "WER" in run.stdout


def test_train_through_the_cli_creates_an_experiment(tmp_path, digits_manifest):
    out = tmp_path / "exp"
    run = asr("train", "--train", digits_manifest, "--valid", digits_manifest, "--out", out,
              "--set", "model.units=16", "--set", "model.layers=1", "--set", "model.stack_frames=3",
              "--set", "model.dropout=0.0", "--set", "train.epochs=1", "--set", "train.spec_augment=false",
              "--set", "train.batch_frames=300", "--set", "train.validate_utterances=0")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    # no native TensorFlow log line ("E0000 00:00:... failed call to cuInit" on a machine without a GPU)
    assert not re.search(r"^[EWIF]\d{4} ", run.stderr, re.M), run.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["units"] == 16 and config["model"]["layers"] == 1 and config["train"]["epochs"] == 1
    assert config["train"]["spec_augment"] is False
    assert [json.loads(line)["epoch"] for line in (out / "train_log.jsonl").read_text().splitlines()] == [1]
    assert {"model.npz", "config.json", "tokens.txt", "metrics.json"} <= {p.name for p in (out / "best").iterdir()}
    assert list((out / "checkpoints").glob("step-*"))
    assert "epoch 1:" in run.stdout
    model = load_model(str(out / "best"))
    assert model.config.model.units == 16


def test_train_with_an_unknown_key_is_a_one_line_error(tmp_path, digits_manifest):
    out = tmp_path / "exp"
    run = asr("train", "--train", digits_manifest, "--valid", digits_manifest, "--out", out,
              "--set", "model.unitz=16")
    assert run.returncode == 2
    assert_clean_stderr(run.stderr, errors=1)
    assert "unknown config key(s) in model: unitz" in run.stderr
    assert not out.exists()


@pytest.mark.parametrize("setting, message", [
    ("model.units", "must look like section.key=value"),
    ("trainer.epochs=1", "unknown config key(s) in top level: trainer"),
    ("model=3", "config section model must be a table"),
])
def test_train_rejects_bad_overrides_in_one_line(tmp_path, digits_manifest, capsys, setting, message):
    out = tmp_path / "exp"
    code = main(["train", "--train", str(digits_manifest), "--valid", str(digits_manifest), "--out", str(out),
                 "--set", setting])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_train_with_a_missing_config_file_is_a_one_line_error(tmp_path, digits_manifest, capsys):
    code = main(["train", "--config", str(tmp_path / "nope.toml"), "--train", str(digits_manifest),
                 "--valid", str(digits_manifest), "--out", str(tmp_path / "exp")])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "nope.toml" in err


def test_train_names_the_missing_one_of_several_training_manifests(tmp_path, digits_manifest, capsys):
    gone = tmp_path / "gone.jsonl"
    code = main(["train", "--train", str(digits_manifest), str(gone), "--valid", str(digits_manifest),
                 "--out", str(tmp_path / "exp")])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [f"asr: error: {gone}: no such manifest"]
    assert not (tmp_path / "exp").exists()


def test_evaluate_draws_no_progress_bars_into_a_log(tmp_path, samples_dir):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "audio": str(samples_dir / "fsdd-7_nicolas_1.wav"), "text": "seven",
                                    "duration_s": 0.46}) + "\n")
    run = asr("evaluate", manifest, "--model", "digits", "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr + run.stdout and "clip/s" not in run.stderr + run.stdout
