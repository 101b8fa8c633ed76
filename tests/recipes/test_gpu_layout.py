"""recipes/mini_librispeech/gpu/: PyTorch-layout weights, converted by layout.py, give asr's model the outputs that
PyTorch's bidirectional LSTM gives (computed here by a NumPy reading of torch.nn.LSTM's documented equations, so
the tests need no PyTorch); split weight files join again; export_data.py writes what train_torch.py reads, and
import_model.py turns a run's folder into a model directory asr loads."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from asr.audio.features import mel_filterbank
from asr.config import FeatureConfig, ModelConfig
from asr.decoding.phones import vocabulary
from asr.manifest import Utterance, write_manifest
from asr.training import checkpoint
from asr.training.data import encode_labels
from asr.training.keras_model import build_model, load_weights

GPU = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "gpu"
sys.path.insert(0, str(GPU))
import layout  # noqa: E402

MELS, STACK, UNITS, LAYERS, TOKENS = 5, 2, 6, 2, 7


def torch_state(seed: int = 0, mels=MELS, stack=STACK, units=UNITS, layers=LAYERS, tokens=TOKENS):
    """Random weights named as train_torch.Model's state_dict names them (both PyTorch biases non-zero)."""
    rng = np.random.default_rng(seed)
    state = {"mean": rng.normal(size=mels).astype(np.float32),
             "std": rng.uniform(0.5, 2.0, size=mels).astype(np.float32)}
    for i in range(layers):
        inputs = mels * stack if i == 0 else 2 * units
        for s in ("_l0", "_l0_reverse"):
            state[f"lstms.{i}.weight_ih{s}"] = rng.normal(0, 0.4, (4 * units, inputs)).astype(np.float32)
            state[f"lstms.{i}.weight_hh{s}"] = rng.normal(0, 0.4, (4 * units, units)).astype(np.float32)
            state[f"lstms.{i}.bias_ih{s}"] = rng.normal(0, 0.3, 4 * units).astype(np.float32)
            state[f"lstms.{i}.bias_hh{s}"] = rng.normal(0, 0.3, 4 * units).astype(np.float32)
    state["out.weight"] = rng.normal(0, 0.4, (tokens, 2 * units)).astype(np.float32)
    state["out.bias"] = rng.normal(0, 0.1, tokens).astype(np.float32)
    return state


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def torch_lstm_direction(x, state, key):
    """torch.nn.LSTM over x [t, in] (one clip, no padding): i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)."""
    w_ih, w_hh = state[f"weight_ih{key}"], state[f"weight_hh{key}"]
    b = state[f"bias_ih{key}"] + state[f"bias_hh{key}"]
    h, c, out = np.zeros(UNITS), np.zeros(UNITS), []
    for x_t in x:
        i, f, g, o = np.split(w_ih @ x_t + w_hh @ h + b, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def torch_model(features, length, state):
    """train_torch.Model on one clip's valid frames (a packed sequence sees exactly those)."""
    x = (features[:length] - state["mean"]) / state["std"]
    x = np.concatenate([x, np.zeros(((-length) % STACK, MELS))]).reshape(-1, MELS * STACK)
    for i in range(LAYERS):
        layer = {k.split(".", 2)[2]: v for k, v in state.items() if k.startswith(f"lstms.{i}.")}
        forward = torch_lstm_direction(x, layer, "_l0")
        backward = torch_lstm_direction(x[::-1], layer, "_l0_reverse")[::-1]
        x = np.concatenate([forward, backward], axis=1)
    return x @ state["out.weight"].T + state["out.bias"]


def asr_model():
    cfg = ModelConfig(cell="lstm", bidirectional=True, layers=LAYERS, units=UNITS, stack_frames=STACK, dropout=0.1,
                      num_tokens=TOKENS, tokens="phones")
    return build_model(cfg, MELS)


def test_names_are_asr_weight_order():
    assert layout.keras_names(LAYERS) == [w.path for w in asr_model().weights]


def test_converted_weights_give_pytorch_outputs_on_padded_batches(tmp_path):
    state = torch_state()
    weights = layout.torch_to_keras(state, LAYERS)
    layout.write_model_npz(weights, tmp_path / "model.npz", dtype=np.float32)
    model = asr_model()
    load_weights(model, tmp_path / "model.npz")
    rng = np.random.default_rng(3)
    lengths = np.array([11, 6, 3])
    features = rng.normal(size=(3, 11, MELS)).astype(np.float32)
    features[1, 6:] = 50.0  # padding must not reach the outputs
    logits, out_lengths = model(features, lengths)
    np.testing.assert_array_equal(out_lengths, [6, 3, 2])
    for b, length in enumerate(lengths):
        expected = torch_model(features[b], length, state)
        np.testing.assert_allclose(logits.numpy()[b, :out_lengths[b]], expected, atol=2e-5)


def test_round_trip_and_bias_sum():
    state = torch_state(1)
    weights = layout.torch_to_keras(state, LAYERS)
    back = layout.keras_to_torch(weights, LAYERS)
    again = layout.torch_to_keras(back, LAYERS)
    for name in weights:
        np.testing.assert_array_equal(weights[name], again[name])
    np.testing.assert_array_equal(back["lstms.0.bias_hh_l0"], 0)
    np.testing.assert_allclose(weights[f"{layout.PREFIX}/bilstm_1/backward_lstm_1/lstm_cell/bias"],
                               state["lstms.1.bias_ih_l0_reverse"] + state["lstms.1.bias_hh_l0_reverse"])


@pytest.mark.parametrize("max_bytes", [None, 500, 10 ** 9])
def test_split_files_join(tmp_path, max_bytes):
    weights = layout.torch_to_keras(torch_state(2), LAYERS)
    written = layout.write_model_npz(weights, tmp_path / "best.npz", max_bytes=max_bytes)
    if max_bytes == 500:
        assert len(written) > 3  # every part but a single oversized weight stays under the limit
    joined = layout.read_model_npz(written)
    assert list(joined) == list(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(joined[name], value.astype(np.float16))


def run_script(name, *args):
    return subprocess.run([sys.executable, str(GPU / name), *map(str, args)], capture_output=True, text=True)


def test_export_data_writes_labels_frontend_and_audio_parts(tmp_path):
    rng = np.random.default_rng(0)
    clips = []
    for i, text in enumerate(["she had your dark suit", "in greasy wash water", "all year"]):
        path = tmp_path / f"clip{i}.wav"
        soundfile.write(path, (rng.normal(size=8000) * 0.1).astype(np.float32), 16000)
        clips.append(Utterance(f"spk-{i}", str(path), text, 0.5))
    write_manifest(tmp_path / "train.jsonl", clips[:2])
    write_manifest(tmp_path / "valid.jsonl", clips[2:])
    size_mb = (tmp_path / "clip0.wav").stat().st_size / 1e6
    done = run_script("export_data.py", tmp_path, tmp_path / "out", "--part-mb", 1.5 * size_mb)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    utts = json.loads((out / "utts.json").read_text())
    vocab = vocabulary("phones")
    assert [u[0] for u in utts["train"]] == ["spk-0", "spk-1"] and [u[0] for u in utts["valid"]] == ["spk-2"]
    expected = encode_labels([c.text for c in clips], vocab)
    assert [u[2] for u in utts["train"] + utts["valid"]] == [e.tolist() for e in expected]
    assert utts["space_id"] == vocab.space_id and utts["num_tokens"] == vocab.size
    assert sorted(p.name for p in out.glob("audio*/*.wav")) == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert len(list(out.glob("audio*"))) == 3  # each part under 1.5 clips
    with np.load(out / "frontend.npz") as f:
        np.testing.assert_array_equal(f["filterbank"], mel_filterbank(FeatureConfig()))
        assert (int(f["window"]), int(f["hop"]), int(f["fft"])) == (400, 160, 512)


def test_import_model_makes_a_model_dir_from_the_best_epoch(tmp_path):
    vocab = vocabulary("phones")
    run = {"layers": 1, "units": 8, "stack": 4, "dropout": 0.1, "planned_epochs": 3, "lr": 1e-3, "warmup": 10,
           "final_lr_fraction": 0.05, "clip_norm": 5.0, "batch_frames": 24000, "max_batch": 32, "seed": 1,
           "spec_augment": True, "init": None, "device": "NVIDIA H200", "train_hours": 5.16}
    (tmp_path / "run.json").write_text(json.dumps(run))
    log = [{"epoch": 1, "valid_cer": 0.5, "valid_wer": 0.9, "best": True},
           {"epoch": 2, "valid_cer": 0.4, "valid_wer": 0.8, "best": True},
           {"epoch": 3, "valid_cer": 0.45, "valid_wer": 0.85}]
    (tmp_path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    weights = layout.torch_to_keras(torch_state(4, mels=80, stack=4, units=8, layers=1, tokens=vocab.size), 1)
    layout.write_model_npz(weights, tmp_path / "best.npz", max_bytes=20000)
    done = run_script("import_model.py", tmp_path, tmp_path / "model")
    assert done.returncode == 0, done.stderr
    cfg, loaded_vocab, model = checkpoint.load_model_dir(tmp_path / "model")
    assert (cfg.model.layers, cfg.model.units, cfg.model.tokens, cfg.train.epochs) == (1, 8, "phones", 3)
    assert (cfg.train.freq_mask_width, cfg.train.time_masks) == (15, 2)  # a run.json from before these options
    assert loaded_vocab == vocab
    for w in model.weights:
        np.testing.assert_array_equal(w.numpy(), weights[w.path].astype(np.float16).astype(np.float32))
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["epoch"] == 2 and metrics["device"] == "NVIDIA H200"
    (tmp_path / "run.json").write_text(json.dumps({**run, "freq_mask_width": 27, "time_masks": 4}))
    assert run_script("import_model.py", tmp_path, tmp_path / "model_sa").returncode == 0
    cfg = checkpoint.load_model_dir(tmp_path / "model_sa")[0]
    assert (cfg.train.freq_mask_width, cfg.train.time_masks, cfg.train.freq_masks) == (27, 4, 2)
    # weights of another shape: a clear error, no model directory
    (tmp_path / "run.json").write_text(json.dumps({**run, "units": 16}))
    done = run_script("import_model.py", tmp_path, tmp_path / "model16")
    assert done.returncode != 0 and "shape" in done.stderr and not (tmp_path / "model16").exists()


def test_what_the_pytorch_trainer_takes_from_asr_needs_no_tensorflow():
    """The GPU machine has no TensorFlow: train_torch.py uses asr.audio.load, asr.training.batching and asr.config, which must not
    import it."""
    code = ("import sys, asr.audio.load, asr.training.batching, asr.config, layout; "
            "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=GPU)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_keep_best_leaves_the_best_run_and_packs_the_others(tmp_path):
    """on_gpu.sh --runs: at most 8 files come back, so only the lowest valid token error's run keeps its folder."""
    import tarfile

    import keep_best

    out, keep = tmp_path / "out", tmp_path / "keep"
    for name, errors in {"D": [0.30, 0.247, 0.25], "E": [0.31, 0.27], "F": [0.29, 0.26], "X": []}.items():
        (out / name).mkdir(parents=True)
        log = [{"epoch": i + 1, "valid_cer": e} for i, e in enumerate(errors)] + [{"epoch": 9}]
        (out / name / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
        (out / name / "run.json").write_text("{}")
        (out / name / "best.part0.npz").write_bytes(name.encode())
        (out / f"{name}.log").write_text(name)
    assert {r.name: e for r, e in keep_best.best_errors(out).items()} == {"D": 0.247, "E": 0.27, "F": 0.26}
    assert keep_best.keep_best(out, keep) == out / "D"
    assert sorted(p.name for p in out.iterdir()) == ["D", "others.tar"]
    assert sorted(p.name for p in (out / "D").iterdir()) == ["best.part0.npz", "run.json", "train_log.jsonl"]
    assert (keep / "E" / "best.part0.npz").read_bytes() == b"E" and (keep / "X" / "best.part0.npz").exists()
    with tarfile.open(out / "others.tar") as tar:
        names = set(tar.getnames())
    assert {"E/run.json", "E/train_log.jsonl", "F/train_log.jsonl", "X/run.json", "D.log", "E.log"} <= names
    assert not any(n.endswith(".npz") for n in names)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert keep_best.keep_best(empty, keep) is None and list(empty.iterdir()) == []
