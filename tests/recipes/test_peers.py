"""recipes/mini_librispeech/peers.py: a peer's hypotheses become an `asr evaluate --out` score folder, scored by
our normaliser and WER, that robustness_table.py reads; a missing peer package is one line, not a traceback."""
import json
import sys

import pytest
from conftest import REPO_ROOT, write_manifest

from asr import metrics

sys.path.insert(0, str(REPO_ROOT / "recipes" / "mini_librispeech"))
import peers  # noqa: E402
import robustness_table  # noqa: E402

LONG_ID, SHORT_ID = "1272-135031-0006", "2428-83699-0011"


def test_score_folder_is_normalised_like_ours_and_read_by_the_table(tmp_path, sample_rows):
    rows = [sample_rows[LONG_ID], {**sample_rows[SHORT_ID], "id": "gone", "audio": str(tmp_path / "missing.wav")},
            sample_rows[SHORT_ID]]
    manifest = write_manifest(tmp_path / "clean.jsonl", rows)
    said = {4.09: "I also offered to help your brother, to ESCAPE -- but he would not go!",
            2.575: "All night it had been blowing and raining 2 days."}
    transcribe = lambda samples: said[round(len(samples) / peers.RATE_HZ, 3)]  # noqa: E731
    out = tmp_path / "peer" / "clean"
    scores, summary = peers.score_peer(transcribe, manifest, out)

    recogs = (out / "recogs.txt").read_text().splitlines()
    assert recogs[0] == (f"{LONG_ID}\tref=i also offered to help your brother to escape but he would not go"
                         "\thyp=i also offered to help your brother to escape but he would not go")
    assert recogs[1].endswith("hyp=all night it had been blowing and raining days")  # digits are not words
    assert json.loads((out / "wer.json").read_text()) == scores.as_dict()
    assert scores == metrics.score([r["text"] for r in rows[::2]], list(said.values()))
    assert (scores.insertions, scores.reference_words, summary["skipped"]) == (1, 22, 1)
    assert robustness_table.common_scores({"peer": robustness_table.recogs_of(tmp_path / "peer")}) == (
        {"peer": {"clean": pytest.approx(1 / 22)}}, 2)


@pytest.mark.parametrize("peer,package", [("pocketsphinx", "pocketsphinx"), ("whisper-tiny.en", "faster_whisper")])
def test_a_missing_package_is_one_line(tmp_path, monkeypatch, capsys, sample_rows, peer, package):
    monkeypatch.setitem(sys.modules, package, None)  # import fails
    manifest = write_manifest(tmp_path / "m.jsonl", [sample_rows[SHORT_ID]])
    assert peers.main([str(manifest), "--peer", peer, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "pip install" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_pocketsphinx_hears_the_short_sample(tmp_path, sample_rows):
    pytest.importorskip("pocketsphinx")
    manifest = write_manifest(tmp_path / "m.jsonl", [sample_rows[SHORT_ID]])
    assert peers.main([str(manifest), "--peer", "pocketsphinx", "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["peer"] == "pocketsphinx" and summary["utterances"] == 1 and summary["wer"] < 0.75
