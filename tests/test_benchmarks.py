"""benchmarks/run.py --quick runs end to end and writes every section with positive figures (so it cannot rot)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from asr.models import shipped

ROOT = Path(__file__).resolve().parents[1]


def positive(value) -> bool:
    return isinstance(value, (int, float)) and value > 0


def test_quick_benchmark_writes_all_sections(tmp_path):
    out = tmp_path / "x.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| asr.audio.features.log_mel (NumPy) |" in done.stdout  # the markdown report is printed
    results = json.loads(out.read_text())

    assert results["quick"] is True
    assert results["machine"]["cpu"] and positive(results["machine"]["cores"])
    assert results["machine"]["tensorflow"]

    front_end = results["front_end"]["results"]
    assert len(front_end) == 4
    assert all(positive(r["median_s"]) and positive(r["audio_s_per_s"]) for r in front_end)
    assert results["front_end"]["max_log_difference_vs_librosa"] < 1e-3  # the same computation is being timed

    assert [r["recipe"] for r in results["training"]] == ["mini_librispeech", "fsdd"]
    for row in results["training"]:
        assert all(positive(row[k]) for k in ("parameters", "batch", "clip_s", "median_step_s", "audio_s_per_s"))

    if not shipped():
        pytest.skip("no shipped model: the inference section is empty")
    assert sorted({r["model"] for r in results["inference"]}) == shipped()
    for row in results["inference"]:
        assert all(positive(row[k]) for k in ("parameters", "model_npz_bytes", "audio_s", "acoustic_rtf",
                                              "greedy_rtf", "beam_rtf", "default_rtf"))
    assert {(r["format"], r["quantize"]) for r in results["export"]} == {
        ("savedmodel", "none"), ("tflite", "none"), ("tflite", "dynamic"), ("tflite", "int8")}
    assert {r["model"] for r in results["export"]} == {"digits"}  # --quick exports the small model only
    for row in results["export"]:
        assert all(positive(row[k]) for k in ("bytes", "export_s", "audio_s", "acoustic_rtf", "greedy_rtf"))
    assert "## Exported models" in done.stdout


def test_long_audio_benchmark_measures_memory_and_speed(tmp_path):
    out = tmp_path / "long.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "long_audio.py"), "--minutes", "0.6",
                           "--model", "digits", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [round(r["audio_s"]) for r in rows] == [3, 36]  # the baseline clip, then the 0.6-minute recording
    assert all(positive(r[k]) for r in rows for k in ("peak_rss_mb", "wall_s", "rtf_including_startup", "words"))
    assert "| 0.60 min |" in done.stdout


@pytest.mark.skipif("digits-stream" not in shipped(), reason="no shipped streaming model")
def test_streaming_benchmark_runs_and_reports_latency(tmp_path):
    """benchmarks/streaming.py on two real digit clips, 1 and 2 streams at real-time speed: every figure is there
    and plausible (each final within a second of the speech end)."""
    out = tmp_path / "s.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "streaming.py"), "--model", "digits-stream",
                           "--streams", "1", "2", "--chunk-ms", "40", "--clips", "2", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["results"]
    assert [(r["streams"], r["clips"]) for r in rows] == [(1, 2), (2, 4)]
    for r in rows:
        # a clip the model hears no word in has no final (no final is empty)
        assert r["missing_finals"] < r["clips"] and 0 < r["final_latency_ms"]["max"] < 1500
        assert 0 < r["event_interval_ms"]["median"] < 1000 and positive(r["compute_rtf_per_stream"])
        # agreement with offline is for the benchmark to report (accuracy is tests/live/test_streaming.py's job)
        assert 0 <= r["identical_to_offline"] <= r["clips"] and r["finals_vs_offline_wer"] is not None


def test_startup_benchmark_measures_cold_start(tmp_path):
    out = tmp_path / "startup.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["cold_start"]["runs"] == 2
    assert positive(result["cold_start"]["wall_s"]["median"]) and positive(result["cold_start"]["peak_rss_mb"]["max"])
