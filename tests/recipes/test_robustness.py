"""recipes/mini_librispeech/robustness.py: the robustness benchmark's corrupted copies are written with their
manifests, drawn from the seed (the corruptions themselves: tests/training/test_augment.py)."""
import json
import sys

import numpy as np
import pytest
import soundfile
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "recipes" / "mini_librispeech"))
import robustness  # noqa: E402


def test_main_writes_each_copy_with_a_manifest_drawn_from_the_seed(tmp_path):
    manifest = tmp_path / "dev.jsonl"
    rows = [json.loads(line) for line in (REPO_ROOT / "samples" / "samples.jsonl").read_text().splitlines()][:3]
    manifest.write_text("".join(json.dumps({**r, "audio": str(REPO_ROOT / "samples" / r["audio"])}) + "\n"
                                for r in rows))
    copies = ["pink-10db", "telephone", "gain-minus20db"]
    for out in (tmp_path / "a", tmp_path / "b"):
        assert robustness.main([str(manifest), str(out), "--every", "2", "--copies", *copies]) == 0
    for name in copies:
        lines = (tmp_path / "a" / f"{name}.jsonl").read_text().splitlines()
        assert [json.loads(line)["id"] for line in lines] == [rows[0]["id"], rows[2]["id"]]
        for line in lines:
            relative = json.loads(line)["audio"]  # relative to the manifest's folder
            a, rate = soundfile.read(tmp_path / "a" / relative)
            b, _ = soundfile.read(tmp_path / "b" / relative)
            assert rate == (8000 if name == "telephone" else 16000) and np.array_equal(a, b)  # the same draw
    clean, _ = soundfile.read(REPO_ROOT / "samples" / rows[0]["audio"])
    quiet, _ = soundfile.read(tmp_path / "a" / "gain-minus20db" / f"{rows[0]['id']}.wav")
    assert np.sqrt(np.mean(quiet ** 2)) / np.sqrt(np.mean(clean ** 2)) == pytest.approx(0.1, abs=0.005)  # -20 dB


def test_the_table_has_a_column_per_model_on_the_clips_all_have_each_copy_over_that_models_clean(tmp_path, capsys):
    import robustness_table

    from asr import metrics
    ref = "a b c d e f g h i j".split()
    said = lambda errors: " ".join(["x"] * errors + ref[errors:])  # noqa: E731
    # errors in each clip's 10 words; b scored u0 alone (a peer on a subset)
    errors = {"a": {"clean": {"u0": 4, "u1": 0}, "reverb": {"u0": 8, "u1": 8, "u2": 0}},
              "b": {"clean": {"u0": 2}, "reverb": {"u0": 3}, "telephone": {"u0": 5}}}
    for model, copies in errors.items():
        for copy, clips in copies.items():
            metrics.write_report(tmp_path / model / copy, list(clips), [" ".join(ref)] * len(clips),
                                 [said(e) for e in clips.values()])
    assert robustness_table.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| copy (1 clips) | a | b |"
    assert lines[2:] == ["| clean | 40.00% (1.00) | 20.00% (1.00) |", "| telephone | - | 50.00% (2.50) |",
                         "| reverb | 80.00% (2.00) | 30.00% (1.50) |"]
    assert robustness_table.main([str(tmp_path / "a")]) == 0  # u0 and u1: u2 has no clean
    assert capsys.readouterr().out.splitlines()[2:] == ["| clean | 20.00% (1.00) |", "| reverb | 80.00% (4.00) |"]
    (tmp_path / "c").mkdir()
    with pytest.raises(SystemExit, match="no clean"):
        robustness_table.main([str(tmp_path / "c")])
