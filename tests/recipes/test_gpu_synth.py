"""recipes/mini_librispeech/gpu/: synthetic clips for the GPU machine. export_data.py --synth writes them as
training-only Ogg/Opus parts of bounded size, labelled as the real clips are and listed apart from them; mix.py
draws an epoch's synthetic clips within the share asked (NumPy only, as train_torch.py uses it)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy import signal

from asr.decoding.phones import vocabulary
from asr.manifest import Utterance, write_manifest
from asr.training.data import encode_labels

GPU = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "gpu"
sys.path.insert(0, str(GPU))
import export_data  # noqa: E402
import mix  # noqa: E402

REAL = ["she had your dark suit", "in greasy wash water", "all year"]
SYNTH = [("kokoro-002000", "AND THEY UNDERSTAND THE ROUGH WIND", 2.0),
         ("flite_awb-002001", "THE VILLAGE BLOWS AWAY", 1.5),
         ("espeak_ng-002002", "OFF HIGH IN THE SKY ALL BY ITSELF", 2.5),
         ("flite_kal16-002003", "SOMETIMES", 1.0)]


def speech_like(rng, seconds: float) -> np.ndarray:
    """Coloured noise under a syllable-rate envelope (Opus's speech mode sees something like speech)."""
    n = int(16000 * seconds)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / 16000)
    return (signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02 * envelope).astype(np.float32)


def make_corpus(tmp_path):
    """Real train/valid manifests (WAV) and a synth.py-style manifest of FLAC clips with audio relative to it."""
    rng = np.random.default_rng(0)
    real = []
    for i, text in enumerate(REAL):
        path = tmp_path / f"real{i}.wav"
        soundfile.write(path, speech_like(rng, 0.5), 16000)
        real.append(Utterance(f"84-121123-000{i}", str(path), text, 0.5))
    write_manifest(tmp_path / "train.jsonl", real[:2])
    write_manifest(tmp_path / "valid.jsonl", real[2:])
    synth = tmp_path / "synth"
    rows = []
    for clip_id, text, seconds in SYNTH:
        voice = clip_id.rsplit("-", 1)[0]
        (synth / voice).mkdir(parents=True, exist_ok=True)
        soundfile.write(synth / voice / f"{clip_id}.flac", speech_like(rng, seconds), 16000, subtype="PCM_16")
        rows.append({"id": clip_id, "audio": f"{voice}/{clip_id}.flac", "text": text, "duration_s": seconds})
    (synth / "train.kept.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return synth / "train.kept.jsonl"


def export(tmp_path, manifest, *args):
    return subprocess.run([sys.executable, str(GPU / "export_data.py"), str(tmp_path), str(tmp_path / "out"),
                           "--synth", str(manifest), *map(str, args)], capture_output=True, text=True)


def test_synthetic_clips_become_labelled_opus_parts_apart_from_the_real_clips(tmp_path):
    manifest = make_corpus(tmp_path)
    part_mb = 0.02  # about two of these clips' Opus a part
    done = export(tmp_path, manifest, "--part-mb", part_mb)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    utts = json.loads((out / "utts.json").read_text())
    assert [u[0] for u in utts["synth"]] == [s[0] for s in SYNTH]
    real_ids = {u[0] for u in utts["train"] + utts["valid"]}
    assert real_ids == {"84-121123-0000", "84-121123-0001", "84-121123-0002"} and not real_ids & {
        u[0] for u in utts["synth"]}  # the synthetic clips are in neither real split
    expected = encode_labels([s[1] for s in SYNTH], vocabulary("phones"))
    assert [u[2] for u in utts["synth"]] == [e.tolist() for e in expected]
    parts = sorted(out.glob("synth*"))
    assert len(parts) >= 2 and not list(out.glob("audio*/*.opus"))
    found = {}
    for part in parts:
        files = list(part.iterdir())
        assert len(files) == 1 or sum(f.stat().st_size for f in files) <= part_mb * 1e6
        for f in files:
            found[f.name] = part.name
    for clip_id, _, seconds in SYNTH:
        info = soundfile.info(str(out / found[f"{clip_id}.opus"] / f"{clip_id}.opus"))
        assert (info.format, info.subtype, info.samplerate) == ("OGG", "OPUS", 16000)
        assert info.frames == int(16000 * seconds)
    assert "call(s)" in done.stdout and "synth1:" in done.stdout


def test_a_larger_manifest_encodes_only_its_new_clips(tmp_path):
    manifest = make_corpus(tmp_path)
    rows = manifest.read_text().splitlines()
    manifest.write_text("\n".join(rows[:2]) + "\n")
    assert export(tmp_path, manifest).returncode == 0
    first, kept = (tmp_path / "out" / "synth0" / f"{SYNTH[i][0]}.opus" for i in (0, 1))
    made_ns = kept.stat().st_mtime_ns
    manifest.write_text("\n".join(rows[1:]) + "\n")  # one clip gone, two new
    assert export(tmp_path, manifest).returncode == 0
    names = sorted(p.name for p in (tmp_path / "out").glob("synth*/*.opus"))
    assert names == sorted(f"{s[0]}.opus" for s in SYNTH[1:])
    assert kept.stat().st_mtime_ns == made_ns and not first.exists()  # reused, not encoded again


def test_bad_synthetic_input_stops_the_export_with_one_line(tmp_path):
    manifest = make_corpus(tmp_path)
    done = export(tmp_path, tmp_path / "nowhere.jsonl")
    assert done.returncode != 0 and "nowhere.jsonl: no such manifest" in done.stderr
    rows = manifest.read_text().splitlines()
    clash = json.loads(rows[0]) | {"id": "84-121123-0000"}
    manifest.write_text("\n".join([json.dumps(clash), *rows[1:]]) + "\n")
    done = export(tmp_path, manifest)
    last = done.stderr.strip().splitlines()[-1]  # after whatever TensorFlow logs on import
    assert done.returncode != 0 and last.startswith("error: ") and "also real clips' (84-121123-0000" in last
    assert "Traceback" not in done.stderr


def test_calls_carry_parts_in_order_within_their_size():
    sizes = {"audio0": 30, "audio1": 30, "synth0": 20, "synth1": 25}
    assert export_data.pack_calls(sizes, 5, 60) == [["audio0"], ["audio1", "synth0"], ["synth1"]]
    assert export_data.pack_calls(sizes, 0, 200) == [["audio0", "audio1", "synth0", "synth1"]]
    with pytest.raises(ValueError, match="synth1"):
        export_data.pack_calls({"synth1": 58}, 5, 60)


def pool(real_clips=20, synth_clips=30, seed=0):
    """versions (3 speeds a clip), synthetic flags and lengths of a made-up split, real clips first."""
    rng = np.random.default_rng(seed)
    clips = real_clips + synth_clips
    versions = [[3 * c, 3 * c + 1, 3 * c + 2] for c in range(clips)]
    synthetic = np.arange(clips) >= real_clips
    return versions, synthetic, rng.integers(100, 1000, size=3 * clips)


def test_share_zero_draws_the_real_clips_as_before():
    versions, synthetic, lengths = pool()
    got = mix.epoch_indices(versions, synthetic, lengths, 0.0, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    before = np.array([v[rng.integers(len(v))] for v in versions[:20]])  # train_torch.py's draw, real clips only
    np.testing.assert_array_equal(got, before)


@pytest.mark.parametrize("share", [0.1, 0.25, 0.4])
def test_the_synthetic_audio_stays_within_its_share_and_fills_it(share):
    versions, synthetic, lengths = pool()
    clip_of = np.repeat(np.arange(len(versions)), 3)
    for seed in range(5):
        got = mix.epoch_indices(versions, synthetic, lengths, share, np.random.default_rng(seed))
        clips = clip_of[got]
        real, synth = got[~synthetic[clips]], got[synthetic[clips]]
        assert sorted(clip_of[real]) == list(range(20)) and len(set(clip_of[synth])) == len(synth)
        budget = share / (1 - share) * lengths[real].sum()
        assert lengths[synth].sum() <= budget
        assert lengths[synth].sum() > budget - lengths.max()  # nothing left out that would have fitted in order
        assert 0 < lengths[synth].sum() / lengths[got].sum() <= share


def test_a_small_pool_is_drawn_whole_in_a_new_order_each_epoch():
    versions, synthetic, lengths = pool(real_clips=20, synth_clips=3)
    rng = np.random.default_rng(1)
    epochs = [mix.epoch_indices(versions, synthetic, lengths, 0.9, rng) for _ in range(6)]
    assert all(len(e) == 23 for e in epochs)
    orders = {tuple(e[20:] // 3) for e in epochs}
    assert len(orders) > 1 and all(sorted(o) == [20, 21, 22] for o in orders)


@pytest.mark.parametrize("share", [-0.1, 1.0, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share):
    versions, synthetic, lengths = pool()
    with pytest.raises(ValueError, match="below 1"):
        mix.epoch_indices(versions, synthetic, lengths, share, np.random.default_rng(0))


def test_the_runs_files_name_only_options_train_torch_defines():
    source = (GPU / "train_torch.py").read_text()
    train_options = source[source.index('t = sub.add_parser("train")'):]
    defined = set(re.findall(r'add_argument\("(--[\w-]+)"', train_options))
    assert {"--synth-share", "--augmented", "--minutes"} <= defined
    for runs in sorted(GPU.glob("runs_*.txt")):
        lines = [line.split() for line in runs.read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert lines, runs
        for name, *options in lines:
            unknown = {o for o in options if o.startswith("--")} - defined
            assert not unknown, f"{runs.name} run {name}: {sorted(unknown)}"
