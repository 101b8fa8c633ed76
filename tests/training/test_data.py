"""Manifests, CTC frame needs, length-bucketed batches, padding, and cached features of generated clips."""
import json

import numpy as np
import pytest
import soundfile

import asr.training.data
from asr.audio.features import num_frames
from asr.audio.load import load_audio
from asr.config import FeatureConfig
from asr.decoding.text import Vocabulary
from asr.manifest import Utterance, read_manifest, write_manifest
from asr.training.data import (
    FeatureSet,
    change_speed,
    concatenate,
    load_features,
    make_batches,
    min_ctc_frames,
    pad_batch,
)
from asr.training.features import log_mel

CFG = FeatureConfig(num_mels=16)
VOCAB = Vocabulary()


def test_manifest_round_trip_with_relative_paths(tmp_path):
    folder = tmp_path / "data"
    absolute = str(tmp_path / "elsewhere" / "c.flac")
    utterances = [Utterance("a", "clips/a.wav", "hello world", 1.5), Utterance("b", "b.wav", "don't", 0.25),
                  Utterance("c", absolute, "", 3.0)]
    write_manifest(folder / "train.jsonl", utterances)
    assert not list(folder.glob("*.tmp"))

    lines = (folder / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"id": "a", "audio": "clips/a.wav", "text": "hello world", "duration_s": 1.5}

    read = read_manifest(folder / "train.jsonl")
    assert read == [Utterance("a", str(folder / "clips" / "a.wav"), "hello world", 1.5),
                    Utterance("b", str(folder / "b.wav"), "don't", 0.25),
                    Utterance("c", absolute, "", 3.0)]


@pytest.mark.parametrize("bad", ["{not json", '{"id": "x", "audio": "x.wav", "text": "t"}',
                                 '{"id": "x", "audio": "x.wav", "text": "t", "duration_s": "long"}'])
def test_bad_manifest_line_names_file_and_line(tmp_path, bad):
    path = tmp_path / "m.jsonl"
    good = json.dumps({"id": "a", "audio": "a.wav", "text": "a", "duration_s": 1.0})
    path.write_text(f"{good}\n\n{bad}\n{good}\n", encoding="utf-8")  # the blank line 2 still counts
    with pytest.raises(ValueError, match=f"{path}:3: (bad manifest line|manifest line lacks the key)"):
        read_manifest(path)


@pytest.mark.parametrize("text, expected", [
    ("aab", 4),  # a, a, b plus a blank between the two a's
    ("abc", 3), ("", 0), ("a", 1), ("aaa", 5), ("hello", 6), ("a a", 3),
])
def test_min_ctc_frames(text, expected):
    assert min_ctc_frames(VOCAB.encode(text)) == expected


def check_batches(batches, lengths, batch_frames, max_batch_size):
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))  # every index exactly once
    for batch in batches:
        assert 1 <= len(batch) <= max_batch_size
        assert len(batch) * lengths[batch].max() <= batch_frames or len(batch) == 1


def test_make_batches_by_hand():
    batches = make_batches([10, 10, 10, 10], batch_frames=25, max_batch_size=8, seed=0)
    assert sorted(len(b) for b in batches) == [2, 2]  # 3 x 10 > 25
    batches = make_batches([5, 30, 5], batch_frames=20, max_batch_size=8, seed=0)
    assert sorted(sorted(b.tolist()) for b in batches) == [[0, 2], [1]]  # 30 is oversized: a batch of its own
    batches = make_batches([1] * 10, batch_frames=1000, max_batch_size=4, seed=0)
    assert sorted(len(b) for b in batches) == [2, 4, 4]


def test_make_batches_properties():
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(20, 500, size=300), [2500, 4000]])  # two clips longer than a batch
    batches = make_batches(lengths, batch_frames=2000, max_batch_size=16, seed=7)
    check_batches(batches, lengths, 2000, 16)
    assert any(len(b) == 16 for b in batches)  # the size cap binds for the short clips
    assert [b.tolist() for b in batches if lengths[b].max() > 2000] in ([[300], [301]], [[301], [300]])
    # bucketed: clips are cut from the sorted order, so the length ranges of batches do not interleave
    ranges = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    assert all(high <= next_low for (_, high), (next_low, _) in zip(ranges, ranges[1:]))
    # and the batches are not handed out shortest first
    maxima = [lengths[b].max() for b in batches]
    assert maxima != sorted(maxima)


def test_make_batches_is_deterministic_for_a_seed():
    lengths = np.random.default_rng(1).integers(10, 300, size=200)
    first = make_batches(lengths, batch_frames=1500, max_batch_size=32, seed=3)
    again = make_batches(lengths, batch_frames=1500, max_batch_size=32, seed=3)
    other = make_batches(lengths, batch_frames=1500, max_batch_size=32, seed=4)
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    assert [b.tolist() for b in first] != [b.tolist() for b in other]
    check_batches(other, lengths, 1500, 32)


def feature_set(lengths, mels=4) -> FeatureSet:
    """Utterance i has all frames equal to i + 1, so every frame says where it came from."""
    parts = [np.full((n, mels), i + 1, np.float16) for i, n in enumerate(lengths)]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    frames = np.concatenate(parts) if parts else np.zeros((0, mels), np.float16)
    return FeatureSet([f"u{i}" for i in range(len(lengths))], [f"text {i}" for i in range(len(lengths))],
                      frames, offsets)


def test_pad_batch():
    features = feature_set([3, 5, 2])
    labels = [np.array([3, 4], np.int32), np.zeros(0, np.int32), np.array([5, 6, 7, 8], np.int32)]
    x, x_len, y, y_len = pad_batch(features, labels, np.array([2, 0]))
    assert x.shape == (2, 3, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x_len, [2, 3])
    np.testing.assert_array_equal(x[0, :, 0], [3, 3, 0])  # utterance 2 (value 3), zero-padded
    np.testing.assert_array_equal(x[1, :, 0], [1, 1, 1])
    assert y.shape == (2, 4) and y.dtype == np.int32
    np.testing.assert_array_equal(y, [[5, 6, 7, 8], [3, 4, 0, 0]])
    np.testing.assert_array_equal(y_len, [4, 2])


def test_pad_batch_without_labels():
    x, x_len, y, y_len = pad_batch(feature_set([3, 5, 2]), None, [1])
    assert x.shape == (1, 5, 4) and y.shape == (1, 1)
    np.testing.assert_array_equal(x_len, [5])
    np.testing.assert_array_equal(y_len, [0])


def test_center_utterances_gives_each_clip_the_model_mean():
    rng = np.random.default_rng(0)
    lengths = [7, 1, 30]
    frames = rng.normal(0, 3, [sum(lengths), 4]).astype(np.float16)
    features = asr.training.data.FeatureSet(["a", "b", "c"], ["x", "y", "z"], frames.copy(),
                                            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    target = np.array([-5.0, -4.0, 0.0, 2.0])
    asr.training.data.center_utterances(features, target)
    assert features.frames.dtype == np.float16
    for i in range(3):
        np.testing.assert_allclose(features.features(i).astype(np.float32).mean(axis=0), target, atol=0.02)
    deviation = features.features(2) - features.features(2).mean(axis=0)  # the shape within a clip is kept
    np.testing.assert_allclose(deviation, frames[8:] - frames[8:].astype(np.float32).mean(axis=0), atol=0.02)


def test_feature_set_subset():
    features = feature_set([3, 5, 2, 4])
    by_index = features.subset(np.array([3, 1]))
    assert by_index.ids == ["u3", "u1"] and by_index.texts == ["text 3", "text 1"]
    np.testing.assert_array_equal(by_index.lengths, [4, 5])
    np.testing.assert_array_equal(by_index.features(0), features.features(3))
    np.testing.assert_array_equal(by_index.features(1), features.features(1))

    by_mask = features.subset(np.array([True, False, True, False]))
    assert by_mask.ids == ["u0", "u2"] and len(by_mask) == 2
    np.testing.assert_array_equal(by_mask.offsets, [0, 3, 5])
    np.testing.assert_array_equal(by_mask.frames[:, 0], [1, 1, 1, 3, 3])

    empty = features.subset(np.zeros(4, bool))
    assert len(empty) == 0 and empty.frames.shape == (0, 4)


DURATIONS_S = {"a": 0.5, "b": 0.3, "c": 1.0}


@pytest.fixture
def clips_manifest(tmp_path):
    """Three noise clips written with soundfile plus one corrupt file, in a manifest with relative paths."""
    rng = np.random.default_rng(0)
    (tmp_path / "clips").mkdir()
    utterances = []
    for name, duration_s in DURATIONS_S.items():
        samples = (0.1 * rng.normal(size=round(16000 * duration_s))).astype(np.float32)
        soundfile.write(str(tmp_path / "clips" / f"{name}.wav"), samples, 16000, subtype="FLOAT")
        utterances.append(Utterance(name, f"clips/{name}.wav", f"text {name}", duration_s))
    (tmp_path / "clips" / "bad.wav").write_bytes(b"this is not a wav file at all")
    utterances.insert(1, Utterance("bad", "clips/bad.wav", "broken", 1.0))
    write_manifest(tmp_path / "train.jsonl", utterances)
    return tmp_path / "train.jsonl"


def test_load_features_skips_a_corrupt_clip_with_a_warning(clips_manifest, capsys):
    features = load_features(clips_manifest, CFG, progress=False)
    captured = capsys.readouterr()
    assert "warning: skipped" in captured.out + captured.err
    assert "bad.wav" in captured.out + captured.err
    assert features.ids == ["a", "b", "c"]
    assert features.texts == ["text a", "text b", "text c"]
    expected_lengths = [num_frames(round(16000 * d), CFG) for d in DURATIONS_S.values()]
    np.testing.assert_array_equal(features.lengths, expected_lengths)  # 48, 28, 98
    assert features.frames.dtype == np.float16 and features.frames.shape == (sum(expected_lengths), 16)
    audio = load_audio(clips_manifest.parent / "clips" / "b.wav")
    np.testing.assert_array_equal(features.features(1), log_mel(audio, CFG).numpy().astype(np.float16))


def test_load_features_cache(clips_manifest, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    first = load_features(clips_manifest, CFG, cache_dir=cache_dir, progress=False)
    cached = list(cache_dir.glob("*.npz"))
    assert len(cached) == 1 and cached[0].name.startswith("train-")

    def fail(*args, **kwargs):
        raise AssertionError("features recomputed instead of read from the cache")
    monkeypatch.setattr(asr.training.data, "log_mel", fail)
    monkeypatch.setattr(asr.training.data, "load_audio", fail)
    second = load_features(clips_manifest, CFG, cache_dir=cache_dir, progress=False)
    assert [str(i) for i in second.ids] == first.ids
    assert [str(t) for t in second.texts] == first.texts
    np.testing.assert_array_equal(second.frames, first.frames)
    np.testing.assert_array_equal(second.offsets, first.offsets)
    assert second.frames.dtype == np.float16

    monkeypatch.undo()
    load_features(clips_manifest, FeatureConfig(num_mels=8), cache_dir=cache_dir, progress=False)
    assert len(list(cache_dir.glob("*.npz"))) == 2  # another feature config is another cache entry


def test_load_features_survives_a_clip_shorter_than_one_window(clips_manifest):
    soundfile.write(str(clips_manifest.parent / "clips" / "tiny.wav"), np.zeros(100, np.float32), 16000)
    utterances = read_manifest(clips_manifest) + [Utterance("tiny", "clips/tiny.wav", "t", 100 / 16000)]
    write_manifest(clips_manifest, utterances)
    features = load_features(clips_manifest, CFG, progress=False)
    assert features.ids[:3] == ["a", "b", "c"]


def test_change_speed_scales_tempo_and_pitch_together():
    """Speed 1.1: the clip is 1.1 times shorter and a 1 kHz tone comes out at 1.1 kHz (0.9: the other way)."""
    rate = 16000
    tone = np.sin(2 * np.pi * 1000 * np.arange(rate) / rate).astype(np.float32)
    assert change_speed(tone, rate, 1.0) is tone
    for speed in (0.9, 1.1):
        out = change_speed(tone, rate, speed)
        assert out.dtype == np.float32 and abs(len(out) - rate / speed) <= 2
        spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
        peak_hz = np.argmax(spectrum) * rate / len(out)
        assert abs(peak_hz - 1000 * speed) < 5, (speed, peak_hz)


def test_load_features_at_another_speed_is_its_own_cache_entry(clips_manifest, tmp_path):
    cache_dir = tmp_path / "cache"
    normal = load_features(clips_manifest, CFG, cache_dir=cache_dir, progress=False)
    slow = load_features(clips_manifest, CFG, cache_dir=cache_dir, progress=False, speed=0.9)
    names = sorted(p.name for p in cache_dir.glob("*.npz"))
    assert len(names) == 2 and sum(n.endswith("-speed0.9.npz") for n in names) == 1
    assert slow.ids == normal.ids
    ratio = slow.lengths / normal.lengths
    assert np.all(np.abs(ratio - 1 / 0.9) < 0.05), ratio  # 0.9 times as fast: 11 % more frames
    again = load_features(clips_manifest, CFG, cache_dir=cache_dir, progress=False, speed=0.9)
    np.testing.assert_array_equal(again.frames, slow.frames)


def test_concatenate_keeps_every_utterance_in_order(clips_manifest):
    one = load_features(clips_manifest, CFG, progress=False)
    two = concatenate([one, one.subset(np.array([2, 0]))])
    assert two.ids == ["a", "b", "c", "c", "a"]
    for i, j in enumerate([0, 1, 2, 2, 0]):
        np.testing.assert_array_equal(two.features(i), one.features(j))
