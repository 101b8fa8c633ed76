"""Pieces of the training step, on hand-built tensors."""
import numpy as np
import tensorflow as tf

from asr.training.train import pad_with_silence


def test_pad_with_silence_keeps_each_clip_whole_and_surrounds_it_with_quiet_frames():
    tf.random.set_seed(3)
    features = tf.constant(np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3) + 100)
    lengths = tf.constant([4, 2])
    silence = tf.constant([-20.0, -21.0, -22.0])
    seen_leads = set()
    for _ in range(20):
        out, new_lengths = pad_with_silence(features, lengths, silence, max_frames=2)
        out, new_lengths = out.numpy(), new_lengths.numpy()
        assert out.shape == (2, 4 + 2 * 2, 3)
        for b, n in enumerate([4, 2]):
            assert n <= new_lengths[b] <= n + 4
            loud = np.flatnonzero(out[b, :, 0] > 50)  # the clip's own frames are >= 100, quiet ones near -20
            assert len(loud) == n and np.all(np.diff(loud) == 1)  # whole and in order
            lead = loud[0]
            seen_leads.add(int(lead))
            np.testing.assert_array_equal(out[b, lead:lead + n], features.numpy()[b, :n])
            quiet = np.r_[0:lead, lead + n:new_lengths[b]]
            assert np.all(np.abs(out[b, quiet] - silence.numpy()) < 4)  # silence plus noise of stddev 0.5
            assert np.all(out[b, new_lengths[b]:] == 0)  # beyond the new length: padding
    assert seen_leads == {0, 1, 2}


def test_pad_with_silence_lead_range_and_noise_scale():
    tf.random.set_seed(4)
    features = tf.constant(np.full((3, 4, 2), 100.0, np.float32))
    lengths = tf.constant([4, 3, 1])
    silence = tf.constant([-20.0, 5.0])
    noise_std = tf.constant([1e-3, 1.0])  # a band with almost no spread gets almost no noise
    for _ in range(10):
        out, new_lengths = pad_with_silence(features, lengths, silence, 1, lead_min_frames=2, lead_max_frames=3,
                                            noise_std=noise_std)
        out = out.numpy()
        for b, n in enumerate([4, 3, 1]):
            lead = int(np.flatnonzero(out[b, :, 0] > 50)[0])
            assert 2 <= lead <= 3 and n + lead <= new_lengths[b] <= n + lead + 1
            assert np.all(np.abs(out[b, :lead, 0] + 20) < 0.01)
        assert np.std(out[:, :2, 1]) > 0.3


def test_validation_frames_put_quiet_before_and_after_each_clip():
    from asr.config import ModelConfig
    from asr.training.keras_model import build_model
    from asr.training.train import QUIET_STD, with_quiet_frames
    model = build_model(ModelConfig(), 2)
    model.set_normalization(np.array([1.0, 2.0]), np.array([2.0, 4.0]))
    features = tf.constant(np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2) + 100)
    out, new_lengths = with_quiet_frames(model, features, tf.constant([3, 1]), 2, 1)
    out = out.numpy()
    quiet = np.array([1.0, 2.0]) - QUIET_STD * np.array([2.0, 4.0])
    assert new_lengths.numpy().tolist() == [6, 4]
    np.testing.assert_allclose(out[0, 2:5], features.numpy()[0])
    np.testing.assert_allclose(out[1, 2], features.numpy()[1, 0])
    for b, n in ((0, 3), (1, 1)):
        np.testing.assert_allclose(out[b, [0, 1, 2 + n]], np.tile(quiet, (3, 1)))
    assert np.all(out[1, 4:] == 0)


def test_utterance_mean_centres_training_and_validation_clips_on_the_model_mean(tmp_path, digits_manifest):
    """train.utterance_mean: each clip, training and validation, is shifted so that the model's normalisation
    subtracts its own mean, as decoding.json's utterance_mean decodes."""
    from asr import config
    from asr.training.train import Trainer
    overrides = {"model": {"cell": "lstm", "layers": 1, "units": 8, "stack_frames": 3},
                 "train": {"epochs": 1, "utterance_mean": True, "validate_utterances": 0}}
    trainer = Trainer(config.load(overrides=overrides), digits_manifest, digits_manifest, tmp_path / "exp",
                      log=lambda *a: None)
    mean = trainer.model.feature_mean.numpy()
    assert np.ptp(mean) > 1  # a real spectrum's mean, not a constant
    for split in (trainer.train, trainer.valid):
        for i in range(len(split.features)):
            np.testing.assert_allclose(split.features.features(i).astype(np.float32).mean(axis=0), mean, atol=0.02)
