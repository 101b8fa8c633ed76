"""recipes/speechocean762/split_speakers.py: speechocean762 split by speaker into training and held-back clips (the
"other corpora as training data" ablation of the English recipe)."""
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, load_script

from asr.manifest import Utterance, read_manifest, write_manifest

SCRIPT = REPO_ROOT / "recipes" / "speechocean762" / "split_speakers.py"


@pytest.fixture(scope="module")
def split():
    return load_script(SCRIPT, "split_speakers")


def corpus(speakers=10, clips=3):
    return [Utterance(f"{s:04d}{c:04d}", f"/corpus/WAVE/SPEAKER{s:04d}/{s:04d}{c:04d}.opus", "ONE TWO", 1.0)
            for s in range(1, speakers + 1) for c in range(clips)]


def test_every_fourth_speaker_is_held_back_whole(split):
    utterances = corpus()
    train, held = split.split_by_speaker(utterances, every=4)
    assert {split.speaker(u) for u in held} == {"SPEAKER0004", "SPEAKER0008"}
    assert not {split.speaker(u) for u in train} & {split.speaker(u) for u in held}
    assert sorted(train + held, key=lambda u: u.id) == sorted(utterances, key=lambda u: u.id)
    assert len(held) == 6 and len(train) == 24


def test_the_order_of_the_manifest_does_not_change_the_split(split):
    utterances = corpus()
    _, held = split.split_by_speaker(utterances, every=3)
    _, held_reversed = split.split_by_speaker(utterances[::-1], every=3)
    assert {u.id for u in held} == {u.id for u in held_reversed}


def test_every_below_two_is_refused(split):
    with pytest.raises(ValueError, match="at least 2"):
        split.split_by_speaker(corpus(), every=1)


def test_command_writes_both_manifests(tmp_path):
    write_manifest(tmp_path / "train.jsonl", corpus(speakers=8, clips=2))
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "train.jsonl"), str(tmp_path / "split")],
                         capture_output=True, text=True, check=True).stdout
    assert "train_speakers: 6 speakers, 12 clips" in out and "heldout_speakers: 2 speakers, 4 clips" in out
    assert len(read_manifest(tmp_path / "split" / "heldout_speakers.jsonl")) == 4
    assert len(read_manifest(tmp_path / "split" / "train_speakers.jsonl")) == 12
