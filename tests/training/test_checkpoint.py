"""Self-describing model directories and resumable training-state checkpoints, with a tiny model."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from asr.config import Config, FeatureConfig, ModelConfig
from asr.decoding.text import Vocabulary
from asr.training.checkpoint import (
    CheckpointError,
    check_model_dir,
    latest_training_state,
    load_model_dir,
    read_metrics,
    restore_training_state,
    save_model_dir,
    save_training_state,
)
from asr.training.keras_model import build_model

CFG = Config(features=FeatureConfig(num_mels=8),
             model=ModelConfig(cell="gru", layers=1, units=8, stack_frames=2, dropout=0.0))
VOCAB = Vocabulary()


def tiny_model(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = build_model(CFG.model, CFG.features.num_mels)
    rng = np.random.default_rng(seed)
    model.set_normalization(rng.normal(size=8), rng.uniform(0.5, 2.0, size=8))
    return model


def inputs():
    return np.random.default_rng(5).normal(size=(2, 9, 8)).astype(np.float32), np.array([9, 5])


def test_model_dir_round_trip(tmp_path):
    model = tiny_model()
    save_model_dir(tmp_path / "model", CFG, VOCAB, model, metrics={"wer": 0.25})
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json", "metrics.json", "model.npz", "tokens.txt"]
    assert not list(tmp_path.glob(".model.*"))  # no temporary directory left behind

    cfg, vocab, loaded = load_model_dir(tmp_path / "model")
    assert cfg == CFG and vocab == VOCAB
    assert read_metrics(tmp_path / "model") == {"wer": 0.25}
    expected, expected_lengths = model(*inputs())
    logits, lengths = loaded(*inputs())
    np.testing.assert_array_equal(lengths, expected_lengths)
    np.testing.assert_allclose(logits, expected, rtol=0, atol=2e-2)  # weights stored as float16
    assert np.abs(logits - tiny_model(seed=1)(*inputs())[0]).max() > 0.05  # another model would not pass


def test_save_model_dir_replaces_an_existing_one(tmp_path):
    save_model_dir(tmp_path / "model", CFG, VOCAB, tiny_model(), metrics={"wer": 0.5})
    second = tiny_model(seed=1)
    save_model_dir(tmp_path / "model", CFG, VOCAB, second)
    assert read_metrics(tmp_path / "model") == {}  # the old directory is gone, not merged
    _, _, loaded = load_model_dir(tmp_path / "model")
    np.testing.assert_allclose(loaded(*inputs())[0], second(*inputs())[0], rtol=0, atol=2e-2)


def test_model_dir_missing_weights(tmp_path):
    save_model_dir(tmp_path / "model", CFG, VOCAB, tiny_model())
    (tmp_path / "model" / "model.npz").unlink()
    with pytest.raises(CheckpointError, match="missing model.npz"):
        load_model_dir(tmp_path / "model")
    with pytest.raises(CheckpointError, match="not a model directory"):
        check_model_dir(tmp_path / "nowhere")


def test_model_dir_with_weights_of_another_config(tmp_path):
    save_model_dir(tmp_path / "model", CFG, VOCAB, tiny_model())
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    config["model"]["units"] = 16
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="cannot load model"):
        load_model_dir(tmp_path / "model")


def train_one_step(model, optimizer):
    x, lengths = inputs()
    with tf.GradientTape() as tape:
        logits, _ = model(x, lengths, training=True)
        loss = tf.reduce_mean(tf.square(logits))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))


def test_save_training_state_keeps_the_newest(tmp_path):
    model, optimizer = tiny_model(), keras.optimizers.Adam(1e-3)
    train_one_step(model, optimizer)
    for step in (100, 200, 300):
        path = save_training_state(tmp_path / "checkpoints", step, model, optimizer, {"step": step}, keep=2)
        assert path == tmp_path / "checkpoints" / f"step-{step:07d}"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-0000200", "step-0000300"]
    assert latest_training_state(tmp_path / "checkpoints") == tmp_path / "checkpoints" / "step-0000300"
    assert latest_training_state(tmp_path / "empty") is None


def test_restore_training_state(tmp_path):
    model, optimizer = tiny_model(), keras.optimizers.Adam(1e-3)
    train_one_step(model, optimizer)
    assert int(optimizer.iterations.numpy()) == 1
    state = {"step": 1, "epoch": 0, "best_wer": 0.5}
    path = save_training_state(tmp_path / "checkpoints", 1, model, optimizer, state, keep=2)

    fresh, fresh_optimizer = tiny_model(seed=1), keras.optimizers.Adam(1e-3)
    assert restore_training_state(path, fresh, fresh_optimizer) == state
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy())  # float32: exact
    assert len(fresh_optimizer.variables) == len(optimizer.variables)
    assert int(fresh_optimizer.iterations.numpy()) == 1
    moments = [v for v in optimizer.variables if "momentum" in v.path or "velocity" in v.path]
    assert moments and any(np.abs(v.numpy()).max() > 0 for v in moments)  # Adam really has state to restore
    for a, b in zip(optimizer.variables, fresh_optimizer.variables):
        assert a.path.split("/", 1)[1] == b.path.split("/", 1)[1]  # same variable, whatever the optimizer name
        np.testing.assert_array_equal(b.numpy(), a.numpy())

    # resuming continues exactly where the original run would have gone
    train_one_step(model, optimizer)
    train_one_step(fresh, fresh_optimizer)
    for a, b in zip(model.trainable_weights, fresh.trainable_weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=0, atol=1e-6)


def test_damaged_checkpoint(tmp_path):
    model, optimizer = tiny_model(), keras.optimizers.Adam(1e-3)
    train_one_step(model, optimizer)
    path = save_training_state(tmp_path / "checkpoints", 5, model, optimizer, {"step": 5}, keep=1)
    (path / "optimizer.npz").unlink()
    with pytest.raises(CheckpointError, match="missing optimizer.npz"):
        restore_training_state(path, tiny_model(seed=1), keras.optimizers.Adam(1e-3))
